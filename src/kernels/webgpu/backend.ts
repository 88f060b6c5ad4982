/**
 * `darl-webgpu`: tfjs-webgpu with darl's WGSL kernels for matrix products
 * (all transpose variants, fused bias), fused attention with RoPE, layer
 * norm, bias + GELU, a multi-tensor AdamW, and the convolutional layers' im2col
 * (and its adjoint) and group norm + swish. All other kernels are stock.
 *
 * @module
 */
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { tf } from "../../tf.ts";
import { registerFusedGradients } from "../grads.ts";
import {
  biasGeluGradProgram,
  biasGeluProgram,
  columnSumProgram,
  layerNormApplyProgram,
  layerNormGradParamsProgram,
  layerNormGradXProgram,
  layerNormStatsProgram,
  matMulProgram,
  type Program,
} from "./programs.ts";
import {
  attnDeltaProgram,
  attnGradKvProgram,
  attnGradQProgram,
  attnLseProgram,
  attnOutProgram,
  ropeQkProgram,
} from "./attention_programs.ts";
import {
  col2imProgram,
  groupNormApplyProgram,
  groupNormGradParamsProgram,
  groupNormGradXProgram,
  groupNormStatsProgram,
  im2colProgram,
} from "./image_programs.ts";
import { type Info, internals, type KernelArgs, prod, type Uniform } from "./internals.ts";
import { adamW } from "./adamw_dispatch.ts";

export { countDispatches } from "./internals.ts";

/** The tfjs backend name of darl's WebGPU kernels. */
export const DARL_WEBGPU = "darl-webgpu";

const isF32 = (...ts: (Info | undefined)[]) => ts.every((t) => !t || t.dtype === "float32");
const int = (...v: number[]): Uniform[] => v.map((x) => ({ type: "int32", data: [x] }));
const stockKernels = new Map<string, tf.KernelFunc>();

function stock(name: string, args: KernelArgs): Info | Info[] {
  return stockKernels.get(name)!(args as unknown as Parameters<tf.KernelFunc>[0]) as Info | Info[];
}

function run(be: WebGPUBackend, p: Program, inputs: Info[], uniforms: Uniform[]): Info {
  return internals(be).runWebGPUProgram(p, inputs, "float32", uniforms);
}

