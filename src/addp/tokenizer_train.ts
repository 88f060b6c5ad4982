/**
 * Training the VQ tokenizer (`deno task tokenizer`): reconstruction MSE +
 * commitment by AdamW on the convolutions, the codebook by EMA with dead-code
 * restart, on the shared loop (checkpoints, exact resume, metrics, loss
 * curve), then an evaluation on the test split: reconstruction MSE and PSNR,
 * codebook perplexity and codes used, and originals beside reconstructions.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check } from "../errors.ts";
import { augmentBatch, gatherImages, toUnitRange } from "../data/batches.ts";
import type { ConfigSchema } from "../config.ts";
import { writeFileAtomic } from "../data/files.ts";
import { getSplit, openDataset } from "../data/store.ts";
import { drawSubset } from "../data/subset.ts";
import { createRng, mixSeed } from "../rng.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import { loopFields, periodicPictures, runRecords } from "../train/loop_spec.ts";
import { type MethodConfigSpec, plainConfigSpec, resolveRunConfigs, type RunRequest } from "../train/resolve.ts";
import {
  checkBatch,
  checkResumeCompatible,
  PRETRAIN_RESUME,
  PRETRAIN_SCHEMA,
  type PretrainConfig,
  validateRunConfig,
} from "../train/run_config.ts";
import { HELD_OUT_SCHEMA, type HeldOutConfig, heldOutEvaluation } from "../train/held_out.ts";
import { adamwTrainer, disposeTrainer, type Trainer, trainStep } from "../train/trainer.ts";
import { writePng } from "../viz/grid.ts";
import { emaUpdate, restartDeadCodes } from "./vector_quantizer.ts";
import {
  checkTokenizerConfig,
  initTokenizer,
  TOKENIZER_DEFAULTS,
  TOKENIZER_SCHEMA,
  type TokenizerConfig,
  type TokenizerParams,
  tokenizerTrainable,
} from "./tokenizer.ts";
import { tokenizerLoss } from "./tokenizer_loss.ts";
import { evaluateTokenizer, reconstructionGrid, type TokenizerEval } from "./tokenizer_eval.ts";

export { evaluateTokenizer, reconstructionGrid, type TokenizerEval } from "./tokenizer_eval.ts";

/**
 * A tokenizer run: the shared pretraining settings plus the held-out loss
 * (reconstruction + commitment on fixed draws of the train and test splits).
 *
 * @example
 * ```ts
 * import { TOKENIZER_RUN_DEFAULTS, type TokenizerRunConfig } from "./tokenizer_train.ts";
 * const quick: TokenizerRunConfig = { ...TOKENIZER_RUN_DEFAULTS, steps: 100, evalEvery: 50 };
 * if (quick.evalImages !== 1000) throw new Error();
 * ```
 */
export interface TokenizerRunConfig extends PretrainConfig, HeldOutConfig {}

/**
 * Documentation and bounds of {@linkcode TokenizerRunConfig} (the flags of `deno task tokenizer`).
 *
 * @example
 * ```ts
 * import { TOKENIZER_RUN_SCHEMA } from "./tokenizer_train.ts";
 * if (!TOKENIZER_RUN_SCHEMA.evalImages.doc.includes("images")) throw new Error();
 * ```
 */
export const TOKENIZER_RUN_SCHEMA: ConfigSchema<TokenizerRunConfig> = { ...PRETRAIN_SCHEMA, ...HELD_OUT_SCHEMA };

/**
 * The default tokenizer run on Fashion-MNIST (spec §8.2's Adam 2e-4–1e-3,
 * at the batch and length a 2-core CPU affords). Its held-out loss, 1,000
 * images of each split every 300 steps, is a forward pass over 8,000 images
 * in all against the run's 76,800 trained on.
 *
 * @example
 * ```ts
 * import { TOKENIZER_RUN_DEFAULTS } from "./tokenizer_train.ts";
 * if (TOKENIZER_RUN_DEFAULTS.out !== "runs/vq-fashion-mnist") throw new Error();
 * ```
 */
export const TOKENIZER_RUN_DEFAULTS: TokenizerRunConfig = {
  data: "data/fashion-mnist",
  out: "runs/vq-fashion-mnist",
  steps: 1200,
  batchSize: 64,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 100,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.99,
  clip: 1,
  seed: 0,
  augment: "flip",
  logEvery: 25,
  ckptEvery: 250,
  keep: 3,
  sampleEvery: 250,
  emaDecay: 0,
  evalEvery: 300,
  evalImages: 1000,
};

