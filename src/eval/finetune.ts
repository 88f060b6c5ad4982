/**
 * Full fine-tuning of any method's pretrained {@linkcode Encoder} for
 * classification (MAE's recipe, DARL spec §5/§8.9): bidirectional
 * attention, mean of the last block's patch tokens → LayerNorm → linear
 * head, AdamW with layer-wise learning-rate decay, label smoothing, warm-up +
 * cosine, optional crop/flip augmentation. Checkpoints and exact resume work
 * as in pretraining, on the shared trainer and loop.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check, DarlError } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { augmentBatch, createSampler, gatherImages, gatherLabels, toUnitRange } from "../data/batches.ts";
import { adaptImages } from "../data/resize.ts";
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import type { Encoder } from "../nn/encoder.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../nn/layer_norm.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { disposeTree, namedLeaves, type ParamTree } from "../nn/tree.ts";
import { createRng, mixSeed } from "../rng.ts";
import type { Checkpoint } from "../train/checkpoint.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import { decays, warmupCosine } from "../train/optim.ts";
import type { LoadedModel } from "../train/registry.ts";
import {
  checkBatch,
  checkMemory,
  checkResumeCompatible,
  readConfigFile,
  type ResumeRules,
  RUN_SCHEMA,
  type RunConfig,
  storedRunConfig,
  validateRunConfig,
} from "../train/run_config.ts";
import { createTrainer, disposeTrainer, type Trainer, trainStep } from "../train/trainer.ts";
import { poolTokens } from "./features.ts";

/**
 * Fine-tuning hyper-parameters and run layout (every field is a CLI flag).
 *
 * @example
 * ```ts
 * import { FINETUNE_DEFAULTS, type FinetuneConfig } from "./finetune.ts";
 * const cfg: FinetuneConfig = { ...FINETUNE_DEFAULTS, epochs: 10, layerDecay: 0.65 };
 * if (cfg.beta2 !== 0.999) throw new Error();
 * ```
 */
export interface FinetuneConfig extends Omit<RunConfig, "steps" | "warmupSteps"> {
  /** Epochs over the training split. */
  epochs: number;
  /** Warm-up epochs. */
  warmupEpochs: number;
  /** Layer-wise learning-rate decay (MAE: 0.65 for B, 0.75 for L/H). */
  layerDecay: number;
  /** Label smoothing. */
  labelSmoothing: number;
}

/**
 * Defaults for the tiny model on 28×28 data: MAE's recipe (β 0.9/0.999, wd
 * 0.05, label smoothing 0.1, layer decay 0.75, no clipping) with a short schedule.
 *
 * @example
 * ```ts
 * import { FINETUNE_DEFAULTS } from "./finetune.ts";
 * if (FINETUNE_DEFAULTS.labelSmoothing !== 0.1 || FINETUNE_DEFAULTS.layerDecay !== 0.75) throw new Error();
 * ```
 */
export const FINETUNE_DEFAULTS: FinetuneConfig = {
  data: "data/fashion-mnist",
  out: "runs/finetune-fashion-mnist",
  epochs: 3,
  batchSize: 64,
  lr: 5e-4,
  minLr: 1e-6,
  warmupEpochs: 0.5,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.999,
  layerDecay: 0.75,
  labelSmoothing: 0.1,
  clip: 0,
  seed: 0,
  augment: "flip",
  logEvery: 50,
  ckptEvery: 500,
  keep: 2,
};

const { steps: _s, warmupSteps: _w, ...shared } = RUN_SCHEMA;

/**
 * Documentation and bounds of {@linkcode FinetuneConfig}.
 *
 * @example
 * ```ts
 * import { validateConfig } from "../config.ts";
 * import { FINETUNE_DEFAULTS, FINETUNE_SCHEMA } from "./finetune.ts";
 * try { validateConfig({ ...FINETUNE_DEFAULTS, labelSmoothing: 1 }, FINETUNE_SCHEMA); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--label-smoothing: expected a number ≥ 0 and < 1")) throw e; }
 * ```
 */
