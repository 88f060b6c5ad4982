/**
 * `darl-cpu`: tfjs's CPU backend with darl's multi-threaded WebAssembly SIMD
 * kernels for the work that dominates training: every matrix product
 * (including the transposed ones backprop uses), fused attention with RoPE,
 * layer norm, bias + GELU, bias gradients, large element-wise ops and a
 * multi-tensor AdamW. Everything else falls through to the stock kernels.
 *
 * Tensors produced by darl's kernels live in the shared WebAssembly memory,
 * so chained kernels never copy; stock kernels read them as ordinary typed
 * arrays, and anything handed back to user code is copied out.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import { registerFusedGradients } from "../grads.ts";
import { createRuntime, FN, type Runtime } from "./runtime.ts";
import { softmaxLastAxis } from "./softmax.ts";
import { BINARY_OPS, broadcastBinary, broadcastPlan } from "./broadcast.ts";
import { UNARY_OPS, unaryF32 } from "./unary.ts";
import { avgPool2Grad, col2im, groupNormBwd, groupNormFwd, im2col } from "./image_kernels.ts";

/** The tfjs backend name of darl's CPU kernels. */
export const DARL_CPU = "darl-cpu";

type DataId = object;
type Info = tf.TensorInfo;
interface Block {
  ptr: number;
  bytes: number;
}

/** tfjs's CPU backend, storing darl kernel outputs in WebAssembly memory. */
export class DarlCpuBackend extends tf.MathBackendCPU {
  /** The kernels' runtime (memory, threads, allocator). */
  readonly rt: Runtime;
  readonly #owned = new Map<DataId, Block>();

  /** Wraps a runtime. */
  constructor(rt: Runtime) {
    super();
    this.rt = rt;
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  // Stock kernels may slice our arrays as views (e.g. contiguous Slice); copy
  // them, so a tensor never aliases memory another tensor will free.
  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): DataId {
    if (ArrayBuffer.isView(values) && values.buffer instanceof SharedArrayBuffer) {
      values = (values as Float32Array).slice();
    }
    return super.write(values, shape, dtype);
  }

  /** Allocates a float32 output in WebAssembly memory. */
  alloc(shape: number[]): { info: Info; ptr: number; view: Float32Array } {
    const n = tf.util.sizeFromShape(shape);
    const bytes = Math.max(4, n * 4);
    const ptr = this.rt.heap.alloc(bytes);
    const view = new Float32Array(this.rt.memory.buffer, ptr, n);
    const dataId = super.write(view, shape, "float32");
    this.#owned.set(dataId, { ptr, bytes });
    return { info: { dataId, shape, dtype: "float32" }, ptr, view };
  }

  /** Address of a float32 input; inputs living elsewhere are copied into `temps`. */
  ptrOf(t: Info, temps: Block[]): number {
    const values = this.data.get(t.dataId).values as Float32Array;
    if (values.buffer instanceof SharedArrayBuffer) return values.byteOffset;
    const bytes = Math.max(4, values.length * 4);
    const ptr = this.rt.heap.alloc(bytes);
    new Float32Array(this.rt.memory.buffer, ptr, values.length).set(values);
    temps.push({ ptr, bytes });
    return ptr;
  }

  /** A temporary block of `floats` floats. */
  temp(floats: number, temps: Block[]): number {
    const bytes = Math.max(4, floats * 4);
    const ptr = this.rt.heap.alloc(bytes);
    temps.push({ ptr, bytes });
    return ptr;
  }

  /** Frees temporaries. */
  release(temps: Block[]): void {
    for (const t of temps) this.rt.heap.free(t.ptr, t.bytes);
  }

