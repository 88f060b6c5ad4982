/**
 * Masking schedules shared by ADDP's training and MaskGIT-style generation:
 * the discrete timestep distribution (spec §1.2), nested token masks (§1.3),
 * MAGE's continuous mask ratio (§5) and the per-step mask counts of iterative
 * decoding (§3).
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** Shape of the decoding schedule: the fraction still masked after step s of S.
 *
 * @example
 * ```ts
 * import { maskCounts, type MaskSchedule } from "./mask_schedule.ts";
 * const s: MaskSchedule = "linear";
 * if (maskCounts(10, 2, s).join() !== "5,1") throw new Error();
 * ```
 */
export type MaskSchedule = "cosine" | "linear";

/**
 * Mask ratio of the schedule at progress `ratio` ∈ [0, 1]: cos(π/2·ratio) or
 * 1 − ratio.
 *
 * @param schedule The schedule.
 * @param ratio Progress, (s + 1) / S after step s.
 * @returns The fraction of tokens masked.
 * @example
 * ```ts
 * import { maskRatio } from "./mask_schedule.ts";
 * if (maskRatio("linear", 0.25) !== 0.75 || maskRatio("cosine", 0) !== 1) throw new Error();
 * ```
 */
export function maskRatio(schedule: MaskSchedule, ratio: number): number {
  return schedule === "cosine" ? Math.cos((Math.PI / 2) * ratio) : 1 - ratio;
}

/**
 * How many tokens stay masked after each of `steps` decoding steps, ADDP's
 * way (ceil, clipped to [1, L]; no "unknown − 1" clamp): the last step keeps
 * one soft token, which ADDP decodes as a probability-weighted codebook vector.
 *
 * @param tokens L, the number of tokens.
 * @param steps S, the number of decoding steps.
 * @param schedule Cosine (default) or linear.
 * @returns S counts, non-increasing, ending at 1.
 * @example
 * ```ts
 * import { maskCounts } from "./mask_schedule.ts";
 * const n = maskCounts(49, 12);
 * if (n.join() !== "49,48,46,43,39,35,30,25,19,13,7,1") throw new Error(n.join());
 * ```
 */
export function maskCounts(tokens: number, steps: number, schedule: MaskSchedule = "cosine"): number[] {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`maskCounts: steps must be a positive integer, got ${steps}`);
  }
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    // No rounding guard, as in the official code: at L = 64, S = 12, cos(π/3)·64 = 32.000…01 gives 33.
    const n = Math.ceil(tokens * maskRatio(schedule, (s + 1) / steps));
    out.push(Math.min(tokens, Math.max(1, n)));
  }
  return out;
}

/** The discrete timestep grid of ADDP training: levels k with their mask ratios and probabilities.
 *
 * @example
 * ```ts
 * import { type TimestepGrid, timestepGrid } from "./mask_schedule.ts";
 * const g: TimestepGrid = timestepGrid(100);
 * if (g.steps !== 100 || g.k.length !== g.prob.length) throw new Error();
 * ```
 */
export interface TimestepGrid {
  /** T, the grid resolution. */
  steps: number;
  /** Grid indices k (1..66 for T = 100). */
  k: number[];
  /** Mask ratio r_k = cos(π/2·k/T) of each level. */
  ratio: number[];
  /** P(k) ∝ truncated-normal pdf(r_k; μ, σ), summing to 1. */
  prob: number[];
}

/**
 * Builds the timestep grid: r_k = cos(π/2·k/T) for k = 0..T, keeping
 * 0.5 ≤ r < 1, with probabilities from MAGE's truncated normal (μ 0.55,
 * σ 0.25 on [0.5, 1]); the truncation constant cancels in the normalisation.
 *
 * @param t T, the grid resolution (100).
 * @param mu Mean of the truncated normal.
 * @param sigma Its standard deviation.
 * @returns The grid.
 * @example
 * ```ts
 * import { timestepGrid } from "./mask_schedule.ts";
 * const g = timestepGrid();
 * if (g.k[0] !== 1 || g.k.at(-1) !== 66) throw new Error();
 * ```
 */
export function timestepGrid(t = 100, mu = 0.55, sigma = 0.25): TimestepGrid {
  const k: number[] = [], ratio: number[] = [], w: number[] = [];
  for (let i = 0; i <= t; i++) {
    const r = Math.cos((Math.PI / 2) * i / t);
    if (r < 0.5 || r >= 1) continue;
    k.push(i);
    ratio.push(r);
    w.push(Math.exp(-0.5 * ((r - mu) / sigma) ** 2));
  }
  const total = w.reduce((a, b) => a + b, 0);
  return { steps: t, k, ratio, prob: w.map((v) => v / total) };
}

