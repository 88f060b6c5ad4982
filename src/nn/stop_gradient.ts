/**
 * The identity with a zero gradient (JAX's `stop_gradient`, PyTorch's
 * `detach`), which tfjs lacks: the VQ straight-through estimator, the
 * commitment loss and ADDP's detached token-embedding head need it.
 *
 * @module
 */
import { tf } from "../tf.ts";

const detached = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: (inputs[0] as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

/**
 * Returns `x` unchanged in the forward pass and blocks its gradient.
 *
 * @param x Any tensor.
 * @returns A copy of `x` through which no gradient flows.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { stopGradient } from "./stop_gradient.ts";
 * const g = tf.grad((x: tf.Tensor) => x.mul(stopGradient(x)).sum())(tf.tensor1d([3]));
 * if ((await g.data())[0] !== 3) throw new Error(); // d(x·sg(x))/dx = sg(x)
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detached(x) as T;
}
