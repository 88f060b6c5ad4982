/**
 * The token predictor in the checkpoint registry (method "mage"), as a
 * {@linkcode Generator}: `deno task sample --ckpt <predictor run>` draws
 * MaskGIT samples, the baseline ADDP's samples are scored against. It
 * decodes with the tokenizer its run recorded. It has no image encoder: its
 * encoder reads token ids, so `probe` and `finetune` refuse it in one line.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { countParams, disposeTree, type ParamTree } from "../nn/tree.ts";
import { createRng } from "../rng.ts";
import { assignParams, type Checkpoint } from "../train/checkpoint.ts";
import { type Generator, type LoadedModel, registerMethod } from "../train/registry.ts";
import { unitToU8 } from "../viz/grid.ts";
import { checkTokensMatch, type LoadedTokenizer, loadTokenizer } from "./load.ts";
import { ADDP_SAMPLE_DEFAULTS, ADDP_SAMPLE_SCHEMA, ADDP_SAMPLING_TITLE } from "./method.ts";
import { initPredictor, type PredictorConfig, type PredictorParams, predictorTree } from "./token_predictor.ts";
import { MAGE_SAMPLING, predictorSample } from "./predictor_sample.ts";
import { PREDICTOR_CONFIG_SPEC } from "./predictor_train.ts";

/** The predictor's sampling options: ADDP's decoding flags, without the region ones. */
const KEYS = ["decodeSteps", "choiceTemperature", "maskSchedule", "topP"] as const;
type MageSampleOptions = { [K in (typeof KEYS)[number]]: (typeof ADDP_SAMPLE_DEFAULTS)[K] };
const DEFAULTS = Object.fromEntries(KEYS.map((k) => [k, ADDP_SAMPLE_DEFAULTS[k]])) as MageSampleOptions;
const SCHEMA = Object.fromEntries(KEYS.map((k) => [k, ADDP_SAMPLE_SCHEMA[k]])) as ConfigSchema<MageSampleOptions>;

/**
 * The token predictor as a generator: MaskGIT decoding from all masked, pixels from the tokenizer.
 *
 * @param params The predictor.
 * @param cfg Its config.
 * @param tok The tokenizer it reads.
 * @returns The generator.
 * @example
 * ```ts
 * import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { predictorGenerator } from "./predictor_method.ts";
 * const tcfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const cfg = { ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1, heads: 2, codebookSize: 8 };
 * const gen = predictorGenerator(initPredictor(cfg, 0), cfg, { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never);
 * const r = await gen.sample({ count: 2, seed: 0, options: { decodeSteps: 2 } });
 * if (r.images.length !== 2 * 784 || r.kind !== "unconditional") throw new Error();
 * ```
 */
export function predictorGenerator(params: PredictorParams, cfg: PredictorConfig, tok: LoadedTokenizer): Generator {
  return {
    imageShape: [tok.cfg.imageSize, tok.cfg.imageSize, tok.cfg.channels],
    defaults: DEFAULTS,
    schema: SCHEMA as unknown as ConfigSchema<Record<string, unknown>>,
    progressUnit: "steps",
    conditional: () => false,
    async sample(req) {
      const o = { ...DEFAULTS, ...req.options } as MageSampleOptions;
      const opts = {
        ...MAGE_SAMPLING,
        steps: o.decodeSteps,
        temperature: o.choiceTemperature,
        schedule: o.maskSchedule,
        topP: o.topP,
      };
      const x = await predictorSample(params, cfg, tok, req.count, createRng(req.seed), opts, req.onProgress);
      const images = unitToU8(await x.data());
      x.dispose();
      return {
        images,
        kind: "unconditional",
        summary:
          `MaskGIT with the token predictor, ${o.decodeSteps} steps (${o.maskSchedule}), choice temperature ${o.choiceTemperature}${
            o.topP < 1 ? `, top-p ${o.topP}` : ""
          }`,
      };
    },
  };
}

const NO_ENCODER = "a token predictor reads token ids and has no image encoder; probe the ADDP model trained with it";

async function load(ck: Checkpoint, key: string): Promise<LoadedModel> {
  const cfg = PREDICTOR_CONFIG_SPEC.stored(ck.meta.model, ck.path);
  const tokPath = (ck.meta.state as { tokenizer?: unknown }).tokenizer;
  if (typeof tokPath !== "string") throw new DarlError(`${ck.path}: records no tokenizer to decode its tokens`);
  const tok = await loadTokenizer(tokPath);
  checkTokensMatch(tok, cfg.tokens, cfg.codebookSize, ck.path);
  const params = initPredictor(cfg, 0);
  assignParams(predictorTree(params) as ParamTree, ck.params, ck.path);
  const model: LoadedModel = {
    method: "mage",
    path: ck.path,
    checkpoint: ck,
    key,
    description:
      `token predictor (MAGE-style) ${cfg.width}d × ${cfg.depth} + ${cfg.decoderDepth} blocks, K ${cfg.codebookSize}, ${cfg.tokens} tokens; ${
        countParams(params)
      } parameters; step ${ck.meta.step}; tokenizer ${tok.checkpoint.path}`,
    cannotEncode: NO_ENCODER,
    encoder: () => {
      throw new DarlError(`${ck.path}: ${NO_ENCODER}`);
    },
    generator: predictorGenerator(params, cfg, tok),
    dispose: () => {
      disposeTree(predictorTree(params) as ParamTree);
      disposeTree(tok.params as unknown as ParamTree);
    },
  };
  const dataset = (ck.meta.state as { dataset?: unknown }).dataset;
  if (typeof dataset === "string") model.dataset = dataset;
  return model;
}

registerMethod({
  method: "mage",
  sampling: { title: ADDP_SAMPLING_TITLE, defaults: DEFAULTS, schema: SCHEMA as never },
  load,
});
