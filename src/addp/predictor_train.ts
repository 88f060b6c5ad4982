/**
 * Training the MAGE-style token predictor (`deno task predictor`) on the
 * token ids of a frozen tokenizer: the dataset is tokenized once (and its
 * mirror image too, for flip augmentation), then the shared loop trains on
 * ids (checkpoints, exact resume, metrics, loss curve, MaskGIT samples as
 * pictures). At the end, masked-token accuracy and cross-entropy on the test
 * split's tokens, with masks drawn from the training distribution by a fixed seed.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type ConfigSchema, validateConfig } from "../config.ts";
import { writeFileAtomic } from "../data/files.ts";
import { type Checkpoint, loadMethodCheckpoint } from "../train/checkpoint.ts";
import { createRng, mixSeed } from "../rng.ts";
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
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { sampleGrid, unitToU8, writePng } from "../viz/grid.ts";
import { checkTokensMatch, type LoadedTokenizer, loadTokenizer } from "./load.ts";
import { MAGE_SAMPLING, predictorSample } from "./predictor_sample.ts";
import {
  initPredictor,
  PREDICTOR_DEFAULTS,
  PREDICTOR_SCHEMA,
  type PredictorConfig,
  predictorLoss,
  type PredictorParams,
  predictorTree,
} from "./token_predictor.ts";
import { tokenGrid, tokenize } from "./tokenizer.ts";
import { openTokenData, tokenBatch, tokenizeSplit, tokenizingProgress } from "./token_cache.ts";

/**
 * A predictor run: the shared run config plus the tokenizer it reads and the
 * held-out loss (the masked-token loss on fixed draws of the train and test
 * splits' images, tokenized).
 *
 * @example
 * ```ts
 * import { PREDICTOR_RUN_DEFAULTS, type PredictorRunConfig } from "./predictor_train.ts";
 * const run: PredictorRunConfig = { ...PREDICTOR_RUN_DEFAULTS, tokenizer: "runs/vq-mnist" };
 * if (run.tokenizer !== "runs/vq-mnist") throw new Error();
 * ```
 */
export interface PredictorRunConfig extends PretrainConfig, HeldOutConfig {
  /** The tokenizer checkpoint or run directory. */
  tokenizer: string;
}

/**
 * Flag documentation and bounds of {@linkcode PredictorRunConfig}.
 *
 * @example
 * ```ts
 * import { PREDICTOR_RUN_SCHEMA } from "./predictor_train.ts";
 * if (!PREDICTOR_RUN_SCHEMA.tokenizer.doc.includes("tokenizer")) throw new Error();
 * ```
 */
export const PREDICTOR_RUN_SCHEMA: ConfigSchema<PredictorRunConfig> = {
  ...PRETRAIN_SCHEMA,
  ...HELD_OUT_SCHEMA,
  sampleEvery: { doc: "MaskGIT samples PNG every N steps (0: never)", integer: true, min: 0, max: 1e8 },
  tokenizer: { doc: "the VQ tokenizer: a checkpoint or run directory (deno task tokenizer)" },
};

/**
 * The default predictor run (spec §8.3: AdamW (0.9, 0.95), wd 0.05, warm-up and
 * cosine, clip 3; steps and batch sized for a 2-core CPU).
 *
 * @example
 * ```ts
 * import { PREDICTOR_RUN_DEFAULTS } from "./predictor_train.ts";
 * if (PREDICTOR_RUN_DEFAULTS.clip !== 3 || PREDICTOR_RUN_DEFAULTS.beta2 !== 0.95) throw new Error();
 * ```
 */
export const PREDICTOR_RUN_DEFAULTS: PredictorRunConfig = {
  data: "data/fashion-mnist",
  out: "runs/mage-fashion-mnist",
  tokenizer: "runs/vq-fashion-mnist",
  steps: 1500,
  batchSize: 64,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 150,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.95,
  clip: 3,
  seed: 0,
  augment: "flip",
  logEvery: 25,
  ckptEvery: 500,
  keep: 3,
  sampleEvery: 500,
  emaDecay: 0,
  evalEvery: 500,
  evalImages: 1000,
};

