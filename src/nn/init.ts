/**
 * Parameter initialisers. All draw from a seeded {@linkcode Rng}, so a model
 * is a deterministic function of its config and seed, on every backend.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";

/**
 * Creates a trainable variable from values.
 *
 * @param values Flat values.
 * @param shape The shape.
 * @returns A `tf.Variable`.
 * @example
 * ```ts
 * import { param } from "./init.ts";
 * const v = param(new Float32Array([1, 2]), [2]);
 * if (v.shape[0] !== 2) throw new Error();
 * v.dispose();
 * ```
 */
export function param(values: Float32Array, shape: number[]): tf.Variable {
  const t = tf.tensor(values, shape, "float32");
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

/**
 * Xavier/Glorot-uniform weights of shape [fanIn, fanOut] (as MAE initialises
 * its linear layers).
 *
 * @param rng The generator.
 * @param fanIn Input width.
 * @param fanOut Output width.
 * @returns A trainable [fanIn, fanOut] variable.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { xavierUniform } from "./init.ts";
 * const w = xavierUniform(createRng(0), 4, 3);
 * if (w.shape.join() !== "4,3") throw new Error();
 * w.dispose();
 * ```
 */
export function xavierUniform(rng: Rng, fanIn: number, fanOut: number): tf.Variable {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const v = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < v.length; i++) v[i] = (rng.uniform() * 2 - 1) * limit;
  return param(v, [fanIn, fanOut]);
}

/**
 * Normal weights truncated at two standard deviations.
 *
 * @param rng The generator.
 * @param shape The shape.
 * @param std Standard deviation (0.02 as in ViT/MAE for tokens and positions).
 * @returns A trainable variable.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { truncNormal } from "./init.ts";
 * const s = truncNormal(createRng(0), [8], 0.02);
 * s.dispose();
 * ```
 */
export function truncNormal(rng: Rng, shape: number[], std: number): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    v[i] = z * std;
  }
  return param(v, shape);
}

/**
 * A constant-filled trainable variable (biases, LayerNorm gains).
 *
 * @param shape The shape.
 * @param value The fill value.
 * @returns A trainable variable.
 * @example
 * ```ts
 * import { constant } from "./init.ts";
 * const b = constant([3], 0);
 * b.dispose();
 * ```
 */
export function constant(shape: number[], value: number): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  return param(new Float32Array(n).fill(value), shape);
}
