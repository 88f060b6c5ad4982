/**
 * A classifier on any method's {@linkcode Encoder}: the encoder up to its
 * last block, mean of its patch tokens, LayerNorm and a linear head, trained
 * with AdamW and layer-wise learning-rate decay (MAE's recipe). The
 * checkpointed run (`finetune()` in finetune.ts) and the in-memory VTAB sweep both
 * build on it.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import { augmentBatch, createSampler, gatherImages, gatherLabels, toUnitRange } from "../data/batches.ts";
import { adaptImages } from "../data/resize.ts";
import type { SplitData } from "../data/store.ts";
import type { Encoder } from "../nn/encoder.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../nn/layer_norm.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { disposeTree, namedLeaves, type ParamTree } from "../nn/tree.ts";
import { createRng, mixSeed } from "../rng.ts";
import { decays, warmupCosine } from "../train/optim.ts";
import { createTrainer, disposeTrainer, type Trainer, trainStep } from "../train/trainer.ts";
import { poolTokens } from "./features.ts";
import type { FinetuneConfig } from "./finetune.ts";

/**
 * A classifier: an encoder's parameters up to its last block, plus a LayerNorm + linear head.
 *
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import { type Classifier, initClassifier } from "./classifier.ts";
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
 * import { initClassifier } from "./classifier.ts";
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
  tf.tidy(() => w.assign(tf.mul(w, 1e-3)));
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
 * import { classifierLogits, initClassifier } from "./classifier.ts";
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
 * import { layerScales } from "./classifier.ts";
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
 * One fine-tuning step on a minibatch of a split: the images, augmented
 * from a stream fixed by the seed and step (so a resumed run sees the same
 * crops and flips), label-smoothed cross-entropy, AdamW with layer-wise
 * decay and optional clipping.
 *
 * @param clf The classifier.
 * @param t Its trainer.
 * @param split Labelled images in the encoder's shape.
 * @param indices The minibatch.
 * @param step The step (seeds the augmentation).
 * @param lr Learning rate.
 * @param hp Seed, augmentation, label smoothing.
 * @returns Loss and gradient norm (caller disposes).
 */
export function classifierStep(
  clf: Classifier,
  t: Trainer,
  split: SplitData,
  indices: ArrayLike<number>,
  step: number,
  lr: number,
  hp: Pick<FinetuneConfig, "seed" | "augment" | "labelSmoothing">,
): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  const shape = clf.encoder.imageShape, size = shape[0] * shape[1] * shape[2];
  const rng = createRng(mixSeed(hp.seed, step, 0xf17e));
  const batch = augmentBatch(gatherImages(split, indices, size), [...shape], hp.augment, rng);
  const x = tf.tensor4d(toUnitRange(batch), [indices.length, ...shape]);
  const labels = gatherLabels(split, indices);
  const r = trainStep(t, () => {
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), clf.classes);
    return tf.losses.softmaxCrossEntropy(y, classifierLogits(clf, x), undefined, hp.labelSmoothing) as tf.Scalar;
  }, lr);
  x.dispose();
  return r;
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
 * import { classifierAccuracy, initClassifier } from "./classifier.ts";
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
 * import { estimateFinetuneBytes } from "./classifier.ts";
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
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { disposeClassifier, initClassifier } from "./classifier.ts";
 * let released = false;
 * const encoder = { width: 4, depth: 1, params: () => ({}), dispose: () => (released = true) } as unknown as Encoder;
 * const before = tf.memory().numTensors;
 * disposeClassifier(initClassifier(encoder, 3, 0));
 * if (!released || tf.memory().numTensors !== before) throw new Error("a classifier's tensors outlived it");
 * ```
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
 * import type { ClassifierHyper } from "./classifier.ts";
 * import { FINETUNE_DEFAULTS } from "./finetune.ts";
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
 * import { disposeClassifier, trainClassifier } from "./classifier.ts";
 * import { FINETUNE_DEFAULTS } from "./finetune.ts";
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
  const sampler = createSampler(split.count, B, hp.seed);
  for (let step = 0; step < steps; step++) {
    const r = classifierStep(clf, t, split, sampler(step), step, warmupCosine(step, sched), hp);
    if (step % 50 === 49 || step === steps - 1) await r.loss.data();
    tf.dispose([r.loss, r.gradNorm]);
  }
  disposeTrainer(t);
  return clf;
}
