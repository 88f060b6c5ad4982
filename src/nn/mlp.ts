/**
 * GELU and the transformer MLP. `biasGelu` uses the fused `DarlBiasGelu`
 * kernel when the backend has one, else stock tfjs ops.
 *
 * @module
 */
import { hasKernel, tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { initLinear, linear, type LinearParams } from "./linear.ts";

/** Kernel name of fused bias + GELU. */
export const BIAS_GELU_KERNEL = "DarlBiasGelu";

/**
 * The two dense layers of an MLP.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initMlp, mlp, type MlpParams } from "./mlp.ts";
 * const p: MlpParams = initMlp(createRng(0), 8, 32);
 * if (mlp(p, tf.zeros([2, 8])).shape.join() !== "2,8") throw new Error();
 * ```
 */
export interface MlpParams {
  /** d → hidden. */
  fc1: LinearParams;
  /** hidden → d. */
  fc2: LinearParams;
}

/**
 * GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 *
 * @param x Input.
 * @returns GELU(x).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { gelu } from "./mlp.ts";
 * const y = (await gelu(tf.scalar(0)).data())[0];
 * if (y !== 0) throw new Error();
 * ```
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/**
 * GELU(x + b), with `b` broadcast over the last axis.
 *
 * @param x Pre-activation [..., n].
 * @param b Bias [n].
 * @returns GELU(x + b).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { biasGelu } from "./mlp.ts";
 * const y = biasGelu(tf.zeros([2, 3]), tf.zeros([3]));
 * if (y.shape.join() !== "2,3") throw new Error();
 * ```
 */
export function biasGelu(x: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (hasKernel(BIAS_GELU_KERNEL)) {
    return tf.engine().runKernel(BIAS_GELU_KERNEL, { x, b }, {}) as tf.Tensor;
  }
  return gelu(tf.add(x, b));
}

/**
 * Initialises an MLP d → ratio·d → d.
 *
 * @param rng The generator.
 * @param dim Token width.
 * @param hidden Hidden width.
 * @returns The parameters.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initMlp } from "./mlp.ts";
 * const p = initMlp(createRng(0), 4, 16);
 * if (p.fc1.w.shape.join() !== "4,16") throw new Error();
 * ```
 */
export function initMlp(rng: Rng, dim: number, hidden: number): MlpParams {
  return { fc1: initLinear(rng, dim, hidden), fc2: initLinear(rng, hidden, dim) };
}

/**
 * fc2(GELU(fc1(x))).
 *
 * @param p The parameters.
 * @param x Input [..., d].
 * @returns Output [..., d].
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { tf } from "../tf.ts";
 * import { initMlp, mlp } from "./mlp.ts";
 * const y = mlp(initMlp(createRng(0), 4, 8), tf.ones([3, 4]));
 * if (y.shape.join() !== "3,4") throw new Error();
 * ```
 */
export function mlp(p: MlpParams, x: tf.Tensor): tf.Tensor {
  const h = biasGelu(linear({ w: p.fc1.w }, x), p.fc1.b!);
  return linear(p.fc2, h);
}