  /**
   * Runs `iters` rounds of 12 independent 4-lane multiply-add chains on every
   * thread, with no memory traffic: the arithmetic ceiling these kernels run
   * under (12 × 8 flops a round per thread). Each thread's chains start at 1
   * and step x ← x·m + c; the sum of each thread's 48 lanes comes back.
   *
   * @param iters Rounds per thread.
   * @param m Multiplier of each step.
   * @param c Addend of each step.
   * @returns One sum of lanes per thread.
   * @example
   * ```ts
   * import { tf } from "../../tf.ts";
   * import { type DarlCpuBackend, registerDarlCpu } from "./backend.ts";
   * await tf.setBackend(await registerDarlCpu());
   * const sums = (tf.backend() as DarlCpuBackend).fmaPeak(10, 1, 1);
   * if (sums[0] !== 48 * 11) throw new Error(`${sums}`);
   * ```
   */
  fmaPeak(iters: number, m = 0.999, c = 1e-3): Float32Array {
    const temps: Block[] = [], nt = this.rt.threads;
    const out = this.temp(nt, temps);
    const a = this.rt.args(4);
    a.i32[0] = iters;
    a.f32[1] = m;
    a.f32[2] = c;
    a.i32[3] = out;
    this.rt.run(FN.FMA_PEAK, a.ptr, true);
    const sums = new Float32Array(this.rt.memory.buffer, out, nt).slice();
    this.release(temps);
    return sums;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const block = this.#owned.get(dataId);
    const released = super.disposeData(dataId, force);
    if (block && !this.data.has(dataId)) {
      this.rt.heap.free(block.ptr, block.bytes);
      this.#owned.delete(dataId);
    }
    return released;
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const v = super.readSync(dataId);
    return ArrayBuffer.isView(v) && v.buffer instanceof SharedArrayBuffer ? (v as Float32Array).slice() : v;
  }

