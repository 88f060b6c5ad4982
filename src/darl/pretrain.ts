/**
 * DARL pretraining: the run behind `deno task pretrain` (its step is in
 * `train_step.ts`), on the shared trainer and loop (AdamW, warm-up + cosine,
 * clipping, checkpoints, exact resume, metrics, pictures). Configs are
 * resolved here, not in the CLI: defaults, a `--config` file, a resumed
 * run's own configs, then explicit overrides.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check } from "../errors.ts";
import { augmentBatch, gatherImages, toUnitRange } from "../data/batches.ts";
import { getSplit, openDataset, type SplitData } from "../data/store.ts";
import { drawSubset } from "../data/subset.ts";
import { patchify, unpatchify } from "../nn/patchify.ts";
import { createRng, mixSeed } from "../rng.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import { loopFields, periodicPictures, runRecords } from "../train/loop_spec.ts";
import { type MethodConfigSpec, resolveRunConfigs } from "../train/resolve.ts";
import {
  checkBatch,
  checkMemory,
  checkResumeCompatible,
  PRETRAIN_RESUME,
  PRETRAIN_SCHEMA,
  type PretrainConfig,
  validateRunConfig,
} from "../train/run_config.ts";
import { HELD_OUT_SCHEMA, type HeldOutConfig, heldOutEvaluation } from "../train/held_out.ts";
import type { ConfigSchema } from "../config.ts";
import { interleave, sampleGrid, unitToU8 } from "../viz/grid.ts";
import {
  DARL_DEFAULTS,
  DARL_SCHEMA,
  type DarlConfig,
  darlConfig,
  type DarlOverrides,
  gridSize,
  storedDarlConfig,
  validateDarlConfig,
} from "./config.ts";
import { drawDiffusionNoise } from "./diffusion.ts";
import { createTrainState, darlObjective, darlTrainStep, estimateStepBytes, type TrainState } from "./train_step.ts";
import { darlForward, type DarlParams, initDarl } from "./model.ts";
import { teacherForcedPatches } from "./sample.ts";

export type { PretrainConfig };

/**
 * A DARL pretraining run: the shared pretraining settings plus the
 * held-out loss (next-patch loss on fixed draws of the train and test splits).
 *
 * @example
 * ```ts
 * import { PRETRAIN_DEFAULTS, type DarlRunConfig } from "./pretrain.ts";
 * const quick: DarlRunConfig = { ...PRETRAIN_DEFAULTS, steps: 100, evalEvery: 50 };
 * if (quick.evalImages !== 1000) throw new Error();
 * ```
 */
export interface DarlRunConfig extends PretrainConfig, HeldOutConfig {}

/**
 * Documentation and bounds of {@linkcode DarlRunConfig} (the flags of
 * `deno task pretrain`).
 *
 * @example
 * ```ts
 * import { DARL_RUN_SCHEMA } from "./pretrain.ts";
 * if (!DARL_RUN_SCHEMA.evalEvery.doc.includes("test")) throw new Error();
 * ```
 */
export const DARL_RUN_SCHEMA: ConfigSchema<DarlRunConfig> = { ...PRETRAIN_SCHEMA, ...HELD_OUT_SCHEMA };

/**
 * The default run's training: with the default `wide` model (d256, 4 blocks,
 * P = 7, a 2-block MLP head, 4.24M parameters), Fashion-MNIST for 8,000 steps
 * of 32 images (256k images, ~4.3 epochs; 35 minutes on an idle 2-core VM
 * measured, 40–46 before the GEMM micro-kernel's change: README, Throughput).
 * Batch 32 rather than 64 for the same images: a step of 32 costs about half
 * a step of 64 on 2 cores, and the extra updates lift every probe a little
 * (docs/reproduction.md, "Half the batch, twice the steps"); the warm-up
 * covers the same 6,400 images as the batch-64 runs' 100 steps. The learning
 * rate is a small-scale choice (MAE's 1.5e-4·B/256 is for ViT-B at batch
 * 4096 and 800 epochs). The held-out loss, 1,000 images of each split every
 * 1,000 steps, adds about 2% to the run's arithmetic.
 *
 * @example
 * ```ts
 * import { PRETRAIN_DEFAULTS } from "./pretrain.ts";
 * const d = PRETRAIN_DEFAULTS;
 * if (d.steps * d.batchSize !== 256_000 || d.warmupSteps * d.batchSize !== 6_400) throw new Error();
 * ```
 */
