// Checkpoints from a trainer's point of view: what a manifest records of the trainer and its
// model, and what a checkpoint must share with the trainer that loads it, checked before
// anything is loaded (libtorch asserts, after changing the weights, on another optimizer's state).
import type { CheckpointFit, CheckpointManifest } from '../checkpoint';
import type { NoisyModel } from '../models';
import type { ResolvedTrainerOptions } from './options';

/** What a manifest records of the trainer and the model, beside the files and counters. */
export function describeTrainer(
  options: ResolvedTrainerOptions,
  model: NoisyModel,
): Pick<CheckpointManifest, 'trainer' | 'model' | 'seed'> {
  const { initSeed: _seed, ...config } = model.config as unknown as Record<string, unknown>;
  void _seed;
  return {
    seed: options.seed,
    trainer: { optimizer: { ...options.optimizer }, schedule: { ...options.schedule } },
    model: { family: model.family, config, stateDigest: model._stateDigest() },
  };
}

// The options that shape the optimizer's update (and the state it keeps), by optimizer.
const OPTIMIZER_FIELDS: Record<string, string[]> = {
  adamw: ['lr', 'weightDecay', 'betas', 'eps'],
  sgd: ['lr', 'weightDecay', 'momentum', 'nesterov'],
};
const SCHEDULE_FIELDS = ['name', 'warmupSteps', 'minLr', 'stepSize', 'gamma', 'totalSteps'];

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

/**
 * How the checkpoint differs from this trainer and model, as `field: X in the checkpoint, Y
 * here` lines. The model and the optimizer's kind must always match (the state is loaded into
 * them); `sameFit` (continuing the checkpoint's fit) also compares the seed, every optimizer
 * and schedule option, so that the resumed fit is the one that was interrupted.
 */
export function checkpointMismatches(
  saved: CheckpointManifest,
  options: ResolvedTrainerOptions,
  model: NoisyModel,
  sameFit: boolean,
): string[] {
  const now = describeTrainer(options, model);
  const out: string[] = [];
  const compare = (field: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${field}: ${show(a)} in the checkpoint, ${show(b)} here`);
  };
  compare('model', saved.model.family, now.model.family);
  if (saved.model.family === now.model.family) {
    const keys = new Set([...Object.keys(saved.model.config), ...Object.keys(now.model.config)]);
    for (const k of keys) compare(`model.config.${k}`, saved.model.config[k], now.model.config[k]);
  }
  if (out.length === 0 && saved.model.stateDigest !== now.model.stateDigest) {
    out.push('the model: its parameter names or shapes differ from the checkpoint');
  }
  const name = saved.trainer.optimizer.name;
  compare('optimizer.name', name, now.trainer.optimizer.name);
  if (sameFit) {
    if (name === now.trainer.optimizer.name) {
      for (const f of OPTIMIZER_FIELDS[String(name)] ?? []) {
        compare(`optimizer.${f}`, saved.trainer.optimizer[f], now.trainer.optimizer[f]);
      }
    }
    for (const f of SCHEDULE_FIELDS) compare(`schedule.${f}`, saved.trainer.schedule[f], now.trainer.schedule[f]);
    compare('seed', saved.seed, now.seed);
  }
  return out;
}

/** Whether the checkpoint's fit ran all its epochs. */
export function fitFinished(m: CheckpointManifest): boolean {
  return m.epoch >= m.fit.startEpoch + m.fit.epochs;
}

/**
 * Refuses to continue the checkpoint's fit with other epochs or other batches per epoch.
 * @throws Error naming the checkpoint's numbers and this fit's.
 */
export function expectSameFit(dir: string, fit: CheckpointFit, done: number, epochs: number, stepsPerEpoch: number) {
  const range = `epochs ${fit.startEpoch + 1}-${fit.startEpoch + fit.epochs}`;
  if (epochs !== fit.epochs) {
    const finished = done >= fit.startEpoch + fit.epochs;
    throw new Error(
      finished
        ? `Cannot resume from ${dir}: its checkpoint ends a finished fit of ${fit.epochs} epochs (${range}) and this fit ` +
            `asks for ${epochs}; to train further from it, call trainer.loadCheckpoint(dir) first, then fit the epochs to add`
        : `Cannot resume from ${dir}: its checkpoint is of an interrupted fit of ${fit.epochs} epochs (${range}, ` +
            `${done - fit.startEpoch} done) and this fit asks for ${epochs}; a resume continues that fit: pass epochs: ${fit.epochs}`,
    );
  }
  if (stepsPerEpoch !== fit.stepsPerEpoch) {
    throw new Error(
      `Cannot resume from ${dir}: its fit had ${fit.stepsPerEpoch} batches per epoch and train has ${stepsPerEpoch} ` +
        '(continuing the fit needs the same data and batchSize)',
    );
  }
}
