/**
 * ADDP pretraining (`deno task pretrain --method addp`): the alternating
 * denoising step on the shared trainer and loop, against a frozen tokenizer
 * and token predictor. Checkpoints are self-contained: they carry the
 * tokenizer's weights (frozen, without optimiser moments), so sampling and
 * recognition need only the ADDP checkpoint; the predictor is needed for
 * training only and is named in the checkpoint. A missing default tokenizer
 * or predictor is trained first, each in its own resumable run directory.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { exists } from "../data/files.ts";
import { openDataset } from "../data/store.ts";
import { listCheckpoints } from "../train/checkpoint.ts";
import { createRng, mixSeed } from "../rng.ts";
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { type LoopOptions, type LoopResult, runTrainingLoop } from "../train/loop.ts";
import { loopFields, periodicPictures, runRecords } from "../train/loop_spec.ts";
import { type MethodConfigSpec, plainConfigSpec, resolveRunConfigs, type RunRequest } from "../train/resolve.ts";
import {
  checkResumeCompatible,
  PRETRAIN_RESUME,
  PRETRAIN_SCHEMA,
  type PretrainConfig,
  validateRunConfig,
} from "../train/run_config.ts";
import { HELD_OUT_SCHEMA, type HeldOutConfig, heldOutEvaluation } from "../train/held_out.ts";
import { adamwTrainer, disposeTrainer, trainStep } from "../train/trainer.ts";
import { sampleGrid, unitToU8 } from "../viz/grid.ts";
import { addpLoss, alternatingTargets, type FrozenParts } from "./alternating_denoising.ts";
import { ADDP_SAMPLING, addpGenerate } from "./generate.ts";
import { checkTokenizerFits, checkTokensMatch, loadTokenizer } from "./load.ts";
import { timestepGrid } from "./mask_schedule.ts";
import { ADDP_DEFAULTS, ADDP_SCHEMA, type AddpConfig, type AddpParams, checkAddpConfig, initAddp } from "./model.ts";
import { loadPredictor, PREDICTOR_RUN_DEFAULTS, trainPredictor } from "./predictor_train.ts";
import { openTokenData, tokenBatch } from "./token_cache.ts";
import { PREDICTOR_DEFAULTS } from "./token_predictor.ts";
import { tokenize, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
import { TOKENIZER_RUN_DEFAULTS, trainTokenizer } from "./tokenizer_train.ts";

/**
 * An ADDP run: the shared run config plus its frozen components and the
 * held-out loss (the alternating-denoising loss on fixed draws of the train
 * and test splits' images, tokenized).
 *
 * @example
 * ```ts
 * import { ADDP_RUN_DEFAULTS, type AddpRunConfig } from "./pretrain.ts";
 * const run: AddpRunConfig = { ...ADDP_RUN_DEFAULTS, steps: 100 };
 * if (run.predictor !== "runs/mage-fashion-mnist") throw new Error();
 * ```
 */
export interface AddpRunConfig extends PretrainConfig, HeldOutConfig {
  /** The VQ tokenizer (checkpoint or run directory). */
  tokenizer: string;
  /** The token predictor (checkpoint or run directory). */
  predictor: string;
}

/**
 * Flag documentation and bounds of {@linkcode AddpRunConfig}.
 *
 * @example
 * ```ts
 * import { ADDP_RUN_SCHEMA } from "./pretrain.ts";
 * if (!ADDP_RUN_SCHEMA.predictor.doc.includes("predictor")) throw new Error();
 * ```
 */
export const ADDP_RUN_SCHEMA: ConfigSchema<AddpRunConfig> = {
  ...PRETRAIN_SCHEMA,
  ...HELD_OUT_SCHEMA,
  sampleEvery: { doc: "samples PNG every N steps (0: never)", integer: true, min: 0, max: 1e8 },
  tokenizer: { doc: "VQ tokenizer checkpoint or run (trained first when it is the missing default)" },
  predictor: { doc: "token predictor checkpoint or run (trained first when it is the missing default)" },
};

