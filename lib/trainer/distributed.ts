// A Trainer's part in data-parallel training: joining the group, and the few collectives the JS
// side issues itself (evaluation totals and per-sample hits, agreeing to stop).
import { binding, NativeProcessGroup, NativeTrainer } from '../binding';
import { DistributedOptions, joinProcessGroup, ResolvedDistributed } from '../distributed';
import type { NoisyModel } from '../models';

// The group each model's trainers joined (auditLeakage's evaluator joins the same one).
const joined = new WeakMap<NoisyModel, ResolvedDistributed>();

/** @internal The `distributed` options of the group a trainer of `model` joined, if any. */
export function distributedOf(model: NoisyModel): Required<DistributedOptions> | undefined {
  const d = joined.get(model);
  if (d === undefined) return undefined;
  const { backend, rank, worldSize, masterAddr, masterPort, timeoutMs } = d;
  return { backend, rank, worldSize, masterAddr, masterPort, timeoutMs };
}

export class TrainerGroup {
  readonly options: ResolvedDistributed;
  #group: NativeProcessGroup | null = null;
  readonly #device: string;

  constructor(options: ResolvedDistributed, device: string) {
    this.options = options;
    // NCCL reduces CUDA tensors only; Gloo takes CPU ones.
    this.#device = options.backend === 'nccl' ? device : 'cpu';
  }

  /** Joins the group (collective); resolves with rank 0's seeds, now the trainer's and the model's. */
  async join(native: NativeTrainer, model: NoisyModel): Promise<{ seed: string; noiseSeed: string }> {
    const group = await joinProcessGroup(this.options);
    const seeds = await native.joinGroup(group);
    this.#group = group;
    joined.set(model, this.options);
    return seeds;
  }

  get rank(): number {
    return this.options.rank;
  }

  get worldSize(): number {
    return this.options.worldSize;
  }

  /** Collective: `values` summed over the ranks. */
  async sum(values: number[]): Promise<number[]> {
    const t = binding.NativeTensor.fromTypedArray(new Float64Array(values), [values.length], 'float64', this.#device);
    try {
      await this.#native().allReduce(t, 'sum');
      return Array.from(t.to('cpu').toTypedArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** Collective: whether any rank's `flag` is set. */
  async any(flag: boolean): Promise<boolean> {
    return (await this.sum([flag ? 1 : 0]))[0] > 0;
  }

  /**
   * Collective: per-sample hits (1 right, 0 wrong, 255 not seen) merged over the ranks' shards;
   * a sample seen by several ranks (padding) keeps a hit if any saw one.
   */
  async mergeHits(byIndex: Uint8Array): Promise<Uint8Array> {
    const code = byIndex.map((v) => (v === 255 ? 0 : v + 1)); // 0 unseen < 1 wrong < 2 right
    const t = binding.NativeTensor.fromTypedArray(code, [code.length], 'uint8', this.#device);
    try {
      await this.#native().allReduce(t, 'max');
      const merged = t.to('cpu').toTypedArray() as Uint8Array;
      return merged.map((v) => (v === 0 ? 255 : v - 1));
    } finally {
      t.dispose();
    }
  }

  #native(): NativeProcessGroup {
    if (this.#group === null) throw new Error('the trainer has not joined its process group');
    return this.#group;
  }
}
