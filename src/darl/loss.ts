/**
 * DARL's next-patch MSE objective (spec §2): every output t regresses the
 * patch x_t; the loss is averaged over pixels, positions and batch.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { DarlConfig, TargetNorm } from "./config.ts";
import { type DarlForward, darlForward, type DarlParams } from "./model.ts";
import { patchify } from "../nn/patchify.ts";

/**
 * The regression target for patches: per-patch normalised (MAE's norm_pix:
 * mean and variance over the patch, eps 1e-6) or the globally normalised
 * pixels themselves.
 *
 * @param patches [B, T, P²C] globally normalised patches.
 * @param mode "patch" or "global".
 * @returns The target, same shape.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { patchTarget } from "./loss.ts";
 * const t = patchTarget(tf.tensor3d([[[1, 3]]]), "patch");
 * const v = await t.data();
 * if (Math.abs(v[0]! + 1) > 1e-3 || Math.abs(v[1]! - 1) > 1e-3) throw new Error();
 * ```
 */
export function patchTarget(patches: tf.Tensor, mode: TargetNorm): tf.Tensor {
  if (mode === "global") return patches;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(patches, -1, true);
    return tf.div(tf.sub(patches, mean), tf.sqrt(tf.add(variance, 1e-6)));
  });
}

/**
 * The loss and the forward pass it came from.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { type DarlLoss, darlMseLoss } from "./loss.ts";
 * import { initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const out: DarlLoss = darlMseLoss(initDarl(cfg, 0), cfg, tf.zeros([1, 28, 28, 1]));
 * if (out.target.shape.join() !== "1,49,16") throw new Error();
 * ```
 */
export interface DarlLoss {
  /** Scalar loss. */
  loss: tf.Scalar;
  /** Named intermediates of the forward pass. */
  forward: DarlForward;
  /** The target [B, T, P²C]. */
  target: tf.Tensor;
}

/**
 * Next-patch MSE on a batch of images.
 *
 * With a prefix p > 1 (AIM's prefix attention), the inputs [SOS, x1 … x_{p−1}]
 * attend to each other, so outputs 0 … p − 2 could see the patch they
 * predict: they leave the loss, which averages over the other T − p + 1.
 *
 * @param params The model.
 * @param cfg Its config.
 * @param images [B, H, W, C] in [−1, 1].
 * @param prefix Input tokens seen by every token (1, the default: plain causal, every output in the loss).
 * @returns Loss, forward pass and target.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { darlMseLoss } from "./loss.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const { loss } = darlMseLoss(initDarl(cfg, 0), cfg, tf.randomUniform([2, 28, 28, 1], -1, 1));
 * if (!((await loss.data())[0]! > 0)) throw new Error();
 * const last = darlMseLoss(initDarl(cfg, 0), cfg, tf.randomUniform([2, 28, 28, 1], -1, 1), 49); // predicts x49 only
 * if (!((await last.loss.data())[0]! > 0)) throw new Error();
 * ```
 */
export function darlMseLoss(params: DarlParams, cfg: DarlConfig, images: tf.Tensor, prefix = 1): DarlLoss {
  const patches = patchify(images, cfg.patchSize, cfg.patchOrder);
  const T = patches.shape[1]!;
  if (!(Number.isInteger(prefix) && prefix >= 1 && prefix <= T)) {
    throw new Error(`darlMseLoss: prefix ${prefix} is not an integer in [1, ${T}]`);
  }
  const forward = darlForward(params, cfg, patches, { causal: true, prefix, shift: true, head: true });
  const target = patchTarget(patches, cfg.target);
  const loss = (prefix === 1 ? tf.mean(tf.squaredDifference(forward.pred!, target)) : tf.mean(
    tf.squaredDifference(forward.pred!.slice([0, prefix - 1, 0]), target.slice([0, prefix - 1, 0])),
  )) as tf.Scalar;
  return { loss, forward, target };
}
