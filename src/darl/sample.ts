/**
 * Autoregressive generation with DARL (spec §4): patches in raster order,
 * each from the backbone's state h_t, with a key/value cache so a new patch
 * costs one token through the backbone rather than the whole prefix.
 *
 * - Diffusion models: γ-space DDPM ancestral sampling of each patch over K
 *   steps of a cosine grid from noise (γ = 0) to clean (γ = 1), with a
 *   temperature on the injected noise; DDIM (deterministic) as an option.
 * - MSE models: the predicted mean, plus optional Gaussian noise.
 *
 * Unconditional samples start from SOS; completions feed the first rows of
 * real images through the cache first.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import { createRng, type Rng } from "../rng.ts";
import { unpatchify } from "../nn/patchify.ts";
import { type DarlConfig, gridSize } from "./config.ts";
import { darlForward, type DarlParams, nextPatchHead } from "./model.ts";
import { cosineGrid, GAMMA_MIN, logSnr } from "./noise.ts";
import { patchDecoder } from "./patch_decoder.ts";
import { createKvCache, decodeStep, disposeKvCache } from "./kv_cache.ts";

export { createKvCache, decodeStep, disposeKvCache, type KvCache } from "./kv_cache.ts";

/**
 * Options of the samplers.
 *
 * @example
 * ```ts
 * import { SAMPLE_DEFAULTS, type SampleOptions } from "./sample.ts";
 * const opts: SampleOptions = { ...SAMPLE_DEFAULTS, count: 64, sampler: "ddim", steps: 50 };
 * if (opts.temperature !== 1) throw new Error();
 * ```
 */
export interface SampleOptions {
  /** Images to generate. */
  count: number;
  /** Diffusion: reverse steps per patch (cosine grid). */
  steps: number;
  /** Scales the injected noise (DDPM) or the MSE noise. */
  temperature: number;
  /** Diffusion: ancestral DDPM or deterministic DDIM. */
  sampler: "ddpm" | "ddim";
  /** MSE models: std of Gaussian noise added to the predicted mean (0: the mean). */
  mseNoise: number;
  /** Seed of every random draw. */
  seed: number;
  /** Completion: the first patches of each image, [count, P0, P²C] in [−1, 1]. */
  prefix?: tf.Tensor;
  /** Use the key/value cache (default); false recomputes the whole prefix per patch (for benchmarks). */
  useCache?: boolean;
  /** Called after each patch position with the number done. */
  onPatch?: (done: number, total: number) => void;
}

/**
 * Defaults: 100-step DDPM at temperature 1.
 *
 * @example
 * ```ts
 * import { SAMPLE_DEFAULTS } from "./sample.ts";
 * if (SAMPLE_DEFAULTS.steps !== 100 || SAMPLE_DEFAULTS.sampler !== "ddpm") throw new Error();
 * ```
 */
export const SAMPLE_DEFAULTS: SampleOptions = {
  count: 16,
  steps: 100,
  temperature: 1,
  sampler: "ddpm",
  mseNoise: 0,
  seed: 0,
};

