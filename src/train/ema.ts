/**
 * An exponential moving average of the weights (Polyak averaging, as timm's
 * `ModelEmaV3`): a shadow copy s of every trained parameter p follows
 *
 *   s ← d_t·s + (1 − d_t)·p after optimiser step t, d_t = min(d, (1 + t) / (10 + t)),
 *
 * the warm-up of d_t keeping a short run's shadow from being anchored to the
 * initialisation. The shadow is the model a run delivers: checkpoints store
 * it under the parameters' own names, so every loader (probes, sampling,
 * fine-tuning, VTAB, the ADDP stages) reads the averaged weights, and keep the live weights
 * beside it as `live.<path>` for an exact resume and for `--weights live`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check } from "../errors.ts";
import { namedLeaves, type ParamTree } from "../nn/tree.ts";
import type { StoredTensor } from "./safetensors.ts";

/**
 * The averaged weights of a run.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createWeightEma, type WeightEma } from "./ema.ts";
 * const ema: WeightEma = createWeightEma({ w: tf.variable(tf.ones([2])) }, 0.999);
 * if (ema.names.join() !== "w" || ema.shadow[0] === ema.live[0]) throw new Error();
 * ```
 */
export interface WeightEma {
  /** The target decay d. */
  decay: number;
  /** Paths of the averaged parameters. */
  names: string[];
  /** The live (trained) variables, aligned with `names`. */
  live: tf.Variable[];
  /** Their averages, aligned with `names`. */
  shadow: tf.Variable[];
}

/**
 * The decay used after optimiser step `step` (1-based): d, warmed up as
 * (1 + t) / (10 + t) while that is smaller.
 *
 * @param decay The target decay.
 * @param step Optimiser steps taken, including this one.
 * @returns d_t.
 * @example
 * ```ts
 * import { emaDecayAt } from "./ema.ts";
 * if (emaDecayAt(0.999, 1) !== 2 / 11 || emaDecayAt(0.999, 100000) !== 0.999) throw new Error();
 * ```
 */
export function emaDecayAt(decay: number, step: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}

/**
 * Starts an average at the current weights.
 *
 * @param params The model's parameter tree (variables).
 * @param decay The target decay, in (0, 1).
 * @param names The parameters to average (default: every leaf); frozen or
 *   otherwise-assigned parts are left out.
 * @returns The average.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createWeightEma, disposeWeightEma } from "./ema.ts";
 * const ema = createWeightEma({ a: tf.variable(tf.ones([2])), b: tf.variable(tf.zeros([1])) }, 0.99, ["a"]);
 * if (ema.shadow.length !== 1 || (await ema.shadow[0]!.data())[0] !== 1) throw new Error();
 * disposeWeightEma(ema);
 * ```
 */
export function createWeightEma(params: ParamTree, decay: number, names?: string[]): WeightEma {
  check(decay > 0 && decay < 1, `--ema-decay: expected a decay in (0, 1), got ${decay}`);
  const leaves = new Map(namedLeaves(params));
  const chosen = names ?? [...leaves.keys()];
  const live = chosen.map((n) => {
    const v = leaves.get(n);
    check(v !== undefined, `weight EMA: no parameter "${n}" in the model`);
    return v as tf.Variable;
  });
  return {
    decay,
    names: chosen,
    live,
    shadow: live.map((v) => tf.tidy(() => tf.variable(v.clone(), false))),
  };
}

/**
 * Moves the average towards the live weights after an optimiser step.
 *
 * @param ema The average (updated in place).
 * @param step Optimiser steps taken, including the one just taken.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createWeightEma, updateWeightEma } from "./ema.ts";
 * const w = tf.variable(tf.zeros([1]));
 * const ema = createWeightEma({ w }, 0.5);
 * w.assign(tf.ones([1]));
 * updateWeightEma(ema, 100); // d = 0.5: halfway
 * if ((await ema.shadow[0]!.data())[0] !== 0.5) throw new Error();
 * ```
 */
export function updateWeightEma(ema: WeightEma, step: number): void {
  const rate = 1 - emaDecayAt(ema.decay, step);
  tf.tidy(() => {
    ema.shadow.forEach((s, i) => s.assign(tf.add(s, tf.mul(tf.sub(ema.live[i]!, s), rate))));
  });
}

/**
 * Releases the shadow weights (not the live ones, which belong to the model).
 *
 * @param ema The average.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createWeightEma, disposeWeightEma } from "./ema.ts";
 * const w = tf.variable(tf.ones([3]));
 * const before = tf.memory().numTensors;
 * disposeWeightEma(createWeightEma({ w }, 0.9));
 * if (tf.memory().numTensors !== before) throw new Error();
 * ```
 */
export function disposeWeightEma(ema: WeightEma): void {
  tf.dispose(ema.shadow);
}

/**
 * A checkpoint's live weights: its parameters with every `live.<path>`
 * tensor (saved by a run with a weight EMA) in place of the average.
 *
 * @param params The checkpoint's parameters (averages where averaged).
 * @param live Its live weights, when saved.
 * @returns The live model's tensors (`params` itself when nothing was averaged).
 * @example
 * ```ts
 * import { liveWeights } from "./ema.ts";
 * const t = (v: number) => ({ dtype: "F32" as const, shape: [1], data: new Float32Array([v]) });
 * const w = liveWeights(new Map([["a", t(1)], ["b", t(2)]]), new Map([["a", t(5)]]));
 * if (w.get("a")!.data[0] !== 5 || w.get("b")!.data[0] !== 2) throw new Error();
 * ```
 */
export function liveWeights(
  params: Map<string, StoredTensor>,
  live: Map<string, StoredTensor> | undefined,
): Map<string, StoredTensor> {
  if (!live) return params;
  return new Map([...params].map(([n, t]) => [n, live.get(n) ?? t]));
}
