/**
 * AdamW with decoupled weight decay (PyTorch semantics), global-norm
 * gradient clipping, and the warm-up + cosine learning-rate schedule.
 * A fused multi-tensor update kernel (`DarlAdamW`) is used when the backend
 * has one.
 *
 * @module
 */
import { hasKernel, tf } from "../tf.ts";

/** Kernel name of the fused multi-tensor AdamW update. */
export const ADAMW_KERNEL = "DarlAdamW";
/** Kernel name of the fused multi-tensor global L2 norm. */
export const GLOBAL_NORM_KERNEL = "DarlGlobalNorm";

/**
 * AdamW hyper-parameters (lr is given per step).
 *
 * @example
 * ```ts
 * import type { AdamWConfig } from "./optim.ts";
 * const mae: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 };
 * if (mae.beta2 !== 0.95) throw new Error();
 * ```
 */
export interface AdamWConfig {
  /** β1 (0.9). */
  beta1: number;
  /** β2 (0.95, as MAE pretraining). */
  beta2: number;
  /** ε (1e-8). */
  eps: number;
  /** Decoupled weight decay, applied to matrices only. */
  weightDecay: number;
}

/**
 * Attributes of the fused AdamW kernel (`DarlAdamW`), which every backend
 * implementing it reads: the step's hyper-parameters, bias corrections and
 * per-tensor weight-decay mask and learning-rate scale.
 *
 * @example
 * ```ts
 * import type { AdamWKernelAttrs } from "./optim.ts";
 * const at: AdamWKernelAttrs = { n: 1, lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, bc1: 0.1, bc2: 0.05, decayMask: [true], lrScale: [1] };
 * if (at.decayMask.length !== at.n) throw new Error();
 * ```
 */
export interface AdamWKernelAttrs extends AdamWConfig {
  /** Number of tensors updated. */
  n: number;
  /** Learning rate of this step. */
  lr: number;
  /** Bias corrections 1 − β1^t and 1 − β2^t. */
  bc1: number;
  bc2: number;
  /** Which tensors get weight decay. */
  decayMask: boolean[];
  /** Per-tensor learning-rate multipliers (all 1 when absent). */
  lrScale?: number[];
}

/**
 * Optimiser state: one first and second moment per parameter.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { type AdamWState, initAdamW } from "./optim.ts";
 * const s: AdamWState = initAdamW([tf.variable(tf.ones([3]))]);
 * if (s.step !== 0 || s.v[0]!.shape[0] !== 3) throw new Error();
 * ```
 */
export interface AdamWState {
  /** Updates taken so far (for bias correction). */
  step: number;
  /** First moments. */
  m: tf.Variable[];
  /** Second moments. */
  v: tf.Variable[];
}

/**
 * Zero-initialised state for a list of parameters.
 *
 * @param params The parameters.
 * @returns The state.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initAdamW } from "./optim.ts";
 * const s = initAdamW([tf.variable(tf.ones([2]))]);
 * if (s.m.length !== 1 || s.step !== 0) throw new Error();
 * ```
 */
export function initAdamW(params: tf.Tensor[]): AdamWState {
  const zeros = (p: tf.Tensor) => tf.tidy(() => tf.variable(tf.zerosLike(p), false));
  return { step: 0, m: params.map(zeros), v: params.map(zeros) };
}

/**
 * Whether a parameter gets weight decay: matrices only (rank ≥ 2), never
 * biases, LayerNorm gains, tokens or position tables.
 *
 * @param name The parameter's path.
 * @param p The parameter.
 * @returns True to decay.
 */
export function decays(name: string, p: tf.Tensor): boolean {
  return p.rank >= 2 && !name.endsWith("pos");
}