export const PRETRAIN_DEFAULTS: DarlRunConfig = {
  data: "data/fashion-mnist",
  out: "runs/darl-fashion-mnist",
  steps: 8000,
  batchSize: 32,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 200,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.95,
  clip: 1.0,
  seed: 0,
  augment: "flip",
  logEvery: 25,
  ckptEvery: 250,
  keep: 3,
  sampleEvery: 500,
  emaDecay: 0,
  evalEvery: 1000,
  evalImages: 1000,
};

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
): Promise<ReturnType<typeof sampleGrid>> {
  const [H, W, C] = shape, n = images.length / (H * W * C), g = gridSize(cfg);
  const pred = tf.tidy(() => {
    const x = tf.tensor4d(toUnitRange(images), [n, H, W, C]);
    const patches = patchify(x, cfg.patchSize, cfg.patchOrder);
    const fwd = darlForward(params, cfg, patches, { causal: true, shift: true });
    // Diffusion models draw each next patch from their decoder (25 DDPM steps).
    let p = cfg.objective === "diffusion" ? teacherForcedPatches(params, cfg, fwd.normed!, 0) : fwd.pred!;
    if (cfg.target === "patch") {
      const { mean, variance } = tf.moments(patches, -1, true);
      p = tf.add(tf.mul(p, tf.sqrt(tf.add(variance, 1e-6))), mean) as tf.Tensor3D;
    }
    return unpatchify(p, cfg.patchSize, g, g, cfg.patchOrder);
  });
  const predU8 = unitToU8(await pred.data());
  pred.dispose();
  return sampleGrid(interleave([images, predU8], H * W * C), shape);
}

/**
 * A few images of a split for pictures: a seeded draw stratified by class,
 * so a preview spans the classes whatever order the split is stored in.
 *
 * @param split The split.
 * @param n How many (at most the split's size).
 * @param size Bytes per image.
 * @param seed Seed of the draw.
 * @returns [n, H, W, C] uint8.
 * @example
 * ```ts
 * import { previewImages } from "./pretrain.ts";
 * const split = { count: 4, images: new Uint8Array([0, 1, 2, 3]), labels: new Uint16Array([0, 0, 1, 1]) };
 * if (new Set(previewImages(split, 2, 1).map((v) => v >> 1)).size !== 2) throw new Error("one per class");
 * ```
 */
export function previewImages(split: SplitData, n: number, size: number, seed = 0): Uint8Array {
  return gatherImages(split, drawSubset(split, n, seed), size);
}

/**
 * Options of {@linkcode pretrainDarl}.
 *
 * @example
 * ```ts
 * import type { PretrainOptions } from "./pretrain.ts";
 * const opts: PretrainOptions = { resume: true, stopAfter: 100, log: () => {}, extra: { note: "ablation 3" } };
 * if (!opts.resume) throw new Error();
 * ```
 */
export interface PretrainOptions extends LoopOptions {
  /** Extra metadata stored in checkpoints (backend, …). */
  extra?: Record<string, unknown>;
}

/**
 * The result of a run.
 *
 * @example
 * ```ts
 * import type { PretrainResult } from "./pretrain.ts";
 * const summary = (r: PretrainResult) => `step ${r.step}: loss ${r.losses.at(-1)} (${r.checkpoint})`;
 * if (typeof summary !== "function") throw new Error();
 * ```
 */
export interface PretrainResult extends LoopResult {
  /** The trained model. */
  state: TrainState;
}

