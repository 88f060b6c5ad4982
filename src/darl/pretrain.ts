/**
 * DARL pretraining: the training step and the loop behind `deno task
 * pretrain` (AdamW, warm-up + cosine, clipping, checkpoints, exact resume,
 * metrics, pictures).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { DarlConfig } from "../config.ts";
import { type ConfigSchema, DARL_DEFAULTS, gridSize, validateDarlConfig } from "../config.ts";
import { check, DarlError } from "../errors.ts";
import { type Augment, augmentBatch, gatherImages, toUnitRange } from "../data/batches.ts";
import { getSplit, openDataset, type SplitData } from "../data/store.ts";
import { namedLeaves } from "../nn/tree.ts";
import { createRng, mixSeed } from "../rng.ts";
import { assignParams, type Checkpoint, loadCheckpoint, resolveCheckpoint } from "../train/checkpoint.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import {
  type AdamWConfig,
  type AdamWState,
  adamwUpdate,
  clipScale,
  decays,
  globalNorm,
  initAdamW,
  warmupCosine,
} from "../train/optim.ts";
import { imageGrid, unitToU8, writePng } from "../viz/grid.ts";
import { darlMseLoss } from "./loss.ts";
import { darlDiffusionLoss, type DiffusionNoise, drawDiffusionNoise } from "./diffusion.ts";
import { darlForward, type DarlParams, initDarl } from "./model.ts";
import { patchify, unpatchify } from "./patchify.ts";
import { teacherForcedPatches } from "./sample.ts";

/** Training hyper-parameters and run layout. Every field is a CLI flag. */
export interface PretrainConfig {
  /** Prepared dataset directory. */
  data: string;
  /** Run directory (checkpoints, metrics, pictures). */
  out: string;
  /** Optimiser steps. */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine decay. */
  minLr: number;
  /** Linear warm-up steps. */
  warmupSteps: number;
  /** Decoupled weight decay on matrices. */
  weightDecay: number;
  /** Adam β1. */
  beta1: number;
  /** Adam β2. */
  beta2: number;
  /** Global gradient-norm clip (0 disables). */
  clip: number;
  /** Seed of initialisation, data order and augmentation. */
  seed: number;
  /** Data augmentation. */
  augment: Augment;
  /** Read the loss back and log every N steps. */
  logEvery: number;
  /** Checkpoint every N steps (and at the end). */
  ckptEvery: number;
  /** Checkpoints to keep. */
  keep: number;
  /** Write a predictions picture every N steps (0: never). */
  sampleEvery: number;
}

/**
 * The default run: tiny DARL (d128, 4 blocks, P = 4, 0.8M parameters) on
 * Fashion-MNIST for 2,000 steps of 64 images (128k images, ~2.1 epochs),
 * sized to take about 30 minutes on a 2-core CPU with darl's fast kernels
 * (~75 img/s there). The learning rate is a small-scale choice (MAE's
 * 1.5e-4·B/256 is for ViT-B at batch 4096 and 800 epochs).
 */
export const PRETRAIN_DEFAULTS: PretrainConfig = {
  data: "data/fashion-mnist",
  out: "runs/darl-tiny-fashion-mnist",
  steps: 2000,
  batchSize: 64,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 100,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.95,
  clip: 1.0,
  seed: 0,
  augment: "flip",
  logEvery: 25,
  ckptEvery: 250,
  keep: 3,
  sampleEvery: 250,
};

/** Command-line documentation of {@linkcode PretrainConfig}. */
export const PRETRAIN_SCHEMA: ConfigSchema<PretrainConfig> = {
  data: { doc: "prepared dataset directory" },
  out: { doc: "run directory" },
  steps: { doc: "optimiser steps" },
  batchSize: { doc: "images per step" },
  lr: { doc: "peak learning rate" },
  minLr: { doc: "final learning rate" },
  warmupSteps: { doc: "linear warm-up steps" },
  weightDecay: { doc: "AdamW weight decay (matrices only)" },
  beta1: { doc: "Adam beta1" },
  beta2: { doc: "Adam beta2" },
  clip: { doc: "gradient global-norm clip (0: off)" },
  seed: { doc: "random seed" },
  augment: { doc: "augmentation", choices: ["none", "flip", "crop", "crop+flip"] },
  logEvery: { doc: "log (and read the loss back) every N steps" },
  ckptEvery: { doc: "checkpoint every N steps" },
  keep: { doc: "checkpoints to keep" },
  sampleEvery: { doc: "predictions PNG every N steps (0: never)" },
};