export const FINETUNE_SCHEMA: ConfigSchema<FinetuneConfig> = {
  ...shared,
  lr: { doc: "peak learning rate (of the head; deeper layers get less)", above: 0, max: 1e6 },
  epochs: { doc: "epochs over the training split", above: 0, max: 1e6 },
  warmupEpochs: { doc: "warm-up epochs", min: 0, max: 1e6 },
  layerDecay: { doc: "layer-wise lr decay", above: 0, max: 1 },
  labelSmoothing: { doc: "label smoothing", min: 0, below: 1 },
};

/** Fine-tuning: batch, seed, augmentation and the epoch count fix the data stream and schedule. */
export const FINETUNE_RESUME: ResumeRules = {
  locked: ["batchSize", "seed", "augment", "epochs"],
  noted: ["lr", "minLr", "warmupEpochs", "weightDecay", "beta1", "beta2", "layerDecay", "labelSmoothing", "clip"],
};

/**
 * A classifier: an encoder's parameters up to its last block, plus a LayerNorm + linear head.
 *
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import { type Classifier, initClassifier } from "./finetune.ts";
 * const clf: Classifier = initClassifier({ width: 8, depth: 3, params: () => ({}) } as unknown as Encoder, 5, 0);
 * if (clf.classes !== 5 || clf.layer !== "block2") throw new Error();
 * ```
 */
export interface Classifier {
  /** The encoder (its variables are trained in place). */
  encoder: Encoder;
  /** The layer whose patch tokens are pooled: the last block's output. */
  layer: string;
  /** The trainable tree: the encoder's parameters for `layer`, and the head. */
  params: { backbone: ParamTree; head: { norm: LayerNormParams; out: LinearParams } };
  /** Number of classes. */
  classes: number;
}

/**
 * Builds a classifier on an encoder (taken by reference: fine-tuning trains its variables).
 *
 * @param encoder The pretrained encoder.
 * @param classes Number of classes.
 * @param seed Seed of the head's initialisation.
 * @returns The classifier.
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import { initClassifier } from "./finetune.ts";
 * const encoder = { width: 32, depth: 2, params: () => ({}) } as unknown as Encoder;
 * const clf = initClassifier(encoder, 10, 0);
 * if (clf.layer !== "block1" || clf.params.head.out.w.shape.join() !== "32,10") throw new Error();
 * ```
 */
export function initClassifier(encoder: Encoder, classes: number, seed: number): Classifier {
  const rng = createRng(mixSeed(seed, 0xc1a55));
  const out = initLinear(rng, encoder.width, classes);
  // MAE initialises the classifier with small weights (trunc-normal, std 2e-5); here a scaled Xavier.
  const w = out.w as tf.Variable;
  w.assign(tf.mul(w, 1e-3));
  const layer = `block${encoder.depth - 1}`;
  return {
    encoder,
    layer,
    params: { backbone: encoder.params(layer), head: { norm: initLayerNorm(encoder.width), out } },
    classes,
  };
}

/**
 * Class logits: the encoder (bidirectional by default), mean of the last
 * block's patch tokens, LayerNorm, linear.
 *
 * @param clf The classifier.
 * @param images [B, H, W, C] in [−1, 1].
 * @param causal Attention mask (false for fine-tuning).
 * @returns [B, classes] logits.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { classifierLogits, initClassifier } from "./finetune.ts";
 * const encoder = { width: 4, depth: 1, prefixTokens: 1, params: () => ({}), tokens: (x: tf.Tensor) => tf.ones([x.shape[0]!, 5, 4]) } as unknown as Encoder;
 * const logits = classifierLogits(initClassifier(encoder, 3, 0), tf.zeros([2, 8, 8, 1]));
 * if (logits.shape.join() !== "2,3") throw new Error();
 * ```
 */
