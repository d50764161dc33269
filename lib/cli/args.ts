// Command-line parsing for `noisynn`: option specs, one parser, the generated --help text.
//
// Every mistake becomes a UsageError whose message reads like the library's validation errors
// (`Expected positive integer for --epochs but received 'x'`), so the CLI can print it on one
// line and exit non-zero.

/** A mistake on the command line (exit status 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** How an option's text becomes a value. */
export type OptionType =
  | 'string'
  | 'boolean'
  | 'integer' // any integer
  | 'positiveInteger'
  | 'nonNegativeInteger'
  | 'number' // any finite number
  | 'positiveNumber'
  | 'nonNegativeNumber'
  | 'fraction' // in [0, 1)
  | 'choice' // one of `choices`
  | 'choiceList'; // comma-separated, each one of `choices`

export interface OptionSpec {
  /** The long name without dashes, e.g. 'batch-size'. */
  name: string;
  type: OptionType;
  description: string;
  /** For 'choice' and 'choiceList'. */
  choices?: readonly string[];
  /** The value when the option is absent (also shown in --help). */
  default?: unknown;
  /** What --help shows instead of the default when the default depends on other options. */
  defaultText?: string;
  /** The placeholder in --help, e.g. 'N' or 'DIR'. */
  valueName?: string;
  /** A one-letter alias, e.g. 'o' for -o. */
  short?: string;
  /**
   * A custom parser for the text (its own type check); throw UsageError with `expected` text
   * via {@link invalidValue}. Overrides `type` for conversion, `type` still picks the help text.
   */
  parse?: (text: string, flag: string) => unknown;
}

export interface CommandSpec {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs shown under the usage line in --help. */
  description?: string;
  /** Positional arguments, e.g. '' or '<file>'. */
  positionals?: string;
  options: readonly OptionSpec[];
  examples?: readonly string[];
}

export interface ParsedArgs {
  /** Option values by camelCase name ('batch-size' -> batchSize), defaults filled in. */
  options: Record<string, unknown>;
  /** Names (camelCase) of the options the user actually gave. */
  given: Set<string>;
  positionals: string[];
  help: boolean;
}

/** 'batch-size' -> 'batchSize'. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The UsageError for a value of the wrong form. */
export function invalidValue(expected: string, flag: string, text: string): UsageError {
  return new UsageError(`Expected ${expected} for ${flag} but received '${text}'`);
}

function listChoices(choices: readonly string[]): string {
  return choices.map((c) => `'${c}'`).join(', ');
}

const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** Converts one option's text according to its spec. */
export function convertValue(spec: OptionSpec, text: string, flag: string): unknown {
  if (spec.parse) return spec.parse(text, flag);
  const asNumber = (expected: string, ok: (n: number) => boolean): number => {
    const n = NUMBER_RE.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isFinite(n) || !ok(n)) throw invalidValue(expected, flag, text);
    return n;
  };
  switch (spec.type) {
    case 'string':
      if (text.length === 0) throw invalidValue('a non-empty value', flag, text);
      return text;
    case 'boolean': {
      const t = text.toLowerCase();
      if (['true', 'yes', '1', 'on'].includes(t)) return true;
      if (['false', 'no', '0', 'off'].includes(t)) return false;
      throw invalidValue('true or false', flag, text);
    }
    case 'integer':
      return asNumber('integer', Number.isSafeInteger);
    case 'positiveInteger':
      return asNumber('positive integer', (n) => Number.isSafeInteger(n) && n >= 1);
    case 'nonNegativeInteger':
      return asNumber('non-negative integer', (n) => Number.isSafeInteger(n) && n >= 0);
    case 'number':
      return asNumber('number', () => true);
    case 'positiveNumber':
      return asNumber('positive number', (n) => n > 0);
    case 'nonNegativeNumber':
      return asNumber('non-negative number', (n) => n >= 0);
    case 'fraction':
      return asNumber('number in [0, 1)', (n) => n >= 0 && n < 1);
    case 'choice': {
      const choices = spec.choices ?? [];
      if (!choices.includes(text)) throw invalidValue(`one of ${listChoices(choices)}`, flag, text);
      return text;
    }
    case 'choiceList': {
      const choices = spec.choices ?? [];
      const items = text.split(',').map((s) => s.trim());
      if (items.length === 0 || items.some((s) => !choices.includes(s))) {
        throw invalidValue(`a comma-separated list of ${listChoices(choices)}`, flag, text);
      }
      if (new Set(items).size !== items.length) throw invalidValue('a list without repeats', flag, text);
      return items;
    }
  }
}

/**
 * Parses `argv` (the arguments after the command name) against a command's options.
 * Accepts `--name value`, `--name=value`, `-x value`, `--flag`, `--no-flag` and `--` (the rest
 * are positionals); a repeated option takes the last value. `-h` / `--help` set `help` and skip
 * every other check, so `--help` works whatever else is on the line.
 *
 * @throws UsageError for an unknown option, a missing or malformed value, or a stray positional
 *   when the command takes none.
 */
