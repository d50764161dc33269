// Memory of tensor handles: tidy() releases what it made, the collector frees undisposed tensors
// inside a synchronous loop (the addon's finalizers run in the GC), and disposed op results
// leave RSS flat. The RSS figures come from bench/memory.js, in fresh processes.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { injectNoise, keep, memory, Tensor, tidy } from '../lib';

const data = () => new Float32Array(64 * 64).fill(1);
const make = () => Tensor.fromTypedArray(data(), [64, 64]);

describe('tidy', () => {
  test('disposes every tensor made inside except the returned ones, which the caller then owns', () => {
    const before = memory().tensors;
    let inner: Tensor[] = [];
    const y = tidy(() => {
      const a = make();
      const b = injectNoise(a, { kind: 'linear' });
      const c = injectNoise(b, { kind: 'optimal' });
      inner = [a, b];
      return c;
    });
    expect(inner.map((t) => t.disposed)).toEqual([true, true]);
    expect(y.disposed).toBe(false);
    expect(memory().tensors).toBe(before + 1);
    y.dispose();
    expect(memory().tensors).toBe(before);
  });

  test('keeps tensors inside returned arrays, Maps and plain objects, and those passed to keep()', () => {
    let temp: Tensor | undefined;
    let kept: Tensor | undefined;
    const out = tidy(() => {
      temp = make();
      kept = keep(make());
      return { list: [make()], map: new Map([['m', make()]]), n: 3 };
    });
    expect(temp!.disposed).toBe(true);
    expect(kept!.disposed).toBe(false);
    expect(out.list[0].disposed).toBe(false);
    expect(out.map.get('m')!.disposed).toBe(false);
    for (const t of [kept!, out.list[0], out.map.get('m')!]) t.dispose();
  });

  test('nests: a returned tensor belongs to the enclosing scope', () => {
    let middle: Tensor | undefined;
    const outer = tidy(() => {
      middle = tidy(() => make());
      expect(middle.disposed).toBe(false);
      return 1;
    });
    expect(outer).toBe(1);
    expect(middle!.disposed).toBe(true);
  });

  test('disposes everything when fn throws, and refuses a Promise', () => {
    let made: Tensor | undefined;
    expect(() =>
      tidy(() => {
        made = make();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(made!.disposed).toBe(true);
    expect(() => tidy(() => Promise.resolve(make()))).toThrow(
      new TypeError(
        'tidy(fn) is synchronous but fn returned a Promise: await the async work outside tidy() and dispose its results yourself',
      ),
    );
    expect(() => tidy(3 as never)).toThrow(new TypeError('Expected function for fn but received number'));
  });

  test('tensors made outside any tidy() are not touched', () => {
    const outside = make();
    tidy(() => injectNoise(outside, { kind: 'linear' }).shape);
    expect(outside.disposed).toBe(false);
    outside.dispose();
  });
});

describe('memory()', () => {
  test('counts live handles and their bytes, op outputs included, and V8 is told about them', () => {
    const before = memory();
    const x = make();
    const y = injectNoise(x, { kind: 'gaussian' });
    const mid = memory();
    expect(mid.tensors).toBe(before.tensors + 2);
    expect(mid.tensorBytes).toBe(before.tensorBytes + 2 * 64 * 64 * 4);
    expect(mid.reportedBytes).toBeGreaterThanOrEqual(mid.tensorBytes);
    x.dispose();
    y.dispose();
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().tensorBytes).toBe(before.tensorBytes);
  });
});

// Fresh processes: RSS figures mean nothing inside jest's own heap.
function bench(kind: 'undisposed' | 'disposed'): Record<string, number> {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'bench', 'memory.js'), kind], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim());
}

describe('RSS', () => {
  test('100,000 undisposed [64, 64] tensors in a loop that never yields stay under 256 MB above baseline', () => {
    const r = bench('undisposed');
    console.log(`undisposed loop: ${JSON.stringify(r)}`);
    expect(r.peakAboveBaselineMB).toBeLessThan(256);
    // The collector freed them inside the loop, not after it: few are alive at its end.
    expect(r.liveHandlesAtEnd).toBeLessThan(50_000);
  });

  test('20,000 disposed op results leave RSS flat', () => {
    const r = bench('disposed');
    console.log(`disposed op results: ${JSON.stringify(r)}`);
    expect(r.rssGrowthMB).toBeLessThan(16);
  });
});
