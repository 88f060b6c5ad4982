/**
 * darl-cpu's float32 `Exp`, `Log` and `Tanh`: one monomorphic loop each.
 * Stock tfjs-cpu calls a closure per element through a loop shared by every
 * unary op, which made the exponentials of ADDP's 258-way log-softmax cost
 * several times their arithmetic. Same Math functions, so the same bits.
 *
 * @module
 */
import type { tf } from "../../tf.ts";
import type { KernelArgs } from "./backend.ts";

type Info = tf.TensorInfo;

/**
 * The unary kernels darl-cpu runs itself.
 *
 * @example
 * ```ts
 * import { UNARY_OPS } from "./unary.ts";
 * if (!UNARY_OPS.includes("Exp")) throw new Error();
 * ```
 */
export const UNARY_OPS = ["Exp", "Log", "Tanh"] as const;

/** y = op(x) for a float32 x; null for other dtypes (the caller runs stock). */
export function unaryF32(name: (typeof UNARY_OPS)[number], args: KernelArgs): Info | null {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== "float32") return null;
  const be = args.backend, src = be.data.get(x.dataId).values as Float32Array;
  const out = be.alloc(x.shape), y = out.view, n = y.length;
  if (name === "Exp") { for (let i = 0; i < n; i++) y[i] = Math.exp(src[i]!); }
  else if (name === "Log") { for (let i = 0; i < n; i++) y[i] = Math.log(src[i]!); }
  else for (let i = 0; i < n; i++) y[i] = Math.tanh(src[i]!);
  return out.info;
}
