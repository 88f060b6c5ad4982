/**
 * WGSL programs of `darl-webgpu`'s fused attention with RoPE (causal, prefix
 * or bidirectional): RoPE on queries and keys, the log-sum-exp and output
 * passes, and the backward passes (row deltas, dQ, dK/dV). They follow the
 * program interface of programs.ts.
 *
 * @module
 */
import { ceil, LAYOUT_XY, type Program } from "./programs.ts";

/**
 * Shared WGSL for attention: head width and the last key a query sees
 * (`mask` = 0: all; c ≥ 1: key j when j ≤ i or j < c, a prefix of c).
 */
function attnGeom(dh: number): string {
  return `
    const DH = ${dh};
    fn lastKey(i : i32) -> i32 {
      if (uniforms.mask != 0) { return min(max(i, uniforms.mask - 1), uniforms.T - 1); }
      return uniforms.T - 1;
    }
  `;
}

/** RoPE and its adjoint over one head vector (needs inputs cosT and sinT). */
function ropeFns(dh: number, segment: number): string {
  const half = segment / 2;
  return `
    fn rot(v : array<f32, ${dh}>, t : i32) -> array<f32, ${dh}> {
      var o : array<f32, ${dh}>;
      for (var s = 0; s < DH; s = s + ${segment}) {
        for (var i = s; i < s + ${half}; i = i + 1) {
          o[i] = v[i] * cosT[t * DH + i] - v[i + ${half}] * sinT[t * DH + i];
          o[i + ${half}] = v[i + ${half}] * cosT[t * DH + i + ${half}] + v[i] * sinT[t * DH + i + ${half}];
        }
      }
      return o;
    }
    fn rotAdjoint(v : array<f32, ${dh}>, t : i32) -> array<f32, ${dh}> {
      var o : array<f32, ${dh}>;
      for (var s = 0; s < DH; s = s + ${segment}) {
        for (var i = s; i < s + ${half}; i = i + 1) {
          o[i] = v[i] * cosT[t * DH + i] + v[i + ${half}] * sinT[t * DH + i + ${half}];
          o[i + ${half}] = v[i + ${half}] * cosT[t * DH + i + ${half}] - v[i] * sinT[t * DH + i];
        }
      }
      return o;
    }
  `;
}

/** Geometry of an attention call. */
export interface AttnGeom {
  /** Batch. */
  B: number;
  /** Tokens. */
  T: number;
  /** Heads. */
  H: number;
  /** Head width. */
  dh: number;
  /** RoPE rotate-half segment width. */
  segment: number;
}

const ATTN_UNIFORMS = "B : i32, T : i32, H : i32, mask : i32, scale : f32,";

/** Rotated q and k: output [B, T, 2d] (q | k), from qkv [B, T, 3d]. */
export function ropeQkProgram({ B, T, H, dh, segment }: AttnGeom): Program {
  return {
    outputShape: [B, T, 2 * H * dh],
    shaderKey: `darlRopeQk_${dh}_${segment}`,
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(B * T * H * 2, 64), 1, 1],
    variableNames: ["qkv", "cosT", "sinT"],
    uniforms: ATTN_UNIFORMS,
    workgroupSize: [64, 1, 1],
    getUserCode: () =>
      `${attnGeom(dh)}${ropeFns(dh, segment)}
      fn main() {
        let w = i32(globalId.x);  // (b, t, which, h)
        let H = uniforms.H;
        if (w >= uniforms.B * uniforms.T * 2 * H) { return; }
        let h = w % H;
        let which = (w / H) % 2;
        let bt = w / (2 * H);
        let t = bt % uniforms.T;
        let d = H * DH;
        var v : array<f32, ${dh}>;
        for (var c = 0; c < DH; c = c + 1) { v[c] = qkv[bt * 3 * d + which * d + h * DH + c]; }
        let o = rot(v, t);
        for (var c = 0; c < DH; c = c + 1) { result[bt * 2 * d + which * d + h * DH + c] = o[c]; }
      }`,
  };
}

/**
 * One thread per attention row (b, h, r), r a query, or a key in the dK/dV
 * pass: the dispatch and the preamble binding w, T, r, h, b and d, which every
 * pass but RoPE shares, so that each pass states only its loop.
 */
function attnRowProgram({ B, T, H, dh }: AttnGeom, pass: {
  key: string;
  outputShape: number[];
  inputs: string[];
  fns: string;
  row?: "i" | "j";
  body: string;
}): Program {
  const r = pass.row ?? "i";
  return {
    outputShape: pass.outputShape,
    shaderKey: pass.key,
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(B * H * T, 64), 1, 1],
    variableNames: pass.inputs,
    uniforms: ATTN_UNIFORMS,
    workgroupSize: [64, 1, 1],
    getUserCode: () =>
      `${attnGeom(dh)}${pass.fns}
      fn main() {
        let w = i32(globalId.x);  // (b, h, ${r})
        if (w >= uniforms.B * uniforms.H * uniforms.T) { return; }
        let T = uniforms.T;
        let ${r} = w % T;
        let h = (w / T) % uniforms.H;
        let b = w / (T * uniforms.H);
        let d = uniforms.H * DH;${pass.body}
      }`,
  };
}

/** The scaled score q_i·k_j of one head (needs input qk). */
const ATTN_SCORE = `
  fn score(b : i32, h : i32, i : i32, j : i32) -> f32 {
    let T = uniforms.T;
    let d = uniforms.H * DH;
    var s = 0.0;
    for (var c = 0; c < DH; c = c + 1) {
      s = s + qk[(b * T + i) * 2 * d + h * DH + c] * qk[(b * T + j) * 2 * d + d + h * DH + c];
    }
    return s * uniforms.scale;
  }
`;

