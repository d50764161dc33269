#!/usr/bin/env node
// injectNoise from Node against the same op called natively (the addon's own timing of the op,
// no JS in the loop), for every kind at the two ViT shapes, and a plain copy at the same size;
// with the page faults per call of the Node loop once steady. Alternating rounds; each side's
// best round (median call) is compared.
//
//   node bench/inject.js [--rounds 3] [--calls 40] [--kinds linear,optimal,gaussian,saltPepper]
//
// Goals (issue 15): Node within 1.15x of native for every kind and shape; ~0 page faults per
// call once steady; at [64,197,768] the forward within 1.5x of a warm copy.
'use strict';
const fs = require('fs');
const nn = require('../dist');
const { binding } = require('../dist/binding');

const ALL_KINDS = ['linear', 'optimal', 'gaussian', 'saltPepper'];
const args = process.argv.slice(2);
const opt = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const rounds = opt('--rounds', 3);
const calls = opt('--calls', 40);
const KINDS = args.includes('--kinds') ? args[args.indexOf('--kinds') + 1].split(',') : ALL_KINDS;
for (const k of KINDS)
  if (!ALL_KINDS.includes(k)) throw new RangeError(`--kinds: unknown kind '${k}' (${ALL_KINDS.join(', ')})`);
const SHAPES = [
  [128, 196, 192],
  [64, 197, 768],
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Minor page faults of this process so far (field 10 of /proc/self/stat). */
function minorFaults() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

function nodeCalls(x, config, n) {
  const times = [];
  const f0 = minorFaults();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const y = nn.injectNoise(x, config);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    y.dispose();
  }
  return { median: median(times), faults: (minorFaults() - f0) / n };
}

function copyCalls(x, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const y = x.to('cpu');
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    y.dispose();
  }
  return median(times);
}

(async () => {
  const i = nn.info();
  console.log(
    `injectNoise from Node vs native: libtorch ${i.libtorchVersion}, ${i.threads} threads, kernels ${i.cpuKernels}, CPU allocator ${nn.cpuMemory().installed ? 'caching' : 'system'}`,
  );
  console.log('shape            kind         node ms  native ms  node/native  faults/call  copy ms  fwd/copy');
  for (const shape of SHAPES) {
    const numel = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(numel);
    for (let k = 0; k < numel; k++) data[k] = Math.sin(k * 0.37);
    const x = nn.Tensor.fromTypedArray(data, shape);
    for (const kind of KINDS) {
      const config = { kind, axis: 0, seed: 42 };
      const native = {
        kind,
        axis: 0,
        strength: kind === 'saltPepper' ? 0.1 : kind === 'gaussian' ? 0.1 : 0.3,
        mean: 0,
        std: 1,
        seed: '42',
        offset: '0',
        detach: false,
      };
      nodeCalls(x, config, 5); // warm-up: allocator cache, OpenMP team
      const best = { node: Infinity, native: Infinity, faults: Infinity, copy: Infinity };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 ? ['native', 'node'] : ['node', 'native'];
        for (const side of order) {
          if (side === 'node') {
            const m = nodeCalls(x, config, calls);
            best.node = Math.min(best.node, m.median);
            best.faults = Math.min(best.faults, m.faults);
          } else {
            const t = binding._testing.benchNoiseOp(x._handle, native, calls);
            best.native = Math.min(best.native, median(t));
          }
        }
        best.copy = Math.min(best.copy, copyCalls(x, calls));
      }
      console.log(
        `${JSON.stringify(shape).padEnd(16)} ${kind.padEnd(11)} ${(1e3 * best.node).toFixed(3).padStart(8)} ${(1e3 * best.native).toFixed(3).padStart(10)} ${(best.node / best.native).toFixed(3).padStart(11)}x ${best.faults.toFixed(1).padStart(12)} ${(1e3 * best.copy).toFixed(3).padStart(8)} ${(best.node / best.copy).toFixed(2).padStart(8)}x`,
      );
    }
    x.dispose();
  }
})();
