/**
 * ADDP in the checkpoint registry: an ADDP checkpoint (self-contained, with
 * its tokenizer) loads as an {@linkcode Encoder} (the pixel encoder, for
 * probes, VTAB and fine-tuning) and a {@linkcode Generator} (unconditional
 * samples, inpainting and outpainting), so every task takes it unchanged.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { toUnitRange } from "../data/batches.ts";
import { countParams, disposeTree, type ParamTree } from "../nn/tree.ts";
import { createRng } from "../rng.ts";
import { assignParams, type Checkpoint } from "../train/checkpoint.ts";
import { type Generator, type LoadedModel, registerMethod } from "../train/registry.ts";
import { unitToU8 } from "../viz/grid.ts";
import { addpEncoder } from "./encoder.ts";
import { ADDP_SAMPLING, addpGenerate } from "./generate.ts";
import type { LoadedTokenizer } from "./load.ts";
import { type AddpConfig, type AddpParams, initAddp } from "./model.ts";
import { ADDP_CONFIG_SPEC, ensureComponents, pretrainAddp, resolveAddpConfigs } from "./pretrain.ts";
import { boxTokens, maskTokens, parseBox } from "./region.ts";
import { initTokenizer, tokenize } from "./tokenizer.ts";
import { TOKENIZER_CONFIG_SPEC } from "./tokenizer_train.ts";

/**
 * ADDP's sampling options (`deno task sample` flags on an ADDP checkpoint).
 *
 * @example
 * ```ts
 * import { ADDP_SAMPLE_DEFAULTS, type AddpSampleOptions } from "./method.ts";
 * const o: AddpSampleOptions = { ...ADDP_SAMPLE_DEFAULTS, inpaint: "0,14,28,28" };
 * if (o.decodeSteps !== 12) throw new Error();
 * ```
 */
export interface AddpSampleOptions {
  /** Decoding steps S. */
  decodeSteps: number;
  /** Choice temperature τ₀ of the Gumbel noise on confidences (annealed to 0). */
  choiceTemperature: number;
  /** Mask schedule. */
  maskSchedule: "cosine" | "linear";
  /** Nucleus sampling mass (1: off). */
  topP: number;
  /** Generate inside this pixel box "x0,y0,x1,y1" of real test images, keeping the rest. */
  inpaint: string;
  /** Keep this pixel box of real test images, generate the rest. */
  outpaint: string;
  /** Generate where this image-sized PNG is white, keeping the rest of real test images. */
  maskPng: string;
}

/**
 * The title of the sampling flags in `deno task sample --help`, shared by ADDP
 * and the token predictor's MaskGIT (which takes the decoding flags only).
 *
 * @example
 * ```ts
 * import { ADDP_SAMPLING_TITLE } from "./method.ts";
 * if (!ADDP_SAMPLING_TITLE.includes("MaskGIT")) throw new Error();
 * ```
 */
export const ADDP_SAMPLING_TITLE = "ADDP and MaskGIT (token predictor) sampling";

/**
 * Defaults of {@linkcode AddpSampleOptions}.
 *
 * @example
 * ```ts
 * import { ADDP_SAMPLE_DEFAULTS } from "./method.ts";
 * if (ADDP_SAMPLE_DEFAULTS.maskSchedule !== "cosine") throw new Error();
 * ```
 */
export const ADDP_SAMPLE_DEFAULTS: AddpSampleOptions = {
  decodeSteps: ADDP_SAMPLING.steps,
  choiceTemperature: ADDP_SAMPLING.temperature,
  maskSchedule: "cosine",
  topP: 1,
  inpaint: "",
  outpaint: "",
  maskPng: "",
};

/**
 * Documentation and bounds of {@linkcode AddpSampleOptions}.
 *
 * @example
 * ```ts
 * import { ADDP_SAMPLE_SCHEMA } from "./method.ts";
 * if (ADDP_SAMPLE_SCHEMA.decodeSteps.min !== 1) throw new Error();
 * ```
 */
