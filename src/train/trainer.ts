/**
 * The one training step every model in darl uses: gradients of a loss with
 * respect to an explicit tree of trainable parameters (frozen parts are
 * simply not in the tree), their global norm, clipping, and an update by
 * AdamW (decoupled weight decay, per-tensor learning-rate scales), LARS
 * (MAE's linear probe) or SGD with momentum and L2 weight decay (VTAB's
 * linear head). Nothing is read back: the loss and gradient norm stay on
 * the device for the caller to read when it logs.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { namedLeaves, type ParamTree } from "../nn/tree.ts";
import { type AdamWState, adamwUpdate, clipScale, decays, globalNorm, initAdamW } from "./optim.ts";

/**
 * AdamW settings (PyTorch semantics; weight decay on the tensors the decay rule selects).
 *
 * @example
 * ```ts
 * import type { AdamWOptimizer } from "./trainer.ts";
 * const o: AdamWOptimizer = { kind: "adamw", beta1: 0.9, beta2: 0.95, weightDecay: 0.05 };
 * if (o.eps !== undefined) throw new Error(); // 1e-8 by default
 * ```
 */
export interface AdamWOptimizer {
  /** "adamw". */
  kind: "adamw";
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** ε (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay. */
  weightDecay: number;
}

/**
 * LARS (You et al.; MAE's linear probe): trust-ratio scaled momentum on matrices, plain momentum elsewhere.
 *
 * @example
 * ```ts
 * import type { LarsOptimizer } from "./trainer.ts";
 * const mae: LarsOptimizer = { kind: "lars", momentum: 0.9, trust: 0.001 };
 * if (mae.trust !== 0.001) throw new Error();
 * ```
 */
export interface LarsOptimizer {
  /** "lars". */
  kind: "lars";
  /** Momentum (0.9). */
  momentum: number;
  /** Trust coefficient η (0.001). */
  trust: number;
}

/**
 * SGD with momentum and coupled L2 weight decay on matrices (PyTorch's SGD).
 *
 * @example
 * ```ts
 * import type { SgdOptimizer } from "./trainer.ts";
 * const vtab: SgdOptimizer = { kind: "sgd", momentum: 0.9, weightDecay: 1e-4 };
 * if (vtab.momentum !== 0.9) throw new Error();
 * ```
 */
export interface SgdOptimizer {
  /** "sgd". */
  kind: "sgd";
  /** Momentum (0.9). */
  momentum: number;
  /** L2 weight decay added to the gradient of decayed tensors. */
  weightDecay: number;
}

/**
 * An optimiser's settings.
 *
 * @example
 * ```ts
 * import type { OptimizerConfig } from "./trainer.ts";
 * const all: OptimizerConfig[] = [{ kind: "adamw", beta1: 0.9, beta2: 0.999, weightDecay: 0 }, { kind: "lars", momentum: 0.9, trust: 0.001 }];
 * if (all.length !== 2) throw new Error();
 * ```
 */
export type OptimizerConfig = AdamWOptimizer | LarsOptimizer | SgdOptimizer;

/**
 * Everything a training step needs about the trainable parameters.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createTrainer, type Trainer } from "./trainer.ts";
 * const t: Trainer = createTrainer({ w: tf.variable(tf.ones([2, 2])), b: tf.variable(tf.zeros([2])) }, { optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.95, weightDecay: 0.05 } });
 * if (t.decayMask.join() !== "true,false") throw new Error(); // matrices decay, biases do not
 * ```
 */
export interface Trainer {
  /** Parameter paths, in tree order. */
  names: string[];
  /** The trainable variables, aligned with `names`. */
  vars: tf.Variable[];
  /** Optimiser state: AdamW moments (LARS and SGD use `m` as the momentum buffer). */
  opt: AdamWState;
  /** Per parameter: whether weight decay (or LARS scaling) applies. */
  decayMask: boolean[];
  /** Per parameter: learning-rate multiplier (layer-wise decay). */
  lrScale: number[];
  /** The optimiser. */
  optimizer: OptimizerConfig;
  /** Global gradient-norm clip (≤ 0: off). */
  clip: number;
}

/**
 * Options of {@linkcode createTrainer}.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createTrainer, type TrainerOptions } from "./trainer.ts";
 * const opts: TrainerOptions = { optimizer: { kind: "sgd", momentum: 0.9, weightDecay: 0 }, clip: 1, lrScale: (name) => (name.startsWith("head") ? 1 : 0.1) };
 * const t = createTrainer({ head: tf.variable(tf.ones([2])), body: tf.variable(tf.ones([2])) }, opts);
 * if (t.lrScale.join() !== "1,0.1") throw new Error();
 * ```
 */
export interface TrainerOptions {
  /** The optimiser. */
  optimizer: OptimizerConfig;
  /** Global gradient-norm clip (≤ 0: off; default 0). */
  clip?: number;
  /** Which tensors get weight decay (default: matrices, not position tables). */
  decay?: (name: string, t: tf.Tensor) => boolean;
  /** Learning-rate multiplier per tensor (default 1). */
  lrScale?: (name: string) => number;
}

/**
 * Prepares a trainer for an explicit tree of trainable variables.
 *
 * @param trainable The parameters to update (every leaf a `tf.Variable`).
 * @param opts Optimiser, clipping, decay rule, lr scales.
 * @returns The trainer (zeroed optimiser state).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createTrainer, trainStep } from "./trainer.ts";
 * const w = tf.variable(tf.tensor1d([3]));
 * const t = createTrainer({ w }, { optimizer: { kind: "sgd", momentum: 0, weightDecay: 0 } });
 * const { loss, gradNorm } = trainStep(t, () => tf.sum(tf.square(w)), 0.25); // w ← w − 0.25·2w
 * if ((await w.data())[0] !== 1.5 || (await gradNorm.data())[0] !== 6) throw new Error();
 * tf.dispose([loss, gradNorm]);
 * ```
 */
export function createTrainer(trainable: ParamTree, opts: TrainerOptions): Trainer {
  const leaves = namedLeaves(trainable);
  const vars = leaves.map(([, t]) => t as tf.Variable);
  const decay = opts.decay ?? decays;
  return {
    names: leaves.map(([n]) => n),
    vars,
    opt: initAdamW(vars),
    decayMask: leaves.map(([n, t]) => decay(n, t)),
    lrScale: leaves.map(([n]) => opts.lrScale?.(n) ?? 1),
    optimizer: opts.optimizer,
    clip: opts.clip ?? 0,
  };
}

/**
 * The pretraining runs' trainer: AdamW with a run config's betas, weight
 * decay and gradient clipping, over a tree of trainable variables.
 *
 * @param trainable The parameters to update.
 * @param train The run config's optimiser fields.
 * @returns The trainer.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { adamwTrainer } from "./trainer.ts";
 * const t = adamwTrainer({ w: tf.variable(tf.zeros([2, 2])) }, { beta1: 0.9, beta2: 0.95, weightDecay: 0.05, clip: 3 });
 * if (t.optimizer.kind !== "adamw" || t.clip !== 3) throw new Error();
 * ```
 */
export function adamwTrainer(
  trainable: ParamTree,
  train: { beta1: number; beta2: number; weightDecay: number; clip: number },
): Trainer {
  return createTrainer(trainable, {
    optimizer: { kind: "adamw", beta1: train.beta1, beta2: train.beta2, weightDecay: train.weightDecay },
    clip: train.clip,
  });
}

/**
 * One optimiser step: loss, gradients of the trainable variables, global
 * norm, clipping, update. Runs inside `tf.tidy`; only the returned scalars
 * survive (the caller disposes them).
 *
 * @param t The trainer (its variables and state are updated in place).
 * @param loss Computes the scalar loss from the current variables.
 * @param lr The learning rate of this step.
 * @returns The loss and the gradient norm before clipping.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createTrainer, trainStep } from "./trainer.ts";
 * const w = tf.variable(tf.tensor2d([[1, 2]]));
 * const t = createTrainer({ w }, { optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.999, weightDecay: 0 }, clip: 1 });
 * const r = trainStep(t, () => tf.sum(w), 0.1);
 * if (Math.abs((await w.data())[0]! - 0.9) > 1e-6) throw new Error();
 * tf.dispose([r.loss, r.gradNorm]);
 * ```
 */
export function trainStep(t: Trainer, loss: () => tf.Scalar, lr: number): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(loss, t.vars);
    // A parameter this step's loss did not reach (e.g. ADDP's token embedding when every token is masked) gets a
    // zero gradient; PyTorch would skip it, so Adam's momentum still moves it by one step here.
    const g = t.vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
    const norm = globalNorm(g);
    const o = t.optimizer;
    if (o.kind === "adamw") {
      const adam = { beta1: o.beta1, beta2: o.beta2, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay };
      adamwUpdate(t.vars, g, t.opt, lr, adam, t.decayMask, clipScale(norm, t.clip), t.lrScale);
    } else {
      momentumUpdate(t, g, lr, t.clip > 0 ? clipScale(norm, t.clip) : null);
    }
    return { loss: value, gradNorm: norm };
  });
}

