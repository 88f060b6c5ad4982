/**
 * DARL in the method registry: a "darl" checkpoint loads into its model,
 * which serves as an {@linkcode Encoder} (probes, VTAB, fine-tuning) and, when
 * it regresses absolute pixels (diffusion, or MSE with global targets), as
 * a {@linkcode Generator} (raster-order sampling and completions).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { patchify } from "../nn/patchify.ts";
import { patchOrder } from "../nn/patch_order.ts";
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { disposeTrainer } from "../train/trainer.ts";
import { toUnitRange } from "../data/batches.ts";
import { assignParams, type Checkpoint, loadMethodCheckpoint } from "../train/checkpoint.ts";
import { type Generator, type LoadedModel, registerMethod } from "../train/registry.ts";
import { unitToU8 } from "../viz/grid.ts";
import { type DarlConfig, gridSize, storedDarlConfig } from "./config.ts";
import { darlEncoder } from "./encoder.ts";
import { countParams, type DarlParams, initDarl } from "./model.ts";
import { SAMPLE_DEFAULTS, sampleDarl } from "./sample.ts";
import { pretrainDarl, type PretrainRequest, resolvePretrainConfigs } from "./pretrain.ts";

/**
 * DARL's sampling options (CLI flags of `deno task sample`).
 *
 * @example
 * ```ts
 * import { DARL_SAMPLE_DEFAULTS, type DarlSampleOptions } from "./method.ts";
 * const opts: DarlSampleOptions = { ...DARL_SAMPLE_DEFAULTS, sampler: "ddim", completeRows: 3 };
 * if (opts.sampleSteps !== 100) throw new Error();
 * ```
 */
export interface DarlSampleOptions {
  /** Diffusion: reverse steps per patch (cosine grid). */
  sampleSteps: number;
  /** Diffusion: ancestral DDPM or deterministic DDIM. */
  sampler: "ddpm" | "ddim";
  /** Scales the injected noise (DDPM) or the MSE noise. */
  temperature: number;
  /** MSE models: std of Gaussian noise added to the predicted mean (0: the mean). */
  mseNoise: number;
  /** Complete real test images from their first r patch rows (0: unconditional). */
  completeRows: number;
  /** Recompute the prefix for every patch instead of using the key/value cache (for comparison). */
  noKvCache: boolean;
}

/**
 * Defaults: 100-step DDPM at temperature 1, unconditional, with the cache.
 *
 * @example
 * ```ts
 * import { DARL_SAMPLE_DEFAULTS } from "./method.ts";
 * if (DARL_SAMPLE_DEFAULTS.sampler !== "ddpm" || DARL_SAMPLE_DEFAULTS.completeRows !== 0) throw new Error();
 * ```
 */
export const DARL_SAMPLE_DEFAULTS: DarlSampleOptions = {
  sampleSteps: SAMPLE_DEFAULTS.steps,
  sampler: SAMPLE_DEFAULTS.sampler,
  temperature: SAMPLE_DEFAULTS.temperature,
  mseNoise: SAMPLE_DEFAULTS.mseNoise,
  completeRows: 0,
  noKvCache: false,
};

/**
 * Documentation and bounds of {@linkcode DarlSampleOptions}.
 *
 * @example
 * ```ts
 * import { schemaHelp } from "../config.ts";
 * import { DARL_SAMPLE_DEFAULTS, DARL_SAMPLE_SCHEMA } from "./method.ts";
 * if (!schemaHelp("DARL sampling", DARL_SAMPLE_DEFAULTS, DARL_SAMPLE_SCHEMA).includes("--sample-steps")) throw new Error();
 * ```
 */
export const DARL_SAMPLE_SCHEMA: ConfigSchema<DarlSampleOptions> = {
  sampleSteps: { doc: "diffusion: reverse steps per patch (cosine grid)", integer: true, min: 1, max: 10000 },
  sampler: { doc: "diffusion sampler", choices: ["ddpm", "ddim"] },
  temperature: { doc: "scale of the injected noise", min: 0, max: 100 },
  mseNoise: { doc: "MSE models: std of noise added to the predicted mean", min: 0, max: 100 },
  completeRows: {
    doc: "complete real test images from their first r patch rows (0: unconditional)",
    integer: true,
    min: 0,
  },
  noKvCache: { doc: "recompute the prefix for every patch (slow; for comparison)" },
};

/**
 * DARL as a generator: unconditional samples from SOS, or completions of
 * real images from their first patch rows.
 *
 * @param params The model.
 * @param cfg Its config (diffusion, or MSE with global targets).
 * @returns The generator.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { darlGenerator } from "./method.ts";
 * import { initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2, target: "global" });
 * const r = await darlGenerator(initDarl(cfg, 0), cfg).sample({ count: 2, seed: 0, options: {} });
 * if (r.images.length !== 2 * 64 || r.kind !== "unconditional") throw new Error();
 * ```
 */