/** One draw of ADDP's pair of timesteps, shared by the whole batch.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { sampleTimesteps, type TimestepDraw, timestepGrid } from "./mask_schedule.ts";
 * const d: TimestepDraw = sampleTimesteps(createRng(0), timestepGrid(), 49);
 * if (d.kNext > d.k) throw new Error();
 * ```
 */
export interface TimestepDraw {
  /** Grid index of t. */
  k: number;
  /** Grid index of t + 1: max(k − δ, 1), so it is at least as noisy. */
  kNext: number;
  /** Masked count at t, ceil(L·r_k). */
  count: number;
  /** Masked count at t + 1 (≥ count). */
  countNext: number;
}

/**
 * Draws k from the grid's distribution and δ ~ U{1..maxDelta}, and returns
 * both levels with their masked counts for L tokens.
 *
 * @param rng The generator.
 * @param grid The grid from {@linkcode timestepGrid}.
 * @param tokens L.
 * @param maxDelta Largest δ (5).
 * @returns The draw.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { sampleTimesteps, timestepGrid } from "./mask_schedule.ts";
 * const d = sampleTimesteps(createRng(0), timestepGrid(), 49);
 * if (!(d.countNext >= d.count && d.count >= 25)) throw new Error();
 * ```
 */
export function sampleTimesteps(rng: Rng, grid: TimestepGrid, tokens: number, maxDelta = 5): TimestepDraw {
  let u = rng.uniform(), i = 0;
  while (i < grid.prob.length - 1 && u >= grid.prob[i]!) u -= grid.prob[i++]!;
  const k = grid.k[i]!;
  const kNext = Math.max(k - (1 + rng.int(maxDelta)), 1);
  const ratioAt = (kk: number) => Math.cos((Math.PI / 2) * kk / grid.steps);
  const count = Math.min(tokens, Math.ceil(tokens * ratioAt(k)));
  const countNext = Math.min(tokens, Math.ceil(tokens * ratioAt(kNext)));
  return { k, kNext, count, countNext };
}

/**
 * Nested random masks for a batch: per sample, the `count` positions with the
 * smallest uniform noise form m_t and the `countNext` smallest form m_{t+1},
 * so m_t ⊆ m_{t+1}; every sample shares the counts, keeping shapes static.
 *
 * @param rng The generator.
 * @param batch Number of samples.
 * @param tokens L.
 * @param count |m_t|.
 * @param countNext |m_{t+1}| (≥ count).
 * @returns `mask` and `maskNext`, [batch·L] with 1 = masked.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { nestedMasks } from "./mask_schedule.ts";
 * const { mask, maskNext } = nestedMasks(createRng(0), 2, 49, 30, 40);
 * if (mask.reduce((a, b) => a + b, 0) !== 60 || maskNext.reduce((a, b) => a + b, 0) !== 80) throw new Error();
 * ```
 */
export function nestedMasks(
  rng: Rng,
  batch: number,
  tokens: number,
  count: number,
  countNext: number,
): { mask: Uint8Array; maskNext: Uint8Array } {
  if (!(0 <= count && count <= countNext && countNext <= tokens)) {
    throw new Error(`nestedMasks: need 0 ≤ count (${count}) ≤ countNext (${countNext}) ≤ tokens (${tokens})`);
  }
  const mask = new Uint8Array(batch * tokens), maskNext = new Uint8Array(batch * tokens);
  const u = new Float64Array(tokens), order = Array.from({ length: tokens }, (_, i) => i);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < tokens; i++) u[i] = rng.uniform();
    // Sorting by (noise, index) breaks ties deterministically, which is what "redraw on ties" protects.
    order.sort((x, y) => u[x]! - u[y]! || x - y);
    for (let j = 0; j < countNext; j++) {
      maskNext[b * tokens + order[j]!] = 1;
      if (j < count) mask[b * tokens + order[j]!] = 1;
    }
  }
  return { mask, maskNext };
}

/**
 * MAGE's continuous mask ratio: a draw from the normal(μ, σ) truncated to
 * [lo, hi], by rejection (acceptance ≈ 57% at the defaults).
 *
 * @param rng The generator.
 * @param mu Mean (0.55).
 * @param sigma Standard deviation (0.25).
 * @param lo Lower bound (0.5).
 * @param hi Upper bound (1).
 * @returns The ratio.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { sampleMaskRatio } from "./mask_schedule.ts";
 * const r = sampleMaskRatio(createRng(1));
 * if (r < 0.5 || r > 1) throw new Error();
 * ```
 */
export function sampleMaskRatio(rng: Rng, mu = 0.55, sigma = 0.25, lo = 0.5, hi = 1): number {
  for (;;) {
    const r = mu + sigma * rng.normal();
    if (r >= lo && r <= hi) return r;
  }
}