/**
 * The default ADDP run (spec §8.4: AdamW (0.9, 0.95), wd 0.05, clip 3). 1,000 steps of 64 images: with the
 * tokenizer and predictor runs before it, one command goes from nothing to an ADDP model in about an hour on a
 * 2-core CPU. A held-out measurement (1,000 images of each split through both frozen predictor passes, the
 * tokenizer's decoder and the model) costs about 26 training steps (bench/addp_bench.ts), so it runs every 500
 * steps: ~5% of the run.
 *
 * @example
 * ```ts
 * import { ADDP_RUN_DEFAULTS } from "./pretrain.ts";
 * if (ADDP_RUN_DEFAULTS.steps * ADDP_RUN_DEFAULTS.batchSize !== 64_000) throw new Error();
 * ```
 */
export const ADDP_RUN_DEFAULTS: AddpRunConfig = {
  data: "data/fashion-mnist",
  out: "runs/addp-tiny-fashion-mnist",
  tokenizer: TOKENIZER_RUN_DEFAULTS.out,
  predictor: PREDICTOR_RUN_DEFAULTS.out,
  steps: 1000,
  batchSize: 64,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 100,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.95,
  clip: 3,
  seed: 0,
  augment: "flip",
  logEvery: 25,
  ckptEvery: 250,
  keep: 3,
  sampleEvery: 250,
  emaDecay: 0,
  evalEvery: 500,
  evalImages: 1000,
};

/**
 * Trains the default tokenizer and predictor when the run asks for them and
 * they do not exist yet (or resumes them when they stopped early).
 *
 * @param train The ADDP run config.
 * @param log Progress lines.
 * @example
 * ```ts
 * import { ADDP_RUN_DEFAULTS, ensureComponents } from "./pretrain.ts";
 * try { await ensureComponents({ ...ADDP_RUN_DEFAULTS, tokenizer: "/no/such/vq" }, () => {}); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--tokenizer /no/such/vq: not found")) throw e; }
 * ```
 */
export async function ensureComponents(train: AddpRunConfig, log: (line: string) => void): Promise<void> {
  const tok = await pending(train.tokenizer, TOKENIZER_RUN_DEFAULTS, "--tokenizer", "tokenizer");
  if (tok) {
    const [h, , c] = (await openDataset(train.data)).header.shape;
    log(`${train.tokenizer}: training the default tokenizer first (deno task tokenizer)`);
    const cfg = { ...TOKENIZER_DEFAULTS, imageSize: h, channels: c };
    await trainTokenizer(cfg, { ...TOKENIZER_RUN_DEFAULTS, data: train.data }, { resume: tok.resume, log });
  }
  const pred = await pending(train.predictor, PREDICTOR_RUN_DEFAULTS, "--predictor", "predictor");
  if (pred) {
    log(`${train.predictor}: training the default token predictor first (deno task predictor)`);
    const run = { ...PREDICTOR_RUN_DEFAULTS, data: train.data, tokenizer: train.tokenizer };
    await trainPredictor(PREDICTOR_DEFAULTS, run, { resume: pred.resume, log });
  }
}

/**
 * Whether a component must be trained first: it is missing, or it is the
 * default run and stopped before its last step (then it resumes). Any other
 * missing path is an error naming the flag.
 */
async function pending(
  path: string,
  defaults: { out: string; steps: number },
  flag: string,
  task: string,
): Promise<{ resume: boolean } | null> {
  const found = await exists(path);
  if (found && path !== defaults.out) return null;
  check(path === defaults.out, `${flag} ${path}: not found (train one with deno task ${task})`);
  const ckpts = found ? await listCheckpoints(path) : [];
  return ckpts.at(-1)?.step === defaults.steps ? null : { resume: ckpts.length > 0 };
}

/** The outcome of {@linkcode pretrainAddp}.
 *
 * @example
 * ```ts
 * import type { AddpRunResult } from "./pretrain.ts";
 * const lastLoss = (r: AddpRunResult) => r.losses.at(-1);
 * if (typeof lastLoss !== "function") throw new Error();
 * ```
 */
export interface AddpRunResult extends LoopResult {
  /** The trained model. */
  params: AddpParams;
  /** Its config (grid and codebook from the tokenizer). */
  cfg: AddpConfig;
}