/**
 * Held-out quality of a predictor: masked-token accuracy and cross-entropy
 * (without label smoothing) over a split's tokens, masks drawn like training
 * ones from a fixed seed, no tokens dropped.
 *
 * @param p The predictor.
 * @param cfg Its config.
 * @param ids Token ids [count·L].
 * @param seed Seed of the masks.
 * @returns Accuracy (share) and mean cross-entropy (nats) on masked tokens.
 * @example
 * ```ts
 * import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * import { evaluatePredictor } from "./predictor_train.ts";
 * const cfg = { ...PREDICTOR_DEFAULTS, codebookSize: 8, width: 16, depth: 1, decoderDepth: 1 };
 * const r = await evaluatePredictor(initPredictor(cfg, 0), cfg, new Int32Array(4 * 49));
 * if (!(r.crossEntropy > 0 && r.accuracy >= 0)) throw new Error();
 * ```
 */
export async function evaluatePredictor(
  p: PredictorParams,
  cfg: PredictorConfig,
  ids: Int32Array,
  seed = 0,
): Promise<{ accuracy: number; crossEntropy: number; tokens: number }> {
  const l = cfg.tokens, count = ids.length / l, batch = 250, rng = createRng(seed);
  let hit = 0, ce = 0, n = 0;
  for (let i = 0; i < count; i += batch) {
    const b = Math.min(batch, count - i);
    const t = tf.tensor2d(ids.subarray(i * l, (i + b) * l), [b, l], "int32");
    const r = predictorLoss(p, { ...cfg, smoothing: 0 }, t, rng, false);
    const [acc, loss] = [(await r.accuracy.data())[0]!, (await r.loss.data())[0]!];
    tf.dispose([t, r.accuracy, r.loss]);
    hit += acc * b * r.masked;
    ce += loss * b * r.masked;
    n += b * r.masked;
  }
  return { accuracy: hit / n, crossEntropy: ce / n, tokens: n };
}

/** The outcome of {@linkcode trainPredictor}: the loop's, the model and its held-out scores.
 *
 * @example
 * ```ts
 * import type { PredictorRunResult } from "./predictor_train.ts";
 * const accuracy = (r: PredictorRunResult) => r.eval?.accuracy ?? NaN;
 * if (typeof accuracy !== "function") throw new Error();
 * ```
 */
export interface PredictorRunResult extends LoopResult {
  /** The trained predictor. */
  params: PredictorParams;
  /** Its config. */
  cfg: PredictorConfig;
  /** Held-out masked-token accuracy and cross-entropy (null when the run stopped early). */
  eval: { accuracy: number; crossEntropy: number; tokens: number } | null;
}

/**
 * Trains (or resumes) a token predictor on a frozen tokenizer's ids, then
 * scores it on the test split and writes `eval.json` and `samples.png`.
 *
 * @param model Predictor config; `tokens` and `codebookSize` are set from the tokenizer.
 * @param train Run config (with the tokenizer).
 * @param opts Resume, logging.
 * @returns The loop's result, the predictor and its scores.
 * @example
 * ```ts
 * import { trainPredictor, PREDICTOR_RUN_DEFAULTS } from "./predictor_train.ts";
 * import { PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * try { await trainPredictor(PREDICTOR_DEFAULTS, { ...PREDICTOR_RUN_DEFAULTS, tokenizer: "/no/such" }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("/no/such: not found")) throw e; }
 * ```
 */
