/**
 * One step of ADDP's alternating denoising (spec §1.2–1.8): from clean token
 * ids z₀, draw a timestep pair and nested masks m_t ⊆ m_{t+1}; ask the frozen
 * predictor twice, with m_{t+1} and with m_t masked; map the first answer to
 * codebook space for the unreliable tokens (the mapping function f), decode
 * that latent to a synthetic noisy image x_t with the frozen tokenizer, and
 * train ADDP to predict, from x_t and the reliable tokens, the second answer
 * q(z̄_{t−1} | z_t) at the unreliable positions (soft-target cross-entropy).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { softCrossEntropy } from "../nn/soft_cross_entropy.ts";
import type { LoadedTokenizer } from "./load.ts";
import { nestedMasks, sampleTimesteps, type TimestepDraw, type TimestepGrid } from "./mask_schedule.ts";
import { type AddpConfig, addpLogits, type AddpParams } from "./model.ts";
import { type PredictorConfig, predictorLogits, type PredictorParams } from "./token_predictor.ts";
import { lookupCodes } from "./vector_quantizer.ts";
import { tokenizerDecode } from "./tokenizer.ts";

/**
 * How the unreliable tokens' predicted distribution P becomes a latent vector:
 * the probability-weighted codebook sum P·C (the paper's choice), the most
 * likely code, or a sampled one.
 *
 * @example
 * ```ts
 * import type { MappingFunction } from "./alternating_denoising.ts";
 * const f: MappingFunction = "weighted";
 * if (f !== "weighted") throw new Error();
 * ```
 */
export type MappingFunction = "weighted" | "argmax" | "sampled";

/**
 * The frozen components ADDP trains against.
 *
 * @example
 * ```ts
 * import type { FrozenParts } from "./alternating_denoising.ts";
 * const describe = (f: FrozenParts) => `${f.tokenizer.cfg.codebookSize} codes, predictor width ${f.predictorCfg.width}`;
 * if (typeof describe !== "function") throw new Error();
 * ```
 */
export interface FrozenParts {
  /** The VQ tokenizer. */
  tokenizer: LoadedTokenizer;
  /** The token predictor. */
  predictor: PredictorParams;
  /** Its config. */
  predictorCfg: PredictorConfig;
}

/**
 * Maps distributions over codes to latent vectors.
 *
 * @param probs [N, K] probabilities.
 * @param codebook C [K, D].
 * @param mapping The mapping function.
 * @param seed Seed of the "sampled" draw.
 * @returns [N, D].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { mapToLatent } from "./alternating_denoising.ts";
 * const C = tf.tensor2d([[0, 0], [2, 4]]);
 * const v = await mapToLatent(tf.tensor2d([[0.75, 0.25]]), C, "weighted").data();
 * if (v[0] !== 0.5 || v[1] !== 1) throw new Error();
 * ```
 */
export function mapToLatent(probs: tf.Tensor, codebook: tf.Tensor, mapping: MappingFunction, seed = 0): tf.Tensor {
  return tf.tidy(() => {
    if (mapping === "weighted") return tf.matMul(probs as tf.Tensor2D, codebook as tf.Tensor2D);
    // Sampling by the Gumbel-max trick: argmax(log p + G) is a draw from p. (tfjs-cpu's seeded multinomial gave
    // the same code for all 2,000 rows of one 50/50 distribution.)
    const gumbel = () => tf.randomUniform(probs.shape, 1e-20, 1, "float32", seed).log().neg().log().neg();
    const ids = mapping === "argmax" ? tf.argMax(probs, -1) : tf.argMax(tf.log(probs.add(1e-30)).add(gumbel()), -1);
    return lookupCodes(codebook, ids);
  });
}

/** What {@linkcode alternatingTargets} prepares for one training step (no gradients flow into any of it).
 *
 * @example
 * ```ts
 * import type { AlternatingTargets } from "./alternating_denoising.ts";
 * const unreliable = (t: AlternatingTargets) => t.draw.count;
 * if (typeof unreliable !== "function") throw new Error();
 * ```
 */
export interface AlternatingTargets {
  /** The timestep pair and counts. */
  draw: TimestepDraw;
  /** m_t [B·L], 1 = unreliable. */
  mask: Uint8Array;
  /** m_{t+1} [B·L] ⊇ m_t. */
  maskNext: Uint8Array;
  /** The mixed latent x_t is decoded from [B, g, g, D]: f(P) on m_t, C[z₀] elsewhere. */
  latent: tf.Tensor;
  /** The synthetic noisy image x_t [B, H, W, C], clipped to [−1, 1]. */
  images: tf.Tensor;
  /** The training target q(z̄_{t−1} | z_t) [B, L, K]. */
  target: tf.Tensor;
}