/**
 * Pretrains ADDP against a frozen tokenizer and predictor.
 *
 * @param model ADDP config (image shape from the data; K from the tokenizer).
 * @param train Run config.
 * @param opts Resume, logging.
 * @returns The loop's result and the model.
 * @example
 * ```ts
 * import { ADDP_DEFAULTS } from "./model.ts";
 * import { ADDP_RUN_DEFAULTS, pretrainAddp } from "./pretrain.ts";
 * try { await pretrainAddp(ADDP_DEFAULTS, { ...ADDP_RUN_DEFAULTS, tokenizer: "/no/such" }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("/no/such: not found")) throw e; }
 * ```
 */
export async function pretrainAddp(
  model: AddpConfig,
  train: AddpRunConfig,
  opts: LoopOptions = {},
): Promise<AddpRunResult> {
  validateRunConfig(train, ADDP_RUN_SCHEMA, ADDP_RUN_DEFAULTS);
  const log = opts.log ?? ((line: string) => console.log(line));
  const tok = await loadTokenizer(train.tokenizer);
  const pred = await loadPredictor(train.predictor);
  checkTokensMatch(tok, pred.cfg.tokens, pred.cfg.codebookSize, pred.checkpoint.path);
  const cfg: AddpConfig = { ...model, codebookSize: tok.cfg.codebookSize };
  checkAddpConfig(cfg);
  // The image shape comes from the data: a tokenizer for other images is named as such, not as a grid mismatch.
  checkTokenizerFits(tok, [cfg.imageSize, cfg.imageSize, cfg.channels], train.data);
  checkTokensMatch(tok, (cfg.imageSize / cfg.patchSize) ** 2, cfg.codebookSize, "the ADDP model (--patch-size)");
  const { ds, split, cache } = await openTokenData(tok, train, log);
  const params = initAddp(cfg, train.seed);
  const trainable = params as unknown as ParamTree;
  const trainer = adamwTrainer(trainable, train);
  const frozen: FrozenParts = { tokenizer: tok, predictor: pred.params, predictorCfg: pred.cfg };
  const grid = timestepGrid(cfg.timesteps);
  const result = await runTrainingLoop({
    ...loopFields(train),
    trainCount: split.count,
    params: { ...params, tokenizer: tok.params } as unknown as ParamTree,
    opt: trainer.opt,
    optNames: trainer.names,
    ...runRecords("addp", cfg, train, ds.header, {
      tokenizer: tok.checkpoint.path,
      predictor: pred.checkpoint.path,
    }, { ...cfg, tokenizer: tok.cfg }),
    step: (indices, step, lr) => {
      const rng = createRng(mixSeed(train.seed, step, 0xadd9));
      const z = tokenBatch(cache, indices, rng);
      const t = alternatingTargets(frozen, z, rng, grid, cfg.mapping);
      const r = trainStep(trainer, () => addpLoss(params, cfg, z, t, cfg.smoothing), lr);
      tf.dispose([z, t.latent, t.images, t.target]);
      return r;
    },
    checkResume: (ck) =>
      checkResumeCompatible(
        ck,
        cfg,
        ADDP_CONFIG_SPEC.stored(ck.meta.model, ck.path),
        train,
        ds.header.checksum,
        PRETRAIN_RESUME,
      ),
    plotTitle: `ADDP loss (soft-target CE, mapping ${cfg.mapping})`,
    ...periodicPictures(`${train.out}/samples`, train.sampleEvery, async (step) => {
      const x = await addpGenerate(params, cfg, tok, 16, createRng(mixSeed(step, 0x5a)), ADDP_SAMPLING);
      const u8 = unitToU8(await x.data());
      x.dispose();
      return sampleGrid(u8, [cfg.imageSize, cfg.imageSize, cfg.channels]);
    }),
    ...heldOutEvaluation(
      train,
      { train: split, test: ds.splits.test },
      ds.header.shape,
      addpHeldOutObjective(params, cfg, frozen),
      ADDP_HELD_OUT_CHUNK,
    ),
  }, opts);
  // The frozen parts and the optimiser state stay here; the caller owns the returned model.
  disposeTrainer(trainer);
  disposeTree(tok.params as unknown as ParamTree);
  disposeTree(pred.params as unknown as ParamTree);
  return { ...result, params, cfg };
}

