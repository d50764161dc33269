// NoisyViT and NoisyCNN: the model classes (forward, modes, devices, weights, the noise site)
// and createModel, which builds a registered variant by name.
import { createHash } from 'crypto';
import { binding, NativeCNNConfig, NativeModel, NativeTensor, NativeViTConfig } from '../binding';
import { checkOutputFile } from '../output-paths';
import { Device, handleOf, Tensor } from '../tensor';
import { expectBoolean, expectDevice, expectKnownKeys, expectNonEmptyString, expectOptions } from '../validate';
import {
  CNNConfig,
  normalizeCNNConfig,
  normalizeViTConfig,
  ResolvedCNNConfig,
  ResolvedViTConfig,
  ViTConfig,
} from './config';
import {
  ModelNoiseOption,
  normalizeModelNoise,
  NoiseSiteArchitecture,
  ResolvedModelNoise,
  resolvedNoise,
  SiteNoise,
} from './noise-site';
import { CNNVariantName, lookupVariant, ModelVariantName, ViTVariantName } from './variants';

/** Options of {@link NoisyModel.loadWeights}. */
export interface LoadWeightsOptions {
  /**
   * Default true: any missing key, unexpected key or shape mismatch throws one error listing all
   * of them, and no weight changes. false: load the tensors whose name and shape match.
   */
  strict?: boolean;
}

/** What {@link NoisyModel.loadWeights} matched. */
export interface LoadWeightsReport {
  /** Names loaded into the model. */
  loaded: string[];
  /** In the model, not in the file (left as they were). */
  missing: string[];
  /** In the file, not in the model (ignored). */
  unexpected: string[];
  /** In both with different shapes, as 'name (file [..], model [..])' (left as they were). */
  mismatched: string[];
}

const CONSTRUCT = Symbol('NoisyModel.construct');

const FLOAT_DTYPES = ['float32', 'float64', 'float16', 'bfloat16'];

/**
 * What NoisyViT and NoisyCNN share: asynchronous forward, train/eval, device moves, weights in
 * safetensors, the noise site. Models start in train mode, like PyTorch modules.
 *
 * One training or evaluation at a time: while a Trainer's `fit`, `step` or `evaluate` uses the
 * model, another one (from any Trainer) is refused with an Error, and so are `dispose()`, `to()`,
 * `setNoise()` and `loadWeights()`, which would change the model under it. `forward()` may run
 * meanwhile (between two steps, in whatever mode the trainer left the model).
 */
export abstract class NoisyModel {
  #native: NativeModel | null;
  #noise: SiteNoise;
  #user: string | null = null;
  /** The registry name the model was created from, or null for a custom config. */
  readonly variant: ModelVariantName | null;
  /** 'vit' (NoisyViT) or 'cnn' (NoisyCNN). */
  abstract readonly family: 'vit' | 'cnn';
  /** The architecture, every default filled in. */
  abstract readonly config: ResolvedViTConfig | ResolvedCNNConfig;

  /** @internal Use NoisyViT.create, NoisyCNN.create or createModel. */
  protected constructor(token: symbol, native: NativeModel, noise: SiteNoise, variant: ModelVariantName | null) {
    if (token !== CONSTRUCT) {
      throw new TypeError(
        `${new.target.name} cannot be constructed directly; use ${new.target.name}.create(config) or createModel(name)`,
      );
    }
    this.#native = native;
    this.#noise = noise;
    this.variant = variant;
  }

  /** @internal The native handle (for the trainer); throws after dispose. */
  get _handle(): NativeModel {
    if (this.#native === null) throw new Error(`${this.constructor.name} has been disposed`);
    return this.#native;
  }

  /**
   * @internal Marks the model as used by `user` (e.g. 'Trainer.fit') until the returned release
   * runs. @throws Error when another user holds it, or after dispose.
   */
  _claim(user: string): () => void {
    void this._handle;
    if (this.#user !== null) {
      throw new Error(
        `Cannot run ${user}: the model is in use by ${this.#user} (one training or evaluation at a time per model); await it first`,
      );
    }
    this.#user = user;
    return () => {
      this.#user = null;
    };
  }

  // Refuses a change of the model while a trainer uses it.
  #expectIdle(what: string): void {
    if (this.#user !== null) {
      throw new Error(
        `Cannot ${what} while ${this.#user} is using the ${this.constructor.name}; stop it (its signal) and await it first`,
      );
    }
  }

