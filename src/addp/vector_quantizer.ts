/**
 * The VQ tokenizer's codebook: nearest-code quantisation with a
 * straight-through gradient and a β-weighted commitment loss, a codebook
 * learned by exponential moving averages of the assigned encoder outputs
 * (van den Oord et al. 2017, App. A.1; Sonnet's `VectorQuantizerEMA`), and
 * dead-code restart, which re-seeds codes nobody uses from the current batch
 * so that the codebook's perplexity does not collapse.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { param } from "../nn/init.ts";
import { stopGradient } from "../nn/stop_gradient.ts";

/**
 * The codebook and its EMA statistics. None of them is trained by gradients:
 * {@linkcode emaUpdate} and {@linkcode restartDeadCodes} assign them.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initCodebook, type Codebook } from "./vector_quantizer.ts";
 * const cb: Codebook = initCodebook(createRng(0), 16, 8);
 * if (cb.embed.shape.join() !== "16,8") throw new Error();
 * ```
 */
export interface Codebook {
  /** The K code vectors [K, D]: C in the paper. */
  embed: tf.Variable;
  /** EMA of how many vectors each code was assigned per step [K]. */
  clusterSize: tf.Variable;
  /** EMA of the sum of the vectors assigned to each code [K, D]. */
  embedSum: tf.Variable;
}

/**
 * Initialises K codes of width D with U(±1/K) entries (taming-transformers'
 * init); the EMA statistics start as if each code had been assigned itself
 * once, so the first update moves codes towards the data smoothly.
 *
 * @param rng The generator.
 * @param k Codebook size K.
 * @param d Code width D.
 * @returns The codebook.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initCodebook } from "./vector_quantizer.ts";
 * const cb = initCodebook(createRng(0), 4, 2);
 * if ((await cb.clusterSize.data()).join() !== "1,1,1,1") throw new Error();
 * ```
 */
export function initCodebook(rng: Rng, k: number, d: number): Codebook {
  const v = new Float32Array(k * d);
  for (let i = 0; i < v.length; i++) v[i] = (rng.uniform() * 2 - 1) / k;
  return {
    embed: param(v, [k, d]),
    clusterSize: param(new Float32Array(k).fill(1), [k]),
    embedSum: param(v.slice(), [k, d]),
  };
}

/** What {@linkcode quantize} returns.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initCodebook, quantize, type Quantized } from "./vector_quantizer.ts";
 * const q: Quantized = quantize(initCodebook(createRng(0), 4, 2), tf.ones([3, 2]));
 * if (q.ids.shape.join() !== "3") throw new Error();
 * ```
 */
export interface Quantized {
  /** Nearest code id per vector, int32 [...]. */
  ids: tf.Tensor;
  /** z + stopGradient(C[ids] − z): C[ids] forward, identity backward [..., D]. */
  zq: tf.Tensor;
  /** β·mean((z − stopGradient(C[ids]))²): pulls the encoder to its codes. */
  commitment: tf.Scalar;
}

/**
 * Nearest-code ids of encoder outputs `z` (squared Euclidean distance).
 *
 * @param embed The codes [K, D].
 * @param z Vectors [..., D].
 * @returns int32 ids [...].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { nearestCode } from "./vector_quantizer.ts";
 * const ids = nearestCode(tf.tensor2d([[0, 0], [1, 1]]), tf.tensor2d([[0.9, 0.8], [0.1, 0]]));
 * if ((await ids.data()).join() !== "1,0") throw new Error();
 * ```
 */
export function nearestCode(embed: tf.Tensor, z: tf.Tensor): tf.Tensor {
  const d = embed.shape[1]!;
  return tf.tidy(() => {
    const flat = z.reshape([-1, d]) as tf.Tensor2D;
    // ‖z‖² is the same for every code, so argmin needs only ‖c‖² − 2 z·c.
    const dist = tf.sum(tf.square(embed), 1).sub(tf.matMul(flat, embed as tf.Tensor2D, false, true).mul(2));
    return tf.argMin(dist, 1).reshape(z.shape.slice(0, -1));
  });
}

/**
 * Quantises `z` to its nearest codes, with the straight-through estimator and
 * the commitment loss.
 *
 * @param cb The codebook.
 * @param z Encoder outputs [..., D].
 * @param beta Commitment weight β (0.25).
 * @returns ids, zq and the commitment loss.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initCodebook, quantize } from "./vector_quantizer.ts";
 * const { ids, zq } = quantize(initCodebook(createRng(0), 8, 4), tf.randomNormal([2, 7, 7, 4]));
 * if (ids.shape.join() !== "2,7,7" || zq.shape.join() !== "2,7,7,4") throw new Error();
 * ```
 */
export function quantize(cb: Codebook, z: tf.Tensor, beta = 0.25): Quantized {
  const ids = nearestCode(cb.embed, z);
  const [zq, commitment] = tf.tidy(() => {
    const codes = nearestCodes(z, cb.embed) as tf.Tensor;
    const st = z.add(codes.sub(stopGradient(z)));
    return [st, tf.mean(tf.square(z.sub(codes))).mul(beta) as tf.Scalar] as const;
  });
  return { ids, zq, commitment };
}

// sg(C[argmin ‖z − C‖]) as one op: the argmin's int32 ids must stay off the gradient tape, which cannot carry them.
const nearestCodes = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [z, embed] = inputs as [tf.Tensor, tf.Tensor];
  const value = tf.tidy(() => lookupCodes(embed, nearestCode(embed, z)));
  return { value, gradFunc: (_dy: tf.Tensor) => [tf.zerosLike(z), tf.zerosLike(embed)] };
});