export function classifierLogits(clf: Classifier, images: tf.Tensor, causal = false): tf.Tensor2D {
  return tf.tidy(() => {
    const tokens = clf.encoder.tokens(images, { causal, layer: clf.layer });
    const pooled = poolTokens(tokens, clf.encoder.prefixTokens, "mean");
    return linear(clf.params.head.out, layerNorm(clf.params.head.norm, pooled)) as tf.Tensor2D;
  });
}

/**
 * Per-parameter learning-rate multipliers for layer-wise decay: the head
 * gets 1, block i gets decay^(depth − i), the embedding decay^(depth + 1).
 *
 * @param names Parameter paths of a classifier's trainable tree ("backbone.…", "head.…").
 * @param encoder The encoder (its depth and block index of each parameter).
 * @param decay The decay factor.
 * @returns One multiplier per name.
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import { layerScales } from "./finetune.ts";
 * const encoder = { depth: 2, blockIndex: (n: string) => (n.startsWith("blocks.1.") ? 2 : 0) } as unknown as Encoder;
 * const s = layerScales(["backbone.sos", "backbone.blocks.1.qkv.w", "head.out.w"], encoder, 0.5);
 * if (s.join() !== "0.125,0.5,1") throw new Error(s.join());
 * ```
 */
export function layerScales(names: string[], encoder: Encoder, decay: number): number[] {
  return names.map((n) => {
    const id = n.startsWith("backbone.") ? encoder.blockIndex(n.slice("backbone.".length)) : encoder.depth + 1;
    return Math.pow(decay, encoder.depth + 1 - id);
  });
}

/**
 * AdamW with layer-wise decay over a classifier's trainable tree.
 *
 * @param clf The classifier.
 * @param hp Betas, weight decay, layer decay, clip.
 * @returns The trainer.
 */
export function classifierTrainer(
  clf: Classifier,
  hp: Pick<FinetuneConfig, "beta1" | "beta2" | "weightDecay" | "layerDecay" | "clip">,
): Trainer {
  const names = namedLeaves(clf.params as never).map(([n]) => n);
  const byName = layerScales(names, clf.encoder, hp.layerDecay);
  const scales = new Map(names.map((n, i) => [n, byName[i]!]));
  return createTrainer(clf.params as never, {
    optimizer: { kind: "adamw", beta1: hp.beta1, beta2: hp.beta2, weightDecay: hp.weightDecay },
    clip: hp.clip,
    decay: (n, t) => decays(n, t) && !n.endsWith(".sos"),
    lrScale: (n) => scales.get(n)!,
  });
}

/**
 * One fine-tuning step: label-smoothed cross-entropy, AdamW with layer-wise
 * decay and optional clipping.
 *
 * @param clf The classifier.
 * @param t Its trainer.
 * @param x Images [B, H, W, C] in [−1, 1].
 * @param labels Class per image.
 * @param lr Learning rate.
 * @param labelSmoothing Label smoothing.
 * @returns Loss and gradient norm (caller disposes).
 */
export function classifierStep(
  clf: Classifier,
  t: Trainer,
  x: tf.Tensor,
  labels: Int32Array,
  lr: number,
  labelSmoothing: number,
): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  return trainStep(t, () => {
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), clf.classes);
    return tf.losses.softmaxCrossEntropy(y, classifierLogits(clf, x), undefined, labelSmoothing) as tf.Scalar;
  }, lr);
}

/**
 * Adapts a labelled split to an encoder's input shape (resize, channels).
 *
 * @param split The split.
 * @param shape Its [H, W, C].
 * @param target The encoder's [H, W, C].
 * @param where For errors.
 * @returns The adapted split.
 */
export function adaptSplit(
  split: SplitData,
  shape: readonly [number, number, number],
  target: readonly [number, number, number],
  where: string,
): SplitData {
  if (!split.labels) throw new DarlError(`${where}: split has no labels (classification needs a labelled dataset)`);
  if (shape.join() === target.join()) return split;
  return { count: split.count, images: adaptImages(split.images, [...shape], [...target]), labels: split.labels };
}