/**
 * Prepares a step's inputs and targets from clean ids (spec §1.2–1.5).
 *
 * @param frozen Tokenizer and predictor.
 * @param ids z₀ [B, L] int32.
 * @param rng The generator (timesteps, masks, the sampled mapping).
 * @param grid The timestep grid.
 * @param mapping The mapping function.
 * @returns Masks, x_t and the soft target (the caller disposes the tensors).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { timestepGrid } from "./mask_schedule.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { alternatingTargets } from "./alternating_denoising.ts";
 * const tcfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const pcfg = { ...PREDICTOR_DEFAULTS, codebookSize: 8, width: 16, depth: 1, decoderDepth: 1 };
 * const frozen = { tokenizer: { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never, predictor: initPredictor(pcfg, 0), predictorCfg: pcfg };
 * const t = alternatingTargets(frozen, tf.zeros([2, 49], "int32"), createRng(0), timestepGrid(), "weighted");
 * if (t.images.shape.join() !== "2,28,28,1" || t.target.shape.join() !== "2,49,8") throw new Error();
 * ```
 */
export function alternatingTargets(
  frozen: FrozenParts,
  ids: tf.Tensor,
  rng: Rng,
  grid: TimestepGrid,
  mapping: MappingFunction,
): AlternatingTargets {
  const [b, l] = ids.shape as [number, number];
  const draw = sampleTimesteps(rng, grid, l);
  const { mask, maskNext } = nestedMasks(rng, b, l, draw.count, draw.countNext);
  const seed = rng.int(2 ** 31);
  const tok = frozen.tokenizer, pc = frozen.predictorCfg;
  const [latent, images, target] = tf.tidy(() => {
    const probsNext = tf.softmax(predictorLogits(frozen.predictor, pc, ids, maskNext, null));
    const target = tf.softmax(predictorLogits(frozen.predictor, pc, ids, mask, null));
    const embed = tok.params.codebook.embed, d = tok.cfg.codeDim, g = Math.round(Math.sqrt(l));
    const unreliable = mapToLatent(probsNext.reshape([b * l, -1]), embed, mapping, seed);
    const m = tf.tensor2d(mask, [b * l, 1]).toFloat();
    const latent = unreliable.mul(m).add(lookupCodes(embed, ids.reshape([b * l])).mul(m.neg().add(1)));
    const grid = latent.reshape([b, g, g, d]);
    return [grid, tokenizerDecode(tok.params, tok.cfg, grid).clipByValue(-1, 1), target];
  });
  return { draw, mask, maskNext, latent, images, target };
}

/**
 * ADDP's loss: soft-target cross-entropy with label smoothing, averaged over
 * the unreliable positions of the batch (spec §1.8).
 *
 * @param p ADDP's parameters.
 * @param cfg Its config.
 * @param ids z₀ [B, L] (only the reliable positions are read).
 * @param t The step's inputs and targets.
 * @param smoothing Label smoothing (0.1).
 * @returns The scalar loss.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { ADDP_DEFAULTS, initAddp } from "./model.ts";
 * import { addpLoss } from "./alternating_denoising.ts";
 * const cfg = { ...ADDP_DEFAULTS, dim: 16, depth: 1, decoderDepth: 1, heads: 2, codebookSize: 8 };
 * const mask = new Uint8Array(49).fill(1);
 * const t = { draw: { k: 1, kNext: 1, count: 49, countNext: 49 }, mask, maskNext: mask, latent: tf.zeros([1, 7, 7, 4]), images: tf.zeros([1, 28, 28, 1]), target: tf.fill([1, 49, 8], 1 / 8) };
 * const loss = addpLoss(initAddp(cfg, 0), cfg, tf.zeros([1, 49], "int32"), t);
 * if (!(Math.abs((await loss.data())[0]! - Math.log(8)) < 0.5)) throw new Error();
 * ```
 */
export function addpLoss(
  p: AddpParams,
  cfg: AddpConfig,
  ids: tf.Tensor,
  t: AlternatingTargets,
  smoothing = 0.1,
): tf.Scalar {
  const [b, l] = ids.shape as [number, number];
  return tf.tidy(() => {
    const logits = addpLogits(p, cfg, t.images, ids, t.mask);
    return softCrossEntropy(logits, t.target, smoothing, tf.tensor2d(t.mask, [b, l]).toFloat());
  });
}