/** Fields that must match for a resume to be exact. */
export const RESUME_LOCKED: (keyof PretrainConfig)[] = ["batchSize", "seed", "augment"];

/** Everything a training step needs. */
export interface TrainState {
  /** Model parameters. */
  params: DarlParams;
  /** Model config. */
  cfg: DarlConfig;
  /** Parameter names, in checkpoint order. */
  names: string[];
  /** Parameters as variables, aligned with `names`. */
  vars: tf.Variable[];
  /** AdamW moments. */
  opt: AdamWState;
  /** Which parameters get weight decay. */
  decayMask: boolean[];
  /** AdamW hyper-parameters. */
  adam: AdamWConfig;
  /** Clip threshold. */
  clip: number;
}

/**
 * Builds a training state around a model.
 *
 * @param params The model.
 * @param cfg Its config.
 * @param train Optimiser settings.
 * @returns The state.
 */
export function createTrainState(
  params: DarlParams,
  cfg: DarlConfig,
  train: Pick<PretrainConfig, "beta1" | "beta2" | "weightDecay" | "clip">,
): TrainState {
  const leaves = namedLeaves(params as never);
  return {
    params,
    cfg,
    names: leaves.map(([n]) => n),
    vars: leaves.map(([, t]) => t as tf.Variable),
    opt: initAdamW(leaves.map(([, t]) => t)),
    decayMask: leaves.map(([n, t]) => decays(n, t)),
    adam: { beta1: train.beta1, beta2: train.beta2, eps: 1e-8, weightDecay: train.weightDecay },
    clip: train.clip,
  };
}

/**
 * One optimiser step on a batch: loss, gradients, clipping, AdamW. Nothing
 * is read back; the returned scalars stay on the device.
 *
 * @param state The training state (updated in place).
 * @param images [B, H, W, C] in [−1, 1].
 * @param lr The learning rate for this step.
 * @param noise Diffusion noise for this step (diffusion objective only).
 * @returns Loss and gradient norm before clipping (caller disposes).
 */
export function darlTrainStep(
  state: TrainState,
  images: tf.Tensor,
  lr: number,
  noise?: DiffusionNoise,
): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  if (state.cfg.objective === "diffusion" && !noise) {
    throw new Error("darlTrainStep: the diffusion objective needs noise (drawDiffusionNoise)");
  }
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(
      () =>
        state.cfg.objective === "diffusion"
          ? darlDiffusionLoss(state.params, state.cfg, images, noise!).loss
          : darlMseLoss(state.params, state.cfg, images).loss,
      state.vars,
    );
    const g = state.vars.map((v) => grads[v.name]!);
    const norm = globalNorm(g);
    adamwUpdate(state.vars, g, state.opt, lr, state.adam, state.decayMask, clipScale(norm, state.clip));
    return { loss: value, gradNorm: norm };
  });
}

/** Options of {@linkcode pretrainDarl}. */
export interface PretrainOptions extends LoopOptions {
  /** Extra metadata stored in checkpoints (backend, …). */
  extra?: Record<string, unknown>;
}

/** The result of a run. */
export interface PretrainResult extends LoopResult {
  /** The trained model. */
  state: TrainState;
}

/**
 * A checkpoint's model config, with defaults for fields added after it was
 * written (so older checkpoints keep loading).
 *
 * @param model The stored config.
 * @returns A complete config.
 */
export function withDefaults(model: Record<string, unknown>): DarlConfig {
  return { ...DARL_DEFAULTS, ...(model as Partial<DarlConfig>) };
}

/**
 * Compares a checkpoint's configs with the requested ones.
 *
 * @param ck The checkpoint.
 * @param cfg Requested model config.
 * @param train Requested training config.
 * @param checksum The dataset checksum.
 * @returns Notes about fields that differ but are allowed to.
 */