/**
 * Top-1 accuracy of a classifier on a split (images in the encoder's shape).
 *
 * @param clf The classifier.
 * @param split Labelled split.
 * @param batchSize Images per forward pass.
 * @returns Accuracy in [0, 1].
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { classifierAccuracy, initClassifier } from "./finetune.ts";
 * const encoder = { width: 4, depth: 1, prefixTokens: 1, imageShape: [2, 2, 1], params: () => ({}), tokens: (x: tf.Tensor) => tf.ones([x.shape[0]!, 5, 4]) } as unknown as Encoder;
 * const split = { count: 2, images: new Uint8Array(8), labels: new Uint16Array([0, 1]) };
 * const acc = await classifierAccuracy(initClassifier(encoder, 2, 0), split);
 * if (acc !== 0.5) throw new Error(String(acc)); // identical images, one prediction: one of two right
 * ```
 */
export async function classifierAccuracy(clf: Classifier, split: SplitData, batchSize = 256): Promise<number> {
  const shape = clf.encoder.imageShape, size = shape[0] * shape[1] * shape[2];
  let correct = 0;
  for (let s = 0; s < split.count; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.count - s) }, (_, i) => s + i);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(toUnitRange(gatherImages(split, idx, size)), [idx.length, ...shape]);
      return tf.argMax(classifierLogits(clf, x), 1);
    });
    const v = await pred.data();
    pred.dispose();
    idx.forEach((i, k) => (correct += v[k] === split.labels![i] ? 1 : 0));
  }
  return correct / split.count;
}

/**
 * A generous estimate of a fine-tuning step's peak memory for any encoder:
 * its parameters with gradients and AdamW moments, and ~40 activations of
 * width d per token and block kept for the backward pass (attention, MLP,
 * norms), doubled for temporaries. The token count comes from one forward
 * pass on a blank image.
 *
 * @param encoder The encoder.
 * @param batch Images per step.
 * @returns Bytes.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { estimateFinetuneBytes } from "./finetune.ts";
 * const encoder = { width: 128, depth: 4, imageShape: [28, 28, 1], params: () => ({ w: tf.zeros([10]) }), tokens: () => tf.zeros([1, 50, 128]) } as unknown as Encoder;
 * if (!(estimateFinetuneBytes(encoder, 60000) > 1e11)) throw new Error(); // a whole-dataset batch cannot fit
 * ```
 */
export function estimateFinetuneBytes(encoder: Encoder, batch: number): number {
  const tokens = tf.tidy(() => encoder.tokens(tf.zeros([1, ...encoder.imageShape])).shape[1]!);
  const params = namedLeaves(encoder.params()).reduce((n, [, t]) => n + t.size, 0);
  return 4 * (4 * params + 2 * batch * tokens * encoder.width * (encoder.depth + 1) * 40);
}

/**
 * Releases a classifier's head and its encoder.
 *
 * @param clf The classifier.
 */
export function disposeClassifier(clf: Classifier): void {
  disposeTree(clf.params.head as never);
  clf.encoder.dispose();
}

/**
 * Hyper-parameters of {@linkcode trainClassifier}.
 *
 * @example
 * ```ts
 * import { FINETUNE_DEFAULTS, type ClassifierHyper } from "./finetune.ts";
 * const hp: ClassifierHyper = { ...FINETUNE_DEFAULTS, epochs: 10, lr: 1e-3 };
 * if (hp.batchSize !== 64) throw new Error();
 * ```
 */
export type ClassifierHyper = Pick<
  FinetuneConfig,
  | "epochs"
  | "batchSize"
  | "lr"
  | "weightDecay"
  | "beta1"
  | "beta2"
  | "layerDecay"
  | "labelSmoothing"
  | "clip"
  | "seed"
  | "augment"
>;

