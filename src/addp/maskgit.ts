/**
 * Iterative parallel decoding of token grids (MaskGIT, Chang et al. 2022), as
 * ADDP and the MAGE-style predictor generate: start from masked positions;
 * each step predicts every masked token, samples it, keeps the most confident
 * samples (confidence = log p + annealed Gumbel noise) and re-masks the rest,
 * following a cosine or linear schedule. Known tokens (inpainting) count as
 * infinitely confident, so they are never re-masked.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { check } from "../errors.ts";
import { maskCounts, maskRatio, type MaskSchedule } from "./mask_schedule.ts";

/**
 * Decoding settings.
 *
 * @example
 * ```ts
 * import type { MaskGitOptions } from "./maskgit.ts";
 * const addp: MaskGitOptions = { steps: 20, temperature: 6, schedule: "cosine", topP: 1, variant: "addp" };
 * if (addp.steps !== 20) throw new Error();
 * ```
 */
export interface MaskGitOptions {
  /** Decoding steps S. */
  steps: number;
  /** Choice temperature τ₀: Gumbel noise on the confidences, annealed as τ₀(1 − (s + 1)/S). */
  temperature: number;
  /** How fast tokens are committed. */
  schedule: MaskSchedule;
  /** Nucleus sampling: keep the smallest set of codes with this much probability (1: all). */
  topP: number;
  /**
   * "addp": n = ceil(U·r), one soft token left at the end (spec §3); "maskgit": n = floor(U·r) clamped to
   * [1, unknown − 1], every token committed at the last step (MAGE's and MaskGIT's sampler).
   */
  variant: "addp" | "maskgit";
}

/** What one decoding step hands to `onStep`.
 *
 * @example
 * ```ts
 * import type { MaskGitStep } from "./maskgit.ts";
 * const masked = (s: MaskGitStep) => s.mask.reduce((a, b) => a + b, 0);
 * if (typeof masked !== "function") throw new Error();
 * ```
 */
export interface MaskGitStep {
  /** Step index s. */
  step: number;
  /** Token ids after the step [B·L] (positions still masked hold their latest sample). */
  ids: Int32Array;
  /** Positions still masked after the step [B·L]. */
  mask: Uint8Array;
  /** The step's distributions over the K codes [B·L·K] (after top-p). */
  probs: Float32Array;
}

/**
 * How many of `unknown` tokens stay masked after each step.
 *
 * @param unknown Tokens to generate (L, or the inpainted region's size).
 * @param opts Steps, schedule and variant.
 * @returns S counts.
 * @example
 * ```ts
 * import { stepCounts } from "./maskgit.ts";
 * const c = stepCounts(49, { steps: 12, schedule: "cosine", variant: "maskgit" });
 * if (c.at(-1) !== 0 || c[0] !== 48) throw new Error(c.join());
 * ```
 */
export function stepCounts(unknown: number, opts: Pick<MaskGitOptions, "steps" | "schedule" | "variant">): number[] {
  if (opts.variant === "addp") return maskCounts(unknown, opts.steps, opts.schedule).map((n) => Math.min(n, unknown));
  const out: number[] = [];
  let left = unknown;
  for (let s = 0; s < opts.steps; s++) {
    const n = s === opts.steps - 1
      ? 0
      : Math.max(1, Math.min(left - 1, Math.floor(unknown * maskRatio(opts.schedule, (s + 1) / opts.steps))));
    out.push(Math.max(0, n));
    left = Math.max(0, n);
  }
  return out;
}

/** Keeps the smallest set of codes holding `topP` of the probability, renormalised (in place on `p`). */
function nucleus(p: Float32Array, topP: number): void {
  if (topP >= 1) return;
  const order = Array.from(p.keys()).sort((a, b) => p[b]! - p[a]!);
  let acc = 0, cut = order.length;
  for (let i = 0; i < order.length; i++) {
    acc += p[order[i]!]!;
    if (acc >= topP) {
      cut = i + 1;
      break;
    }
  }
  let kept = 0;
  for (let i = 0; i < order.length; i++) {
    if (i < cut) kept += p[order[i]!]!;
    else p[order[i]!] = 0;
  }
  for (let i = 0; i < p.length; i++) p[i] = p[i]! / kept;
}

