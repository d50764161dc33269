// Training checkpoints: weights + optimizer state + a manifest, committed atomically.
//
// A checkpoint directory holds epoch-NNNN.safetensors and epoch-NNNN.optim.safetensors files and one
// checkpoint.json manifest naming the current pair. Each file is written to a temporary name,
// fsynced and renamed; the manifest is replaced last. A crash at any point leaves the previous
// manifest, and the files it names, intact.
import { promises as fsp } from 'fs';
import * as path from 'path';

export const MANIFEST = 'checkpoint.json';

/** The fit a checkpoint belongs to: a resume continues it, with the same epochs and batches per epoch. */
export interface CheckpointFit {
  /** Epochs and optimizer steps the trainer had completed when the fit began. */
  startEpoch: number;
  startStep: number;
  /** The fit's `epochs` (it ends after epoch startEpoch + epochs). */
  epochs: number;
  stepsPerEpoch: number;
}

export interface CheckpointManifest {
  format: 'noisynn-checkpoint';
  version: 2;
  /** Epochs completed (by every fit up to this checkpoint). */
  epoch: number;
  /** Optimizer steps completed. */
  step: number;
  fit: CheckpointFit;
  /** The trainer's resolved optimizer and schedule options (`trainer.options`). */
  trainer: { optimizer: Record<string, unknown>; schedule: Record<string, unknown> };
  /**
   * The model: its family, its architecture (`model.config` without initSeed) and a digest of
   * its parameter and buffer names and shapes.
   */
  model: { family: string; config: Record<string, unknown>; stateDigest: string };
  /** File names, relative to the checkpoint directory. */
  weights: string;
  optimizer: string;
  /** Philox offset of the model's next noise draw (decimal). */
  noiseOffset: string;
  /** The trainer's seed (decimal), so a resume with another seed can be refused. */
  seed: string;
  /** Every epoch's record up to this checkpoint, earlier fits' included. */
  history: unknown[];
  time: string;
}

/** Writes `data` to `file` durably: temporary file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
  await syncDirectory(path.dirname(file));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The manifest of `dir`, or null when there is none yet. A corrupt manifest throws. */
export async function readManifest(dir: string): Promise<CheckpointManifest | null> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, MANIFEST), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(text) as CheckpointManifest;
  } catch {
    throw new Error(
      `${path.join(dir, MANIFEST)} is not valid JSON; remove the directory or point checkpointDir elsewhere`,
    );
  }
  const { format, version } = manifest as { format: unknown; version: unknown };
  if (format === 'noisynn-checkpoint' && version === 1) {
    throw new Error(
      `${path.join(dir, MANIFEST)} is a version 1 checkpoint, which does not record what a resume must match ` +
        '(its fit, optimizer, schedule and model); point checkpointDir at a new folder',
    );
  }
  if (format !== 'noisynn-checkpoint' || version !== 2) {
    throw new Error(
      `${path.join(dir, MANIFEST)} is not a noisynn checkpoint manifest (format ${String(format)}, version ${String(version)})`,
    );
  }
  return manifest;
}

export function checkpointFiles(epoch: number): { weights: string; optimizer: string } {
  const tag = `epoch-${String(epoch).padStart(4, '0')}`;
  return { weights: `${tag}.safetensors`, optimizer: `${tag}.optim.safetensors` };
}

/**
 * Test hook: NOISYNN_FAILPOINT=checkpoint-before-manifest kills the process (SIGKILL, as a
 * power cut would) after the new weights and optimizer files are written but before the
 * manifest is replaced, so tests can prove the previous checkpoint survives.
 */
export function failpoint(name: string): void {
  if (process.env.NOISYNN_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}

/** Commits `manifest` and removes files of checkpoints older than the one it replaces. */
export async function commitManifest(
  dir: string,
  manifest: CheckpointManifest,
  previous: CheckpointManifest | null,
): Promise<void> {
  failpoint('checkpoint-before-manifest');
  await writeFileAtomic(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  // Keep the checkpoint just replaced as well: a manifest is only trusted once it is on disk.
  const keep = new Set([manifest.weights, manifest.optimizer, MANIFEST]);
  if (previous) {
    keep.add(previous.weights);
    keep.add(previous.optimizer);
  }
  for (const name of await fsp.readdir(dir)) {
    // .optim.pt: the optimizer state of checkpoints written before it moved to safetensors.
    if (/^epoch-\d+\.(safetensors|optim\.safetensors|optim\.pt)$/.test(name) && !keep.has(name)) {
      await fsp.rm(path.join(dir, name), { force: true });
    }
  }
}