  override dispose(): void {
    this.rt.close();
    super.dispose();
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: DarlCpuBackend; attrs: tf.NamedAttrMap };
const stockKernels = new Map<string, tf.KernelFunc>();

function stock(name: string, args: KernelArgs): Info | Info[] {
  const f = stockKernels.get(name);
  if (!f) throw new Error(`darl-cpu: no stock kernel ${name}`);
  return f(args as unknown as Parameters<tf.KernelFunc>[0]) as Info | Info[];
}

const isF32 = (...ts: (Info | undefined)[]) => ts.every((t) => !t || t.dtype === "float32");
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const sizeOf = (t: Info) => prod(t.shape);

// --- matrix products --------------------------------------------------------

function gemm(
  be: DarlCpuBackend,
  a: Info,
  b: Info,
  transA: boolean,
  transB: boolean,
  bias: Info | null,
): Info | null {
  const ra = a.shape.length, rb = b.shape.length;
  const M = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!, K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const N = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batchA = prod(a.shape.slice(0, -2)), batchB = prod(b.shape.slice(0, -2));
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = prod(outBatch);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  if (batchA === batch && batchA > 1 && a.shape.slice(0, -2).join() !== outBatch.join()) return null;
  if (batchB === batch && batchB > 1 && b.shape.slice(0, -2).join() !== outBatch.join()) return null;
  if (bias && sizeOf(bias) !== N) return null;
  const temps: Block[] = [];
  const out = be.alloc([...outBatch, M, N]);
  const scratch = be.rt.scratch(be.rt.gemmScratchFloats);
  const packedB = be.temp(be.rt.packedBFloats(N, K, batchB === 1 ? 1 : batch), temps);
  const args = be.rt.args(18);
  args.i32.set([
    be.ptrOf(a, temps),
    be.ptrOf(b, temps),
    out.ptr,
    bias ? be.ptrOf(bias, temps) : 0,
    M,
    N,
    K,
    a.shape[ra - 1]!,
    b.shape[rb - 1]!,
    N,
    transA ? 1 : 0,
    transB ? 1 : 0,
    batch,
    batchA === 1 ? 0 : M * K,
    batchB === 1 ? 0 : K * N,
    M * N,
    scratch,
    packedB,
  ]);
  const parallel = M * N * K >= 32768;
  be.rt.run(FN.GEMM_PACK_B, args.ptr, parallel);
  be.rt.run(FN.GEMM, args.ptr, parallel);
  be.release(temps);
  return out.info;
}

function batchMatMul(args: KernelArgs): Info | Info[] {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (isF32(a, b)) {
    const out = gemm(args.backend, a, b, transposeA, transposeB, null);
    if (out) return out;
  }
  return stock("BatchMatMul", args);
}

function fusedMatMul(args: KernelArgs): Info | Info[] {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, Info | undefined>;
  const { transposeA, transposeB, activation } = args.attrs as {
    transposeA: boolean;
    transposeB: boolean;
    activation: string;
  };
  if (activation === "linear" && !preluActivationWeights && isF32(a, b, bias)) {
    const out = gemm(args.backend, a!, b!, transposeA, transposeB, bias ?? null);
    if (out) return out;
  }
  return stock("_FusedMatMul", args);
}

// --- reductions and element-wise ---------------------------------------------

function sumColumns(be: DarlCpuBackend, x: Info, rows: number, cols: number, outShape: number[]): Info {
  const temps: Block[] = [];
  const nt = be.rt.threads;
  const partial = be.temp(nt * cols, temps);
  const a = be.rt.args(4);
  a.i32.set([be.ptrOf(x, temps), partial, rows, cols]);
  be.rt.run(FN.COLSUM, a.ptr);
  const out = be.alloc(outShape);
  const r = be.rt.args(4);
  r.i32.set([partial, out.ptr, cols, nt]);
  be.rt.run(FN.REDUCE, r.ptr, cols >= 4096);
  be.release(temps);
  return out.info;
}

function sum(args: KernelArgs): Info | Info[] {
  const { x } = args.inputs as { x: Info };
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (x.dtype === "float32" && axes.length > 0 && sizeOf(x) >= 4096) {
    const k = axes.length;
    const outShape = keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    const leading = axes.every((v, i) => v === i), trailing = axes.every((v, i) => v === rank - k + i);
    if (leading) return sumColumns(args.backend, x, prod(x.shape.slice(0, k)), prod(x.shape.slice(k)), outShape);
    if (trailing) {
      const be = args.backend, temps: Block[] = [];
      const rows = prod(x.shape.slice(0, rank - k)), cols = prod(x.shape.slice(rank - k));
      const out = be.alloc(outShape);
      const a = be.rt.args(4);
      a.i32.set([be.ptrOf(x, temps), out.ptr, rows, cols]);
      be.rt.run(FN.ROWSUM, a.ptr);
      be.release(temps);
      return out.info;
    }
  }
  return stock("Sum", args);
}

// --- data movement --------------------------------------------------------------

/**
 * Copies the box [begin, begin + size) of a row-major tensor into `dst`,
 * one `set` per contiguous run (stock tfjs walks it element by element).
 */
function copyBox(src: Float32Array, shape: number[], begin: number[], size: number[], dst: Float32Array): void {
  const r = shape.length;
  let d = r - 1; // innermost dimension that is not taken whole
  while (d > 0 && begin[d] === 0 && size[d] === shape[d]) d--;
  let run = size[d]!;
  for (let i = d + 1; i < r; i++) run *= shape[i]!;
  const strides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1]!;
  const outer = size.slice(0, d).reduce((a, b) => a * b, 1);
  const idx = new Array(d).fill(0);
  let o = 0;
  for (let n = 0; n < outer; n++) {
    let off = begin[d]! * strides[d]!;
    for (let i = 0; i < d; i++) off += (begin[i]! + idx[i]) * strides[i]!;
    dst.set(src.subarray(off, off + run), o);
    o += run;
    for (let i = d - 1; i >= 0; i--) {
      if (++idx[i] < size[i]!) break;
      idx[i] = 0;
    }
  }
}

function slice(args: KernelArgs): Info | Info[] {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== "float32" || x.shape.length === 0) return stock("Slice", args);
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    args.attrs.begin as number[],
    args.attrs.size as number[],
  ) as [number[], number[]];
  const out = args.backend.alloc(size);
  if (out.view.length) {
    copyBox(args.backend.data.get(x.dataId).values as Float32Array, x.shape, begin, size, out.view);
  }
  return out.info;
}

/**
 * Zero padding (the im2col convolutions' `tf.pad`): a zeroed output and one
 * `set` per contiguous row of the input, where stock tfjs maps every element
 * through coordinates.
 */
