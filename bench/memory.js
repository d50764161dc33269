// Memory of tensor handles: RSS above baseline while a synchronous loop makes 100,000 [64, 64]
// tensors and never disposes them (the collector must free them inside the loop), and RSS across
// 20,000 disposed op results (must stay flat). Each case runs in a fresh process.
//
//   node bench/memory.js                 both cases, one line of figures each
//   node bench/memory.js undisposed      one case (also: disposed)
const { spawnSync } = require('child_process');
const path = require('path');

const MB = 1024 * 1024;

function undisposed(nn) {
  const data = new Float32Array(64 * 64).fill(1);
  for (let i = 0; i < 200; i++) nn.Tensor.fromTypedArray(data, [64, 64]).dispose();
  const base = process.memoryUsage().rss;
  let peak = base;
  let peakExternal = 0;
  for (let i = 0; i < 100_000; i++) {
    nn.Tensor.fromTypedArray(data, [64, 64]);
    if (i % 1000 === 0) {
      peak = Math.max(peak, process.memoryUsage().rss);
      peakExternal = Math.max(peakExternal, process.memoryUsage().external);
    }
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const live = nn.memory ? nn.memory() : null;
  return {
    case: 'undisposed',
    tensors: 100_000,
    peakAboveBaselineMB: +((peak - base) / MB).toFixed(1),
    processExternalPeakMB: +(peakExternal / MB).toFixed(1),
    liveHandlesAtEnd: live ? live.tensors : null,
    reportedMBAtEnd: live ? +(live.reportedBytes / MB).toFixed(1) : null,
  };
}

function disposed(nn) {
  const x = nn.Tensor.fromTypedArray(new Float32Array(64 * 64).fill(1), [64, 64]);
  const run = (n) => {
    for (let i = 0; i < n; i++) nn.injectNoise(x, { kind: 'linear' }).dispose();
  };
  run(2000);
  const base = process.memoryUsage().rss;
  run(20_000);
  const after = process.memoryUsage().rss;
  return { case: 'disposed', results: 20_000, rssGrowthMB: +((after - base) / MB).toFixed(1) };
}

if (process.argv[2] === '--child') {
  const nn = require(path.join(__dirname, '..', 'dist'));
  const fn = { undisposed, disposed }[process.argv[3]];
  process.stdout.write(JSON.stringify(fn(nn)) + '\n');
} else {
  const cases = process.argv.length > 2 ? process.argv.slice(2) : ['undisposed', 'disposed'];
  for (const c of cases) {
    const r = spawnSync(process.execPath, [__filename, '--child', c], { encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      process.exit(1);
    }
    process.stdout.write(r.stdout);
  }
}