/**
 * One tokenizer step: AdamW on the reconstruction + commitment loss, then the
 * codebook's EMA update and dead-code restart from this batch's encoder outputs.
 *
 * @param p The tokenizer (updated in place).
 * @param cfg Its config.
 * @param trainer The trainer over {@linkcode tokenizerTrainable}.
 * @param images [B, H, W, C] in [−1, 1].
 * @param lr The learning rate.
 * @param seed Seed of the restart draw (a function of the step, so resume is exact).
 * @returns Loss and gradient norm (the caller disposes).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createTrainer } from "../train/trainer.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS, tokenizerTrainable } from "./tokenizer.ts";
 * import { tokenizerTrainStep } from "./tokenizer_train.ts";
 * const cfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const p = initTokenizer(cfg, 0);
 * const t = createTrainer(tokenizerTrainable(p), { optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.99, weightDecay: 0 } });
 * const r = tokenizerTrainStep(p, cfg, t, tf.zeros([2, 28, 28, 1]), 1e-3, 0);
 * tf.dispose([r.loss, r.gradNorm]);
 * ```
 */
export function tokenizerTrainStep(
  p: TokenizerParams,
  cfg: TokenizerConfig,
  trainer: Trainer,
  images: tf.Tensor,
  lr: number,
  seed: number,
): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  let z: tf.Tensor | null = null, ids: tf.Tensor | null = null;
  const r = trainStep(trainer, () => {
    const out = tokenizerLoss(p, cfg, images);
    z = tf.keep(out.z);
    ids = tf.keep(out.ids);
    return out.loss;
  }, lr);
  emaUpdate(p.codebook, z!, ids!, cfg.decay);
  if (cfg.deadThreshold > 0) restartDeadCodes(p.codebook, z!, createRng(seed), cfg.deadThreshold).dispose();
  tf.dispose([z!, ids!]);
  return r;
}

/** The outcome of {@linkcode trainTokenizer}: the loop's, the model and its test scores.
 *
 * @example
 * ```ts
 * import type { TokenizerRunResult } from "./tokenizer_train.ts";
 * const psnr = (r: TokenizerRunResult) => r.eval?.psnr ?? NaN;
 * if (typeof psnr !== "function") throw new Error();
 * ```
 */
export interface TokenizerRunResult extends LoopResult {
  /** The trained tokenizer. */
  params: TokenizerParams;
  /** Test-split scores (null when the run stopped early). */
  eval: TokenizerEval | null;
}

/**
 * Trains (or resumes) a tokenizer, then scores it on the test split and
 * writes `eval.json` and `reconstructions.png` into the run directory.
 *
 * @param cfg Tokenizer config (image size and channels must match the data).
 * @param train Run config.
 * @param opts Resume, logging.
 * @returns The loop's result, the tokenizer and its scores.
 * @example
 * ```ts
 * import { writeDataset } from "../data/store.ts";
 * import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { TOKENIZER_RUN_DEFAULTS, trainTokenizer } from "./tokenizer_train.ts";
 * const dir = await Deno.makeTempDir();
 * const split = { count: 8, images: Uint8Array.from({ length: 8 * 64 }, (_, i) => (i * 37) % 256), labels: null };
 * await writeDataset(`${dir}/data`, { name: "noise", source: "example", shape: [8, 8, 1], classes: [], splits: { train: split, test: split } });
 * const cfg = { ...TOKENIZER_DEFAULTS, imageSize: 8, width: 4, groups: 2, codebookSize: 8, codeDim: 4 };
 * const train = { ...TOKENIZER_RUN_DEFAULTS, data: `${dir}/data`, out: `${dir}/run`, steps: 2, batchSize: 4, logEvery: 1, ckptEvery: 2, sampleEvery: 0 };
 * const r = await trainTokenizer(cfg, train, { log: () => {} });
 * if (r.step !== 2 || r.eval?.images !== 8) throw new Error();
 * ```
 */
