/**
 * Per-feature standardisation with training-set statistics: the fixed form
 * of BatchNorm(affine = False) that MAE's linear probe puts before its
 * classifier, exact here because the features are frozen.
 *
 * @module
 */

/** Mean and 1/std per feature. */
export interface Standardizer {
  /** Feature means. */
  mean: Float32Array;
  /** 1/√(var + eps) per feature. */
  invStd: Float32Array;
}

/**
 * Computes per-feature statistics of [n, d] features.
 *
 * @param x Features, row-major.
 * @param d Width.
 * @param eps Added to the variance (1e-6, as MAE's BatchNorm1d).
 * @returns The statistics.
 * @example
 * ```ts
 * import { applyStandardizer, fitStandardizer } from "./standardize.ts";
 * const x = new Float32Array([1, 10, 3, 30]);
 * const y = applyStandardizer(x, 2, fitStandardizer(x, 2));
 * if (Math.abs(y[0]! + 1) > 1e-5 || Math.abs(y[3]! - 1) > 1e-5) throw new Error();
 * ```
 */
export function fitStandardizer(x: Float32Array, d: number, eps = 1e-6): Standardizer {
  const n = x.length / d;
  const mean = new Float64Array(d), sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = x[i * d + j]! - mean[j]!;
      sq[j]! += c * c;
    }
  }
  return {
    mean: Float32Array.from(mean),
    invStd: Float32Array.from(sq, (s) => 1 / Math.sqrt(s / n + eps)),
  };
}

/**
 * Applies statistics to features.
 *
 * @param x Features [n, d].
 * @param d Width.
 * @param s The statistics.
 * @returns Standardised copy.
 */
export function applyStandardizer(x: Float32Array, d: number, s: Standardizer): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - s.mean[i % d]!) * s.invStd[i % d]!;
  return out;
}