  /**
   * @internal Throws a RangeError unless `x` can be the model's input: floating point, of the
   * model's input shape, on its device. `name` names it in messages.
   */
  _checkInput(x: NativeTensor, name: string): void {
    const shape = x.shape();
    this._checkShape(shape, name);
    const dtype = x.dtype();
    if (!FLOAT_DTYPES.includes(dtype)) {
      throw new RangeError(
        `Expected a floating-point tensor for ${name} but received dtype ${dtype} (DataLoader batches are float32 in [0, 1])`,
      );
    }
    const device = this._handle.device();
    if (x.device() !== device) {
      throw new RangeError(
        `Expected ${name} on the model's device ${device} but received a tensor on ${x.device()}; move one of them with .to(device)`,
      );
    }
  }

  /**
   * @internal A digest (sha256, hex) of every parameter and buffer name with its shape: two
   * models share it exactly when one's weights load strictly into the other.
   */
  _stateDigest(): string {
    return createHash('sha256').update(JSON.stringify(this._handle.stateShapes())).digest('hex');
  }

  /** @internal The architecture the noise layer indices refer to. */
  protected abstract _arch(): NoiseSiteArchitecture;
  /** @internal Throws a RangeError unless a `name` of this shape fits the model. */
  protected abstract _checkShape(shape: number[], name: string): void;

  /**
   * Runs the model on a batch of images, off the JS thread, without recording gradients.
   * In train() mode dropout, stochastic depth and BatchNorm batch statistics apply (and noise when
   * `when` is 'train' or 'always'); in eval() mode noise applies when `when` is 'eval' or 'always'.
   *
   * @param x [batch, inChannels, height, width], floating point (converted to float32), on the model's device.
   * @returns Logits [batch, numClasses], float32.
   * @throws TypeError when x is not a Tensor; RangeError for a wrong shape, dtype or device; Error after dispose.
   * @example
   * const logits = await model.eval().forward(images);
   */
  async forward(x: Tensor): Promise<Tensor> {
    const native = this._handle;
    const handle = handleOf(x, 'x');
    this._checkInput(handle, 'x');
    return Tensor._fromHandle(await native.forward(handle));
  }

  /** Sets train mode (default) or eval mode; returns this. Waits for a forward in flight on this model. */
  train(mode = true): this {
    this._handle.setTraining(expectBoolean(mode, 'mode'));
    return this;
  }

  /** Sets eval mode; returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Whether the model is in train mode. */
  get training(): boolean {
    return this._handle.isTraining();
  }

  /** Moves parameters and buffers to 'cpu', 'cuda' or 'cuda:N' in place; returns this. */
  to(device: Device): this {
    const native = this._handle;
    this.#expectIdle('move the model');
    native.to(expectDevice(device));
    return this;
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): Device {
    return this._handle.device();
  }

  /** Number of trainable parameters (buffers such as BatchNorm statistics excluded). */
  numParameters(): number {
    return this._handle.numParameters();
  }

  /** Parameter names, as timm (ViT) or torchvision (ResNet) name them. */
  parameterNames(): string[] {
    return this._handle.parameterNames();
  }

  /** Names of everything saveWeights writes: parameters, then buffers (BatchNorm statistics). */
  stateNames(): string[] {
    return this._handle.stateNames();
  }

  /** @internal Data-parallel: the noise seed rank 0's trainer handed this model (already set natively). */
  _adoptNoiseSeed(seed: string): void {
    this.#noise = { ...this.#noise, seed };
  }

