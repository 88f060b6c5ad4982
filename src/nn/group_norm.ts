/**
 * Group normalisation over NHWC feature maps (Wu & He 2018): the tokenizer's
 * normalisation, which unlike BatchNorm does not depend on the batch and so
 * behaves the same in training, evaluation and generation.
 *
 * @module
 */
import { hasKernel, tf } from "../tf.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "./layer_norm.ts";

/**
 * Gain and bias of a GroupNorm, both [channels] (the same shape as a
 * LayerNorm's, so {@linkcode initGroupNorm} reuses its initialiser).
 *
 * @example
 * ```ts
 * import { initGroupNorm, type GroupNormParams } from "./group_norm.ts";
 * const p: GroupNormParams = initGroupNorm(8);
 * if (p.g.shape[0] !== 8) throw new Error();
 * ```
 */
export type GroupNormParams = LayerNormParams;

/**
 * Initialises a GroupNorm with unit gain and zero bias.
 *
 * @param channels The channel count.
 * @returns The parameters.
 * @example
 * ```ts
 * import { initGroupNorm } from "./group_norm.ts";
 * const p = initGroupNorm(16);
 * if (p.b.shape[0] !== 16) throw new Error();
 * ```
 */
export function initGroupNorm(channels: number): GroupNormParams {
  return initLayerNorm(channels);
}

/** Kernel name of the fused group norm (+ optional swish). */
export const GROUP_NORM_KERNEL = "DarlGroupNorm";

/**
 * Normalises each group of channels over (H, W, channels in the group), then
 * applies the per-channel gain and bias and, with `swish`, the activation
 * a·σ(a) that follows every GroupNorm in the VQGAN (one fused pass on
 * darl-cpu: the stock composition's transposes, broadcasts and sigmoid
 * gradient cost more than the convolutions).
 *
 * @param p The parameters.
 * @param x Input [N, H, W, C]; C must be divisible by `groups`.
 * @param groups Number of groups (32 in the VQGAN; fewer for narrow layers).
 * @param eps Variance floor (1e-6 as in taming-transformers).
 * @param swish Whether to apply swish after the affine part.
 * @returns The normalised input, same shape.
 * @example
 * ```ts
 * import { hasKernel, tf } from "../tf.ts";
 * import { groupNorm, initGroupNorm } from "./group_norm.ts";
 * const y = groupNorm(initGroupNorm(4), tf.randomNormal([2, 3, 3, 4]), 2);
 * const m = await tf.mean(y.reshape([2, 9, 2, 2]).slice([0, 0, 0, 0], [1, 9, 1, 2])).data();
 * if (Math.abs(m[0]!) > 1e-5) throw new Error();
 * ```
 */
export function groupNorm(p: GroupNormParams, x: tf.Tensor, groups: number, eps = 1e-6, swish = false): tf.Tensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  if (hasKernel(GROUP_NORM_KERNEL) && x.dtype === "float32") {
    const [y, stats] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, g: p.g, b: p.b }, {
      groups,
      eps,
      swish,
    }) as tf.Tensor[];
    stats!.dispose();
    return y!;
  }
  return tf.tidy(() => {
    // Each (sample, group) becomes one row, normalised by the fused LayerNorm kernel where the backend has one
    // (unit gain, zero bias); the per-channel affine part follows. Stock moments over axes [1, 3] and their
    // broadcast gradients cost ~10× more on tfjs-cpu.
    const cg = c / groups, d = h * w * cg;
    const rows = x.reshape([n, h * w, groups, cg]).transpose([0, 2, 1, 3]).reshape([n * groups, d]);
    const normed = layerNorm({ g: tf.ones([d]), b: tf.zeros([d]) }, rows, eps);
    const a = normed.reshape([n, groups, h * w, cg]).transpose([0, 2, 1, 3]).reshape([n, h, w, c]).mul(p.g).add(p.b);
    return swish ? a.mul(tf.sigmoid(a)) : a;
  });
}