/**
 * The code vectors C[ids].
 *
 * @param embed The codes [K, D].
 * @param ids int32 ids [...].
 * @returns [..., D].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { lookupCodes } from "./vector_quantizer.ts";
 * const v = lookupCodes(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([1], "int32"));
 * if ((await v.data()).join() !== "3,4") throw new Error();
 * ```
 */
export function lookupCodes(embed: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const d = embed.shape[1]!;
  return tf.tidy(() => tf.gather(embed, ids.flatten()).reshape([...ids.shape, d]));
}

/**
 * One EMA step of the codebook: with n_k the number of vectors assigned to
 * code k and s_k their sum, N_k ← γN_k + (1 − γ)n_k, S_k ← γS_k + (1 − γ)s_k,
 * and C_k = S_k / N̂_k with N̂ Laplace-smoothed so an unused code never divides
 * by zero.
 *
 * @param cb The codebook (updated in place).
 * @param z Encoder outputs [..., D].
 * @param ids Their assigned codes [...].
 * @param decay γ (0.99).
 * @param eps Laplace smoothing ε (1e-5).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { emaUpdate, initCodebook, nearestCode } from "./vector_quantizer.ts";
 * const cb = initCodebook(createRng(0), 4, 2);
 * const z = tf.randomNormal([16, 2]);
 * emaUpdate(cb, z, nearestCode(cb.embed, z));
 * ```
 */
export function emaUpdate(cb: Codebook, z: tf.Tensor, ids: tf.Tensor, decay = 0.99, eps = 1e-5): void {
  const [k, d] = cb.embed.shape as [number, number];
  tf.tidy(() => {
    const flat = z.reshape([-1, d]);
    const idx = ids.flatten() as tf.Tensor1D;
    // One-hot products instead of unsortedSegmentSum, which tfjs-cpu runs as one pass over z per code.
    const onehot = tf.oneHot(idx, k, 1, 0, "float32");
    const counts = onehot.sum(0);
    const sums = tf.matMul(onehot, flat as tf.Tensor2D, true, false);
    const size = cb.clusterSize.mul(decay).add(counts.mul(1 - decay));
    const sum = cb.embedSum.mul(decay).add(sums.mul(1 - decay));
    const n = size.sum();
    const smoothed = size.add(eps).div(n.add(k * eps)).mul(n);
    cb.clusterSize.assign(size as tf.Tensor1D);
    cb.embedSum.assign(sum as tf.Tensor2D);
    cb.embed.assign(sum.div(smoothed.expandDims(1)) as tf.Tensor2D);
  });
}

/**
 * Re-seeds every dead code (EMA cluster size below `threshold`) with a
 * distinct random vector of the batch, and resets its statistics as if it had
 * been assigned that vector once. Runs on the device with nothing read back,
 * so a training step can call it every step.
 *
 * @param cb The codebook (updated in place).
 * @param z Encoder outputs of the current batch [..., D].
 * @param rng The generator (which batch vectors).
 * @param threshold Dead below this EMA assignment count per step.
 * @returns How many codes were restarted (a scalar the caller disposes).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initCodebook, restartDeadCodes } from "./vector_quantizer.ts";
 * const cb = initCodebook(createRng(0), 4, 2);
 * cb.clusterSize.assign(tf.tensor1d([5, 0, 5, 5]));
 * if ((await restartDeadCodes(cb, tf.randomNormal([8, 2]), createRng(1)).data())[0] !== 1) throw new Error();
 * ```
 */
export function restartDeadCodes(cb: Codebook, z: tf.Tensor, rng: Rng, threshold = 0.5): tf.Scalar {
  const [k, d] = cb.embed.shape as [number, number];
  const n = z.size / d;
  // Code i takes batch vector pick[i]: a random permutation's prefix (distinct vectors) when the batch is large enough.
  const pool = Array.from({ length: n }, (_, i) => i);
  const pick = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    if (i < n) {
      const j = i + rng.int(n - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      pick[i] = pool[i]!;
    } else pick[i] = rng.int(n);
  }
  return tf.tidy(() => {
    const dead = cb.clusterSize.less(threshold);
    const seeds = tf.gather(z.reshape([n, d]), tf.tensor1d(pick, "int32"));
    const deadRows = dead.expandDims(1);
    cb.embed.assign(tf.where(deadRows, seeds, cb.embed) as tf.Tensor2D);
    cb.embedSum.assign(tf.where(deadRows, seeds, cb.embedSum) as tf.Tensor2D);
    cb.clusterSize.assign(tf.where(dead, tf.onesLike(cb.clusterSize), cb.clusterSize) as tf.Tensor1D);
    return dead.toFloat().sum() as tf.Scalar;
  });
}

/**
 * Codebook usage of a batch of ids: perplexity exp(−Σ p log p) of the
 * empirical code distribution (K when uniform, 1 when collapsed) and the
 * number of distinct codes used.
 *
 * @param ids Code ids.
 * @param k Codebook size.
 * @returns Perplexity and codes used.
 * @example
 * ```ts
 * import { codebookUsage } from "./vector_quantizer.ts";
 * const u = codebookUsage(new Int32Array([0, 1, 2, 3]), 8);
 * if (Math.abs(u.perplexity - 4) > 1e-9 || u.used !== 4) throw new Error();
 * ```
 */
export function codebookUsage(ids: ArrayLike<number>, k: number): { perplexity: number; used: number } {
  const counts = new Float64Array(k);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    counts[id] = counts[id]! + 1;
  }
  let h = 0, used = 0;
  for (const c of counts) {
    if (c === 0) continue;
    used++;
    const p = c / ids.length;
    h -= p * Math.log(p);
  }
  return { perplexity: Math.exp(h), used };
}
