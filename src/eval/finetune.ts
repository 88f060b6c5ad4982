/**
 * Full fine-tuning of a pretrained DARL backbone for classification (MAE's
 * recipe, spec §5/§8.9): bidirectional attention, mean of the last block's
 * patch tokens → LayerNorm → linear head, AdamW with layer-wise learning-rate
 * decay, label smoothing, warm-up + cosine, optional crop/flip augmentation.
 * Checkpoints and exact resume work as in pretraining.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type ConfigSchema, type DarlConfig, validateDarlConfig } from "../config.ts";
import { check, DarlError } from "../errors.ts";
import { type Augment, augmentBatch, createSampler, gatherImages, gatherLabels, toUnitRange } from "../data/batches.ts";
import { adaptImages } from "../data/resize.ts";
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import { darlForward, type DarlParams, initDarl } from "../darl/model.ts";
import { withDefaults } from "../darl/pretrain.ts";
import { patchify } from "../darl/patchify.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../nn/layer_norm.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { disposeTree, namedLeaves } from "../nn/tree.ts";
import { createRng, mixSeed } from "../rng.ts";
import { assignParams, type Checkpoint, loadCheckpoint, resolveCheckpoint } from "../train/checkpoint.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import {
  type AdamWState,
  adamwUpdate,
  clipScale,
  decays,
  globalNorm,
  initAdamW,
  warmupCosine,
} from "../train/optim.ts";

/** Fine-tuning hyper-parameters and run layout (every field is a CLI flag). */
export interface FinetuneConfig {
  /** Prepared, labelled dataset. */
  data: string;
  /** Run directory. */
  out: string;
  /** Epochs over the training split. */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Peak learning rate (of the head; deeper layers get less). */
  lr: number;
  /** Final learning rate. */
  minLr: number;
  /** Warm-up epochs. */
  warmupEpochs: number;
  /** AdamW weight decay (matrices only). */
  weightDecay: number;
  /** Layer-wise learning-rate decay (MAE: 0.65 for B, 0.75 for L/H). */
  layerDecay: number;
  /** Label smoothing. */
  labelSmoothing: number;
  /** Gradient global-norm clip (0: off, as MAE). */
  clip: number;
  /** Seed. */
  seed: number;
  /** Augmentation. */
  augment: Augment;
  /** Log every N steps. */
  logEvery: number;
  /** Checkpoint every N steps. */
  ckptEvery: number;
  /** Checkpoints kept. */
  keep: number;
}

/**
 * Defaults for the tiny model on 28×28 data: MAE's recipe (β 0.9/0.999, wd
 * 0.05, label smoothing 0.1, layer decay 0.75) with a short schedule.
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
  layerDecay: 0.75,
  labelSmoothing: 0.1,
  clip: 0,
  seed: 0,
  augment: "flip",
  logEvery: 50,
  ckptEvery: 500,
  keep: 2,
};

/** Command-line documentation of {@linkcode FinetuneConfig}. */
export const FINETUNE_SCHEMA: ConfigSchema<FinetuneConfig> = {
  data: { doc: "prepared labelled dataset" },
  out: { doc: "run directory" },
  epochs: { doc: "epochs" },
  batchSize: { doc: "images per step" },
  lr: { doc: "peak learning rate (head)" },
  minLr: { doc: "final learning rate" },
  warmupEpochs: { doc: "warm-up epochs" },
  weightDecay: { doc: "AdamW weight decay" },
  layerDecay: { doc: "layer-wise lr decay" },
  labelSmoothing: { doc: "label smoothing" },
  clip: { doc: "gradient clip (0: off)" },
  seed: { doc: "random seed" },
  augment: { doc: "augmentation", choices: ["none", "flip", "crop", "crop+flip"] },
  logEvery: { doc: "log every N steps" },
  ckptEvery: { doc: "checkpoint every N steps" },
  keep: { doc: "checkpoints to keep" },
};

/** A classifier: the backbone plus a LayerNorm + linear head. */
export interface ClassifierParams {
  /** The DARL backbone (its next-patch head, decoder and final norm are not used). */
  backbone: Omit<DarlParams, "head" | "norm" | "decoder">;
  /** Pooled-feature head. */
  head: { norm: LayerNormParams; out: LinearParams };
}

/**
 * Builds a classifier from a pretrained backbone.
 *
 * @param pretrained The backbone (taken by reference).
 * @param cfg Its config.
 * @param classes Number of classes.
 * @param seed Seed of the head's initialisation.
 * @returns The classifier.
 */