/**
 * The global L2 norm √(Σ‖g‖²) of a list of tensors, as a scalar tensor.
 *
 * @param grads The tensors.
 * @returns The norm.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { globalNorm } from "./optim.ts";
 * const n = globalNorm([tf.tensor1d([3]), tf.tensor1d([4])]);
 * if (Math.abs((await n.data())[0]! - 5) > 1e-6) throw new Error();
 * ```
 */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  if (hasKernel(GLOBAL_NORM_KERNEL)) {
    const inputs: tf.NamedTensorMap = {};
    grads.forEach((g, i) => (inputs[`g${i}`] = g));
    return tf.engine().runKernel(GLOBAL_NORM_KERNEL, inputs, { n: grads.length }) as tf.Scalar;
  }
  return tf.tidy(() => tf.sqrt(sumAll(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Sums same-shape tensors pairwise. (tfjs-webgpu 4.22's AddN and Stack give
 * wrong results for more than a few inputs on some drivers, so many-input
 * reductions are built from binary adds.)
 *
 * @param xs The tensors (at least one).
 * @returns Their sum.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { sumAll } from "./optim.ts";
 * const s = sumAll([1, 2, 3, 4, 5].map((v) => tf.scalar(v)));
 * if ((await s.data())[0] !== 15) throw new Error();
 * ```
 */
export function sumAll(xs: tf.Tensor[]): tf.Tensor {
  let level = xs;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? tf.add(level[i]!, level[i + 1]!) : level[i]!);
    }
    level = next;
  }
  return level[0]!;
}

/**
 * The factor min(1, maxNorm / norm) that clips gradients to a global norm.
 *
 * @param norm The global norm.
 * @param maxNorm The threshold (≤ 0: no clipping, factor 1).
 * @returns A scalar tensor.
 */
export function clipScale(norm: tf.Scalar, maxNorm: number): tf.Scalar {
  if (!(maxNorm > 0)) return tf.onesLike(norm);
  return tf.div(maxNorm, tf.maximum(norm, maxNorm));
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm`.
 *
 * @param grads The gradients.
 * @param maxNorm The clip threshold (≤ 0 disables clipping).
 * @returns The (scaled) gradients and the norm before clipping.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { clipByGlobalNorm } from "./optim.ts";
 * const { grads, norm } = clipByGlobalNorm([tf.tensor1d([3, 4])], 1);
 * if (Math.abs((await norm.data())[0]! - 5) > 1e-5) throw new Error();
 * if (Math.abs((await tf.norm(grads[0]!).data())[0]! - 1) > 1e-4) throw new Error();
 * ```
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  const norm = globalNorm(grads);
  if (!(maxNorm > 0)) return { grads, norm };
  const scale = clipScale(norm, maxNorm);
  return { grads: grads.map((g) => tf.mul(g, scale)), norm };
}

/**
 * One AdamW update, in place on the variables.
 *
 * @param params Parameters (variables).
 * @param grads Their gradients.
 * @param state Moments and step count (step is incremented).
 * @param lr The learning rate for this step.
 * @param cfg β1, β2, ε and weight decay.
 * @param decayMask Per parameter: apply weight decay.
 * @param gradScale Optional scalar multiplying every gradient (the clip factor).
 * @param lrScale Optional per-parameter learning-rate multipliers (layer-wise decay).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { adamwUpdate, initAdamW } from "./optim.ts";
 * const p = tf.variable(tf.tensor1d([1]));
 * const s = initAdamW([p]);
 * adamwUpdate([p], [tf.tensor1d([1])], s, 0.1, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 }, [false]);
 * if (Math.abs((await p.data())[0]! - 0.9) > 1e-5) throw new Error();
 * ```
 */
export function adamwUpdate(
  params: tf.Variable[],
  grads: tf.Tensor[],
  state: AdamWState,
  lr: number,
  cfg: AdamWConfig,
  decayMask: boolean[],
  gradScale?: tf.Tensor,
  lrScale?: number[],
): void {
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - Math.pow(cfg.beta1, t), bc2 = 1 - Math.pow(cfg.beta2, t);
  if (hasKernel(ADAMW_KERNEL)) {
    const inputs: tf.NamedTensorMap = {};
    params.forEach((p, i) => {
      inputs[`p${i}`] = p;
      inputs[`g${i}`] = grads[i]!;
      inputs[`m${i}`] = state.m[i]!;
      inputs[`v${i}`] = state.v[i]!;
    });
    const one = gradScale ? null : tf.scalar(1);
    inputs.scale = gradScale ?? one!;
    const attrs: AdamWKernelAttrs = {
      n: params.length,
      lr,
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
      bc1,
      bc2,
      decayMask,
      lrScale: lrScale ?? params.map(() => 1),
    };
    const outs = tf.engine().runKernel(ADAMW_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    params.forEach((p, i) => {
      p.assign(outs[i]!);
      state.m[i]!.assign(outs[params.length + i]!);
      state.v[i]!.assign(outs[2 * params.length + i]!);
    });
    tf.dispose(outs);
    one?.dispose();
    return;
  }
  tf.tidy(() => {
    params.forEach((p, i) => {
      const g = gradScale ? tf.mul(grads[i]!, gradScale) : grads[i]!, m = state.m[i]!, v = state.v[i]!;
      const m1 = tf.add(tf.mul(m, cfg.beta1), tf.mul(g, 1 - cfg.beta1));
      const v1 = tf.add(tf.mul(v, cfg.beta2), tf.mul(tf.square(g), 1 - cfg.beta2));
      const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), cfg.eps));
      const lri = lr * (lrScale?.[i] ?? 1);
      const decayed = decayMask[i] ? tf.mul(p, 1 - lri * cfg.weightDecay) : p;
      p.assign(tf.sub(decayed, tf.mul(update, lri)));
      m.assign(m1);
      v.assign(v1);
    });
  });
}

/**
 * A warm-up + cosine schedule.
 *
 * @example
 * ```ts
 * import { type ScheduleConfig, warmupCosine } from "./optim.ts";
 * const s: ScheduleConfig = { lr: 1e-3, minLr: 1e-5, warmupSteps: 100, steps: 2000 };
 * if (warmupCosine(100, s) !== 1e-3) throw new Error(); // the peak right after warm-up
 * ```
 */
export interface ScheduleConfig {
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate. */
  minLr: number;
  /** Linear warm-up steps. */
  warmupSteps: number;
  /** Total steps. */
  steps: number;
}

/**
 * Learning rate at a step: linear warm-up from 0 to `lr`, then cosine decay
 * to `minLr` at `steps`.
 *
 * @param step The step (0-based; the update about to be taken).
 * @param s The schedule.
 * @returns The learning rate.
 * @example
 * ```ts
 * import { warmupCosine } from "./optim.ts";
 * const s = { lr: 1, minLr: 0, warmupSteps: 10, steps: 110 };
 * if (warmupCosine(4, s) !== 0.5 || warmupCosine(110, s) !== 0) throw new Error();
 * ```
 */
export function warmupCosine(step: number, s: ScheduleConfig): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.steps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