/**
 * Pretrains DARL. Everything is checked before the run directory is
 * created: both configs, the dataset and its image shape, the batch size
 * against the data, and the step's memory against the machine.
 *
 * @param cfg Model config (image size and channels must match the data).
 * @param train Training config.
 * @param opts Resume, logging.
 * @returns Final step, losses and the trained state.
 *
 * @example
 * ```ts
 * import { writeDataset } from "../data/store.ts";
 * import { darlConfig } from "./config.ts";
 * import { PRETRAIN_DEFAULTS, pretrainDarl } from "./pretrain.ts";
 * const dir = await Deno.makeTempDir();
 * const split = { count: 8, images: Uint8Array.from({ length: 8 * 64 }, (_, i) => (i * 37) % 256), labels: null };
 * await writeDataset(`${dir}/data`, { name: "noise", source: "example", shape: [8, 8, 1], classes: [], splits: { train: split, test: split } });
 * const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2 });
 * const train = { ...PRETRAIN_DEFAULTS, data: `${dir}/data`, out: `${dir}/run`, steps: 2, batchSize: 4, logEvery: 1, ckptEvery: 2, sampleEvery: 0 };
 * const r = await pretrainDarl(cfg, train, { log: () => {} });
 * if (r.step !== 2 || !r.checkpoint.endsWith("ckpt-0000002.safetensors")) throw new Error();
 * ```
 */
export async function pretrainDarl(
  cfg: DarlConfig,
  train: DarlRunConfig,
  opts: PretrainOptions = {},
): Promise<PretrainResult> {
  validateDarlConfig(cfg);
  validateRunConfig(train, DARL_RUN_SCHEMA, PRETRAIN_DEFAULTS);
  const ds = await openDataset(train.data);
  const split = getSplit(ds, "train");
  const [H, W, C] = ds.header.shape;
  check(H === W, `${train.data}: images are ${H}×${W}; DARL here expects square images`);
  check(
    cfg.imageSize === H && cfg.channels === C,
    `--image-size/--channels: model expects ${cfg.imageSize}×${cfg.imageSize}×${cfg.channels} but ${train.data} has ${H}×${W}×${C}`,
  );
  checkBatch(train.batchSize, split.count, train.data);
  checkMemory(estimateStepBytes(cfg, train.batchSize), "--batch-size");
  const params = initDarl(cfg, train.seed);
  const state = createTrainState(params, cfg, train);
  const size = H * W * C;
  const preview = previewImages(ds.splits.test ?? split, 8, size);
  const result = await runTrainingLoop({
    ...loopFields(train),
    trainCount: split.count,
    params: params as never,
    opt: state.trainer.opt,
    ...runRecords("darl", cfg, train, ds.header, { seed: train.seed, ...opts.extra }),
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
      const r = darlTrainStep(state, x, lr, noise, stepPrefix(cfg, train.seed, step));
      x.dispose();
      return r;
    },
    checkResume: (ck) =>
      checkResumeCompatible(
        ck,
        cfg,
        storedDarlConfig(ck.meta.model, ck.path),
        train,
        ds.header.checksum,
        PRETRAIN_RESUME,
      ),
    plotTitle: cfg.objective === "diffusion"
      ? `DARL pretraining loss (diffusion, Beta(${cfg.noiseA}, ${cfg.noiseB}) noise, ${cfg.prediction} MSE)`
      : `DARL pretraining loss (${cfg.target === "patch" ? "per-patch" : "global"} normalised MSE)`,
    ...periodicPictures(
      `${train.out}/predictions`,
      train.sampleEvery,
      () => predictionGrid(params, cfg, preview, [H, W, C]),
    ),
    ...heldOutEvaluation(train, { train: split, test: ds.splits.test }, [H, W, C], heldOutObjective(params, cfg)),
  }, opts);
  return { ...result, state };
}

