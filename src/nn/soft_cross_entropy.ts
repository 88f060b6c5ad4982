/**
 * Cross-entropy against a soft target distribution with label smoothing, as
 * PyTorch's `CrossEntropyLoss(label_smoothing=ε)` computes it for
 * probability targets: the target becomes (1 − ε)·q + ε/K. ADDP trains on the
 * frozen predictor's distribution; a hard label is a one-hot q.
 *
 * @module
 */
import { tf } from "../tf.ts";

/**
 * Mean soft cross-entropy over the rows selected by `weights`.
 *
 * @param logits [..., K] unnormalised scores.
 * @param target [..., K] probabilities (rows sum to 1), or int32 class ids [...].
 * @param smoothing Label smoothing ε in [0, 1).
 * @param weights Optional [...] row weights (1 on masked positions, 0
 *   elsewhere): the loss is Σ w·CE / Σ w.
 * @returns A scalar.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { softCrossEntropy } from "./soft_cross_entropy.ts";
 * const l = softCrossEntropy(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]]), 0);
 * if (Math.abs((await l.data())[0]! - Math.log(2)) > 1e-6) throw new Error();
 * ```
 */
export function softCrossEntropy(
  logits: tf.Tensor,
  target: tf.Tensor,
  smoothing = 0,
  weights?: tf.Tensor,
): tf.Scalar {
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`softCrossEntropy: smoothing ${smoothing} is not in [0, 1)`);
  const k = logits.shape[logits.shape.length - 1]!;
  return tf.tidy(() => {
    const q = target.dtype === "int32" ? tf.oneHot(target, k).toFloat() : target;
    const smoothed = smoothing > 0 ? q.mul(1 - smoothing).add(smoothing / k) : q;
    const ce = smoothed.mul(tf.logSoftmax(logits)).sum(-1).neg();
    if (!weights) return ce.mean() as tf.Scalar;
    return ce.mul(weights).sum().div(weights.sum().maximum(1e-12)) as tf.Scalar;
  });
}
