/**
 * ADDP's benchmark inputs, shared by `addp_bench.ts` and `profile_step.ts`:
 * random token ids and the frozen tokenizer and predictor at their defaults
 * (random weights: speed does not depend on what they learned).
 *
 * @module
 */
import { tf } from "../src/tf.ts";
import { createRng } from "../src/rng.ts";
import type { FrozenParts } from "../src/addp/alternating_denoising.ts";
import { initPredictor, PREDICTOR_DEFAULTS } from "../src/addp/token_predictor.ts";
import { initTokenizer, TOKENIZER_DEFAULTS } from "../src/addp/tokenizer.ts";

/** Uniform token ids [batch, 49] over the default codebook, from a fixed seed. */
export function randomIds(batch: number): tf.Tensor2D {
  const rng = createRng(1);
  return tf.tensor2d(Int32Array.from({ length: batch * 49 }, () => rng.int(256)), [batch, 49], "int32");
}

/** The default tokenizer and token predictor with random weights. */
export function randomFrozen(): FrozenParts {
  const tcfg = TOKENIZER_DEFAULTS;
  return {
    tokenizer: { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never,
    predictor: initPredictor(PREDICTOR_DEFAULTS, 0),
    predictorCfg: PREDICTOR_DEFAULTS,
  };
}
