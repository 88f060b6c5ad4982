/**
 * Rotary position embeddings (RoPE): axial 2D (the DARL default) and 1D over
 * the raster index.
 *
 * A head vector of width d_h is split into segments of width `segment`; in
 * each, channel j < segment/2 is paired with j + segment/2 ("rotate half", as
 * in EVA-02) and the pair is rotated by angle pos·ω_j:
 *
 * - 2D axial: two segments of d_h/2. The first rotates with the patch row y,
 *   the second with the column x; ω_i = base^(−4i/d_h), i < d_h/4.
 * - 1D: one segment of d_h rotating with the token index; ω_i =
 *   base^(−2i/d_h), i < d_h/2.
 *
 * The rotation is written as x·cos + rot(x)·sin with full-width tables, so
 * the same tables drive both the stock composition and the fused kernels.
 *
 * @module
 */
import { tf } from "../tf.ts";

/**
 * Precomputed RoPE tables for a sequence.
 *
 * @example
 * ```ts
 * import { type RopeTables, ropeTables } from "./rope.ts";
 * const t: RopeTables = ropeTables([null, { row: 0, col: 0, index: 1 }, { row: 0, col: 1, index: 2 }], 8, "rope2d", 10000);
 * if (t.cos[0] !== 1 || t.sin[0] !== 0 || t.length !== 3) throw new Error(); // SOS is not rotated
 * ```
 */
export interface RopeTables {
  /** cos of each channel's angle, [T, d_h] (1 where a token is unrotated). */
  cos: Float32Array;
  /** sin of each channel's angle, [T, d_h] (0 where a token is unrotated). */
  sin: Float32Array;
  /** Sequence length T. */
  length: number;
  /** Head width d_h. */
  headDim: number;
  /** Width of each rotate-half segment. */
  segment: number;
}

/**
 * A token's coordinates on the patch grid, or null for a token that is not
 * rotated (the start-of-sequence token).
 *
 * @example
 * ```ts
 * import type { TokenPosition } from "./rope.ts";
 * const sos: TokenPosition = null, first: TokenPosition = { row: 0, col: 0, index: 1 };
 * if (sos !== null || first.index !== 1) throw new Error();
 * ```
 */
export type TokenPosition = { row: number; col: number; index: number } | null;

/**
 * Builds RoPE tables.
 *
 * @param positions One entry per token.
 * @param headDim d_h.
 * @param kind `"rope2d"` (axial) or `"rope1d"` (raster index).
 * @param base The frequency base θ.
 * @returns The tables.
 * @example
 * ```ts
 * import { ropeTables } from "./rope.ts";
 * const t = ropeTables([null, { row: 0, col: 1, index: 1 }], 8, "rope2d", 10000);
 * if (t.cos[0] !== 1 || t.sin[0] !== 0) throw new Error("SOS must be unrotated");
 * ```
 */
export function ropeTables(
  positions: TokenPosition[],
  headDim: number,
  kind: "rope2d" | "rope1d",
  base: number,
): RopeTables {
  const T = positions.length;
  const cos = new Float32Array(T * headDim).fill(1);
  const sin = new Float32Array(T * headDim);
  const segment = kind === "rope2d" ? headDim / 2 : headDim;
  const half = segment / 2;
  const exponentScale = kind === "rope2d" ? 4 / headDim : 2 / headDim;
  for (let t = 0; t < T; t++) {
    const p = positions[t];
    if (!p) continue;
    const segPos = kind === "rope2d" ? [p.row, p.col] : [p.index];
    for (let s = 0; s < segPos.length; s++) {
      for (let i = 0; i < half; i++) {
        const angle = segPos[s]! * Math.pow(base, -exponentScale * i);
        const c = Math.cos(angle), sn = Math.sin(angle);
        for (const j of [s * segment + i, s * segment + i + half]) {
          cos[t * headDim + j] = c;
          sin[t * headDim + j] = sn;
        }
      }
    }
  }
  return { cos, sin, length: T, headDim, segment };
}

/**
 * The signed permutation R with rot(x) = x·R: within each segment,
 * [x1, x2] → [−x2, x1].
 *
 * @param headDim d_h.
 * @param segment Segment width.
 * @returns R as a flat [d_h, d_h] array.
 */
export function rotationMatrix(headDim: number, segment: number): Float32Array {
  const R = new Float32Array(headDim * headDim), half = segment / 2;
  for (let s = 0; s < headDim; s += segment) {
    for (let j = 0; j < half; j++) {
      R[(s + half + j) * headDim + s + j] = -1; // out[j] = −x[j + half]
      R[(s + j) * headDim + s + half + j] = 1; // out[j + half] = x[j]
    }
  }
  return R;
}

/**
 * rot(x): within each segment, [x1, x2] → [−x2, x1]. Written as a product
 * with a signed permutation, which stock backends run far faster than a
 * split along an inner axis.
 *
 * @param x [..., d_h].
 * @param segment Segment width.
 * @returns rot(x), same shape.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { rotateHalf } from "./rope.ts";
 * const r = await rotateHalf(tf.tensor1d([1, 2, 3, 4]), 4).data();
 * if ([...r].join() !== "-3,-4,1,2") throw new Error();
 * ```
 */
export function rotateHalf(x: tf.Tensor, segment: number): tf.Tensor {
  const dh = x.shape[x.shape.length - 1]!;
  const R = tf.tensor2d(rotationMatrix(dh, segment), [dh, dh]);
  return tf.matMul(x.reshape([-1, dh]), R).reshape(x.shape);
}

/**
 * Applies RoPE to queries or keys laid out [..., T, d_h] (stock ops).
 *
 * @param x Queries or keys.
 * @param cos cos table as a [T, d_h] tensor.
 * @param sin sin table as a [T, d_h] tensor.
 * @param segment Segment width from the tables.
 * @returns The rotated tensor.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { applyRope, ropeTables } from "./rope.ts";
 * const t = ropeTables([{ row: 1, col: 2, index: 3 }], 4, "rope1d", 100);
 * const y = applyRope(tf.ones([1, 4]), tf.tensor2d(t.cos, [1, 4]), tf.tensor2d(t.sin, [1, 4]), t.segment);
 * if (y.shape.join() !== "1,4") throw new Error();
 * ```
 */
export function applyRope(
  x: tf.Tensor,
  cos: tf.Tensor,
  sin: tf.Tensor,
  segment: number,
): tf.Tensor {
  return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x, segment), sin));
}
