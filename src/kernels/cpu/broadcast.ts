/**
 * darl-cpu's element-wise binary ops with any broadcasting. The output's axes
 * are collapsed wherever both operands stay contiguous, so most broadcasts
 * become one or two axes: an outer odometer and an inner run with a fixed
 * stride per operand (0 for a broadcast value). Each op has its own inner
 * loop: the previous generic loop called an index closure and an op closure
 * per element, and its scalar and per-row multiplies were a fifth of ADDP's
 * training step. The arithmetic is unchanged (JavaScript doubles stored to
 * float32), so results equal the old loop's bit for bit.
 *
 * @module
 */

/**
 * The binary kernels darl-cpu runs itself, in the order of their op codes.
 *
 * @example
 * ```ts
 * import { BINARY_OPS } from "./broadcast.ts";
 * if (BINARY_OPS.indexOf("Multiply") !== 2) throw new Error();
 * ```
 */
export const BINARY_OPS = ["Add", "Sub", "Multiply", "RealDiv", "SquaredDifference", "Maximum", "Minimum"] as const;

/**
 * A broadcast collapsed to its fewest axes: the output's sizes and each
 * operand's element stride along them.
 *
 * @example
 * ```ts
 * import type { BroadcastPlan } from "./broadcast.ts";
 * const rowScale: BroadcastPlan = { dims: [4, 8], strideA: [8, 1], strideB: [1, 0] };
 * if (rowScale.dims.length !== 2) throw new Error();
 * ```
 */
export interface BroadcastPlan {
  /** Output sizes per collapsed axis (empty for a scalar output). */
  dims: number[];
  /** Stride of operand a along each axis. */
  strideA: number[];
  /** Stride of operand b along each axis. */
  strideB: number[];
}

function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const pad = [...new Array(out.length - shape.length).fill(1), ...shape];
  const strides = new Array<number>(out.length);
  for (let d = out.length - 1, s = 1; d >= 0; d--) {
    strides[d] = pad[d] === 1 ? 0 : s;
    s *= pad[d]!;
  }
  return strides;
}

/**
 * Plans a broadcast of shapes a and b to `out` (which must be their
 * broadcast shape): size-1 output axes are dropped and neighbours merged where
 * both operands are contiguous across them.
 *
 * @param a Shape of operand a.
 * @param b Shape of operand b.
 * @param out The broadcast shape.
 * @returns The collapsed plan.
 * @example
 * ```ts
 * import { broadcastPlan } from "./broadcast.ts";
 * // A [64, 49, 1] per-row factor against [64, 49, 256]: rows × columns.
 * const p = broadcastPlan([64, 49, 1], [64, 49, 256], [64, 49, 256]);
 * if (p.dims.join() !== "3136,256" || p.strideA.join() !== "1,0" || p.strideB.join() !== "256,1") throw new Error();
 * ```
 */
export function broadcastPlan(a: readonly number[], b: readonly number[], out: readonly number[]): BroadcastPlan {
  const sa = broadcastStrides(a, out), sb = broadcastStrides(b, out);
  const dims: number[] = [], strideA: number[] = [], strideB: number[] = [];
  for (let d = 0; d < out.length; d++) {
    if (out[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strideA[last] === sa[d]! * out[d]! && strideB[last] === sb[d]! * out[d]!) {
      dims[last]! *= out[d]!;
      strideA[last] = sa[d]!;
      strideB[last] = sb[d]!;
    } else {
      dims.push(out[d]!);
      strideA.push(sa[d]!);
      strideB.push(sb[d]!);
    }
  }
  return { dims, strideA, strideB };
}

// One monomorphic loop per op over n outputs from y[o], reading a from pa by ia and b from pb by ib.
function run(
  op: number,
  a: Float32Array,
  pa: number,
  ia: number,
  b: Float32Array,
  pb: number,
  ib: number,
  y: Float32Array,
  o: number,
  n: number,
): void {
  const end = o + n;
  switch (op) {
    case 0:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = a[pa]! + b[pb]!;
      return;
    case 1:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = a[pa]! - b[pb]!;
      return;
    case 2:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = a[pa]! * b[pb]!;
      return;
    case 3:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = a[pa]! / b[pb]!;
      return;
    case 4:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = (a[pa]! - b[pb]!) * (a[pa]! - b[pb]!);
      return;
    case 5:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = a[pa]! > b[pb]! ? a[pa]! : b[pb]!;
      return;
    case 6:
      for (; o < end; o++, pa += ia, pb += ib) y[o] = a[pa]! < b[pb]! ? a[pa]! : b[pb]!;
      return;
    default:
      throw new Error(`broadcast: unknown op code ${op}`);
  }
}

/**
 * Computes y = a ∘ b under a broadcast plan.
 *
 * @param op Index into {@linkcode BINARY_OPS}.
 * @param a Values of operand a.
 * @param b Values of operand b.
 * @param y The output, sized to the broadcast shape.
 * @param plan From {@linkcode broadcastPlan}.
 * @example
 * ```ts
 * import { broadcastBinary, broadcastPlan } from "./broadcast.ts";
 * const y = new Float32Array(6);
 * broadcastBinary(2, Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(10, 100), y, broadcastPlan([2, 3], [2, 1], [2, 3]));
 * if (y.join() !== "10,20,30,400,500,600") throw new Error();
 * ```
 */
export function broadcastBinary(
  op: number,
  a: Float32Array,
  b: Float32Array,
  y: Float32Array,
  plan: BroadcastPlan,
): void {
  if (y.length === 0) return;
  const { dims, strideA, strideB } = plan, r = dims.length;
  if (r === 0) return run(op, a, 0, 0, b, 0, 0, y, 0, 1);
  const n = dims[r - 1]!, ia = strideA[r - 1]!, ib = strideB[r - 1]!, idx = new Array<number>(r - 1).fill(0);
  let pa = 0, pb = 0;
  for (let o = 0; o < y.length; o += n) {
    run(op, a, pa, ia, b, pb, ib, y, o, n);
    for (let d = r - 2; d >= 0; d--) {
      pa += strideA[d]!;
      pb += strideB[d]!;
      if (++idx[d]! < dims[d]!) break;
      pa -= strideA[d]! * dims[d]!;
      pb -= strideB[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}