/**
 * Generates token grids by iterative parallel decoding.
 *
 * @param logits Predicts [B, L, K] logits from the current ids [B, L] (int32) and mask [B·L].
 * @param batch B.
 * @param tokens L.
 * @param rng The generator (samples and Gumbel noise).
 * @param opts Decoding settings.
 * @param known Known tokens for inpainting: ids [B·L] and a [B·L] flag (1 = known, never masked); or omitted.
 * @param onStep Called after every step (pictures, ADDP's soft decode).
 * @returns Final ids and mask [B·L].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { maskgitGenerate } from "./maskgit.ts";
 * const uniform = (ids: tf.Tensor) => tf.zeros([ids.shape[0]!, 4, 8]);
 * const out = await maskgitGenerate(uniform, 2, 4, createRng(0), { steps: 3, temperature: 1, schedule: "cosine", topP: 1, variant: "maskgit" });
 * if (out.mask.some((m) => m === 1)) throw new Error();
 * ```
 */
export async function maskgitGenerate(
  logits: (ids: tf.Tensor, mask: Uint8Array) => tf.Tensor,
  batch: number,
  tokens: number,
  rng: Rng,
  opts: MaskGitOptions,
  known?: { ids: Int32Array; known: Uint8Array },
  onStep?: (s: MaskGitStep) => void | Promise<void>,
): Promise<{ ids: Int32Array; mask: Uint8Array }> {
  check(Number.isInteger(opts.steps) && opts.steps >= 1, `--steps: expected an integer ≥ 1, got ${opts.steps}`);
  check(
    opts.temperature >= 0 && Number.isFinite(opts.temperature),
    `--temperature: expected a number ≥ 0, got ${opts.temperature}`,
  );
  check(opts.topP > 0 && opts.topP <= 1, `--top-p: expected a number > 0 and ≤ 1, got ${opts.topP}`);
  const n = batch * tokens;
  const ids = known ? Int32Array.from(known.ids) : new Int32Array(n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = known?.known[i] ? 0 : 1;
  const unknown = Array.from(
    { length: batch },
    (_, b) => mask.subarray(b * tokens, (b + 1) * tokens).reduce((a, v) => a + v, 0),
  );
  const counts = unknown.map((u) => stepCounts(u, opts));
  const conf = new Float64Array(tokens);
  for (let s = 0; s < opts.steps; s++) {
    const idsT = tf.tensor2d(ids, [batch, tokens], "int32");
    const probsT = tf.tidy(() => tf.softmax(logits(idsT, mask)));
    const probs = await probsT.data() as Float32Array;
    tf.dispose([idsT, probsT]);
    const k = probs.length / n;
    const tau = opts.temperature * (1 - (s + 1) / opts.steps);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < tokens; t++) {
        const i = b * tokens + t;
        if (!mask[i]) {
          conf[t] = Infinity;
          continue;
        }
        const p = probs.subarray(i * k, (i + 1) * k);
        nucleus(p, opts.topP);
        let u = rng.uniform(), c = 0;
        while (c < k - 1 && u >= p[c]!) u -= p[c++]!;
        ids[i] = c;
        const g = -Math.log(-Math.log(Math.max(rng.uniform(), 1e-300)));
        conf[t] = Math.log(Math.max(p[c]!, 1e-30)) + tau * g;
      }
      // Re-mask the n least confident; known and already committed positions are +∞ and stay.
      const order = Array.from(conf.keys()).sort((x, y) => conf[x]! - conf[y]! || x - y);
      const keepMasked = new Set(order.slice(0, counts[b]![s]!));
      for (let t = 0; t < tokens; t++) mask[b * tokens + t] = keepMasked.has(t) ? 1 : 0;
    }
    await onStep?.({ step: s, ids, mask, probs });
  }
  return { ids, mask };
}