export function checkResumeCompatible(
  ck: Checkpoint,
  cfg: object,
  train: PretrainConfig,
  checksum: string,
  locked: readonly string[] = RESUME_LOCKED,
): string[] {
  const m = withDefaults(ck.meta.model) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(cfg)) {
    if (m[k] !== v) {
      throw new DarlError(
        `${ck.path}: checkpoint has ${k}=${
          m[k]
        } but ${k}=${v} was requested; resume with the same model config or use a new --out`,
      );
    }
  }
  const t = ck.meta.train as Record<string, unknown>;
  const req = train as unknown as Record<string, unknown>;
  for (const k of locked) {
    if (t[k] !== req[k]) {
      throw new DarlError(
        `${ck.path}: checkpoint has ${k}=${t[k]} but ${k}=${
          req[k]
        } was requested; an exact resume needs the same value`,
      );
    }
  }
  const ds = (ck.meta.state as { datasetChecksum?: string }).datasetChecksum;
  if (ds && ds !== checksum) {
    throw new DarlError(
      `${ck.path}: checkpoint was trained on a different dataset than ${train.data} (checksum differs)`,
    );
  }
  const notes: string[] = [];
  for (const k of ["steps", "lr", "minLr", "warmupSteps", "weightDecay", "beta1", "beta2", "clip"]) {
    if (t[k] !== req[k]) {
      notes.push(`${k} changed from ${t[k]} to ${req[k]}: the run will differ from an uninterrupted one`);
    }
  }
  return notes;
}

/**
 * Teacher-forced next-patch predictions for a few images, as a picture:
 * each input beside its predictions (per-patch targets are mapped back to
 * pixels with the true patch's mean and variance, as MAE visualises).
 *
 * @param params The model.
 * @param cfg Its config.
 * @param images [N, H, W, C] uint8.
 * @param shape [H, W, C].
 * @returns Grid pixels (input, prediction pairs side by side).
 */
export async function predictionGrid(
  params: DarlParams,
  cfg: DarlConfig,
  images: Uint8Array,
  shape: [number, number, number],
) {
  const [H, W, C] = shape, n = images.length / (H * W * C), g = gridSize(cfg);
  const pred = tf.tidy(() => {
    const x = tf.tensor4d(toUnitRange(images), [n, H, W, C]);
    const patches = patchify(x, cfg.patchSize);
    const fwd = darlForward(params, cfg, patches, { causal: true, shift: true });
    // Diffusion models draw each next patch from their decoder (25 DDPM steps).
    let p = cfg.objective === "diffusion" ? teacherForcedPatches(params, cfg, fwd.normed, 0) : fwd.pred!;
    if (cfg.target === "patch") {
      const { mean, variance } = tf.moments(patches, -1, true);
      p = tf.add(tf.mul(p, tf.sqrt(tf.add(variance, 1e-6))), mean) as tf.Tensor3D;
    }
    return unpatchify(p, cfg.patchSize, g, g);
  });
  const predU8 = unitToU8(await pred.data());
  pred.dispose();
  const size = H * W * C, both = new Uint8Array(2 * n * size);
  for (let i = 0; i < n; i++) {
    both.set(images.subarray(i * size, (i + 1) * size), 2 * i * size);
    both.set(predU8.subarray(i * size, (i + 1) * size), (2 * i + 1) * size);
  }
  return imageGrid(both, shape, { cols: Math.min(8, 2 * n), pad: 2, scale: 3 });
}

/**
 * Evenly spaced images of a split (so a preview spans the classes).
 *
 * @param split The split.
 * @param n How many.
 * @param size Bytes per image.
 * @returns [n, H, W, C] uint8.
 */
export function previewImages(split: SplitData, n: number, size: number): Uint8Array {
  const k = Math.min(n, split.count);
  return gatherImages(split, Array.from({ length: k }, (_, i) => Math.floor((i * split.count) / k)), size);
}