/** LARS and SGD: v ← μ·v + (scaled) g; p ← p − lr·v. */
function momentumUpdate(t: Trainer, grads: tf.Tensor[], lr: number, scale: tf.Scalar | null): void {
  const o = t.optimizer as LarsOptimizer | SgdOptimizer;
  t.opt.step += 1;
  t.vars.forEach((p, i) => {
    const g = scale ? tf.mul(grads[i]!, scale) : grads[i]!, v = t.opt.m[i]!, rate = lr * t.lrScale[i]!;
    let step: tf.Tensor = g;
    if (o.kind === "lars" && t.decayMask[i]) {
      // Trust ratio η·‖p‖/‖g‖ (1 when either norm is 0).
      const pn = tf.norm(p), gn = tf.norm(g);
      const trust = tf.where(
        tf.logicalAnd(tf.greater(pn, 0), tf.greater(gn, 0)),
        tf.div(tf.mul(pn, o.trust), gn),
        tf.onesLike(pn),
      );
      step = tf.mul(g, trust);
    } else if (o.kind === "sgd" && t.decayMask[i] && o.weightDecay > 0) {
      step = tf.add(g, tf.mul(p, o.weightDecay));
    }
    v.assign(tf.add(tf.mul(v, o.momentum), step));
    p.assign(tf.sub(p, tf.mul(v, rate)));
  });
}

/**
 * Releases a trainer's optimiser state (not its variables, which belong to the model).
 *
 * @param t The trainer.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createTrainer, disposeTrainer } from "./trainer.ts";
 * disposeTrainer(createTrainer({ w: tf.variable(tf.zeros([2])) }, { optimizer: { kind: "sgd", momentum: 0.9, weightDecay: 0 } }));
 * ```
 */
export function disposeTrainer(t: Trainer): void {
  tf.dispose([...t.opt.m, ...t.opt.v]);
}