export const ADDP_SAMPLE_SCHEMA: ConfigSchema<AddpSampleOptions> = {
  decodeSteps: { doc: "ADDP/MaskGIT: decoding steps", integer: true, min: 1, max: 10000 },
  choiceTemperature: { doc: "ADDP/MaskGIT: Gumbel temperature on confidences, annealed to 0", min: 0, max: 1000 },
  maskSchedule: { doc: "ADDP/MaskGIT: how fast tokens are committed", choices: ["cosine", "linear"] },
  topP: { doc: "ADDP/MaskGIT: nucleus sampling mass (1: off)", above: 0, max: 1 },
  inpaint: { doc: "ADDP: generate inside pixel box x0,y0,x1,y1 of real test images" },
  outpaint: { doc: "ADDP: keep pixel box x0,y0,x1,y1 of real test images, generate the rest" },
  maskPng: { doc: "ADDP: generate where this image-sized PNG is white, keep the rest" },
};

/**
 * ADDP as a generator: unconditional, or completing real images around (or inside) a region.
 *
 * @param params ADDP's parameters.
 * @param cfg Its config.
 * @param tok Its tokenizer.
 * @returns The generator.
 * @example
 * ```ts
 * import { ADDP_DEFAULTS, initAddp } from "./model.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { addpGenerator } from "./method.ts";
 * const tcfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const cfg = { ...ADDP_DEFAULTS, dim: 16, depth: 1, decoderDepth: 1, heads: 2, codebookSize: 8 };
 * const gen = addpGenerator(initAddp(cfg, 0), cfg, { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never);
 * const r = await gen.sample({ count: 2, seed: 0, options: { decodeSteps: 2 } });
 * if (r.images.length !== 2 * 784 || r.kind !== "unconditional") throw new Error();
 * ```
 */
export function addpGenerator(params: AddpParams, cfg: AddpConfig, tok: LoadedTokenizer): Generator {
  const shape = [cfg.imageSize, cfg.imageSize, cfg.channels] as const, g = cfg.imageSize / cfg.patchSize;
  const regionOf = (o: AddpSampleOptions) => [o.inpaint, o.outpaint, o.maskPng].filter((v) => v !== "").length;
  return {
    imageShape: shape,
    defaults: ADDP_SAMPLE_DEFAULTS as unknown as Record<string, unknown>,
    schema: ADDP_SAMPLE_SCHEMA as unknown as ConfigSchema<Record<string, unknown>>,
    progressUnit: "steps",
    conditional: (o) => regionOf({ ...ADDP_SAMPLE_DEFAULTS, ...o } as AddpSampleOptions) > 0,
    async sample(req) {
      const o = { ...ADDP_SAMPLE_DEFAULTS, ...req.options } as AddpSampleOptions;
      check(regionOf(o) <= 1, "--inpaint, --outpaint, --mask-png: give at most one");
      let region: Uint8Array | null = null, kind = "unconditional";
      if (o.inpaint) {
        [region, kind] = [boxTokens(parseBox(o.inpaint, cfg.imageSize, "--inpaint"), g, cfg.patchSize), "inpaint"];
      }
      if (o.outpaint) {
        const keep = boxTokens(parseBox(o.outpaint, cfg.imageSize, "--outpaint"), g, cfg.patchSize);
        [region, kind] = [keep.map((v) => 1 - v), "outpaint"];
        check(region.some((v) => v === 1), "--outpaint: the box covers every token, so nothing is left to generate");
      }
      if (o.maskPng) [region, kind] = [await maskTokens(o.maskPng, cfg.imageSize, g, "--mask-png"), "mask"];
      let known: { ids: Int32Array; known: Uint8Array } | undefined;
      if (region) {
        check(req.images?.length === req.count * shape[0] * shape[1] * shape[2], `--${kind}: needs real images`);
        const ids = tf.tidy(() =>
          tokenize(tok.params, tok.cfg, tf.tensor4d(toUnitRange(req.images!), [req.count, ...shape]))
        );
        const flags = new Uint8Array(req.count * g * g);
        for (let b = 0; b < req.count; b++) flags.set(region.map((v) => 1 - v), b * g * g);
        known = { ids: await ids.data() as Int32Array, known: flags };
        ids.dispose();
      }
      const opts = {
        steps: o.decodeSteps,
        temperature: o.choiceTemperature,
        schedule: o.maskSchedule,
        topP: o.topP,
        variant: "addp" as const,
      };
      const x = await addpGenerate(params, cfg, tok, req.count, createRng(req.seed), opts, known, req.onProgress);
      const images = unitToU8(await x.data());
      x.dispose();
      const what = region ? `, ${region.reduce((a, v) => a + v, 0)} of ${g * g} tokens generated (${kind})` : "";
      return {
        images,
        kind,
        summary: `ADDP, ${o.decodeSteps} steps (${o.maskSchedule}), choice temperature ${o.choiceTemperature}` +
          `${o.topP < 1 ? `, top-p ${o.topP}` : ""}${what}`,
      };
    },
  };
}

