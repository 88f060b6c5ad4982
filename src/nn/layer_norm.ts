/**
 * Layer normalisation over the last axis. Uses the fused `DarlLayerNorm`
 * kernel when the backend has one, else stock tfjs ops.
 *
 * @module
 */
import { hasKernel, tf } from "../tf.ts";
import { constant } from "./init.ts";

/**
 * Gain and bias of a LayerNorm, both [dim].
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initLayerNorm, layerNorm, type LayerNormParams } from "./layer_norm.ts";
 * const p: LayerNormParams = initLayerNorm(4); // gain 1, bias 0
 * const y = await layerNorm(p, tf.tensor2d([[1, 2, 3, 4]])).data();
 * if (Math.abs(y[0]! + y[3]!) > 1e-5) throw new Error();
 * ```
 */
export interface LayerNormParams {
  /** Gain γ. */
  g: tf.Tensor;
  /** Bias β. */
  b: tf.Tensor;
}

/** Kernel name of the fused layer norm. */
export const LAYER_NORM_KERNEL = "DarlLayerNorm";

/**
 * Initialises a LayerNorm with unit gain and zero bias.
 *
 * @param dim The normalised width.
 * @returns The parameters.
 * @example
 * ```ts
 * import { initLayerNorm } from "./layer_norm.ts";
 * const p = initLayerNorm(4);
 * if (p.g.shape[0] !== 4) throw new Error();
 * ```
 */
export function initLayerNorm(dim: number): LayerNormParams {
  return { g: constant([dim], 1), b: constant([dim], 0) };
}

/**
 * (x − mean)/√(var + eps)·g + b over the last axis.
 *
 * @param p Gain and bias, or null for no affine part.
 * @param x Input [..., dim].
 * @param eps Added to the variance (1e-5 as in PyTorch; 1e-6 for MAE heads).
 * @returns The normalised tensor, same shape.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { layerNorm } from "./layer_norm.ts";
 * const y = layerNorm(null, tf.tensor2d([[1, 2, 3, 4]]));
 * const m = (await y.mean().data())[0]!;
 * if (Math.abs(m) > 1e-6) throw new Error();
 * ```
 */
export function layerNorm(p: LayerNormParams | null, x: tf.Tensor, eps = 1e-5): tf.Tensor {
  if (p && hasKernel(LAYER_NORM_KERNEL)) {
    // Outputs: y, and per-row statistics [2, rows] (means, then 1/std) kept for the gradient.
    const [y, stats] = tf.engine().runKernel(LAYER_NORM_KERNEL, { x, g: p.g, b: p.b }, { eps }) as tf.Tensor[];
    stats!.dispose();
    return y!;
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    const y = tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
    return p ? tf.add(tf.mul(y, p.g), p.b) : y;
  });
}
