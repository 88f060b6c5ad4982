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
import { gather, padV2, slice, splitV, transpose } from "./data_movement.ts";
import {
  adamW,
  attentionBwd,
  attentionFwd,
  biasGeluBwd,
  biasGeluFwd,
  globalNorm,
  layerNormBwd,
  layerNormFwd,
} from "./fused_kernels.ts";

/** The tfjs backend name of darl's CPU kernels. */
export const DARL_CPU = "darl-cpu";

type DataId = object;
type Info = tf.TensorInfo;
/** A block of WebAssembly memory: its address and size. */
export interface Block {
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

/** What tfjs passes each of darl-cpu's kernels. */
export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: DarlCpuBackend; attrs: tf.NamedAttrMap };
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

const OVERRIDES: Record<string, (args: KernelArgs) => Info | Info[]> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Sum: sum,
  ...Object.fromEntries(BINARY_OPS.map((k) => [k, binaryOp(k)])),
  Slice: (args) => slice(args) ?? stock("Slice", args),
  PadV2: (args) => padV2(args) ?? stock("PadV2", args),
  SplitV: (args) => splitV(args) ?? stock("SplitV", args),
  Transpose: (args) => transpose(args) ?? stock("Transpose", args),
  GatherV2: (args) => gather(args) ?? stock("GatherV2", args),
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
