/**
 * The one import of TensorFlow.js used across darl, so every module shares
 * the same engine instance and the same pinned version.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

// Deno defines process.versions.node, so tfjs believes it runs in Node and its
// CPU backend prints an advert for tfjs-node on first use. IS_NODE must stay
// true (tfjs-wasm loads its binary that way), so the first-use flag is cleared.
const cpuWrite = tf.MathBackendCPU.prototype.write;
tf.MathBackendCPU.prototype.write = function (this: { firstUse: boolean }, ...args: Parameters<typeof cpuWrite>) {
  this.firstUse = false;
  return cpuWrite.apply(this as never, args);
};

/** TensorFlow.js, the namespace darl computes with (documented in `tf_namespace.ts`). */
export * as tf from "./tf_namespace.ts";

/** Tensor types of TensorFlow.js, for darl's public signatures. */
export type { Rank, Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable } from "@tensorflow/tfjs";

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
