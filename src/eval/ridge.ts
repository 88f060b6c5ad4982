/**
 * Closed-form ridge regression onto ±1 one-hot targets, as big_vision's
 * few-shot evaluator: standardised ("whitened") features plus a constant bias
 * column, L2 = 2¹⁰, and k-shot variants averaged over seeds.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { perClassSubset } from "../data/subset.ts";
import { choleskySolve } from "./linalg.ts";
import type { LabelledFeatures } from "./linear_probe.ts";
import { applyStandardizer, fitStandardizer } from "./standardize.ts";

/**
 * Ridge options.
 *
 * @example
 * ```ts
 * import { RIDGE_DEFAULTS, type RidgeConfig } from "./ridge.ts";
 * const weak: RidgeConfig = { ...RIDGE_DEFAULTS, l2: 1 };
 * if (weak.biasValue !== 100) throw new Error();
 * ```
 */
export interface RidgeConfig {
  /** L2 regularisation (big_vision: 2¹⁰). */
  l2: number;
  /** Value of the appended bias column. */
  biasValue: number;
}

/**
 * big_vision's settings.
 *
 * @example
 * ```ts
 * import { RIDGE_DEFAULTS } from "./ridge.ts";
 * if (RIDGE_DEFAULTS.l2 !== 2 ** 10) throw new Error();
 * ```
 */
export const RIDGE_DEFAULTS: RidgeConfig = { l2: 1024, biasValue: 100 };

function design(x: Float32Array, n: number, d: number, bias: number): Float32Array {
  const out = new Float32Array(n * (d + 1));
  for (let i = 0; i < n; i++) {
    out.set(x.subarray(i * d, (i + 1) * d), i * (d + 1));
    out[i * (d + 1) + d] = bias;
  }
  return out;
}

/**
 * Fits ridge regression on the training features and returns test accuracy.
 *
 * @param train Training features.
 * @param test Test features.
 * @param d Width.
 * @param classes Number of classes.
 * @param cfg Regularisation.
 * @returns Top-1 accuracy.
 * @example
 * ```ts
 * import { ridgeAccuracy } from "./ridge.ts";
 * const x = new Float32Array([0, 1, 1, 0, 0, 2, 2, 0]), y = new Int32Array([0, 1, 0, 1]);
 * if (await ridgeAccuracy({ x, y }, { x, y }, 2, 2, { l2: 1e-3, biasValue: 1 }) !== 1) throw new Error();
 * ```
 */
export async function ridgeAccuracy(
  train: LabelledFeatures,
  test: LabelledFeatures,
  d: number,
  classes: number,
  cfg: RidgeConfig = RIDGE_DEFAULTS,
): Promise<number> {
  const n = train.y.length, m = test.y.length, D = d + 1;
  const stats = fitStandardizer(train.x, d);
  const X = design(applyStandardizer(train.x, d, stats), n, d, cfg.biasValue);
  const Xt = design(applyStandardizer(test.x, d, stats), m, d, cfg.biasValue);
  const Y = new Float32Array(n * classes).fill(-1);
  for (let i = 0; i < n; i++) Y[i * classes + train.y[i]!] = 1;
  // XᵀX and XᵀY with the backend's matrix product (float32), solved in float64.
  const [xtx, xty] = tf.tidy(() => {
    const xt = tf.tensor2d(X, [n, D]);
    return [tf.matMul(xt, xt, true, false), tf.matMul(xt, tf.tensor2d(Y, [n, classes]), true, false)];
  });
  const A = Float64Array.from((await xtx!.data()) as Float32Array);
  const Bm = Float64Array.from((await xty!.data()) as Float32Array);
  tf.dispose([xtx!, xty!]);
  for (let i = 0; i < D; i++) A[i * D + i]! += cfg.l2;
  const W = choleskySolve(A, Bm, D, classes);
  let correct = 0;
  for (let i = 0; i < m; i++) {
    let best = -Infinity, arg = 0;
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += Xt[i * D + k]! * W[k * classes + c]!;
      if (s > best) [best, arg] = [s, c];
    }
    if (arg === test.y[i]) correct++;
  }
  return correct / m;
}

/**
 * k-shot ridge: k training examples per class (seeded draws,
 * {@linkcode perClassSubset}), averaged over seeds.
 *
 * @param train Training features (the pool to draw from).
 * @param test Test features.
 * @param d Width.
 * @param classes Number of classes.
 * @param shots Examples per class.
 * @param seeds Number of draws (big_vision: 3).
 * @param cfg Regularisation.
 * @returns Mean accuracy over the draws.
 *
 * @example
 * ```ts
 * import { fewShotRidge } from "./ridge.ts";
 * const x = Float32Array.from({ length: 40 }, (_, i) => (i % 4 < 2 ? 1 : -1) * (i % 2 ? 1 : 0)), y = Int32Array.from({ length: 20 }, (_, i) => i % 2);
 * const acc = await fewShotRidge({ x, y }, { x, y }, 2, 2, 1, 3, { l2: 1e-3, biasValue: 1 });
 * if (!(acc >= 0 && acc <= 1)) throw new Error();
 * ```
 */
export async function fewShotRidge(
  train: LabelledFeatures,
  test: LabelledFeatures,
  d: number,
  classes: number,
  shots: number,
  seeds = 3,
  cfg: RidgeConfig = RIDGE_DEFAULTS,
): Promise<number> {
  let total = 0;
  for (let s = 0; s < seeds; s++) {
    const pick = perClassSubset(train.y, shots, 1000 + s);
    const x = new Float32Array(pick.length * d);
    pick.forEach((i, k) => x.set(train.x.subarray(i * d, (i + 1) * d), k * d));
    total += await ridgeAccuracy({ x, y: pick.map((i) => train.y[i]!) }, test, d, classes, cfg);
  }
  return total / seeds;
}