/**
 * Pretrains DARL with next-patch MSE.
 *
 * @param cfg Model config (image size and channels must match the data).
 * @param train Training config.
 * @param opts Resume, logging.
 * @returns Final step, losses and the trained state.
 */
export async function pretrainDarl(
  cfg: DarlConfig,
  train: PretrainConfig,
  opts: PretrainOptions = {},
): Promise<PretrainResult> {
  const ds = await openDataset(train.data);
  const split = getSplit(ds, "train");
  const [H, W, C] = ds.header.shape;
  check(H === W, `${train.data}: images are ${H}×${W}; DARL here expects square images`);
  check(
    cfg.imageSize === H && cfg.channels === C,
    `--image-size/--channels: model expects ${cfg.imageSize}×${cfg.imageSize}×${cfg.channels} but ${train.data} has ${H}×${W}×${C}`,
  );
  const params = initDarl(cfg, train.seed);
  const state = createTrainState(params, cfg, train);
  const size = H * W * C;
  const preview = previewImages(ds.splits.test ?? split, 8, size);
  const sched = { lr: train.lr, minLr: train.minLr, warmupSteps: train.warmupSteps, steps: train.steps };
  await Deno.mkdir(`${train.out}/predictions`, { recursive: true });
  const result = await runTrainingLoop({
    out: train.out,
    steps: train.steps,
    batchSize: train.batchSize,
    logEvery: train.logEvery,
    ckptEvery: train.ckptEvery,
    keep: train.keep,
    seed: train.seed,
    trainCount: split.count,
    params: params as never,
    opt: state.opt,
    meta: {
      format: "darl-checkpoint",
      method: "darl",
      model: cfg as unknown as Record<string, unknown>,
      train: train as unknown as Record<string, unknown>,
      state: { datasetChecksum: ds.header.checksum, dataset: ds.header.name, seed: train.seed, ...opts.extra },
    },
    lrAt: (step) => warmupCosine(step, sched),
    step: (indices, step, lr) => {
      const batch = augmentBatch(
        gatherImages(split, indices, size),
        [H, W, C],
        train.augment,
        createRng(mixSeed(train.seed, step, 0xa09)),
      );
      const x = tf.tensor4d(toUnitRange(batch), [train.batchSize, H, W, C]);
      const noise = cfg.objective === "diffusion"
        ? drawDiffusionNoise(createRng(mixSeed(train.seed, step, 0xd1ff)), cfg, train.batchSize)
        : undefined;
      const r = darlTrainStep(state, x, lr, noise);
      x.dispose();
      return r;
    },
    checkResume: (ck) => checkResumeCompatible(ck, cfg, train, ds.header.checksum),
    plotTitle: cfg.objective === "diffusion"
      ? `DARL pretraining loss (diffusion, Beta(${cfg.noiseA}, ${cfg.noiseB}) noise, ${cfg.prediction} MSE)`
      : `DARL pretraining loss (${cfg.target === "patch" ? "per-patch" : "global"} normalised MSE)`,
    ...(train.sampleEvery > 0
      ? {
        periodic: {
          every: train.sampleEvery,
          run: async (step: number) =>
            await writePng(
              `${train.out}/predictions/step-${String(step).padStart(7, "0")}.png`,
              await predictionGrid(params, cfg, preview, [H, W, C]),
            ),
        },
      }
      : {}),
  }, opts);
  return { ...result, state };
}

/**
 * Loads a trained DARL model from a checkpoint (file or run directory).
 *
 * @param path A `.safetensors` checkpoint or a run directory.
 * @returns The parameters, config and checkpoint metadata.
 */
export async function loadDarl(
  path: string,
): Promise<{ params: DarlParams; cfg: DarlConfig; checkpoint: Checkpoint }> {
  const file = await resolveCheckpoint(path);
  const ck = await loadCheckpoint(file);
  if (ck.meta.method !== "darl") {
    throw new DarlError(`${file}: is a "${ck.meta.method}" checkpoint, expected a DARL one`);
  }
  const cfg = withDefaults(ck.meta.model);
  validateDarlConfig(cfg);
  const params = initDarl(cfg, 0);
  assignParams(params as never, ck.params, file);
  return { params, cfg, checkpoint: ck };
}