/**
 * Fine-tunes a classifier in memory (no checkpoints): used by the VTAB sweep.
 *
 * @param encoder A fresh pretrained encoder (trained in place; owned by the result).
 * @param split Labelled images in the encoder's shape.
 * @param classes Number of classes.
 * @param hp Schedule and regularisation.
 * @returns The trained classifier (dispose with {@linkcode disposeClassifier}).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initLinear, linear } from "../nn/linear.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { disposeClassifier, FINETUNE_DEFAULTS, trainClassifier } from "./finetune.ts";
 * // A one-layer "encoder": each 2×2 image is one patch token, embedded linearly.
 * const embed = initLinear(createRng(0), 4, 4);
 * const encoder = {
 *   width: 4, depth: 1, prefixTokens: 0, imageShape: [2, 2, 1], params: () => ({ embed }), blockIndex: () => 1,
 *   tokens: (x: tf.Tensor) => linear(embed, x.reshape([x.shape[0]!, 1, 4])) as tf.Tensor3D, dispose: () => {},
 * } as unknown as Encoder;
 * const split = { count: 4, images: new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255]), labels: new Uint16Array([0, 1, 0, 1]) };
 * const clf = await trainClassifier(encoder, split, 2, { ...FINETUNE_DEFAULTS, epochs: 30, batchSize: 4, lr: 1e-2, augment: "none" });
 * if (clf.classes !== 2) throw new Error();
 * disposeClassifier(clf);
 * ```
 */
export async function trainClassifier(
  encoder: Encoder,
  split: SplitData,
  classes: number,
  hp: ClassifierHyper,
): Promise<Classifier> {
  const clf = initClassifier(encoder, classes, hp.seed);
  const t = classifierTrainer(clf, hp);
  const B = Math.min(hp.batchSize, split.count), spe = Math.ceil(split.count / B);
  const steps = Math.max(1, Math.round(hp.epochs * spe));
  const sched = { lr: hp.lr, minLr: 0, warmupSteps: Math.round(steps / 10), steps };
  const shape = encoder.imageShape, size = shape[0] * shape[1] * shape[2];
  const sampler = createSampler(split.count, B, hp.seed);
  for (let step = 0; step < steps; step++) {
    const idx = sampler(step);
    const batch = augmentBatch(
      gatherImages(split, idx, size),
      [...shape],
      hp.augment,
      createRng(mixSeed(hp.seed, step, 0xf17e)),
    );
    const x = tf.tensor4d(toUnitRange(batch), [B, ...shape]);
    const r = classifierStep(clf, t, x, gatherLabels(split, idx), warmupCosine(step, sched), hp.labelSmoothing);
    x.dispose();
    if (step % 50 === 49 || step === steps - 1) await r.loss.data();
    tf.dispose([r.loss, r.gradNorm]);
  }
  disposeTrainer(t);
  return clf;
}

/**
 * Options of {@linkcode finetune}.
 *
 * @example
 * ```ts
 * import type { FinetuneOptions } from "./finetune.ts";
 * const opts: FinetuneOptions = { resume: true, extra: { note: "lr sweep" } };
 * if (!opts.resume) throw new Error();
 * ```
 */
export interface FinetuneOptions extends LoopOptions {
  /** Extra metadata stored in checkpoints. */
  extra?: Record<string, unknown>;
}

/**
 * The result of a fine-tuning run.
 *
 * @example
 * ```ts
 * import type { FinetuneResult } from "./finetune.ts";
 * const line = (r: FinetuneResult) => `${(100 * r.testAccuracy).toFixed(2)}% after ${r.step} steps`;
 * if (typeof line !== "function") throw new Error();
 * ```
 */
export interface FinetuneResult extends LoopResult {
  /** Test accuracy of the final model. */
  testAccuracy: number;
  /** The classifier. */
  classifier: Classifier;
}