function padV2(args: KernelArgs): Info | Info[] {
  const { x } = args.inputs as { x: Info };
  const paddings = args.attrs.paddings as [number, number][];
  if (x.dtype !== "float32" || (args.attrs.constantValue as number) !== 0 || x.shape.length === 0) {
    return stock("PadV2", args);
  }
  const shape = x.shape, r = shape.length;
  const outShape = shape.map((s, i) => s + paddings[i]![0] + paddings[i]![1]);
  const out = args.backend.alloc(outShape);
  out.view.fill(0);
  const src = args.backend.data.get(x.dataId).values as Float32Array;
  if (src.length === 0) return out.info;
  const outStrides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) outStrides[i] = outStrides[i + 1] * outShape[i + 1]!;
  const run = shape[r - 1]!, rows = src.length / run, idx = new Array(r - 1).fill(0);
  for (let n = 0; n < rows; n++) {
    let off = paddings[r - 1]![0];
    for (let i = 0; i < r - 1; i++) off += (idx[i] + paddings[i]![0]) * outStrides[i]!;
    out.view.set(src.subarray(n * run, (n + 1) * run), off);
    for (let i = r - 2; i >= 0; i--) {
      if (++idx[i] < shape[i]!) break;
      idx[i] = 0;
    }
  }
  return out.info;
}

function splitV(args: KernelArgs): Info | Info[] {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== "float32") return stock("SplitV", args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(
    x as unknown as tf.Tensor,
    args.attrs.numOrSizeSplits as number[] | number,
    axis,
  );
  const src = args.backend.data.get(x.dataId).values as Float32Array;
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = args.backend.alloc(size);
    if (out.view.length) copyBox(src, x.shape, begin, size, out.view);
    begin[axis] += s;
    return out.info;
  });
}

/**
 * Rows of a float32 tensor by index (`tf.gather(x, idx)` on axis 0: minibatches
 * of cached features), one `set` per row; stock tfjs converts every element's
 * index to coordinates and back.
 */
function gather(args: KernelArgs): Info | Info[] {
  const { x, indices } = args.inputs as { x: Info; indices: Info };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
  if (x.dtype !== "float32" || indices.dtype !== "int32" || batchDims || axis !== 0 || x.shape.length < 1) {
    return stock("GatherV2", args);
  }
  const be = args.backend;
  const idx = be.data.get(indices.dataId).values as Int32Array;
  const rows = x.shape[0]!, row = prod(x.shape.slice(1));
  for (const i of idx) {
    if (i < 0 || i >= rows) return stock("GatherV2", args); // stock tfjs reports the bad index
  }
  const out = be.alloc([...indices.shape, ...x.shape.slice(1)]);
  const src = be.data.get(x.dataId).values as Float32Array, y = out.view;
  for (let k = 0; k < idx.length; k++) y.set(src.subarray(idx[k]! * row, (idx[k]! + 1) * row), k * row);
  return out.info;
}

/**
 * Any permutation of a float32 tensor: an odometer over the outer output
 * axes and a strided inner loop (stock tfjs converts every index to and from
 * coordinates, ~100× slower on patchify's rank-6 transpose).
 */
function transpose(args: KernelArgs): Info | Info[] {
  const { x } = args.inputs as { x: Info };
  const perm = args.attrs.perm as number[];
  const r = x.shape.length;
  if (x.dtype !== "float32" || r < 2) return stock("Transpose", args);
  const inStrides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * x.shape[i + 1]!;
  const outShape = perm.map((p) => x.shape[p]!);
  const strides = perm.map((p) => inStrides[p]!);
  const out = args.backend.alloc(outShape);
  const src = args.backend.data.get(x.dataId).values as Float32Array, y = out.view;
  const inner = outShape[r - 1]!, s = strides[r - 1]!;
  const outer = y.length / Math.max(1, inner);
  const idx = new Array(r - 1).fill(0);
  let off = 0, o = 0;
  for (let n = 0; n < outer; n++) {
    for (let c = 0, q = off; c < inner; c++, q += s) y[o++] = src[q]!;
    for (let i = r - 2; i >= 0; i--) {
      off += strides[i]!;
      if (++idx[i] < outShape[i]!) break;
      off -= strides[i]! * outShape[i]!;
      idx[i] = 0;
    }
  }
  return out.info;
}

// Element-wise binary ops: large equal shapes run in WebAssembly, every broadcast in broadcast.ts.
const WASM_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2 };