export async function trainPredictor(
  model: PredictorConfig,
  train: PredictorRunConfig,
  opts: LoopOptions = {},
): Promise<PredictorRunResult> {
  validateRunConfig(train, PREDICTOR_RUN_SCHEMA, PREDICTOR_RUN_DEFAULTS);
  const log = opts.log ?? ((line: string) => console.log(line));
  const tok = await loadTokenizer(train.tokenizer);
  const cfg: PredictorConfig = { ...model, tokens: tokenGrid(tok.cfg) ** 2, codebookSize: tok.cfg.codebookSize };
  checkTokensMatch(tok, cfg.tokens, cfg.codebookSize, "--tokenizer");
  const { ds, split, cache } = await openTokenData(tok, train, log);
  const params = initPredictor(cfg, train.seed);
  const trainer = adamwTrainer(predictorTree(params), train);
  const result = await runTrainingLoop({
    ...loopFields(train),
    trainCount: split.count,
    params: predictorTree(params),
    opt: trainer.opt,
    ...runRecords("mage", cfg, train, ds.header, { tokenizer: tok.checkpoint.path }),
    step: (indices, step, lr) => {
      const rng = createRng(mixSeed(train.seed, step, 0x3a6e));
      const t = tokenBatch(cache, indices, rng);
      const r = trainStep(trainer, () => predictorLoss(params, cfg, t, rng).loss, lr);
      t.dispose();
      return r;
    },
    checkResume: (ck) =>
      checkResumeCompatible(
        ck,
        cfg,
        PREDICTOR_CONFIG_SPEC.stored(ck.meta.model, ck.path),
        train,
        ds.header.checksum,
        PRETRAIN_RESUME,
      ),
    plotTitle: "Token predictor loss (label-smoothed CE on masked tokens)",
    ...periodicPictures(`${train.out}/samples`, train.sampleEvery, (step) => previewGrid(params, cfg, tok, step)),
    ...heldOutEvaluation(
      train,
      { train: split, test: ds.splits.test },
      ds.header.shape,
      // The training objective (dropped tokens, smoothing); a chunk draws one mask ratio, so chunks of 50 give each
      // split 20 ratios, the same at every measurement.
      (x, chunk) =>
        predictorLoss(params, cfg, tokenize(tok.params, tok.cfg, x), createRng(mixSeed(chunk, 0x3e1d))).loss,
      50,
    ),
  }, opts);
  let scores = null;
  if (result.step === train.steps) {
    const test = ds.splits.test ?? split;
    scores = await evaluatePredictor(
      params,
      cfg,
      await tokenizeSplit(tok, test, false, tokenizingProgress("test", log)),
    );
    await writeFileAtomic(`${train.out}/eval.json`, new TextEncoder().encode(JSON.stringify(scores, null, 2) + "\n"));
    await writePng(`${train.out}/samples.png`, await previewGrid(params, cfg, tok, 0));
  }
  disposeTrainer(trainer);
  disposeTree(tok.params as unknown as ParamTree);
  return { ...result, params, cfg, eval: scores };
}

async function previewGrid(p: PredictorParams, cfg: PredictorConfig, tok: LoadedTokenizer, seed: number) {
  const x = await predictorSample(p, cfg, tok, 16, createRng(mixSeed(seed, 0x5a)), MAGE_SAMPLING);
  const u8 = unitToU8(await x.data());
  x.dispose();
  const s = tok.cfg.imageSize;
  return sampleGrid(u8, [s, s, tok.cfg.channels]);
}

/**
 * The predictor's model config for {@linkcode resolveRunConfigs} (its token
 * count and codebook size come from the tokenizer when the run starts); its
 * `stored` reads a checkpoint's config (every field required).
 *
 * @example
 * ```ts
 * import { PREDICTOR_CONFIG_SPEC } from "./predictor_train.ts";
 * if (PREDICTOR_CONFIG_SPEC.build({ width: 64 }).width !== 64) throw new Error();
 * ```
 */
export const PREDICTOR_CONFIG_SPEC: MethodConfigSpec<PredictorConfig, Partial<PredictorConfig>> = plainConfigSpec(
  "mage",
  "token predictor",
  PREDICTOR_DEFAULTS,
  PREDICTOR_SCHEMA,
  (cfg) => validateConfig(cfg, PREDICTOR_SCHEMA, PREDICTOR_DEFAULTS),
);

/**
 * Resolves a predictor run's configs (defaults, `--config`, the resumed run's own, overrides).
 *
 * @param req Overrides, config file, resume.
 * @returns The predictor and run configs.
 * @example
 * ```ts
 * import { resolvePredictorConfigs } from "./predictor_train.ts";
 * try { await resolvePredictorConfigs({ train: { data: "/no/such" } }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--data /no/such: no dataset there")) throw e; }
 * ```
 */
export function resolvePredictorConfigs(
  req: RunRequest<Partial<PredictorConfig>, PredictorRunConfig>,
): Promise<{ cfg: PredictorConfig; train: PredictorRunConfig }> {
  return resolveRunConfigs(
    PREDICTOR_CONFIG_SPEC,
    { defaults: PREDICTOR_RUN_DEFAULTS, schema: PREDICTOR_RUN_SCHEMA },
    req,
  );
}

/**
 * Loads a token predictor checkpoint (a file, or a run directory's newest).
 *
 * @param path The checkpoint or run directory.
 * @returns Its parameters, config and checkpoint.
 * @example
 * ```ts
 * import { loadPredictor } from "./predictor_train.ts";
 * try { await loadPredictor("/no/such/run"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("/no/such/run: not found")) throw e; }
 * ```
 */
export function loadPredictor(
  path: string,
): Promise<{ params: PredictorParams; cfg: PredictorConfig; checkpoint: Checkpoint }> {
  return loadMethodCheckpoint(
    path,
    "mage",
    "a token predictor",
    PREDICTOR_CONFIG_SPEC.stored,
    (c) => initPredictor(c, 0),
  );
}