export async function trainTokenizer(
  cfg: TokenizerConfig,
  train: TokenizerRunConfig,
  opts: LoopOptions = {},
): Promise<TokenizerRunResult> {
  checkTokenizerConfig(cfg);
  validateRunConfig(train, TOKENIZER_RUN_SCHEMA, TOKENIZER_RUN_DEFAULTS);
  const ds = await openDataset(train.data);
  const split = getSplit(ds, "train");
  const [H, W, C] = ds.header.shape;
  check(
    cfg.imageSize === H && cfg.imageSize === W && cfg.channels === C,
    `--image-size/--channels: the tokenizer expects ${cfg.imageSize}×${cfg.imageSize}×${cfg.channels} but ${train.data} has ${H}×${W}×${C}`,
  );
  checkBatch(train.batchSize, split.count, train.data);
  const params = initTokenizer(cfg, train.seed);
  const trainable = tokenizerTrainable(params);
  const trainer = adamwTrainer(trainable, train);
  const size = H * W * C;
  const test = ds.splits.test ?? split;
  const preview = gatherImages(test, drawSubset(test, 8, 0), size);
  const result = await runTrainingLoop({
    ...loopFields(train),
    trainCount: split.count,
    params: params as never,
    opt: trainer.opt,
    optNames: trainer.names,
    ...runRecords("vq-tokenizer", cfg, train, ds.header, { seed: train.seed }),
    step: (indices, step, lr) => {
      const rng = createRng(mixSeed(train.seed, step, 0xa09));
      const batch = augmentBatch(gatherImages(split, indices, size), [H, W, C], train.augment, rng);
      const x = tf.tensor4d(toUnitRange(batch), [train.batchSize, H, W, C]);
      const r = tokenizerTrainStep(params, cfg, trainer, x, lr, mixSeed(train.seed, step, 0xdead));
      x.dispose();
      return r;
    },
    checkResume: (ck) =>
      checkResumeCompatible(
        ck,
        cfg,
        TOKENIZER_CONFIG_SPEC.stored(ck.meta.model, ck.path),
        train,
        ds.header.checksum,
        PRETRAIN_RESUME,
      ),
    plotTitle: `VQ tokenizer loss (reconstruction MSE + ${cfg.beta}·commitment)`,
    ...periodicPictures(
      `${train.out}/reconstructions`,
      train.sampleEvery,
      () => reconstructionGrid(params, cfg, preview),
    ),
    ...heldOutEvaluation(
      train,
      { train: split, test: ds.splits.test },
      [H, W, C],
      (x) => tokenizerLoss(params, cfg, x).loss,
    ),
  }, opts);
  let scores: TokenizerEval | null = null;
  if (result.step === train.steps) {
    scores = await evaluateTokenizer(params, cfg, test);
    await writeFileAtomic(`${train.out}/eval.json`, new TextEncoder().encode(JSON.stringify(scores, null, 2) + "\n"));
    await writePng(`${train.out}/reconstructions.png`, await reconstructionGrid(params, cfg, preview));
  }
  disposeTrainer(trainer);
  return { ...result, params, eval: scores };
}

/**
 * The tokenizer's model config for {@linkcode resolveRunConfigs}; its
 * `stored` reads a checkpoint's config (every field required).
 *
 * @example
 * ```ts
 * import { TOKENIZER_CONFIG_SPEC } from "./tokenizer_train.ts";
 * if (TOKENIZER_CONFIG_SPEC.build({ imageSize: 32, channels: 3 }).imageSize !== 32) throw new Error();
 * try { TOKENIZER_CONFIG_SPEC.stored({ imageSize: 32 }, "ck.safetensors"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("ck.safetensors: the checkpoint's model config lacks")) throw e; }
 * ```
 */
export const TOKENIZER_CONFIG_SPEC: MethodConfigSpec<TokenizerConfig, Partial<TokenizerConfig>> = plainConfigSpec(
  "vq-tokenizer",
  "VQ tokenizer",
  TOKENIZER_DEFAULTS,
  TOKENIZER_SCHEMA,
  checkTokenizerConfig,
);

/**
 * Resolves a tokenizer run's configs: defaults, `--config`, the resumed run's own, overrides; image shape from the data.
 *
 * @param req Overrides, config file, resume.
 * @returns The tokenizer and run configs.
 * @example
 * ```ts
 * import { resolveTokenizerConfigs } from "./tokenizer_train.ts";
 * try { await resolveTokenizerConfigs({ train: { data: "/no/such" } }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--data /no/such: no dataset there")) throw e; }
 * ```
 */
export function resolveTokenizerConfigs(
  req: RunRequest<Partial<TokenizerConfig>, TokenizerRunConfig>,
): Promise<{ cfg: TokenizerConfig; train: TokenizerRunConfig }> {
  return resolveRunConfigs(
    TOKENIZER_CONFIG_SPEC,
    { defaults: TOKENIZER_RUN_DEFAULTS, schema: TOKENIZER_RUN_SCHEMA },
    req,
  );
}