export function initClassifier(
  pretrained: DarlParams,
  cfg: DarlConfig,
  classes: number,
  seed: number,
): ClassifierParams {
  const { head: _h, norm: _n, decoder: _d, ...backbone } = pretrained;
  const rng = createRng(mixSeed(seed, 0xc1a55));
  const out = initLinear(rng, cfg.dim, classes);
  // MAE initialises the classifier with small weights (trunc-normal, std 2e-5); here a scaled Xavier.
  const w = out.w as tf.Variable;
  w.assign(tf.mul(w, 1e-3));
  return { backbone, head: { norm: initLayerNorm(cfg.dim), out } };
}

/**
 * Class logits: bidirectional backbone, mean of the last block's patch
 * tokens, LayerNorm, linear.
 *
 * @param p The classifier.
 * @param cfg Backbone config.
 * @param images [B, H, W, C] in [−1, 1].
 * @param causal Attention mask (false for fine-tuning).
 * @returns [B, classes] logits.
 */
export function classifierLogits(p: ClassifierParams, cfg: DarlConfig, images: tf.Tensor, causal = false): tf.Tensor2D {
  return tf.tidy(() => {
    const full = { ...p.backbone, norm: p.head.norm, head: { norm: p.head.norm, out: p.head.out } } as DarlParams;
    const out = darlForward(full, cfg, patchify(images, cfg.patchSize), { causal, shift: false, head: false });
    const last = out.blocks[out.blocks.length - 1]!;
    const [B, L, d] = last.shape;
    const pooled = tf.mean(last.slice([0, 1, 0], [B, L - 1, d]), 1);
    return linear(p.head.out, layerNorm(p.head.norm, pooled)) as tf.Tensor2D;
  });
}

/**
 * Per-parameter learning-rate multipliers for layer-wise decay: the head
 * gets 1, block i gets decay^(depth − i), the embedding decay^(depth + 1).
 *
 * @param names Parameter paths of a {@linkcode ClassifierParams} tree.
 * @param depth Number of blocks.
 * @param decay The decay factor.
 * @returns One multiplier per name.
 * @example
 * ```ts
 * import { layerScales } from "./finetune.ts";
 * const s = layerScales(["backbone.sos", "backbone.blocks.1.qkv.w", "head.out.w"], 2, 0.5);
 * if (s.join() !== "0.125,0.5,1") throw new Error(s.join());
 * ```
 */
export function layerScales(names: string[], depth: number, decay: number): number[] {
  return names.map((n) => {
    if (n.startsWith("head.")) return 1;
    const m = /^backbone\.blocks\.(\d+)\./.exec(n);
    const id = m ? Number(m[1]) + 1 : 0;
    return Math.pow(decay, depth + 1 - id);
  });
}

/** Data adapted to the model: uint8 images of the model's shape and labels. */
export interface ClassData {
  /** The split, images already [H, W, C] of the model. */
  split: SplitData;
  /** Number of classes. */
  classes: number;
}

/**
 * Adapts a labelled split to a model's input shape (resize, channels).
 *
 * @param split The split.
 * @param shape Its [H, W, C].
 * @param cfg The model config.
 * @param where For errors.
 * @returns The adapted split.
 */
export function adaptSplit(
  split: SplitData,
  shape: [number, number, number],
  cfg: DarlConfig,
  where: string,
): SplitData {
  if (!split.labels) throw new DarlError(`${where}: split has no labels (classification needs a labelled dataset)`);
  const target: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  if (shape.join() === target.join()) return split;
  return { count: split.count, images: adaptImages(split.images, shape, target), labels: split.labels };
}

/**
 * Top-1 accuracy of a classifier on a split (images in the model's shape).
 *
 * @param p The classifier.
 * @param cfg Backbone config.
 * @param split Labelled split.
 * @param batchSize Images per forward pass.
 * @returns Accuracy in [0, 1].
 */
export async function classifierAccuracy(
  p: ClassifierParams,
  cfg: DarlConfig,
  split: SplitData,
  batchSize = 256,
): Promise<number> {
  const size = cfg.imageSize * cfg.imageSize * cfg.channels;
  let correct = 0;
  for (let s = 0; s < split.count; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.count - s) }, (_, i) => s + i);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(toUnitRange(gatherImages(split, idx, size)), [
        idx.length,
        cfg.imageSize,
        cfg.imageSize,
        cfg.channels,
      ]);
      return tf.argMax(classifierLogits(p, cfg, x), 1);
    });
    const v = await pred.data();
    pred.dispose();
    idx.forEach((i, k) => (correct += v[k] === split.labels![i] ? 1 : 0));
  }
  return correct / split.count;
}