  /** The noise site with every default filled in. */
  get noise(): ResolvedModelNoise {
    void this._handle;
    return resolvedNoise(this.#noise, this.family);
  }

  /**
   * Replaces the noise site (e.g. to evaluate a model trained without noise under the official
   * protocol); the noise stream restarts at offset 0 of the new seed.
   *
   * @param noise A preset name or a {@link ModelNoiseConfig}.
   * @throws TypeError / RangeError for a bad option, with the option's name.
   */
  setNoise(noise: ModelNoiseOption): this {
    const native = this._handle;
    this.#expectIdle('change the noise site');
    const n = normalizeModelNoise(noise, this._arch());
    native.setNoise(n);
    native.setNoiseOffset('0');
    this.#noise = n;
    return this;
  }

  /**
   * Writes every parameter and buffer to a safetensors file with timm / torchvision key names
   * (loadable there with `safetensors.torch.load_file` and `load_state_dict`). The file is
   * written to a temporary name and renamed, so a crash never leaves a partial file at `path`.
   *
   * @throws TypeError for a non-string path; Error `Cannot write path <path>: <reason>` before
   *   anything is written when it is a folder or its folder is missing or read-only.
   */
  async saveWeights(path: string): Promise<void> {
    const native = this._handle;
    const file = expectNonEmptyString(path, 'path');
    checkOutputFile(file, 'path');
    await native.saveWeights(file);
  }

  /**
   * Loads a safetensors file (from this package, timm, or torchvision via `safetensors.torch.save_file(model.state_dict())`).
   * Other dtypes are converted to the model's. BatchNorm's num_batches_tracked may be absent
   * (torchvision's published checkpoints predate it).
   *
   * @param options `strict` (default true): see {@link LoadWeightsOptions}.
   * @returns What matched.
   * @throws Error listing missing keys, unexpected keys and shape mismatches (strict), or
   *   describing a malformed or truncated file; the model is unchanged then.
   * @example
   * await model.loadWeights('vit_tiny.safetensors');
   * const report = await model.loadWeights('imagenet.safetensors', { strict: false }); // e.g. another head
   */
  async loadWeights(path: string, options?: LoadWeightsOptions): Promise<LoadWeightsReport> {
    const native = this._handle;
    const p = expectNonEmptyString(path, 'path');
    const opts = expectOptions(options);
    expectKnownKeys(opts, 'options', ['strict']);
    const strict = opts.strict === undefined ? true : expectBoolean(opts.strict, 'options.strict');
    this.#expectIdle('load weights');
    return native.loadWeights(p, strict);
  }

  /**
   * Frees the native memory now. Idempotent; any other use afterwards throws.
   * @throws Error while a Trainer's fit, step or evaluate uses the model (stop it first).
   */
  dispose(): void {
    if (this.#native !== null) {
      this.#expectIdle('dispose the model');
      this.#native.dispose();
      this.#native = null;
    }
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.#native === null;
  }
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function splitOptions(
  name: string,
  configOrName: unknown,
  overrides: unknown,
  family: 'vit' | 'cnn',
): { variant: ModelVariantName | null; config: Record<string, unknown> } {
  if (typeof configOrName === 'string') {
    const { name: variantName, variant } = lookupVariant(configOrName, family);
    const o = expectOptions(overrides, 'overrides');
    return { variant: variantName, config: { ...variant.config, ...o } };
  }
  if (overrides !== undefined)
    throw new TypeError(`${name}.create(config) takes no overrides; pass them in the config`);
  if (configOrName === undefined) return { variant: null, config: {} };
  return { variant: null, config: expectOptions(configOrName, 'config') };
}

/**
 * NoisyViT: timm's VisionTransformer with a NoisyNN noise site.
 *
 * @example
 * const model = NoisyViT.create('vit_mini_patch4_28', { noise: { kind: 'linear', strength: 0.3 } });
 * const logits = await model.eval().forward(images); // [batch, 10]
 */
export class NoisyViT extends NoisyModel {
  readonly family = 'vit' as const;
  /** The architecture, every default filled in. */
  readonly config: ResolvedViTConfig;

  // Private: models come from create() or createModel (the token refuses plain JS callers too).
  private constructor(
    token: symbol,
    native: NativeModel,
    noise: SiteNoise,
    variant: ModelVariantName | null,
    config: NativeViTConfig,
  ) {
    super(token, native, noise, variant);
    this.config = Object.freeze({ ...config });
  }

  /**
   * Builds a NoisyViT from a config (any field omitted takes the timm default: ViT-B/16 at 224
   * with 1000 classes) or from a registered ViT variant plus overrides.
   *
   * @throws TypeError for a wrong type; RangeError for a bad value (imageSize not a multiple of
   *   patchSize, embedDim not a multiple of numHeads, an unknown variant, an unknown key, a noise
   *   layer out of range, ...), each naming the option.
   * @example
   * NoisyViT.create({ imageSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3, numClasses: 10 });
   * NoisyViT.create('vit_tiny_patch16_224', { numClasses: 10, noise: 'official' });
   */
  static create(config?: ViTConfig): NoisyViT;
  static create(variant: ViTVariantName, overrides?: ViTConfig): NoisyViT;
  static create(configOrName?: ViTConfig | ViTVariantName, overrides?: ViTConfig): NoisyViT {
    const { variant, config } = splitOptions('NoisyViT', configOrName, overrides, 'vit');
    return NoisyViT._build(variant, config);
  }

  /** @internal */
  static _build(variant: ModelVariantName | null, config: Record<string, unknown>): NoisyViT {
    const arch = normalizeViTConfig(config);
    const noise = normalizeModelNoise(config.noise, { family: 'vit', depth: arch.depth });
    return new NoisyViT(CONSTRUCT, binding.createVit(arch, noise), noise, variant, arch);
  }

  /** @internal */
  protected _arch() {
    return { family: 'vit' as const, depth: this.config.depth };
  }

  /** @internal */
  protected _checkShape(shape: number[], name: string): void {
    const { inChannels: c, imageSize: s } = this.config;
    if (shape.length !== 4 || shape[0] < 1 || shape[1] !== c || shape[2] !== s || shape[3] !== s) {
      throw new RangeError(`Expected ${name} of shape [batch, ${c}, ${s}, ${s}] but received ${describeShape(shape)}`);
    }
  }
}

/**
 * NoisyCNN: torchvision's ResNet with a NoisyNN noise site at the input of a residual block.
 *
 * @example
 * const model = NoisyCNN.create('resnet18_small_32', { noise: { kind: 'optimal', axis: 'spatial' } });
 * const logits = await model.forward(images); // [batch, 10]
 */
export class NoisyCNN extends NoisyModel {
  readonly family = 'cnn' as const;
  /** The architecture, every default filled in. */
  readonly config: ResolvedCNNConfig;

  // Private: models come from create() or createModel (the token refuses plain JS callers too).
  private constructor(
    token: symbol,
    native: NativeModel,
    noise: SiteNoise,
    variant: ModelVariantName | null,
    config: NativeCNNConfig,
  ) {
    super(token, native, noise, variant);
    this.config = Object.freeze({
      ...config,
      layers: Object.freeze([...config.layers]) as unknown as [number, number, number, number],
    });
  }

  /**
   * Builds a NoisyCNN from a config (any field omitted takes the default: ResNet-18 with the
   * ImageNet stem and 1000 classes) or from a registered ResNet variant plus overrides.
   *
   * @throws TypeError for a wrong type; RangeError for a bad value, an unknown variant or key.
   * @example
   * NoisyCNN.create({ block: 'bottleneck', layers: [3, 4, 6, 3], numClasses: 100 });
   * NoisyCNN.create('resnet50', { noise: { kind: 'linear', strength: 0.4, detach: true } });
   */
  static create(config?: CNNConfig): NoisyCNN;
  static create(variant: CNNVariantName, overrides?: CNNConfig): NoisyCNN;
  static create(configOrName?: CNNConfig | CNNVariantName, overrides?: CNNConfig): NoisyCNN {
    const { variant, config } = splitOptions('NoisyCNN', configOrName, overrides, 'cnn');
    return NoisyCNN._build(variant, config);
  }

  /** @internal */
  static _build(variant: ModelVariantName | null, config: Record<string, unknown>): NoisyCNN {
    const arch = normalizeCNNConfig(config);
    const noise = normalizeModelNoise(config.noise, { family: 'cnn', layers: arch.layers });
    return new NoisyCNN(CONSTRUCT, binding.createResNet(arch, noise), noise, variant, arch);
  }

  /** @internal */
  protected _arch() {
    return { family: 'cnn' as const, layers: this.config.layers };
  }

  /** @internal */
  protected _checkShape(shape: number[], name: string): void {
    const c = this.config.inChannels;
    if (shape.length !== 4 || shape[0] < 1 || shape[1] !== c || shape[2] < 1 || shape[3] < 1) {
      throw new RangeError(
        `Expected ${name} of shape [batch, ${c}, height, width] but received ${describeShape(shape)}`,
      );
    }
  }
}