/** Same data, another shape (no copy), like tfjs's Reshape. */
function view(be: WebGPUBackend, t: Info, shape: number[]): Info {
  internals(be).incRef(t.dataId);
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function dispose(be: WebGPUBackend, ...ts: Info[]): void {
  for (const t of ts) be.disposeData(t.dataId);
}

// --- matrix products --------------------------------------------------------------

function gemm(be: WebGPUBackend, a: Info, b: Info, transA: boolean, transB: boolean, bias: Info | null): Info | null {
  const ra = a.shape.length, rb = b.shape.length;
  const M = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!, K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const N = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batchA = prod(a.shape.slice(0, -2)), batchB = prod(b.shape.slice(0, -2));
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = prod(outBatch);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  if (bias && prod(bias.shape) !== N) return null;
  const p = matMulProgram(batch, M, N, transA, transB, !!bias);
  const out = run(be, p, bias ? [a, b, bias] : [a, b], [
    ...int(M, N, K, a.shape[ra - 1]!, b.shape[rb - 1]!, batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N),
  ]);
  return { dataId: out.dataId, shape: [...outBatch, M, N], dtype: "float32" };
}

function batchMatMul(args: KernelArgs): Info | Info[] {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  return (isF32(a, b) && gemm(args.backend, a, b, transposeA, transposeB, null)) || stock("BatchMatMul", args);
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

// --- fused ops -----------------------------------------------------------------------

function layerNormFwd(args: KernelArgs): Info[] {
  const { x, g, b } = args.inputs as { x: Info; g: Info; b: Info };
  const be = args.backend;
  const D = x.shape[x.shape.length - 1]!, rows = prod(x.shape) / D;
  const eps = (args.attrs.eps as number) ?? 1e-5;
  const stats = run(be, layerNormStatsProgram(rows), [x], [...int(rows, D), { type: "float32", data: [eps] }]);
  const y = run(be, layerNormApplyProgram(rows * D), [x, stats, g, b], int(rows * D, rows, D));
  return [{ dataId: y.dataId, shape: x.shape, dtype: "float32" }, stats];
}

function layerNormBwd(args: KernelArgs): Info[] {
  const { x, g, dy, stats } = args.inputs as Record<string, Info>;
  const be = args.backend;
  const D = x!.shape[x!.shape.length - 1]!, rows = prod(x!.shape) / D;
  const dx = run(be, layerNormGradXProgram(rows, D), [x!, g!, dy!, stats!], int(rows, D));
  const both = run(be, layerNormGradParamsProgram(D), [x!, dy!, stats!], int(rows, D));
  return normGrads(args, dx, both, x!.shape);
}

/** A norm's gradients [dx, dg, db] from dx and the parameter gradients stacked as [2, D]. */
function normGrads(args: KernelArgs, dx: Info, both: Info, shape: number[]): Info[] {
  const be = args.backend, D = both.shape[1]!;
  const dg = stock("Slice", { ...args, inputs: { x: both }, attrs: { begin: [0, 0], size: [1, D] } }) as Info;
  const db = stock("Slice", { ...args, inputs: { x: both }, attrs: { begin: [1, 0], size: [1, D] } }) as Info;
  dispose(be, both);
  const out = [view(be, dx, shape), view(be, dg, [D]), view(be, db, [D])];
  dispose(be, dx, dg, db);
  return out;
}

// --- convolutions: im2col and group norm ----------------------------------------------

/** "same" padding before the window (TensorFlow puts an even kernel's extra pixel after). */
const padBefore = (k: number) => Math.floor((k - 1) / 2);

function im2col(args: KernelArgs): Info {
  const { x } = args.inputs as { x: Info };
  const { kh, kw } = args.attrs as { kh: number; kw: number };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return run(
    args.backend,
    im2colProgram(n, h, w, c, kh, kw),
    [x],
    int(n, h, w, c, kh, kw, padBefore(kh), padBefore(kw)),
  );
}

function col2im(args: KernelArgs): Info {
  const { dy } = args.inputs as { dy: Info };
  const { kh, kw, shape } = args.attrs as { kh: number; kw: number; shape: number[] };
  const [n, h, w, c] = shape as [number, number, number, number];
  return run(args.backend, col2imProgram(n, h, w, c), [dy], int(n, h, w, c, kh, kw, padBefore(kh), padBefore(kw)));
}

function gnUniforms(x: Info, attrs: tf.NamedAttrMap): Uniform[] {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const { groups, eps, swish } = attrs as { groups: number; eps: number; swish: boolean };
  return [...int(n, h * w, c, groups), { type: "float32", data: [eps ?? 1e-6] }, ...int(swish ? 1 : 0)];
}

function groupNormFwd(args: KernelArgs): Info[] {
  const { x, g, b } = args.inputs as { x: Info; g: Info; b: Info };
  const be = args.backend, u = gnUniforms(x, args.attrs), groups = args.attrs.groups as number;
  const stats = run(be, groupNormStatsProgram(x.shape[0]! * groups), [x], u);
  const y = run(be, groupNormApplyProgram(prod(x.shape)), [x, stats, g, b], u);
  return [{ dataId: y.dataId, shape: x.shape, dtype: "float32" }, stats];
}

function groupNormBwd(args: KernelArgs): Info[] {
  const { x, g, b, stats, dy } = args.inputs as Record<string, Info>;
  const be = args.backend, u = gnUniforms(x!, args.attrs), groups = args.attrs.groups as number;
  const [n, h, w, c] = x!.shape as [number, number, number, number];
  const inputs = [x!, g!, b!, stats!, dy!];
  const dx = run(be, groupNormGradXProgram(n, h * w, c, groups), inputs, u);
  const both = run(be, groupNormGradParamsProgram(c), inputs, u);
  return normGrads(args, dx, both, x!.shape);
}

function biasGeluFwd(args: KernelArgs): Info {
  const { x, b } = args.inputs as { x: Info; b: Info };
  const C = prod(b.shape), size = prod(x.shape);
  const y = run(args.backend, biasGeluProgram(size), [x, b], int(size, C));
  return { dataId: y.dataId, shape: x.shape, dtype: "float32" };
}

function biasGeluBwd(args: KernelArgs): Info[] {
  const { x, b, dy } = args.inputs as { x: Info; b: Info; dy: Info };
  const be = args.backend, C = prod(b.shape), size = prod(x.shape);
  const dx = run(be, biasGeluGradProgram(size), [x, b, dy], int(size, C));
  const db = run(be, columnSumProgram(C), [dx], int(size / C, C));
  return [{ dataId: dx.dataId, shape: x.shape, dtype: "float32" }, {
    dataId: db.dataId,
    shape: b.shape,
    dtype: "float32",
  }];
}

function attnGeometry(qkv: Info, attrs: tf.NamedAttrMap) {
  const [B, T, d3] = qkv.shape as [number, number, number];
  const H = attrs.heads as number, dh = d3 / 3 / H;
  const uniforms: Uniform[] = [...int(B, T, H, attrs.mask as number), { type: "float32", data: [1 / Math.sqrt(dh)] }];
  return { geom: { B, T, H, dh, segment: attrs.segment as number }, uniforms };
}

function attentionFwd(args: KernelArgs): Info[] {
  const { qkv, cos, sin } = args.inputs as Record<string, Info>;
  const be = args.backend;
  const { geom, uniforms } = attnGeometry(qkv!, args.attrs);
  const qk = run(be, ropeQkProgram(geom), [qkv!, cos!, sin!], uniforms);
  const lse = run(be, attnLseProgram(geom), [qk], uniforms);
  const out = run(be, attnOutProgram(geom), [qk, qkv!, lse], uniforms);
  dispose(be, qk);
  return [out, lse];
}

function attentionBwd(args: KernelArgs): Info {
  const { qkv, cos, sin, lse, dout } = args.inputs as Record<string, Info>;
  const be = args.backend;
  const { geom, uniforms } = attnGeometry(qkv!, args.attrs);
  const qk = run(be, ropeQkProgram(geom), [qkv!, cos!, sin!], uniforms);
  const delta = run(be, attnDeltaProgram(geom), [qk, qkv!, lse!, dout!], uniforms);
  const dq = run(be, attnGradQProgram(geom), [qk, qkv!, lse!, dout!, delta, cos!, sin!], uniforms);
  const dqkv = run(
    be,
    attnGradKvProgram(geom),
    [qk, qkv!, lse!, dout!, delta, dq, cos!, sin!],
    uniforms,
  );
  dispose(be, qk, delta, dq);
  return dqkv;
}

const OVERRIDES: Record<string, (args: KernelArgs) => Info | Info[]> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
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
};

async function createBackend(): Promise<WebGPUBackend> {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("navigator.gpu.requestAdapter() returned no adapter");
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  return new WebGPUBackend(device, adapter.info);
}

let registered = false;

/**
 * Registers the `darl-webgpu` backend (once) and returns its name.
 *
 * @returns "darl-webgpu".
 */
export function registerDarlWebgpu(): Promise<string> {
  if (!registered) {
    registered = true;
    registerFusedGradients();
    tf.registerBackend(DARL_WEBGPU, createBackend, 0);
    for (const k of tf.getKernelsForBackend("webgpu")) {
      stockKernels.set(k.kernelName, k.kernelFunc);
      if (!(k.kernelName in OVERRIDES)) tf.registerKernel({ ...k, backendName: DARL_WEBGPU });
    }
    for (const [kernelName, f] of Object.entries(OVERRIDES)) {
      tf.registerKernel({ kernelName, backendName: DARL_WEBGPU, kernelFunc: f as unknown as tf.KernelFunc });
    }
  }
  return Promise.resolve(DARL_WEBGPU);
}
