/**
 * Full fine-tuning of any method's pretrained encoder for
 * classification (MAE's recipe, DARL spec §5/§8.9): bidirectional
 * attention, mean of the last block's patch tokens → LayerNorm → linear
 * head, AdamW with layer-wise learning-rate decay, label smoothing, warm-up +
 * cosine, optional crop/flip augmentation. Checkpoints and exact resume work
 * as in pretraining, on the shared trainer and loop. The classifier itself
 * (head, layer-wise decay, step, accuracy) is in classifier.ts.
 *
 * @module
 */
import { check, DarlError } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { type Dataset, getSplit } from "../data/store.ts";
import type { Checkpoint } from "../train/checkpoint.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import { warmupCosine } from "../train/optim.ts";
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
import { disposeTrainer } from "../train/trainer.ts";
import {
  adaptSplit,
  type Classifier,
  classifierAccuracy,
  classifierStep,
  classifierTrainer,
  estimateFinetuneBytes,
  initClassifier,
} from "./classifier.ts";

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
    step: (indices, step, lr) => classifierStep(clf, trainer, split, indices, step, lr, train),
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
