/**
 * Multi-head self-attention with optional RoPE and causal mask, computed
 * from the packed qkv projection. Uses the fused `DarlAttention` kernel when
 * the backend has one, else stock tfjs ops.
 *
 * @module
 */
import { hasKernel, tf } from "../tf.ts";
import { applyRope } from "./rope.ts";

/** Kernel name of fused attention. */
export const ATTENTION_KERNEL = "DarlAttention";

/**
 * RoPE tables as tensors, as {@linkcode attention} takes them.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { attention, type RopeTensors } from "./attention.ts";
 * const identity: RopeTensors = { cos: tf.ones([3, 4]), sin: tf.zeros([3, 4]), segment: 4 }; // rotates nothing
 * const qkv = tf.randomNormal([1, 3, 24]);
 * const a = await attention(qkv, 2, identity, true).data(), b = await attention(qkv, 2, null, true).data();
 * if (a.some((v, i) => Math.abs(v - b[i]!) > 1e-5)) throw new Error();
 * ```
 */
export interface RopeTensors {
  /** [T, d_h] cos table. */
  cos: tf.Tensor;
  /** [T, d_h] sin table. */
  sin: tf.Tensor;
  /** Rotate-half segment width. */
  segment: number;
}

/**
 * softmax(rope(q)·rope(k)ᵀ/√d_h + mask)·v for every head, heads merged.
 *
 * @param qkv Packed projections [B, T, 3·d] laid out (q | k | v), each split
 *   into `heads` contiguous heads.
 * @param heads Number of heads.
 * @param rope RoPE tables, or null for none.
 * @param causal Whether token i may only attend to j ≤ i.
 * @param prefix Under the causal mask, every token also attends to the first
 *   `prefix` tokens (AIM's prefix attention); 1, the default, is the plain
 *   causal mask.
 * @returns Attention output [B, T, d].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { attention } from "./attention.ts";
 * const out = attention(tf.randomNormal([2, 5, 24]), 2, null, true);
 * if (out.shape.join() !== "2,5,8") throw new Error();
 * // A prefix as long as the sequence is bidirectional attention.
 * const qkv = tf.randomNormal([1, 4, 24]);
 * const a = await attention(qkv, 2, null, true, 4).data(), b = await attention(qkv, 2, null, false).data();
 * if (a.some((v, i) => Math.abs(v - b[i]!) > 1e-5)) throw new Error();
 * ```
 */
export function attention(
  qkv: tf.Tensor,
  heads: number,
  rope: RopeTensors | null,
  causal: boolean,
  prefix = 1,
): tf.Tensor {
  const [B, T, d3] = qkv.shape as [number, number, number];
  if (!(Number.isInteger(prefix) && prefix >= 1)) throw new Error(`attention: prefix ${prefix} is not an integer ≥ 1`);
  const d = d3 / 3, dh = d / heads;
  if (hasKernel(ATTENTION_KERNEL)) {
    // Without RoPE the fused kernel gets the identity rotation (cos 1, sin 0).
    const cos = rope ? rope.cos : tf.ones([T, dh]), sin = rope ? rope.sin : tf.zeros([T, dh]);
    const [out, lse] = tf.engine().runKernel(ATTENTION_KERNEL, { qkv, cos, sin }, {
      heads,
      // 0: bidirectional; c ≥ 1: query i sees key j when j ≤ i or j < c.
      mask: causal ? Math.min(prefix, T) : 0,
      segment: rope ? rope.segment : dh,
    }) as tf.Tensor[];
    lse!.dispose();
    if (!rope) tf.dispose([cos, sin]);
    return out!;
  }
  return tf.tidy(() => {
    // (B, T, 3, H, dh) -> (3, B, H, T, dh)
    const parts = qkv.reshape([B, T, 3, heads, dh]).transpose([2, 0, 3, 1, 4]);
    let [q, k, v] = tf.unstack(parts) as [tf.Tensor, tf.Tensor, tf.Tensor];
    if (rope) {
      q = applyRope(q, rope.cos, rope.sin, rope.segment);
      k = applyRope(k, rope.cos, rope.sin, rope.segment);
    }
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)); // (B, H, T, T)
    if (causal) scores = tf.add(scores, causalMaskBias(T, prefix));
    const probs = tf.softmax(scores, -1);
    const out = tf.matMul(probs, v); // (B, H, T, dh)
    return out.transpose([0, 2, 1, 3]).reshape([B, T, d]);
  });
}

/**
 * A [T, T] additive mask: 0 where j ≤ i or j < prefix, −1e9 elsewhere.
 *
 * @param T Sequence length.
 * @param prefix Keys every query sees (1: the plain causal mask).
 * @returns The mask tensor.
 * @example
 * ```ts
 * import { causalMaskBias } from "./attention.ts";
 * const m = await causalMaskBias(2).data();
 * if (m[1]! > -1e8 || m[2] !== 0) throw new Error();
 * const p = await causalMaskBias(3, 2).data(); // row 0 sees keys 0 and 1
 * if (p[1] !== 0 || p[2]! > -1e8) throw new Error();
 * ```
 */
export function causalMaskBias(T: number, prefix = 1): tf.Tensor2D {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = Math.max(i + 1, prefix); j < T; j++) m[i * T + j] = -1e9;
  return tf.tensor2d(m, [T, T]);
}