/**
 * Images per chunk of ADDP's held-out loss: a chunk draws one timestep pair,
 * so chunks of 50 give each 1,000-image draw 20 of them.
 *
 * @example
 * ```ts
 * import { ADDP_HELD_OUT_CHUNK } from "./pretrain.ts";
 * if (1000 / ADDP_HELD_OUT_CHUNK !== 20) throw new Error();
 * ```
 */
export const ADDP_HELD_OUT_CHUNK = 50;

/**
 * ADDP's training loss on a chunk of held-out images: tokenized by the frozen
 * tokenizer, with the timesteps, masks and (sampled mapping) codes drawn from
 * the chunk's index, so every measurement and both splits see the same ones
 * and the two losses differ only by their images.
 *
 * @param params The model.
 * @param cfg Its config.
 * @param frozen The frozen tokenizer and predictor.
 * @returns The objective for {@linkcode heldOutEvaluation} (chunks of {@linkcode ADDP_HELD_OUT_CHUNK}).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { ADDP_DEFAULTS, initAddp } from "./model.ts";
 * import { addpHeldOutObjective } from "./pretrain.ts";
 * const tokenizer = { params: initTokenizer(TOKENIZER_DEFAULTS, 0), cfg: TOKENIZER_DEFAULTS, checkpoint: {} } as never;
 * const frozen = { tokenizer, predictor: initPredictor(PREDICTOR_DEFAULTS, 0), predictorCfg: PREDICTOR_DEFAULTS };
 * const lossOf = addpHeldOutObjective(initAddp(ADDP_DEFAULTS, 0), ADDP_DEFAULTS, frozen);
 * const x = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
 * const [a, b] = [await lossOf(x, 0).data(), await lossOf(x, 0).data()];
 * if (!(a[0]! > 0) || a[0] !== b[0]) throw new Error();
 * ```
 */
export function addpHeldOutObjective(
  params: AddpParams,
  cfg: AddpConfig,
  frozen: FrozenParts,
): (images: tf.Tensor4D, chunk: number) => tf.Scalar {
  const grid = timestepGrid(cfg.timesteps), tok = frozen.tokenizer;
  return (x, chunk) =>
    tf.tidy(() => {
      const z = tokenize(tok.params, tok.cfg, x);
      // A salt whose first chunk draws t with reliable tokens left even at the 8×8 fixture's four tokens: one that
      // masked them all would make the loss independent of the images, and the tests could not tell the splits apart.
      const t = alternatingTargets(frozen, z, createRng(mixSeed(chunk, 0xe7a6)), grid, cfg.mapping);
      return addpLoss(params, cfg, z, t, cfg.smoothing);
    });
}

/**
 * ADDP's model config for {@linkcode resolveRunConfigs}; its `stored` reads a
 * checkpoint's config (every field required).
 *
 * @example
 * ```ts
 * import { ADDP_CONFIG_SPEC } from "./pretrain.ts";
 * if (ADDP_CONFIG_SPEC.build({ dim: 64, heads: 4 }).dim !== 64) throw new Error();
 * ```
 */
export const ADDP_CONFIG_SPEC: MethodConfigSpec<AddpConfig, Partial<AddpConfig>> = plainConfigSpec(
  "addp",
  "ADDP model",
  ADDP_DEFAULTS,
  ADDP_SCHEMA,
  checkAddpConfig,
);

/**
 * Resolves an ADDP run's configs (defaults, `--config`, the resumed run's own, overrides; image shape from the data).
 *
 * @param req Overrides, config file, resume.
 * @returns The model and run configs.
 * @example
 * ```ts
 * import { resolveAddpConfigs } from "./pretrain.ts";
 * try { await resolveAddpConfigs({ train: { data: "/no/such" } }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--data /no/such: no dataset there")) throw e; }
 * ```
 */
export function resolveAddpConfigs(
  req: RunRequest<Partial<AddpConfig>, AddpRunConfig>,
): Promise<{ cfg: AddpConfig; train: AddpRunConfig }> {
  return resolveRunConfigs(ADDP_CONFIG_SPEC, { defaults: ADDP_RUN_DEFAULTS, schema: ADDP_RUN_SCHEMA }, req);
}
