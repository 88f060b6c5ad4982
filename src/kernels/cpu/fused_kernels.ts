/**
 * darl-cpu's fused kernels, each one WebAssembly call over the operands'
 * memory: layer norm and its gradient, bias + GELU and its gradient,
 * causal/bidirectional attention with RoPE and its gradient, a
 * multi-tensor AdamW step and the global gradient norm. The matching tfjs
 * ops and gradients are in ../grads.ts.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { Block, DarlCpuBackend, KernelArgs } from "./backend.ts";
import type { AdamWKernelAttrs } from "../../train/optim.ts";
import { FN } from "./runtime.ts";

type Info = tf.TensorInfo;

const sizeOf = (t: Info) => tf.util.sizeFromShape(t.shape);

export function layerNormFwd(args: KernelArgs): Info[] {
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

export function layerNormBwd(args: KernelArgs): Info[] {
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

export function biasGeluFwd(args: KernelArgs): Info {
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

export function biasGeluBwd(args: KernelArgs): Info[] {
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

export function attentionFwd(args: KernelArgs): Info[] {
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

export function attentionBwd(args: KernelArgs): Info {
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

export function adamW(args: KernelArgs): Info[] {
  const be = args.backend, temps: Block[] = [];
  const at = args.attrs as unknown as AdamWKernelAttrs;
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

export function globalNorm(args: KernelArgs): Info {
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