/**
 * Fine-tunes a pretrained model (any method's) on a labelled dataset, with
 * checkpoints, metrics and exact resume.
 *
 * @param model The pretrained model (from the registry).
 * @param ds The dataset.
 * @param train The fine-tuning config.
 * @param opts Resume, logging.
 * @returns Losses, checkpoint and test accuracy.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { openDataset, writeDataset } from "../data/store.ts";
 * import { createRng } from "../rng.ts";
 * import { initLinear, linear } from "../nn/linear.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import type { LoadedModel } from "../train/registry.ts";
 * import { FINETUNE_DEFAULTS, finetune } from "./finetune.ts";
 * const dir = await Deno.makeTempDir();
 * const split = { count: 8, images: Uint8Array.from({ length: 32 }, (_, i) => (Math.floor(i / 4) % 2) * 255), labels: Uint16Array.from({ length: 8 }, (_, i) => i % 2) };
 * await writeDataset(`${dir}/data`, { name: "d", source: "x", shape: [2, 2, 1], classes: ["dark", "light"], splits: { train: split, test: split } });
 * // A "pretrained" model of any method: here a linear embedding of the 2×2 image as one token.
 * const encoder = (): Encoder => {
 *   const embed = initLinear(createRng(0), 4, 4);
 *   return {
 *     key: "toy", name: "toy", width: 4, depth: 1, imageShape: [2, 2, 1], prefixTokens: 0, grid: 1, layers: ["block0", "final"], causalByDefault: false,
 *     tokens: (x) => linear(embed, x.reshape([x.shape[0]!, 1, 4])) as tf.Tensor3D, params: () => ({ w: embed.w, b: embed.b! }),
 *     blockIndex: () => 1, randomInit: () => encoder(), dispose: () => {},
 *   };
 * };
 * const model = { method: "toy", path: "toy.safetensors", key: "toy", description: "toy", checkpoint: { meta: { model: {} } }, encoder } as unknown as LoadedModel;
 * const r = await finetune(model, await openDataset(`${dir}/data`), { ...FINETUNE_DEFAULTS, data: `${dir}/data`, out: `${dir}/ft`, epochs: 2, batchSize: 4 }, { log: () => {} });
 * if (r.step !== 4 || !(r.testAccuracy >= 0)) throw new Error();
 * ```
 */
export async function finetune(
  model: LoadedModel,
  ds: Dataset,
  train: FinetuneConfig,
  opts: FinetuneOptions = {},
): Promise<FinetuneResult> {
  validateRunConfig(train, FINETUNE_SCHEMA, FINETUNE_DEFAULTS);
  const classes = ds.header.classes.length;
  check(classes > 1, `${ds.dir}: needs labels with at least two classes`);
  const encoder = model.encoder();
  const split = adaptSplit(getSplit(ds, "train"), ds.header.shape, encoder.imageShape, `${ds.dir} train`);
  const test = adaptSplit(getSplit(ds, "test"), ds.header.shape, encoder.imageShape, `${ds.dir} test`);
  checkBatch(train.batchSize, split.count, train.data);
  checkMemory(estimateFinetuneBytes(encoder, train.batchSize), "--batch-size");
  const clf = initClassifier(encoder, classes, train.seed);
  const trainer = classifierTrainer(clf, train);
  const stepsPerEpoch = Math.ceil(split.count / train.batchSize);
  const steps = Math.max(1, Math.round(train.epochs * stepsPerEpoch));
  const sched = {
    lr: train.lr,
    minLr: train.minLr,
    warmupSteps: Math.round(train.warmupEpochs * stepsPerEpoch),
    steps,
  };
  const shape = encoder.imageShape, size = shape[0] * shape[1] * shape[2];
  const stored = { pretrainedMethod: model.method, pretrainedKey: model.key, classes, layer: clf.layer };
  // A from-scratch run records the checkpoint its random init copies, so a resume can rebuild the same init.
  const init = model.randomInitOf ? { randomInitOf: model.randomInitOf } : {};
  const result = await runTrainingLoop({
    out: train.out,
    steps,
    batchSize: train.batchSize,
    logEvery: train.logEvery,
    ckptEvery: train.ckptEvery,
    keep: train.keep,
    seed: train.seed,
    trainCount: split.count,
    params: clf.params as never,
    opt: trainer.opt,
    meta: {
      format: "darl-checkpoint",
      method: "finetune",
      model: { ...stored, pretrainedModel: model.checkpoint.meta.model },
      train: train as unknown as Record<string, unknown>,
      state: {
        pretrained: model.path,
        ...init,
        datasetChecksum: ds.header.checksum,
        dataset: ds.header.name,
        ...opts.extra,
      },
    },
    config: { method: "finetune", pretrained: model.path, ...init, model: stored, train },
    lrAt: (step) => warmupCosine(step, sched),
    step: (indices, step, lr) => {
      const batch = augmentBatch(
        gatherImages(split, indices, size),
        [...shape],
        train.augment,
        createRng(mixSeed(train.seed, step, 0xf17e)),
      );
      const x = tf.tensor4d(toUnitRange(batch), [indices.length, ...shape]);
      const r = classifierStep(clf, trainer, x, gatherLabels(split, indices), lr, train.labelSmoothing);
      x.dispose();
      return r;
    },
    checkResume: (c: Checkpoint) =>
      checkResumeCompatible(c, stored, c.meta.model, train, ds.header.checksum, FINETUNE_RESUME),
    plotTitle: `Fine-tuning loss on ${ds.header.name} (label smoothing ${train.labelSmoothing})`,
  }, opts);
  disposeTrainer(trainer);
  const testAccuracy = await classifierAccuracy(clf, test);
  return { ...result, testAccuracy, classifier: clf };
}