/** Optimiser state of a classifier. */
export interface ClassifierTrainer {
  /** Parameters as variables, with their paths. */
  vars: tf.Variable[];
  /** AdamW state. */
  opt: AdamWState;
  /** Weight-decay mask. */
  mask: boolean[];
  /** Layer-wise lr multipliers. */
  scales: number[];
}

/**
 * Prepares AdamW with layer-wise decay for a classifier.
 *
 * @param params The classifier.
 * @param cfg Backbone config.
 * @param layerDecay Layer-wise lr decay.
 * @returns Variables, optimiser state, decay mask and lr scales.
 */
export function classifierTrainer(params: ClassifierParams, cfg: DarlConfig, layerDecay: number): ClassifierTrainer {
  const leaves = namedLeaves(params as never);
  const vars = leaves.map(([, t]) => t as tf.Variable);
  return {
    vars,
    opt: initAdamW(vars),
    mask: leaves.map(([n, t]) => decays(n, t) && !n.endsWith(".sos")),
    scales: layerScales(leaves.map(([n]) => n), cfg.depth, layerDecay),
  };
}

/**
 * One fine-tuning step: label-smoothed cross-entropy, AdamW with layer-wise
 * decay and optional clipping.
 *
 * @param params The classifier.
 * @param cfg Backbone config.
 * @param t Its trainer.
 * @param x Images [B, H, W, C] in [−1, 1].
 * @param labels Class per image.
 * @param classes Number of classes.
 * @param lr Learning rate.
 * @param hp Weight decay, label smoothing, clip.
 * @returns Loss and gradient norm (caller disposes).
 */
export function classifierStep(
  params: ClassifierParams,
  cfg: DarlConfig,
  t: ClassifierTrainer,
  x: tf.Tensor,
  labels: Int32Array,
  classes: number,
  lr: number,
  hp: Pick<FinetuneConfig, "weightDecay" | "labelSmoothing" | "clip">,
): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  return tf.tidy(() => {
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), classes);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(y, classifierLogits(params, cfg, x), undefined, hp.labelSmoothing) as tf.Scalar,
      t.vars,
    );
    const g = t.vars.map((v) => grads[v.name]!);
    const norm = globalNorm(g);
    const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: hp.weightDecay };
    adamwUpdate(t.vars, g, t.opt, lr, adam, t.mask, clipScale(norm, hp.clip), t.scales);
    return { loss: value, gradNorm: norm };
  });
}

/**
 * Fine-tunes a fresh classifier in memory (no checkpoints): used by the
 * VTAB sweep.
 *
 * @param ck The pretrained checkpoint.
 * @param split Labelled images in the model's shape.
 * @param classes Number of classes.
 * @param hp Schedule and regularisation.
 * @returns The trained classifier.
 */
export async function trainClassifier(
  ck: Checkpoint,
  split: SplitData,
  classes: number,
  hp: Pick<
    FinetuneConfig,
    "epochs" | "batchSize" | "lr" | "weightDecay" | "layerDecay" | "labelSmoothing" | "clip" | "seed" | "augment"
  >,
): Promise<ClassifierParams> {
  const cfg = withDefaults(ck.meta.model);
  const backbone = initDarl(cfg, 0);
  assignParams(backbone as never, ck.params, ck.path);
  const params = initClassifier(backbone, cfg, classes, hp.seed);
  disposeTree({ head: backbone.head, norm: backbone.norm, decoder: backbone.decoder } as never);
  const t = classifierTrainer(params, cfg, hp.layerDecay);
  const B = Math.min(hp.batchSize, split.count), spe = Math.ceil(split.count / B);
  const steps = Math.max(1, Math.round(hp.epochs * spe));
  const sched = { lr: hp.lr, minLr: 0, warmupSteps: Math.round(steps / 10), steps };
  const shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const size = shape[0] * shape[1] * shape[2];
  const sampler = createSampler(split.count, B, hp.seed);
  for (let step = 0; step < steps; step++) {
    const idx = sampler(step);
    const batch = augmentBatch(
      gatherImages(split, idx, size),
      shape,
      hp.augment,
      createRng(mixSeed(hp.seed, step, 0xf17e)),
    );
    const x = tf.tensor4d(toUnitRange(batch), [B, ...shape]);
    const r = classifierStep(params, cfg, t, x, gatherLabels(split, idx), classes, warmupCosine(step, sched), hp);
    x.dispose();
    if (step % 50 === 49 || step === steps - 1) await r.loss.data();
    tf.dispose([r.loss, r.gradNorm]);
  }
  tf.dispose([...t.opt.m, ...t.opt.v]);
  return params;
}