export function parseArgs(argv: readonly string[], command: CommandSpec): ParsedArgs {
  const byName = new Map(command.options.map((o) => [o.name, o]));
  const byShort = new Map(command.options.filter((o) => o.short).map((o) => [o.short as string, o]));
  const where = `'noisynn ${command.name}'`;
  if (argv.includes('--help') || argv.includes('-h')) {
    return { options: {}, given: new Set(), positionals: [], help: true };
  }
  const options: Record<string, unknown> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let flag: string;
    let inline: string | undefined;
    let negated = false;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      flag = `--${name}`;
      spec = byName.get(name);
      if (!spec && name.startsWith('no-')) {
        const positive = byName.get(name.slice(3));
        if (positive && positive.type === 'boolean') {
          spec = positive;
          negated = true;
        }
      }
      if (!spec)
        throw new UsageError(
          `Unknown option ${flag} for ${where}${suggest(name, [...byName.keys()])}; see noisynn ${command.name} --help`,
        );
      if (negated && inline !== undefined) throw new UsageError(`Option ${flag} takes no value`);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      flag = arg;
      spec = byShort.get(arg.slice(1));
      if (!spec) throw new UsageError(`Unknown option ${flag} for ${where}; see noisynn ${command.name} --help`);
    } else if (arg.startsWith('-') && arg.length > 1 && !NUMBER_RE.test(arg)) {
      throw new UsageError(`Unknown option ${arg} for ${where}; see noisynn ${command.name} --help`);
    } else {
      positionals.push(arg);
      continue;
    }
    const key = camelCase(spec.name);
    given.add(key);
    if (spec.type === 'boolean' && inline === undefined) {
      options[key] = !negated;
      continue;
    }
    let text = inline;
    if (text === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`Missing value for ${flag}${spec.valueName ? ` (expected ${spec.valueName})` : ''}`);
      }
      text = next;
      i++;
    }
    options[key] = convertValue(spec, text, `--${spec.name}`);
  }
  if (!command.positionals && positionals.length > 0) {
    throw new UsageError(`Unexpected argument '${positionals[0]}' for ${where}; see noisynn ${command.name} --help`);
  }
  for (const spec of command.options) {
    const key = camelCase(spec.name);
    if (!(key in options) && spec.default !== undefined) options[key] = spec.default;
  }
  return { options, given, positionals, help: false };
}

/** ", did you mean --x?" when a known name is one or two edits away. */
function suggest(name: string, known: string[]): string {
  // --no-X of an option that is not a flag: X itself is the nearest.
  if (name.startsWith('no-') && known.includes(name.slice(3))) return ` (did you mean --${name.slice(3)}?)`;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean --${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function placeholder(spec: OptionSpec): string {
  if (spec.type === 'boolean') return '';
  if (spec.valueName) return ` <${spec.valueName}>`;
  if (spec.type === 'choice') return ` <${(spec.choices ?? []).join('|')}>`;
  if (spec.type === 'choiceList') return ' <list>';
  if (spec.type === 'string') return ' <value>';
  return ' <n>';
}

function defaultText(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return undefined;
  if (spec.type === 'boolean') return spec.default ? 'on' : undefined;
  return Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
}

/** Wraps text to `width` columns, indenting continuation lines by `indent` spaces. */
export function wrap(text: string, width: number, indent: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length > 0 && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** The --help text of one command. */
export function formatCommandHelp(command: CommandSpec): string {
  const out: string[] = [];
  const usage = `noisynn ${command.name}${command.options.length ? ' [options]' : ''}${command.positionals ? ` ${command.positionals}` : ''}`;
  out.push(`Usage: ${usage}`, '', wrap(command.summary, 80, 0));
  for (const paragraph of command.description?.split('\n\n') ?? []) out.push('', wrap(paragraph, 80, 0));
  const rows = command.options.map((o) => {
    const left = `  ${o.short ? `-${o.short}, ` : ''}--${o.name}${placeholder(o)}`;
    const def = defaultText(o);
    return { left, right: `${o.description}${def !== undefined ? ` (default: ${def})` : ''}` };
  });
  rows.push({ left: '  -h, --help', right: 'Show this help.' });
  const column = Math.min(34, Math.max(...rows.map((r) => r.left.length)) + 2);
  out.push('', 'Options:');
  for (const r of rows) {
    const pad = r.left.length + 2 > column ? `\n${' '.repeat(column)}` : ' '.repeat(column - r.left.length);
    out.push(`${r.left}${pad}${wrap(r.right, 80, column)}`);
  }
  if (command.examples?.length) out.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return `${out.join('\n')}\n`;
}
