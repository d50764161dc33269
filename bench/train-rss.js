// RSS of a training run from step 300 to step 1,500: a small ViT fed by the threaded loader on
// Fashion-MNIST. Tells a leak from allocator retention: live tensor handles (memory()), glibc's
// bytes in use and free-but-held (mallinfo2), RSS after malloc_trim(0), and the same run with
// MALLOC_ARENA_MAX=1 (one arena: no per-thread arenas to fragment).
//
//   node bench/train-rss.js                   both variants (default arenas, MALLOC_ARENA_MAX=1)
//   node bench/train-rss.js --steps 1500      steps per run (default 1500)
//   node bench/train-rss.js --drop-last       without the epoch's short last batch
//   node bench/train-rss.js --default-only    the default-arenas run only
const { spawnSync } = require('child_process');
const path = require('path');

const MB = 1024 * 1024;
const argv = process.argv.slice(2);
const steps = argv.includes('--steps') ? Number(argv[argv.indexOf('--steps') + 1]) : 1500;

async function child() {
  const nn = require(path.join(__dirname, '..', 'dist'));
  const t = require(path.join(__dirname, '..', 'dist', 'binding')).binding._testing;
  const model = nn.createModel('vit_mini_patch4_28', { noise: 'default', initSeed: 1 });
  const train = new nn.FashionMNIST({ split: 'train' });
  const loader = new nn.DataLoader(train, {
    batchSize: 64,
    seed: 1,
    numWorkers: 2,
    dropLast: argv.includes('--drop-last'),
    transforms: [nn.transforms.randomCrop(28, { padding: 2 }), nn.transforms.normalize('fashion-mnist')],
  });
  const trainer = new nn.Trainer(model, { seed: 1, schedule: { name: 'constant' } });
  const samples = {};
  const sample = (step) => {
    const m = t.mallocStats();
    samples[step] = {
      rssMB: process.memoryUsage().rss / MB,
      tensors: nn.memory().tensors,
      inUseMB: m ? m.inUseBytes / MB : null,
      freeHeldMB: m ? m.freeHeldBytes / MB : null,
    };
  };
  let step = 0;
  const started = Date.now();
  while (step < steps) {
    for await (const batch of loader) {
      await trainer.step(batch);
      batch.images.dispose();
      batch.labels.dispose();
      step++;
      if (step % 100 === 0) sample(step);
      if (step === steps) break;
    }
  }
  const before = process.memoryUsage().rss;
  t.mallocTrim();
  const afterTrim = process.memoryUsage().rss;
  const a = samples[300];
  const b = samples[steps];
  const pct = (x, y) => +((100 * (y - x)) / x).toFixed(2);
  return {
    arenaMax: process.env.MALLOC_ARENA_MAX ?? 'default',
    steps,
    seconds: Math.round((Date.now() - started) / 1000),
    rss300MB: +a.rssMB.toFixed(1),
    rssEndMB: +b.rssMB.toFixed(1),
    rssGrowthPct: pct(a.rssMB, b.rssMB),
    tensors300: a.tensors,
    tensorsEnd: b.tensors,
    inUse300MB: +a.inUseMB.toFixed(1),
    inUseEndMB: +b.inUseMB.toFixed(1),
    freeHeld300MB: +a.freeHeldMB.toFixed(1),
    freeHeldEndMB: +b.freeHeldMB.toFixed(1),
    rssAfterTrimMB: +(afterTrim / MB).toFixed(1),
    trimReleasedMB: +((before - afterTrim) / MB).toFixed(1),
    rssEveryHundredMB: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.round(v.rssMB)])),
  };
}

if (argv[0] === '--child') {
  child().then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  const variants = argv.includes('--default-only') ? [{}] : [{}, { MALLOC_ARENA_MAX: '1' }];
  for (const env of variants) {
    const r = spawnSync(process.execPath, [__filename, '--child', ...argv], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      process.exit(1);
    }
    process.stdout.write(r.stdout);
  }
}