/** Options of {@linkcode finetuneDarl}. */
export interface FinetuneOptions extends LoopOptions {
  /** Extra metadata stored in checkpoints. */
  extra?: Record<string, unknown>;
}

/** The result of a fine-tuning run. */
export interface FinetuneResult extends LoopResult {
  /** Test accuracy of the final model. */
  testAccuracy: number;
  /** The classifier. */
  params: ClassifierParams;
}

/**
 * Fine-tunes a pretrained checkpoint on a labelled dataset.
 *
 * @param pretrained Path of a DARL checkpoint (file or run directory).
 * @param ds The dataset.
 * @param train The fine-tuning config.
 * @param opts Resume, logging.
 * @returns Losses, checkpoint and test accuracy.
 */
export async function finetuneDarl(
  pretrained: string,
  ds: Dataset,
  train: FinetuneConfig,
  opts: FinetuneOptions = {},
): Promise<FinetuneResult> {
  const file = await resolveCheckpoint(pretrained);
  const ck = await loadCheckpoint(file);
  if (ck.meta.method !== "darl") {
    throw new DarlError(`${file}: is a "${ck.meta.method}" checkpoint, expected a DARL one`);
  }
  const cfg = withDefaults(ck.meta.model);
  validateDarlConfig(cfg);
  const backbone = initDarl(cfg, 0);
  assignParams(backbone as never, ck.params, file);
  const classes = ds.header.classes.length;
  check(classes > 1, `${ds.dir}: needs labels with at least two classes`);
  const split = adaptSplit(getSplit(ds, "train"), ds.header.shape, cfg, `${ds.dir} train`);
  const test = adaptSplit(getSplit(ds, "test"), ds.header.shape, cfg, `${ds.dir} test`);
  const params = initClassifier(backbone, cfg, classes, train.seed);
  disposeTree({ head: backbone.head, norm: backbone.norm, decoder: backbone.decoder } as never); // not fine-tuned
  const trainer = classifierTrainer(params, cfg, train.layerDecay);
  const stepsPerEpoch = Math.ceil(split.count / train.batchSize);
  const steps = Math.max(1, Math.round(train.epochs * stepsPerEpoch));
  const sched = {
    lr: train.lr,
    minLr: train.minLr,
    warmupSteps: Math.round(train.warmupEpochs * stepsPerEpoch),
    steps,
  };
  const shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const size = shape[0] * shape[1] * shape[2];
  await Deno.mkdir(train.out, { recursive: true });
  const result = await runTrainingLoop({
    out: train.out,
    steps,
    batchSize: train.batchSize,
    logEvery: train.logEvery,
    ckptEvery: train.ckptEvery,
    keep: train.keep,
    seed: train.seed,
    trainCount: split.count,
    params: params as never,
    opt: trainer.opt,
    meta: {
      format: "darl-checkpoint",
      method: "darl-finetune",
      model: { ...cfg, classes } as unknown as Record<string, unknown>,
      train: train as unknown as Record<string, unknown>,
      state: { pretrained: file, datasetChecksum: ds.header.checksum, dataset: ds.header.name, ...opts.extra },
    },
    lrAt: (step) => warmupCosine(step, sched),
    step: (indices, step, lr) => {
      const batch = augmentBatch(
        gatherImages(split, indices, size),
        shape,
        train.augment,
        createRng(mixSeed(train.seed, step, 0xf17e)),
      );
      const x = tf.tensor4d(toUnitRange(batch), [indices.length, ...shape]);
      const r = classifierStep(params, cfg, trainer, x, gatherLabels(split, indices), classes, lr, train);
      x.dispose();
      return r;
    },
    checkResume: (c: Checkpoint) => {
      const t = c.meta.train as unknown as FinetuneConfig;
      for (const k of ["batchSize", "seed", "augment", "epochs"] as const) {
        if (t[k] !== train[k]) {
          throw new DarlError(
            `${c.path}: checkpoint has ${k}=${t[k]} but ${k}=${
              train[k]
            } was requested; an exact resume needs the same value`,
          );
        }
      }
      if ((c.meta.state as { pretrained?: string }).pretrained !== file) {
        throw new DarlError(
          `${c.path}: was fine-tuned from ${(c.meta.state as { pretrained?: string }).pretrained}, not ${file}`,
        );
      }
      return [];
    },
    plotTitle: `Fine-tuning loss on ${ds.header.name} (label smoothing ${train.labelSmoothing})`,
  }, opts);
  const testAccuracy = await classifierAccuracy(params, cfg, test);
  return { ...result, testAccuracy, params };
}
