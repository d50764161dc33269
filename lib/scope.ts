// Deterministic release of tensors: tidy() disposes what a function made, as tfjs's tidy does.
import { binding } from './binding';
import type { Tensor } from './tensor';

/** The tensors made in each open tidy() call, innermost last. */
const scopes: Set<Tensor>[] = [];

/** @internal Called by Tensor for every tensor it wraps: the innermost open scope owns it. */
export function trackTensor(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

// The tensors reachable from a returned value: a Tensor, or arrays and plain objects of them.
function collect(value: unknown, out: Set<Tensor>, seen: Set<object>, isTensor: (v: unknown) => v is Tensor): void {
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen, isTensor);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen, isTensor);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen, isTensor);
  }
}

/**
 * Runs `fn` and disposes every Tensor created while it ran, except those it returns (a Tensor,
 * or Tensors inside the arrays, Maps and plain objects it returns) and those passed to `keep()`.
 * Returned tensors belong to the enclosing `tidy()`, if any, so scopes nest.
 *
 * Synchronous only: tensors that a Promise resolves to later (a model's forward pass, a loader's
 * batch) are made after `fn` has returned and are not tracked; `fn` returning a Promise throws.
 * Await such results outside and pass them in, or dispose them yourself.
 *
 * @param fn The work whose temporaries to release; its return value is passed through.
 * @throws TypeError when `fn` is not a function, or returns a Promise (its tensors are released).
 * @example
 * const y = tidy(() => {
 *   const a = Tensor.fromTypedArray(new Float32Array(4096), [64, 64]);
 *   return injectNoise(injectNoise(a, { kind: 'linear' }), { kind: 'optimal' });
 * }); // `a` and the intermediate result are disposed; `y` is not
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected function for fn but received ${fn === null ? 'null' : typeof fn}`);
  }
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  let kept = new Set<Tensor>();
  try {
    result = fn();
    if (result instanceof Promise || (result !== null && typeof (result as { then?: unknown })?.then === 'function')) {
      throw new TypeError(
        'tidy(fn) is synchronous but fn returned a Promise: await the async work outside tidy() and dispose its results yourself',
      );
    }
    const isTensor = (v: unknown): v is Tensor => v !== null && typeof v === 'object' && scope.has(v as Tensor);
    collect(result, kept, new Set(), isTensor);
  } catch (err) {
    kept = new Set();
    throw err;
  } finally {
    scopes.pop();
    for (const t of scope) {
      if (kept.has(t)) trackTensor(t);
      else t.dispose();
    }
  }
  return result;
}

/**
 * Exempts `tensor` from every open `tidy()`: it stays alive until disposed (or collected).
 * Returns it, for `const w = keep(makeWeights())`.
 */
export function keep<T extends Tensor>(tensor: T): T {
  for (const scope of scopes) scope.delete(tensor);
  return tensor;
}

/** Native memory held by tensor handles, as `memory()` reports it. */
export interface MemoryInfo {
  /** Tensor handles alive in this process (disposed ones and collected ones excluded). */
  tensors: number;
  /** Bytes those handles hold (views count their own elements). */
  tensorBytes: number;
  /**
   * Native bytes reported to V8 (tensors, models, datasets), which its collector weighs when it
   * decides to run. `process.memoryUsage().external` does not include them: in Node it counts
   * ArrayBuffer memory only.
   */
  reportedBytes: number;
}

/**
 * What the tensor handles hold now: for leak checks and for deciding when to `dispose()`.
 * @example
 * const before = memory().tensors;
 * tidy(() => model.someSyncWork());
 * memory().tensors === before; // true
 */
export function memory(): MemoryInfo {
  const s = binding.NativeTensor.memoryStats();
  return { tensors: s.handles, tensorBytes: s.bytes, reportedBytes: s.external };
}
