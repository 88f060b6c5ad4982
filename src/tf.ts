/**
 * The one import of TensorFlow.js used across darl, so every module shares
 * the same engine instance and the same pinned version.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

export { tf };

/**
 * Whether the active backend has a kernel registered under `name`. Fused
 * darl ops use their kernel when it exists and fall back to a composition of
 * stock tfjs ops otherwise, so the same model code runs everywhere.
 *
 * @param name A kernel name, e.g. `"DarlLayerNorm"`.
 * @returns True when the active backend implements it.
 * @example
 * ```ts
 * import { hasKernel, tf } from "./tf.ts";
 * await tf.setBackend("cpu");
 * if (!hasKernel("BatchMatMul")) throw new Error("cpu must have BatchMatMul");
 * ```
 */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}