function binaryOp(name: string) {
  const op = (BINARY_OPS as readonly string[]).indexOf(name);
  return (args: KernelArgs): Info | Info[] => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    if (!isF32(a, b)) return stock(name, args);
    const be = args.backend;
    if (name in WASM_OPS && sizeOf(a) >= 16384 && a.shape.join() === b.shape.join()) {
      const temps: Block[] = [];
      const out = be.alloc(a.shape);
      const r = be.rt.args(5);
      r.i32.set([be.ptrOf(a, temps), be.ptrOf(b, temps), out.ptr, sizeOf(a), WASM_OPS[name]!]);
      be.rt.run(FN.BINARY, r.ptr);
      be.release(temps);
      return out.info;
    }
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const av = be.data.get(a.dataId).values as Float32Array, bv = be.data.get(b.dataId).values as Float32Array;
    const out = be.alloc(outShape);
    broadcastBinary(op, av, bv, out.view, broadcastPlan(a.shape, b.shape, outShape));
    return out.info;
  };
}

// --- fused ops -------------------------------------------------------------------

function layerNormFwd(args: KernelArgs): Info[] {
  const { x, g, b } = args.inputs as { x: Info; g: Info; b: Info };
  const be = args.backend, temps: Block[] = [];
  const D = x.shape[x.shape.length - 1]!, rows = sizeOf(x) / D;
  const y = be.alloc(x.shape), stats = be.alloc([2, rows]); // means, then 1/std
  const a = be.rt.args(9);
  a.i32.set([
    be.ptrOf(x, temps),
    be.ptrOf(g, temps),
    be.ptrOf(b, temps),
    y.ptr,
    stats.ptr,
    stats.ptr + 4 * rows,
    rows,
    D,
  ]);
  a.f32[8] = (args.attrs.eps as number) ?? 1e-5;
  be.rt.run(FN.LN_FWD, a.ptr, sizeOf(x) >= 8192);
  be.release(temps);
  return [y.info, stats.info];
}

function layerNormBwd(args: KernelArgs): Info[] {
  const { x, g, dy, stats } = args.inputs as Record<string, Info>;
  const be = args.backend, temps: Block[] = [];
  const D = x!.shape[x!.shape.length - 1]!, rows = sizeOf(x!) / D, nt = be.rt.threads;
  const dx = be.alloc(x!.shape);
  const partial = be.temp(nt * 2 * D, temps);
  const a = be.rt.args(9);
  const statsPtr = be.ptrOf(stats!, temps);
  a.i32.set([
    be.ptrOf(x!, temps),
    be.ptrOf(g!, temps),
    be.ptrOf(dy!, temps),
    statsPtr,
    statsPtr + 4 * rows,
    dx.ptr,
    partial,
    rows,
    D,
  ]);
  be.rt.run(FN.LN_BWD, a.ptr);
  const both = be.temp(2 * D, temps);
  const r = be.rt.args(4);
  r.i32.set([partial, both, 2 * D, nt]);
  be.rt.run(FN.REDUCE, r.ptr, false);
  const dg = be.alloc([D]), db = be.alloc([D]);
  const sums = new Float32Array(be.rt.memory.buffer, both, 2 * D);
  dg.view.set(sums.subarray(0, D));
  db.view.set(sums.subarray(D));
  be.release(temps);
  return [dx.info, dg.info, db.info];
}

function biasGeluFwd(args: KernelArgs): Info {
  const { x, b } = args.inputs as { x: Info; b: Info };
  const be = args.backend, temps: Block[] = [];
  const C = sizeOf(b), rows = sizeOf(x) / C;
  const y = be.alloc(x.shape);
  const a = be.rt.args(5);
  a.i32.set([be.ptrOf(x, temps), be.ptrOf(b, temps), y.ptr, rows, C]);
  be.rt.run(FN.BIAS_GELU_FWD, a.ptr, sizeOf(x) >= 8192);
  be.release(temps);
  return y.info;
}

