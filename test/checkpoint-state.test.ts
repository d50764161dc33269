// The optimizer-state file of a checkpoint: safetensors with its tensors named by parameter,
// checked against the trainer before anything changes (fuzzed by native/fuzz/fuzz_checkpoint.cc),
// and the libtorch archives of older checkpoints still resumed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataLoader, info, Trainer } from '../lib';
import { checkpointData, checkpointModel } from './helpers/checkpoint-model';
import { readFloatTensors, safetensorsBuffer } from './helpers/safetensors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-state-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const loader = () => new DataLoader(checkpointData(), { batchSize: 4, seed: 1 });

async function checkpoint(name: string, optimizer: 'adamw' | 'sgd' = 'adamw'): Promise<string> {
  const dir = path.join(tmp, name);
  await new Trainer(checkpointModel(), { seed: 1, optimizer: { name: optimizer } }).fit(loader(), {
    epochs: 1,
    checkpointDir: dir,
  });
  return dir;
}

function header(file: string): { metadata: Record<string, string>; names: string[] } {
  const buf = fs.readFileSync(file);
  const h = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8'));
  const { __metadata__: metadata, ...rest } = h;
  return { metadata, names: Object.keys(rest) };
}

// Replaces one entry of a safetensors file, keeping the others' bytes and the metadata.
function rewrite(file: string, name: string, entry: { dtype: string; shape: number[]; data: Buffer }): void {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out: Record<string, unknown> = { __metadata__: h.__metadata__ };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [k, v] of Object.entries(h) as [string, { dtype: string; shape: number[]; data_offsets: number[] }][]) {
    if (k === '__metadata__') continue;
    const e = k === name ? entry : { ...v, data: buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]) };
    out[k] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.data.length] };
    offset += e.data.length;
    parts.push(e.data);
  }
  fs.writeFileSync(file, safetensorsBuffer(JSON.stringify(out), Buffer.concat(parts)));
}

describe('optimizer state files', () => {
  test('are safetensors: moments and steps named by parameter, the step in the metadata', async () => {
    const dir = await checkpoint('adamw');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
    expect(manifest.optimizer).toBe('epoch-0001.optim.safetensors');
    const { metadata, names } = header(path.join(dir, manifest.optimizer));
    expect(metadata).toMatchObject({ format: 'noisynn-optimizer-state', version: '1', optimizer: 'adamw', step: '2' });
    expect(names).toContain('head.weight.exp_avg');
    expect(names).toContain('head.weight.exp_avg_sq');
    expect(names).toContain('head.weight.step');
    const weights = readFloatTensors(path.join(dir, manifest.weights));
    const moments = readFloatTensors(path.join(dir, manifest.optimizer));
    expect(moments.get('head.weight.exp_avg')!.shape).toEqual(weights.get('head.weight')!.shape);
    // And a trainer resumes from it.
    // A finished fit's checkpoint: loaded, then trained one epoch further (its 2 steps and 2 more).
    const trainer = new Trainer(checkpointModel(), { seed: 1 });
    await trainer.loadCheckpoint(dir);
    expect(trainer.globalStep).toBe(2);
    const resumed = await trainer.fit(loader(), { epochs: 1 });
    expect(resumed).toMatchObject({ startEpoch: 1, epochs: 2, steps: 4 });
  });

  // The fixture is libtorch 1.13's archive (what checkpoints held before safetensors, on Debian's
  // libtorch). libtorch 2.x keys an optimizer's states differently and would pair them with the
  // wrong parameters: it refuses the file, naming a mismatched parameter, and changes nothing.
  const libtorch1 = info().libtorchVersion.startsWith('1.');
  test(`a checkpoint of the libtorch-archive days (.optim.pt) ${libtorch1 ? 'still resumes' : 'is refused by libtorch 2.x'}`, async () => {
    const dir = await checkpoint('legacy');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
    fs.copyFileSync(
      path.join(__dirname, 'fixtures', 'legacy-adamw-tiny-vit.optim.pt'),
      path.join(dir, 'epoch-0001.optim.pt'),
    );
    fs.rmSync(path.join(dir, manifest.optimizer));
    manifest.optimizer = 'epoch-0001.optim.pt';
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify(manifest));
    const trainer = new Trainer(checkpointModel(), { seed: 1 });
    if (!libtorch1) {
      await expect(trainer.loadCheckpoint(dir)).rejects.toThrow(
        /gives parameter '.+' \(\[[\d, ]+\]\) a state of shape \[[\d, ]+\]: the archive does not match this trainer's parameters \(libtorch archives written by libtorch 1\.x cannot be read by 2\.x/,
      );
      expect(trainer.globalStep).toBe(0);
      return;
    }
    // A finished fit's checkpoint: loaded, then trained one epoch further (its 2 steps and 2 more).
    await trainer.loadCheckpoint(dir);
    expect(trainer.globalStep).toBe(2);
    const resumed = await trainer.fit(loader(), { epochs: 1 });
    expect(resumed).toMatchObject({ startEpoch: 1, epochs: 2, steps: 4 });
  });

  // Each doctored file is refused, naming the file and the problem, and the trainer is unchanged.
  test.each([
    [
      // The manifest says adamw (so its own check passes) but the file holds an SGD trainer's state.
      'sgd state into an adamw trainer',
      'adamw',
      async (f: string) => {
        const sgd = await checkpoint('sgd-source', 'sgd');
        fs.copyFileSync(path.join(sgd, 'epoch-0001.optim.safetensors'), f);
        return f;
      },
      "it holds sgd state but this trainer's optimizer is adamw",
    ],
    [
      'a mis-shaped moment',
      'adamw',
      (f: string) => {
        rewrite(f, 'head.weight.exp_avg', { dtype: 'F32', shape: [2], data: Buffer.alloc(8) });
        return f;
      },
      "'head.weight.exp_avg' has shape [2] but the parameter has [3, 8]",
    ],
    ['a truncated file', 'adamw', (f: string) => (fs.truncateSync(f, 100), f), 'Invalid safetensors file'],
    [
      'a weights file instead',
      'adamw',
      (f: string) => f.replace('.optim.safetensors', '.safetensors'),
      "its metadata names format 'pt', not noisynn-optimizer-state",
    ],
  ] as const)('%s', async (_name, writer, doctor: (f: string) => string | Promise<string>, message) => {
    const dir = await checkpoint(`bad-${_name.replace(/\W+/g, '-')}`, writer);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
    const file = await doctor(path.join(dir, manifest.optimizer));
    manifest.optimizer = path.basename(file);
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify(manifest));
    const trainer = new Trainer(checkpointModel(), { seed: 1 });
    await expect(trainer.loadCheckpoint(dir)).rejects.toThrow(`Cannot load optimizer state from '${file}'`);
    await expect(trainer.loadCheckpoint(dir)).rejects.toThrow(message);
    expect(trainer.globalStep).toBe(0);
  });
});
