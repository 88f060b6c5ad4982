/**
 * DARL's noise levels (spec §3): γ ~ Beta(a, b) per patch, x̃ = √γ·x +
 * √(1−γ)·ε, with γ = 1 clean. Beta draws are Gamma ratios computed in log
 * space, so tiny a (DARL's 0.03 puts ~87% of draws below γ = 0.01) never
 * underflows: log G_a = log G_{a+1} + log(U)/a.
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** γ is kept in [GAMMA_MIN, 1 − GAMMA_MIN] wherever log-SNR is needed. */
export const GAMMA_MIN = 1e-6;

function logGamma(rng: Rng, shape: number): number {
  if (shape < 1) {
    let u = rng.uniform();
    while (u <= 0) u = rng.uniform();
    return Math.log(rng.gamma(shape + 1)) + Math.log(u) / shape;
  }
  return Math.log(rng.gamma(shape));
}

/**
 * n noise levels γ ~ Beta(a, b).
 *
 * @param rng The generator.
 * @param a First Beta parameter (≥ 0.01).
 * @param b Second Beta parameter.
 * @param n How many.
 * @returns γ values in [0, 1] (never NaN).
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { betaNoiseLevel } from "./noise.ts";
 * const g = betaNoiseLevel(createRng(0), 0.03, 1, 1000);
 * if (g.some((v) => !(v >= 0 && v <= 1))) throw new Error();
 * ```
 */
export function betaNoiseLevel(rng: Rng, a: number, b: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const la = logGamma(rng, a), lb = logGamma(rng, b);
    out[i] = 1 / (1 + Math.exp(lb - la)); // Ga/(Ga + Gb) in log space
  }
  return out;
}

/**
 * log(γ/(1−γ)) with γ clamped to [1e-6, 1 − 1e-6].
 *
 * @param gamma Noise level.
 * @returns Log signal-to-noise ratio.
 * @example
 * ```ts
 * import { logSnr } from "./noise.ts";
 * if (logSnr(0.5) !== 0 || !Number.isFinite(logSnr(0))) throw new Error();
 * ```
 */
export function logSnr(gamma: number): number {
  const g = Math.min(1 - GAMMA_MIN, Math.max(GAMMA_MIN, gamma));
  return Math.log(g / (1 - g));
}

/**
 * The sampler's cosine grid from noise to clean: γ_k = cos²(π/2·(1 − k/K)),
 * k = 0 … K (γ_0 = 0, γ_K = 1).
 *
 * @param K Steps.
 * @returns K + 1 levels, increasing.
 * @example
 * ```ts
 * import { cosineGrid } from "./noise.ts";
 * const g = cosineGrid(4);
 * if (g[0]! > 1e-12 || g[4] !== 1 || !(g[2]! > g[1]!)) throw new Error();
 * ```
 */
export function cosineGrid(K: number): number[] {
  return Array.from({ length: K + 1 }, (_, k) => (k === K ? 1 : Math.cos((Math.PI / 2) * (1 - k / K)) ** 2));
}
