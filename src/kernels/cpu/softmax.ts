/**
 * darl-cpu's `Softmax` over the last axis: one pass per row for the maximum,
 * one for exp and its sum, one to scale. Stock tfjs-cpu runs max, subtract,
 * exp, sum and divide as five kernels with broadcasting, which made the
 * softmax over ADDP's token vocabulary (64·49 rows of 258) cost as much as
 * its predictor's matrix products.
 *
 * @module
 */
import type { tf } from "../../tf.ts";
import type { KernelArgs } from "./backend.ts";

type Info = tf.TensorInfo;

/** Softmax of float32 logits over the last axis; null for anything else (the caller runs stock). */
export function softmaxLastAxis(args: KernelArgs): Info | null {
  const { logits } = args.inputs as { logits: Info };
  const dim = args.attrs.dim as number, r = logits.shape.length;
  if (logits.dtype !== "float32" || r === 0 || (dim !== -1 && dim !== r - 1)) return null;
  const be = args.backend, d = logits.shape[r - 1]!;
  const x = be.data.get(logits.dataId).values as Float32Array, out = be.alloc(logits.shape), y = out.view;
  if (d === 0) return out.info;
  for (let o = 0; o < x.length; o += d) {
    let m = -Infinity;
    for (let i = o; i < o + d; i++) if (x[i]! > m) m = x[i]!;
    let s = 0;
    for (let i = o; i < o + d; i++) s += y[i] = Math.exp(x[i]! - m);
    const inv = 1 / s;
    for (let i = o; i < o + d; i++) y[i]! *= inv;
  }
  return out.info;
}