function biasGeluBwd(args: KernelArgs): Info[] {
  const { x, b, dy } = args.inputs as { x: Info; b: Info; dy: Info };
  const be = args.backend, temps: Block[] = [];
  const C = sizeOf(b), rows = sizeOf(x) / C, nt = be.rt.threads;
  const dx = be.alloc(x.shape);
  const partial = be.temp(nt * C, temps);
  const a = be.rt.args(7);
  a.i32.set([be.ptrOf(x, temps), be.ptrOf(b, temps), be.ptrOf(dy, temps), dx.ptr, partial, rows, C]);
  be.rt.run(FN.BIAS_GELU_BWD, a.ptr);
  const db = be.alloc(b.shape);
  const r = be.rt.args(4);
  r.i32.set([partial, db.ptr, C, nt]);
  be.rt.run(FN.REDUCE, r.ptr, false);
  be.release(temps);
  return [dx.info, db.info];
}

function attnArgs(be: DarlCpuBackend, inputs: Record<string, Info>, attrs: tf.NamedAttrMap, temps: Block[]) {
  const { qkv, cos, sin } = inputs;
  const [B, T, d3] = qkv!.shape as [number, number, number];
  const H = attrs.heads as number, dh = d3 / 3 / H;
  const Tp = Math.ceil(T / 4) * 4;
  const scratchFloats = 7 * T * dh + 2 * dh * Tp + 2 * T * Tp + 64;
  return {
    B,
    T,
    H,
    dh,
    words: [
      be.ptrOf(qkv!, temps),
      be.ptrOf(cos!, temps),
      be.ptrOf(sin!, temps),
      0, // out
      0, // lse
      B,
      T,
      H,
      dh,
      attrs.segment as number,
      attrs.mask as number, // 0: bidirectional; c ≥ 1: causal with a prefix of c keys
      be.rt.scratch(scratchFloats),
      scratchFloats,
    ],
  };
}

function attentionFwd(args: KernelArgs): Info[] {
  const be = args.backend, temps: Block[] = [];
  const { B, T, H, dh, words } = attnArgs(be, args.inputs as Record<string, Info>, args.attrs, temps);
  const out = be.alloc([B, T, H * dh]), lse = be.alloc([B, H, T]);
  words[3] = out.ptr;
  words[4] = lse.ptr;
  const a = be.rt.args(words.length);
  a.i32.set(words);
  be.rt.run(FN.ATTN_FWD, a.ptr, B * H > 1);
  be.release(temps);
  return [out.info, lse.info];
}

function attentionBwd(args: KernelArgs): Info {
  const be = args.backend, temps: Block[] = [];
  const inputs = args.inputs as Record<string, Info>;
  const { B, T, H, dh, words } = attnArgs(be, inputs, args.attrs, temps);
  const dqkv = be.alloc([B, T, 3 * H * dh]);
  words[4] = be.ptrOf(inputs.lse!, temps);
  words.push(be.ptrOf(inputs.dout!, temps), dqkv.ptr);
  const a = be.rt.args(words.length);
  a.i32.set(words);
  be.rt.run(FN.ATTN_BWD, a.ptr, B * H > 1);
  be.release(temps);
  return dqkv.info;
}

function adamW(args: KernelArgs): Info[] {
  const be = args.backend, temps: Block[] = [];
  const at = args.attrs as {
    n: number;
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    bc1: number;
    bc2: number;
    decayMask: boolean[];
    lrScale?: number[];
  };
  const inputs = args.inputs as Record<string, Info>;
  const n = at.n;
  const table = be.temp(8 * n, temps), decay = be.temp(n, temps), scales = be.temp(n, temps);
  const outs: Info[][] = [[], [], []];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = inputs[`p${i}`]!;
    const words = [
      be.ptrOf(p, temps),
      be.ptrOf(inputs[`g${i}`]!, temps),
      be.ptrOf(inputs[`m${i}`]!, temps),
      be.ptrOf(inputs[`v${i}`]!, temps),
    ];
    for (let k = 0; k < 3; k++) {
      const o = be.alloc(p.shape);
      outs[k]!.push(o.info);
      words.push(o.ptr);
    }
    words.push(sizeOf(p));
    new Int32Array(be.rt.memory.buffer, table + 32 * i, 8).set(words);
    new Float32Array(be.rt.memory.buffer, decay, n)[i] = at.decayMask[i] ? at.weightDecay : 0;
    new Float32Array(be.rt.memory.buffer, scales, n)[i] = at.lrScale?.[i] ?? 1;
    total += sizeOf(p);
  }
  let gradScale = 1;
  if (inputs.scale) gradScale = (be.data.get(inputs.scale.dataId).values as Float32Array)[0]!;
  const a = be.rt.args(14);
  a.i32.set([table, decay, scales, n, total]);
  a.f32.set([at.lr, at.beta1, at.beta2, at.eps, at.bc1, at.bc2, gradScale], 5);
  be.rt.run(FN.ADAMW, a.ptr, total >= 16384);
  be.release(temps);
  return [...outs[0]!, ...outs[1]!, ...outs[2]!];
}