/** dp_ij = dout_i·v_j of one head, for the backward passes (needs dout, qkv). */
const ATTN_DP = `
  fn dpdot(b : i32, h : i32, i : i32, j : i32) -> f32 {
    let T = uniforms.T;
    let d = uniforms.H * DH;
    var s = 0.0;
    for (var c = 0; c < DH; c = c + 1) {
      s = s + dout[(b * T + i) * d + h * DH + c] * qkv[(b * T + j) * 3 * d + 2 * d + h * DH + c];
    }
    return s;
  }
`;

/** Log-sum-exp of each attention row: output [B, H, T]; one thread per query. */
export function attnLseProgram(geom: AttnGeom): Program {
  const { B, T, H, dh } = geom;
  return attnRowProgram(geom, {
    key: `darlAttnLse_${dh}`,
    outputShape: [B, H, T],
    inputs: ["qk"],
    fns: ATTN_SCORE,
    body: `
        var m = -3.0e38;
        var z = 0.0;
        for (var j = 0; j <= lastKey(i); j = j + 1) {
          let s = score(b, h, i, j);
          let mNew = max(m, s);
          z = z * exp(m - mNew) + exp(s - mNew);
          m = mNew;
        }
        result[w] = m + log(z);`,
  });
}

/** Attention output [B, T, d]: o_i = Σ_j exp(s_ij − lse_i)·v_j. */
export function attnOutProgram(geom: AttnGeom): Program {
  const { B, T, H, dh } = geom;
  return attnRowProgram(geom, {
    key: `darlAttnOut_${dh}`,
    outputShape: [B, T, H * dh],
    inputs: ["qk", "qkv", "lse"],
    fns: ATTN_SCORE,
    body: `
        let l = lse[w];
        var o : array<f32, ${dh}>;
        for (var j = 0; j <= lastKey(i); j = j + 1) {
          let p = exp(score(b, h, i, j) - l);
          for (var c = 0; c < DH; c = c + 1) { o[c] = o[c] + p * qkv[(b * T + j) * 3 * d + 2 * d + h * DH + c]; }
        }
        for (var c = 0; c < DH; c = c + 1) { result[(b * T + i) * d + h * DH + c] = o[c]; }`,
  });
}

/** D_i = Σ_j p_ij·dp_ij per query: output [B, H, T]. */
export function attnDeltaProgram(geom: AttnGeom): Program {
  const { B, T, H, dh } = geom;
  return attnRowProgram(geom, {
    key: `darlAttnDelta_${dh}`,
    outputShape: [B, H, T],
    inputs: ["qk", "qkv", "lse", "dout"],
    fns: ATTN_SCORE + ATTN_DP,
    body: `
        var D = 0.0;
        for (var j = 0; j <= lastKey(i); j = j + 1) {
          D = D + exp(score(b, h, i, j) - lse[w]) * dpdot(b, h, i, j);
        }
        result[w] = D;`,
  });
}

/** dq [B, T, d]: per query, Σ_j ds_ij·k_j, mapped back through RoPE. */
export function attnGradQProgram(geom: AttnGeom): Program {
  const { B, T, H, dh, segment } = geom;
  return attnRowProgram(geom, {
    key: `darlAttnGradQ_${dh}_${segment}`,
    outputShape: [B, T, H * dh],
    inputs: ["qk", "qkv", "lse", "dout", "delta", "cosT", "sinT"],
    fns: ropeFns(dh, segment) + ATTN_SCORE + ATTN_DP,
    body: `
        var g : array<f32, ${dh}>;
        for (var j = 0; j <= lastKey(i); j = j + 1) {
          let p = exp(score(b, h, i, j) - lse[w]);
          let ds = p * (dpdot(b, h, i, j) - delta[w]) * uniforms.scale;
          for (var c = 0; c < DH; c = c + 1) { g[c] = g[c] + ds * qk[(b * T + j) * 2 * d + d + h * DH + c]; }
        }
        let o = rotAdjoint(g, i);
        for (var c = 0; c < DH; c = c + 1) { result[(b * T + i) * d + h * DH + c] = o[c]; }`,
  });
}

/** dqkv [B, T, 3d]: copies dq, and per key computes dk (through RoPE) and dv. */
export function attnGradKvProgram(geom: AttnGeom): Program {
  const { B, T, H, dh, segment } = geom;
  return attnRowProgram(geom, {
    key: `darlAttnGradKv_${dh}_${segment}`,
    outputShape: [B, T, 3 * H * dh],
    inputs: ["qk", "qkv", "lse", "dout", "delta", "dq", "cosT", "sinT"],
    fns: ropeFns(dh, segment) + ATTN_SCORE + ATTN_DP,
    row: "j",
    body: `
        var gk : array<f32, ${dh}>;
        var gv : array<f32, ${dh}>;
        var i0 = 0;
        if (uniforms.mask != 0 && j >= uniforms.mask) { i0 = j; }  // keys in the prefix: every query
        for (var i = i0; i < T; i = i + 1) {
          let row = (b * uniforms.H + h) * T + i;
          let p = exp(score(b, h, i, j) - lse[row]);
          let ds = p * (dpdot(b, h, i, j) - delta[row]) * uniforms.scale;
          for (var c = 0; c < DH; c = c + 1) {
            gk[c] = gk[c] + ds * qk[(b * T + i) * 2 * d + h * DH + c];
            gv[c] = gv[c] + p * dout[(b * T + i) * d + h * DH + c];
          }
        }
        let ok = rotAdjoint(gk, j);
        let base = (b * T + j) * 3 * d + h * DH;
        for (var c = 0; c < DH; c = c + 1) {
          result[base + c] = dq[(b * T + j) * d + h * DH + c];
          result[base + d + c] = ok[c];
          result[base + 2 * d + c] = gv[c];
        }`,
  });
}
