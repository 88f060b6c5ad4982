/**
 * The token predictor as a generator on its own (MAGE's sampler, the
 * baseline for ADDP's samples): MaskGIT decoding of token grids with every
 * token committed at the last step, then the tokenizer's decoder to pixels.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import type { LoadedTokenizer } from "./load.ts";
import { maskgitGenerate, type MaskGitOptions } from "./maskgit.ts";
import { type PredictorConfig, predictorLogits, type PredictorParams } from "./token_predictor.ts";
import { detokenize } from "./tokenizer.ts";

/**
 * MAGE's sampling defaults at small L (spec §5, §8.9: 12 steps, cosine, choice temperature 4.5).
 *
 * @example
 * ```ts
 * import { MAGE_SAMPLING } from "./predictor_sample.ts";
 * if (MAGE_SAMPLING.variant !== "maskgit" || MAGE_SAMPLING.steps !== 12) throw new Error();
 * ```
 */
export const MAGE_SAMPLING: MaskGitOptions = {
  steps: 12,
  temperature: 4.5,
  schedule: "cosine",
  topP: 1,
  variant: "maskgit",
};

/**
 * Generates images with the predictor and a tokenizer.
 *
 * @param p The predictor.
 * @param cfg Its config.
 * @param tok The tokenizer whose codes it predicts.
 * @param count Images.
 * @param rng The generator.
 * @param opts Decoding settings.
 * @param onStep Progress: step done and total.
 * @returns Images [count, H, W, C] in [−1, 1] (unclipped decoder output), as a tensor the caller disposes.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { MAGE_SAMPLING, predictorSample } from "./predictor_sample.ts";
 * const tcfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const pcfg = { ...PREDICTOR_DEFAULTS, codebookSize: 8, width: 16, depth: 1, decoderDepth: 1 };
 * const tok = { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never;
 * const x = await predictorSample(initPredictor(pcfg, 0), pcfg, tok, 2, createRng(0), { ...MAGE_SAMPLING, steps: 2 });
 * if (x.shape.join() !== "2,28,28,1") throw new Error();
 * ```
 */
export async function predictorSample(
  p: PredictorParams,
  cfg: PredictorConfig,
  tok: LoadedTokenizer,
  count: number,
  rng: Rng,
  opts: MaskGitOptions,
  onStep?: (done: number, total: number) => void,
): Promise<tf.Tensor> {
  const { ids } = await maskgitGenerate(
    (t, mask) => predictorLogits(p, cfg, t, mask, null),
    count,
    cfg.tokens,
    rng,
    opts,
    undefined,
    (s) => onStep?.(s.step + 1, opts.steps),
  );
  return tf.tidy(() => detokenize(tok.params, tok.cfg, tf.tensor2d(ids, [count, cfg.tokens], "int32")));
}