/** ADDP and its tokenizer, filled from a checkpoint. */
function fromCheckpoint(ck: Checkpoint): { params: AddpParams; cfg: AddpConfig; tok: LoadedTokenizer } {
  const cfg = ADDP_CONFIG_SPEC.stored(ck.meta.model, ck.path);
  const tcfg = TOKENIZER_CONFIG_SPEC.stored((ck.meta.model.tokenizer ?? {}) as Record<string, unknown>, ck.path);
  const params = initAddp(cfg, 0), tokParams = initTokenizer(tcfg, 0);
  assignParams({ ...params, tokenizer: tokParams } as unknown as ParamTree, ck.params, ck.path);
  return { params, cfg, tok: { params: tokParams, cfg: tcfg, checkpoint: ck } };
}

registerMethod({
  method: "addp",
  sampling: {
    title: ADDP_SAMPLING_TITLE,
    defaults: ADDP_SAMPLE_DEFAULTS as unknown as Record<string, unknown>,
    schema: ADDP_SAMPLE_SCHEMA as unknown as ConfigSchema<Record<string, unknown>>,
  },
  load(ck: Checkpoint, key: string): LoadedModel {
    const { params, cfg, tok } = fromCheckpoint(ck);
    const model: LoadedModel = {
      method: "addp",
      path: ck.path,
      checkpoint: ck,
      key,
      description:
        `ADDP ${cfg.dim}d × ${cfg.depth} + ${cfg.decoderDepth} blocks, ${cfg.heads} heads, P=${cfg.patchSize}, ` +
        `K ${cfg.codebookSize}, mapping ${cfg.mapping}; ${countParams(params)} parameters; step ${ck.meta.step}`,
      encoder: () => {
        const fresh = fromCheckpoint(ck);
        disposeTree(fresh.tok.params as unknown as ParamTree);
        return addpEncoder(fresh.params, cfg, key, `ADDP ${ck.path}`);
      },
      generator: addpGenerator(params, cfg, tok),
      dispose: () => disposeTree({ ...params, tokenizer: tok.params } as unknown as ParamTree),
    };
    const dataset = (ck.meta.state as { dataset?: unknown }).dataset;
    if (typeof dataset === "string") model.dataset = dataset;
    return model;
  },
  async pretrain(call) {
    const req = { model: call.model, train: call.train, resume: call.resume };
    const { cfg, train } = await resolveAddpConfigs(req as Parameters<typeof resolveAddpConfigs>[0]);
    const log = call.log ?? (() => {});
    await ensureComponents(train, log);
    const r = await pretrainAddp(cfg, train, { resume: call.resume, log });
    disposeTree(r.params as unknown as ParamTree);
    return { step: r.step };
  },
});
