/**
 * The VQ tokenizer's training objective: MSE reconstruction through the
 * straight-through quantiser plus the β-weighted commitment term (the
 * codebook itself learns by EMA, outside the gradient).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { quantize } from "./vector_quantizer.ts";
import { type TokenizerConfig, tokenizerDecode, tokenizerEncode, type TokenizerParams } from "./tokenizer.ts";

/** What {@linkcode tokenizerLoss} returns: the loss and the intermediates the training step needs.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { tokenizerLoss, type TokenizerLossOutput } from "./tokenizer_loss.ts";
 * const out: TokenizerLossOutput = tokenizerLoss(initTokenizer(TOKENIZER_DEFAULTS, 0), TOKENIZER_DEFAULTS, tf.zeros([1, 28, 28, 1]));
 * if (out.z.shape.join() !== "1,7,7,32") throw new Error();
 * ```
 */
export interface TokenizerLossOutput {
  /** Reconstruction MSE + β·commitment. */
  loss: tf.Scalar;
  /** Mean squared reconstruction error in the [−1, 1] pixel scale. */
  mse: tf.Scalar;
  /** Encoder outputs before quantisation (the codebook's EMA statistics are built from them). */
  z: tf.Tensor;
  /** Their code ids [N, g, g]. */
  ids: tf.Tensor;
  /** Reconstructions. */
  recon: tf.Tensor;
}

/**
 * The tokenizer's training loss on a batch: MSE reconstruction through the
 * straight-through quantiser plus the commitment term (the codebook itself
 * learns by EMA, outside the gradient).
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param images [N, H, W, C] in [−1, 1].
 * @returns Loss and intermediates.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { tokenizerLoss } from "./tokenizer_loss.ts";
 * const out = tokenizerLoss(initTokenizer(TOKENIZER_DEFAULTS, 0), TOKENIZER_DEFAULTS, tf.zeros([2, 28, 28, 1]));
 * if (out.recon.shape.join() !== "2,28,28,1" || out.ids.shape.join() !== "2,7,7") throw new Error();
 * ```
 */
export function tokenizerLoss(p: TokenizerParams, cfg: TokenizerConfig, images: tf.Tensor): TokenizerLossOutput {
  const z = tokenizerEncode(p, cfg, images);
  const { ids, zq, commitment } = quantize(p.codebook, z, cfg.beta);
  const recon = tokenizerDecode(p, cfg, zq);
  const [loss, mse] = tf.tidy(() => {
    const mse = tf.mean(tf.square(recon.sub(images))) as tf.Scalar;
    return [mse.add(commitment) as tf.Scalar, mse];
  });
  // zq and commitment stay alive: a gradient tape around this call still needs them; the caller's tidy frees them.
  return { loss, mse, z, ids, recon };
}
