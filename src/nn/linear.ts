/**
 * A dense layer y = x·W + b over the last axis, as a pure function.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { constant, xavierUniform } from "./init.ts";

/**
 * Parameters of {@linkcode linear}: W is [in, out], b is [out].
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { linear, type LinearParams } from "./linear.ts";
 * const p: LinearParams = { w: tf.tensor2d([[1, 0], [0, 2]]), b: tf.tensor1d([0, 1]) };
 * if ((await linear(p, tf.tensor2d([[3, 4]])).data()).join() !== "3,9") throw new Error();
 * ```
 */
export interface LinearParams {
  /** Weight matrix [in, out]. */
  w: tf.Tensor;
  /** Bias [out], or absent. */
  b?: tf.Tensor;
}

/**
 * Initialises a dense layer (Xavier-uniform weights, zero bias).
 *
 * @param rng The generator.
 * @param inDim Input width.
 * @param outDim Output width.
 * @param bias Whether to include a bias.
 * @returns The parameters.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initLinear } from "./linear.ts";
 * const p = initLinear(createRng(0), 8, 4);
 * if (p.w.shape.join() !== "8,4") throw new Error();
 * ```
 */
export function initLinear(rng: Rng, inDim: number, outDim: number, bias = true): LinearParams {
  const w = xavierUniform(rng, inDim, outDim);
  return bias ? { w, b: constant([outDim], 0) } : { w };
}

/**
 * Applies the dense layer to the last axis of `x` (any rank ≥ 2).
 *
 * @param p The parameters.
 * @param x Input [..., in].
 * @returns Output [..., out].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { linear } from "./linear.ts";
 * const y = linear({ w: tf.ones([3, 2]), b: tf.zeros([2]) }, tf.ones([5, 3]));
 * if (y.shape.join() !== "5,2") throw new Error();
 * ```
 */
export function linear(p: LinearParams, x: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outDim = p.w.shape[1]!;
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inDim]) as tf.Tensor2D;
  const y = p.b ? tf.fused.matMul({ a: x2, b: p.w as tf.Tensor2D, bias: p.b }) : tf.matMul(x2, p.w as tf.Tensor2D);
  return y.reshape([...lead, outDim]);
}