function gaussian(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/**
 * A predictor of the clean patch: (noisy z [N, D], γ) → x̂0 [N, D].
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { X0Predictor } from "./sample.ts";
 * const zero: X0Predictor = (z) => tf.zerosLike(z); // predicts the mean patch of a centred dataset
 * if (zero(tf.ones([2, 4]), 0.5).shape.join() !== "2,4") throw new Error();
 * ```
 */
export type X0Predictor = (z: tf.Tensor, gamma: number) => tf.Tensor;

/**
 * Samples patches by running the reverse process on a cosine γ grid from
 * pure noise to γ = 1 with a clean-patch predictor.
 *
 * @param predict x̂0 from (z, γ); outputs are clipped to [−1, 1].
 * @param rows Patches N.
 * @param dim Values per patch D.
 * @param rng Generator of the starting noise and injected noise.
 * @param opts Steps, sampler, temperature.
 * @returns [N, D] samples (the caller disposes).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { samplePatches } from "./sample.ts";
 * // An oracle that always knows x0 = 0.5 makes DDPM land on it exactly.
 * const out = samplePatches((z) => tf.fill(z.shape, 0.5), 3, 4, createRng(0), { steps: 10, sampler: "ddpm", temperature: 1 });
 * if (Math.abs((await tf.mean(out).data())[0]! - 0.5) > 1e-5) throw new Error();
 * ```
 */
export function samplePatches(
  predict: X0Predictor,
  rows: number,
  dim: number,
  rng: Rng,
  opts: Pick<SampleOptions, "steps" | "sampler" | "temperature">,
): tf.Tensor2D {
  const grid = cosineGrid(opts.steps);
  let z = tf.tensor2d(gaussian(rng, rows * dim), [rows, dim]);
  for (let k = 0; k < opts.steps; k++) {
    const gc = Math.max(grid[k]!, GAMMA_MIN), gn = grid[k + 1]!;
    const noise = opts.sampler === "ddpm" && gn < 1 ? gaussian(rng, rows * dim) : null;
    const next = tf.tidy(() => {
      const x0 = tf.clipByValue(predict(z, gc), -1, 1);
      const ac = Math.sqrt(gc), an = Math.sqrt(gn), sc2 = 1 - gc, sn2 = 1 - gn;
      if (opts.sampler === "ddim") {
        // Deterministic: keep the implied noise ε̂ and move it to the next level.
        const epsHat = tf.div(tf.sub(z, tf.mul(x0, ac)), Math.sqrt(sc2));
        return tf.add(tf.mul(x0, an), tf.mul(epsHat, Math.sqrt(sn2)));
      }
      // q(z_n | z_c, x0): α_cn = α_c/α_n, σ²_cn = σ_c² − α_cn²·σ_n².
      const acn = ac / an, scn2 = Math.max(0, sc2 - acn * acn * sn2);
      const mean = tf.add(tf.mul(z, (acn * sn2) / sc2), tf.mul(x0, (an * scn2) / sc2));
      const std = Math.sqrt((scn2 * sn2) / sc2) * opts.temperature;
      return noise && std > 0 ? tf.add(mean, tf.mul(tf.tensor2d(noise, [rows, dim]), std)) : mean;
    });
    z.dispose();
    z = next as tf.Tensor2D;
  }
  return z;
}

/**
 * The next patch from backbone states h [B, d]: diffusion sampling through
 * the decoder, or the MSE head's mean (plus optional noise).
 *
 * @param params The model.
 * @param cfg Its config.
 * @param h Backbone states.
 * @param rng Generator.
 * @param opts Sampler settings.
 * @returns [B, P²C] patches in [−1, 1] (global normalisation).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { nextPatch, SAMPLE_DEFAULTS } from "./sample.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2, target: "global" });
 * const p = nextPatch(initDarl(cfg, 0), cfg, tf.randomNormal([2, 32]), createRng(0), SAMPLE_DEFAULTS);
 * if (p.shape.join() !== "2,16") throw new Error();
 * ```
 */
export function nextPatch(
  params: DarlParams,
  cfg: DarlConfig,
  h: tf.Tensor,
  rng: Rng,
  opts: Pick<SampleOptions, "steps" | "sampler" | "temperature" | "mseNoise">,
): tf.Tensor2D {
  const B = h.shape[0]!, D = cfg.patchSize ** 2 * cfg.channels;
  if (cfg.objective === "diffusion") {
    const predict: X0Predictor = (z, gamma) =>
      tf.tidy(() => {
        const out = patchDecoder(params.decoder!, z, h, tf.fill([B], logSnr(gamma)));
        // An ε-predicting decoder implies x̂0 = (z − √(1−γ)·ε̂)/√γ.
        return cfg.prediction === "eps" ? tf.div(tf.sub(z, tf.mul(out, Math.sqrt(1 - gamma))), Math.sqrt(gamma)) : out;
      });
    return samplePatches(predict, B, D, rng, opts);
  }
  const noise = opts.mseNoise > 0 ? gaussian(rng, B * D) : null;
  return tf.tidy(() => {
    const mean = nextPatchHead(params.head!, h);
    return (noise
      ? tf.add(mean, tf.mul(tf.tensor2d(noise, [B, D]), opts.mseNoise * opts.temperature))
      : mean) as tf.Tensor2D;
  });
}

/**
 * Generates images patch by patch with the key/value cache.
 *
 * @param params The model (diffusion, or MSE with a global target).
 * @param cfg Its config.
 * @param opts Count, sampler, seed, optional completion prefix.
 * @returns [count, H, W, C] images in [−1, 1].
 *
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { SAMPLE_DEFAULTS, sampleDarl } from "./sample.ts";
 * const cfg = darlConfig("tiny", { imageSize: 8, depth: 1, dim: 16, heads: 2, objective: "diffusion" });
 * const imgs = await sampleDarl(initDarl(cfg, 0), cfg, { ...SAMPLE_DEFAULTS, count: 2, steps: 4 });
 * if (imgs.shape.join() !== "2,8,8,1") throw new Error();
 * ```
 */
export async function sampleDarl(params: DarlParams, cfg: DarlConfig, opts: SampleOptions): Promise<tf.Tensor4D> {
  if (cfg.objective === "mse" && cfg.target !== "global") {
    throw new DarlError(
      "this MSE model was trained on per-patch normalised targets, which cannot be turned back into pixels; sample from a model trained with --target global (or --objective diffusion)",
    );
  }
  const g = gridSize(cfg), T = g * g, B = opts.count, D = cfg.patchSize ** 2 * cfg.channels;
  const rng = createRng(opts.seed);
  const cache = createKvCache(cfg);
  const prefixLen = opts.prefix ? opts.prefix.shape[1]! : 0;
  // Patches are collected on the host (one read each): tfjs-webgpu's Stack is
  // unreliable with many inputs, and sampling is sequential anyway.
  const all = new Float32Array(B * T * D);
  let h: tf.Tensor2D | null = null;
  const useCache = opts.useCache ?? true;
  // Without the cache, h_t comes from a full causal pass over [SOS, x1 … x_t].
  const recompute = (t: number): tf.Tensor2D =>
    tf.tidy(() => {
      const prefix = tf.tensor3d(all.slice(0, 0), [B, 0, D]);
      const seq = t === 0 ? prefix : tf.tensor3d(prefixRows(all, B, T, D, t), [B, t, D]);
      const out = darlForward(params, cfg, seq, { shift: false, head: false }).normed!;
      return out.slice([0, t, 0], [B, 1, cfg.dim]).reshape([B, cfg.dim]) as tf.Tensor2D;
    });
  try {
    h = useCache ? decodeStep(params, cfg, cache, null, B) : recompute(0);
    for (let t = 0; t < T; t++) {
      const state: tf.Tensor2D = h!;
      const patch: tf.Tensor = t < prefixLen
        ? tf.tidy(() => opts.prefix!.slice([0, t, 0], [B, 1, -1]).reshape([B, -1]))
        : nextPatch(params, cfg, state, rng, opts);
      const values = await patch.data();
      for (let b = 0; b < B; b++) all.set(values.subarray(b * D, (b + 1) * D), (b * T + t) * D);
      if (t < T - 1) {
        const hn: tf.Tensor2D = useCache ? decodeStep(params, cfg, cache, patch, B) : recompute(t + 1);
        state.dispose();
        h = hn;
      }
      patch.dispose();
      opts.onPatch?.(t + 1, T);
    }
    return tf.tidy(() => unpatchify(tf.tensor3d(all, [B, T, D]), cfg.patchSize, g, g, cfg.patchOrder));
  } finally {
    h?.dispose();
    disposeKvCache(cache);
  }
}

function prefixRows(all: Float32Array, B: number, T: number, D: number, t: number): Float32Array {
  const out = new Float32Array(B * t * D);
  for (let b = 0; b < B; b++) out.set(all.subarray(b * T * D, (b * T + t) * D), b * t * D);
  return out;
}

/**
 * Teacher-forced samples: for every position of real images at once, the
 * next patch drawn from h_t of the true prefix (pictures during training).
 *
 * @param params The model.
 * @param cfg Its config.
 * @param h Backbone states [B, T, d] from a causal forward pass (shift: true).
 * @param seed Seed.
 * @param steps Diffusion steps.
 * @returns [B, T, P²C] predicted patches.
 */
export function teacherForcedPatches(
  params: DarlParams,
  cfg: DarlConfig,
  h: tf.Tensor,
  seed: number,
  steps = 25,
): tf.Tensor3D {
  const [B, T, d] = h.shape as [number, number, number];
  const flat = h.reshape([B * T, d]);
  const out = nextPatch(params, cfg, flat, createRng(seed), { steps, sampler: "ddpm", temperature: 1, mseNoise: 0 });
  const r = out.reshape([B, T, -1]) as tf.Tensor3D;
  tf.dispose([flat, out]);
  return r;
}