/**
 * Resolves a fine-tuning run's config, in order: defaults, a config file
 * ("train" section, optional "pretrained"), the resumed run's own config
 * and pretrained checkpoint, then explicit overrides. A config or run that
 * trained a random init (`randomInitModel`) names the checkpoint
 * it copied and sets `scratch`, so its re-run or resume starts from the
 * same init.
 *
 * @param req Overrides, the pretrained checkpoint, `scratch` (train a random
 *   init of its architecture), a config file, resume.
 * @returns The run config, the checkpoint to start from, and whether to
 *   start from a random init of it.
 * @example
 * ```ts
 * import { resolveFinetuneConfig } from "./finetune.ts";
 * try { await resolveFinetuneConfig({}); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--ckpt: required")) throw e; }
 * ```
 */
export async function resolveFinetuneConfig(req: {
  train?: Partial<FinetuneConfig>;
  ckpt?: string;
  configFile?: string;
  resume?: boolean;
  scratch?: boolean;
}): Promise<{ train: FinetuneConfig; pretrained: string; scratch: boolean }> {
  let train = { ...FINETUNE_DEFAULTS };
  let start = req.ckpt ? { path: req.ckpt, scratch: false } : undefined;
  if (req.configFile) {
    const { sections, extra } = await readConfigFile(req.configFile, {
      train: { defaults: FINETUNE_DEFAULTS, schema: FINETUNE_SCHEMA },
    });
    train = sections.train;
    start ??= startOf(extra);
  }
  const out = req.train?.out ?? train.out;
  const stored = req.resume ? await storedRunConfig(out) : null;
  if (stored) {
    if (stored.method !== "finetune") {
      throw new DarlError(`${stored.path}: is a "${stored.method}" run, not a fine-tuning one`);
    }
    train = { ...(stored.train as unknown as FinetuneConfig) };
    start ??= startOf(stored.state);
  }
  train = { ...train, ...req.train, out };
  validateRunConfig(train, FINETUNE_SCHEMA, FINETUNE_DEFAULTS);
  if (!start) throw new DarlError("--ckpt: required (a pretrained checkpoint or run directory)");
  return { train, pretrained: start.path, scratch: start.scratch || !!req.scratch };
}

/** The checkpoint a recorded run started from, and whether it started from a random init of it. */
function startOf(rec: Record<string, unknown>): { path: string; scratch: boolean } | undefined {
  const init = rec.randomInitOf as { path?: unknown } | undefined;
  if (typeof init?.path === "string") return { path: init.path, scratch: true };
  return typeof rec.pretrained === "string" ? { path: rec.pretrained, scratch: false } : undefined;
}