function globalNorm(args: KernelArgs): Info {
  const be = args.backend, temps: Block[] = [];
  const n = args.attrs.n as number, nt = be.rt.threads;
  const table = be.temp(2 * n, temps);
  const partial = be.temp(2 * nt, temps);
  let total = 0;
  const words = new Int32Array(be.rt.memory.buffer, table, 2 * n);
  for (let i = 0; i < n; i++) {
    const g = (args.inputs as Record<string, Info>)[`g${i}`]!;
    words[2 * i] = be.ptrOf(g, temps);
    words[2 * i + 1] = sizeOf(g);
    total += sizeOf(g);
  }
  const a = be.rt.args(4);
  a.i32.set([table, partial, n, total]);
  be.rt.run(FN.SUMSQ, a.ptr, total >= 16384);
  const parts = new Float64Array(be.rt.memory.buffer, partial, nt);
  let s = 0;
  for (let t = 0; t < (total >= 16384 ? nt : 1); t++) s += parts[t]!;
  const out = be.alloc([]);
  out.view[0] = Math.sqrt(s);
  be.release(temps);
  return out.info;
}

const OVERRIDES: Record<string, (args: KernelArgs) => Info | Info[]> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Sum: sum,
  ...Object.fromEntries(BINARY_OPS.map((k) => [k, binaryOp(k)])),
  Slice: slice,
  PadV2: padV2,
  SplitV: splitV,
  Transpose: transpose,
  GatherV2: gather,
  ...Object.fromEntries(UNARY_OPS.map((k) => [k, (args: KernelArgs) => unaryF32(k, args) ?? stock(k, args)])),
  Softmax: (args) => softmaxLastAxis(args) ?? stock("Softmax", args),
  AvgPoolGrad: (args) => avgPool2Grad(args) ?? stock("AvgPoolGrad", args),
  DarlIm2col: im2col,
  DarlCol2im: col2im,
  DarlGroupNorm: groupNormFwd,
  DarlGroupNormGrad: groupNormBwd,
  DarlLayerNorm: layerNormFwd,
  DarlLayerNormGrad: layerNormBwd,
  DarlBiasGelu: biasGeluFwd,
  DarlBiasGeluGrad: biasGeluBwd,
  DarlAttention: attentionFwd,
  DarlAttentionGrad: attentionBwd,
  DarlAdamW: adamW,
  DarlGlobalNorm: globalNorm,
};

let registered = false;

/**
 * Registers the `darl-cpu` backend (once) and returns its name. The runtime
 * (memory and worker threads) starts when the backend is first selected.
 *
 * @returns "darl-cpu".
 */
export function registerDarlCpu(): Promise<string> {
  if (!registered) {
    registered = true;
    registerFusedGradients();
    tf.registerBackend(DARL_CPU, async () => new DarlCpuBackend(await createRuntime()), 0);
    for (const k of tf.getKernelsForBackend("cpu")) {
      stockKernels.set(k.kernelName, k.kernelFunc);
      if (!(k.kernelName in OVERRIDES)) tf.registerKernel({ ...k, backendName: DARL_CPU });
    }
    for (const [kernelName, f] of Object.entries(OVERRIDES)) {
      tf.registerKernel({ kernelName, backendName: DARL_CPU, kernelFunc: f as unknown as tf.KernelFunc });
    }
  }
  return Promise.resolve(DARL_CPU);
}