/**
 * The attention prefix of a step: 1 (plain causal) unless the model uses
 * prefix attention, which draws it uniformly from 1 … T (SOS plus 0 to T − 1
 * patches), seeded by the step so a resumed run draws the same.
 *
 * @param cfg The model config.
 * @param seed The run's seed.
 * @param step The step.
 * @returns Input tokens every token sees.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { stepPrefix } from "./pretrain.ts";
 * const cfg = darlConfig("wide", { attention: "prefix" }); // 16 patches
 * const drawn = Array.from({ length: 200 }, (_, s) => stepPrefix(cfg, 0, s));
 * if (Math.min(...drawn) !== 1 || Math.max(...drawn) !== 16) throw new Error();
 * if (stepPrefix(darlConfig("wide"), 0, 5) !== 1) throw new Error();
 * ```
 */
export function stepPrefix(cfg: DarlConfig, seed: number, step: number): number {
  if (cfg.attention !== "prefix") return 1;
  return 1 + createRng(mixSeed(seed, step, 0x9e1f)).int(gridSize(cfg) ** 2);
}

/** DARL's objective on a chunk of held-out images, with the same noise at every measurement (diffusion), so the curve moves only with the weights. */
function heldOutObjective(params: DarlParams, cfg: DarlConfig): (x: tf.Tensor4D, chunk: number) => tf.Scalar {
  return (x, chunk) =>
    darlObjective(
      params,
      cfg,
      x,
      cfg.objective === "diffusion"
        ? drawDiffusionNoise(createRng(mixSeed(chunk, 0xe7a1)), cfg, x.shape[0])
        : undefined,
    );
}

/**
 * What a pretraining run is asked for, before defaults and resume are resolved.
 *
 * @example
 * ```ts
 * import { type PretrainRequest, resolvePretrainConfigs } from "./pretrain.ts";
 * const req: PretrainRequest = { preset: "small", model: { objective: "diffusion", schedule: "cosine" }, train: { data: "/no/such/data" } };
 * try { await resolvePretrainConfigs(req); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("no dataset there")) throw e; }
 * ```
 */
export interface PretrainRequest {
  /** A size preset (not allowed when resuming: the model is the checkpoint's). */
  preset?: string;
  /** Model overrides (fields and a named noise `schedule`). */
  model?: DarlOverrides;
  /** Run-config overrides. */
  train?: Partial<DarlRunConfig>;
  /** A JSON file with "model" and "train" sections (and optionally "preset"), e.g. a run's config.json. */
  configFile?: string;
  /** Continue the run in `train.out`: its checkpoint's configs are the base. */
  resume?: boolean;
  /** Progress messages (dataset preparation). */
  log?: (msg: string) => void;
}

/**
 * Resolves the configs of a pretraining run, in order: defaults, a config
 * file, the resumed checkpoint's own configs (when resuming, including its
 * dataset), then explicit overrides. The model's image size and channels
 * come from the dataset. A missing default dataset (Fashion-MNIST) is
 * prepared; any other missing dataset is an error.
 *
 * @param req Overrides, config file, resume.
 * @returns The model and run configs, validated.
 * @example
 * ```ts
 * import { resolvePretrainConfigs } from "./pretrain.ts";
 * try { await resolvePretrainConfigs({ train: { data: "/no/such/data" } }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--data /no/such/data: no dataset there")) throw e; }
 * ```
 */
export function resolvePretrainConfigs(
  req: PretrainRequest,
): Promise<{ cfg: DarlConfig; train: DarlRunConfig }> {
  return resolveRunConfigs(DARL_CONFIG_SPEC, { defaults: PRETRAIN_DEFAULTS, schema: DARL_RUN_SCHEMA }, req);
}

/** DARL's model config for {@linkcode resolveRunConfigs}: presets, named noise schedules, stored configs. */
const DARL_CONFIG_SPEC: MethodConfigSpec<DarlConfig, DarlOverrides> = {
  method: "darl",
  label: "DARL",
  model: { defaults: DARL_DEFAULTS, schema: DARL_SCHEMA },
  stored: storedDarlConfig,
  build: (overrides, preset) => darlConfig(preset, overrides), // no preset: DEFAULT_PRESET
};
