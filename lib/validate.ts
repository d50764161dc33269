// Option validation shared by every public API: one place, one message format.
//
// Messages read `Expected positive integer for batchSize but received 1.5 (number)`;
// TypeError when the type is wrong, RangeError when the type is right but the value is not.

/** Describes a received value for an error message: `1.5 (number)`, `'x' (string)`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value}' (string)`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${String(value)} (${typeof value})`;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'function') return 'a function';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `an instance of ${name}` : 'an object';
}

export function typeError(name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
}

export function rangeError(name: string, expected: string, value: unknown): RangeError {
  return new RangeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
}

export function expectNumber(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'number', value);
  if (!Number.isFinite(value)) throw rangeError(name, 'finite number', value);
  return value;
}

// Integers must be safe (|n| <= 2^53 - 1): larger doubles are not exact, and the addon would
// clamp them to int64 silently (shape [0, 1e300] became [0, 9223372036854775807]).
const UNSAFE = `at most ${Number.MAX_SAFE_INTEGER} in magnitude`;

export function expectInteger(value: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number') throw typeError(name, 'integer', value);
  if (!Number.isInteger(value)) throw rangeError(name, 'integer', value);
  if (!Number.isSafeInteger(value)) throw rangeError(name, `integer ${UNSAFE}`, value);
  if (value < min || value > max) {
    const bounds =
      max === Infinity
        ? `integer >= ${min}`
        : min === -Infinity
          ? `integer <= ${max}`
          : `integer between ${min} and ${max}`;
    throw rangeError(name, bounds, value);
  }
  return value;
}

export function expectPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'positive integer', value);
  if (!Number.isInteger(value) || value < 1) throw rangeError(name, 'positive integer', value);
  if (!Number.isSafeInteger(value)) throw rangeError(name, `positive integer ${UNSAFE}`, value);
  return value;
}

export function expectNonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'non-negative integer', value);
  if (!Number.isInteger(value) || value < 0) throw rangeError(name, 'non-negative integer', value);
  if (!Number.isSafeInteger(value)) throw rangeError(name, `non-negative integer ${UNSAFE}`, value);
  return value;
}

export function expectNonNegativeNumber(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'non-negative finite number', value);
  if (!Number.isFinite(value) || value < 0) throw rangeError(name, 'non-negative finite number', value);
  return value;
}

export function expectPositiveNumber(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'positive finite number', value);
  if (!Number.isFinite(value) || value <= 0) throw rangeError(name, 'positive finite number', value);
  return value;
}

/** A number in [lo, hi] (inclusive). */
export function expectNumberInRange(value: unknown, name: string, lo: number, hi: number): number {
  if (typeof value !== 'number') throw typeError(name, `number between ${lo} and ${hi}`, value);
  if (!Number.isFinite(value) || value < lo || value > hi)
    throw rangeError(name, `number between ${lo} and ${hi}`, value);
  return value;
}

export function expectBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'boolean', value);
  return value;
}

export function expectNonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw typeError(name, 'non-empty string', value);
  if (value.length === 0) throw rangeError(name, 'non-empty string', value);
  return value;
}

/** One of a fixed set of strings; the message lists them. */
export function expectOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  const list = allowed.map((a) => `'${a}'`).join(', ');
  if (typeof value !== 'string') throw typeError(name, `one of ${list}`, value);
  if (!(allowed as readonly string[]).includes(value)) throw rangeError(name, `one of ${list}`, value);
  return value as T;
}

/** A plain options object (or undefined, which becomes {}). */
export function expectOptions(value: unknown, name = 'options'): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(name, 'object', value);
  return value as Record<string, unknown>;
}

/** Rejects keys the caller did not mean (a typo would otherwise be silently ignored). */
export function expectKnownKeys(options: Record<string, unknown>, name: string, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new RangeError(`Unknown option '${key}' in ${name}; expected one of ${known.join(', ')}`);
    }
  }
}

/** Devices: 'cpu', 'cuda', 'cuda:N'. */
export function expectDevice(value: unknown, name = 'device'): string {
  if (typeof value !== 'string') throw typeError(name, "'cpu', 'cuda' or 'cuda:N'", value);
  if (!/^(cpu|cuda(:\d+)?)$/.test(value)) throw rangeError(name, "'cpu', 'cuda' or 'cuda:N'", value);
  return value;
}

/** An optional AbortSignal (anything with a boolean `aborted`, as signals from another realm are). */
export function expectAbortSignal(value: unknown, name = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as AbortSignal).aborted !== 'boolean') {
    throw typeError(name, 'AbortSignal', value);
  }
  return value as AbortSignal;
}

/** An optional callback. */
export function expectCallback<T extends (...args: never[]) => unknown>(value: unknown, name: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw typeError(name, 'function', value);
  return value as T;
}