export function darlGenerator(params: DarlParams, cfg: DarlConfig): Generator {
  const g = gridSize(cfg), shape = [cfg.imageSize, cfg.imageSize, cfg.channels] as const;
  return {
    imageShape: shape,
    defaults: DARL_SAMPLE_DEFAULTS as unknown as Record<string, unknown>,
    schema: DARL_SAMPLE_SCHEMA as unknown as ConfigSchema<Record<string, unknown>>,
    progressUnit: "patches",
    conditional: (o) => (o.completeRows as number | undefined ?? 0) > 0,
    async sample(req) {
      const o = { ...DARL_SAMPLE_DEFAULTS, ...req.options } as DarlSampleOptions;
      check(o.completeRows < g, `--complete-rows: expected fewer than ${g} rows of patches, got ${o.completeRows}`);
      let prefix: tf.Tensor | undefined;
      if (o.completeRows > 0) {
        check(req.images?.length === req.count * shape[0] * shape[1] * shape[2], "--complete-rows: needs real images");
        // The given rows are a prefix of the sequence only if the order visits them first.
        const first = patchOrder(cfg.patchOrder, g, g).subarray(0, o.completeRows * g);
        check(
          first.every((r) => r < o.completeRows * g),
          `--complete-rows: this model's ${cfg.patchOrder} patch order does not visit the top ${o.completeRows} rows first (give an even number)`,
        );
        prefix = tf.tidy(() =>
          patchify(tf.tensor4d(toUnitRange(req.images!), [req.count, ...shape]), cfg.patchSize, cfg.patchOrder)
            .slice([0, 0, 0], [req.count, o.completeRows * g, -1])
        );
      }
      try {
        const images = await sampleDarl(params, cfg, {
          count: req.count,
          steps: o.sampleSteps,
          sampler: o.sampler,
          temperature: o.temperature,
          mseNoise: o.mseNoise,
          seed: req.seed,
          useCache: !o.noKvCache,
          ...(prefix ? { prefix } : {}),
          ...(req.onProgress
            ? { onPatch: (done: number, total: number) => req.onProgress!(done * req.count, total * req.count) }
            : {}),
        });
        const u8 = unitToU8(await images.data());
        images.dispose();
        const how = cfg.objective === "diffusion"
          ? `${o.sampler.toUpperCase()}, ${o.sampleSteps} steps per patch, temperature ${o.temperature}`
          : `MSE mean${o.mseNoise > 0 ? ` + N(0, ${o.mseNoise}²) noise` : ""}`;
        return {
          images: u8,
          kind: o.completeRows > 0 ? `completion-r${o.completeRows}` : "unconditional",
          summary: `${how}${o.completeRows > 0 ? `, completing from ${o.completeRows} patch rows` : ""}`,
        };
      } finally {
        prefix?.dispose();
      }
    },
  };
}

/**
 * Whether a DARL model can be sampled: its outputs must be absolute pixels.
 *
 * @param cfg The model config.
 * @returns True for diffusion models and MSE models with global targets.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { canGenerate } from "./method.ts";
 * if (canGenerate(darlConfig("tiny")) || !canGenerate(darlConfig("tiny", { objective: "diffusion" }))) throw new Error();
 * ```
 */
export function canGenerate(cfg: DarlConfig): boolean {
  return cfg.objective === "diffusion" || cfg.target === "global";
}

/** A DARL model with its own variables, filled from a checkpoint. */
function darlFromCheckpoint(ck: Checkpoint, cfg: DarlConfig): DarlParams {
  const p = initDarl(cfg, 0);
  assignParams(p as never, ck.params, ck.path);
  return p;
}

function loadDarlCheckpoint(ck: Checkpoint, key: string): LoadedModel {
  const cfg = storedDarlConfig(ck.meta.model, ck.path);
  const fresh = () => darlFromCheckpoint(ck, cfg);
  const params = fresh();
  const what = cfg.objective === "diffusion"
    ? `diffusion, Beta(${cfg.noiseA}, ${cfg.noiseB}) noise, decoder depth ${cfg.decoderDepth}`
    : `MSE, ${cfg.target} targets`;
  const model: LoadedModel = {
    method: "darl",
    path: ck.path,
    checkpoint: ck,
    key,
    description:
      `DARL ${cfg.dim}d × ${cfg.depth} blocks, ${cfg.heads} heads, P=${cfg.patchSize}, ${cfg.posEncoding}, ` +
      `${what}; ${countParams(params)} parameters; step ${ck.meta.step}`,
    encoder: () => darlEncoder(fresh(), cfg, key, `DARL ${ck.path}`),
    dispose: () => disposeTree(params as never),
  };
  const dataset = (ck.meta.state as { dataset?: unknown }).dataset;
  if (typeof dataset === "string") model.dataset = dataset;
  if (canGenerate(cfg)) model.generator = darlGenerator(params, cfg);
  else {
    model.cannotGenerate = "this MSE model was trained on per-patch normalised targets, which cannot be turned " +
      "back into pixels; sample from a model trained with --target global (or --objective diffusion)";
  }
  return model;
}

registerMethod({
  method: "darl",
  sampling: {
    title: "DARL sampling",
    defaults: DARL_SAMPLE_DEFAULTS as unknown as Record<string, unknown>,
    schema: DARL_SAMPLE_SCHEMA as unknown as ConfigSchema<Record<string, unknown>>,
  },
  load: loadDarlCheckpoint,
  async pretrain(call) {
    const req = {
      model: call.model,
      train: call.train,
      resume: call.resume,
      ...(call.preset ? { preset: call.preset } : {}),
    };
    const { cfg, train } = await resolvePretrainConfigs(req as PretrainRequest);
    const r = await pretrainDarl(cfg, train, { resume: call.resume, ...(call.log ? { log: call.log } : {}) });
    disposeTree(r.state.params as unknown as ParamTree);
    disposeTrainer(r.state.trainer);
    return { step: r.step };
  },
});

/**
 * Loads a trained DARL model from a checkpoint (file or run directory).
 *
 * @param path A `.safetensors` checkpoint or a run directory.
 * @returns The parameters, config and checkpoint.
 * @example
 * ```ts
 * import { loadDarl } from "./method.ts";
 * try { await loadDarl("/no/such/run"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("not found")) throw e; }
 * ```
 */
export function loadDarl(path: string): Promise<{ params: DarlParams; cfg: DarlConfig; checkpoint: Checkpoint }> {
  return loadMethodCheckpoint(path, "darl", "a DARL one", storedDarlConfig, (cfg) => initDarl(cfg, 0));
}
