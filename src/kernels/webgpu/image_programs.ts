/**
 * WGSL programs for `darl-webgpu`'s convolution kernels over NHWC images:
 * im2col and its adjoint (a stride-1 "same" convolution becomes one darl
 * GEMM; stock tfjs would dispatch k² pads, slices and a concat, and twice as
 * many for the gradient), and group normalisation with an optional fused
 * swish. Same conventions as `programs.ts`.
 *
 * @module
 */
import { ceil, LAYOUT_XY, type Program } from "./programs.ts";

const GEOM = "N : i32, H : i32, W : i32, C : i32, KH : i32, KW : i32, PT : i32, PL : i32,";

function elementwise(
  name: string,
  outputShape: number[],
  inputs: string[],
  uniforms: string,
  body: string,
  prelude = "",
): Program {
  // Two dispatch dimensions: a batch of 64 28×28 images in 3×3 columns already needs ~56k workgroups of 256,
  // close to WebGPU's 65,535 per dimension.
  const size = outputShape.reduce((a, b) => a * b, 1), groups = ceil(size, 256);
  const gx = Math.min(groups, 16384), gy = ceil(groups, gx);
  return {
    outputShape,
    // tfjs keys pipelines by input ranks, not shapes: the constants baked into the code must be in the key.
    shaderKey: `${name}_${size}_${gx}`,
    dispatchLayout: LAYOUT_XY,
    dispatch: [gx, gy, 1],
    variableNames: inputs,
    uniforms,
    workgroupSize: [256, 1, 1],
    getUserCode: () =>
      `${prelude}
      fn main() {
        let e = i32(globalId.y) * ${gx * 256} + i32(globalId.x);
        if (e >= ${size}) { return; }
        ${body}
      }`,
  };
}

/** im2col of x [N, H, W, C]: output [N·H·W, KH·KW·C], one thread per element, zero outside the image. */
export function im2colProgram(n: number, h: number, w: number, c: number, kh: number, kw: number): Program {
  return elementwise(
    "darlIm2col",
    [n * h * w, kh * kw * c],
    ["x"],
    GEOM,
    `let u = uniforms;
        let row = e / (u.KH * u.KW * u.C);
        let j = e % (u.KH * u.KW * u.C);
        let tap = j / u.C;
        let k = j % u.C;
        let b = row / (u.H * u.W);
        let sy = (row / u.W) % u.H + tap / u.KW - u.PT;
        let sx = row % u.W + tap % u.KW - u.PL;
        var v = 0.0;
        if (sy >= 0 && sy < u.H && sx >= 0 && sx < u.W) { v = x[((b * u.H + sy) * u.W + sx) * u.C + k]; }
        result[e] = v;`,
  );
}

/** col2im, the adjoint of {@linkcode im2colProgram}: output [N, H, W, C], each pixel gathering its taps. */
export function col2imProgram(n: number, h: number, w: number, c: number): Program {
  return elementwise(
    "darlCol2im",
    [n, h, w, c],
    ["dy"],
    GEOM,
    `let u = uniforms;
        let k = e % u.C;
        let p = e / u.C;
        let xx = p % u.W;
        let y = (p / u.W) % u.H;
        let b = p / (u.H * u.W);
        var s = 0.0;
        for (var dy_ = 0; dy_ < u.KH; dy_ = dy_ + 1) {
          let ty = y - dy_ + u.PT;
          if (ty < 0 || ty >= u.H) { continue; }
          for (var dx_ = 0; dx_ < u.KW; dx_ = dx_ + 1) {
            let tx = xx - dx_ + u.PL;
            if (tx < 0 || tx >= u.W) { continue; }
            s = s + dy[((b * u.H + ty) * u.W + tx) * (u.KH * u.KW * u.C) + (dy_ * u.KW + dx_) * u.C + k];
          }
        }
        result[e] = s;`,
  );
}

const GN = "N : i32, HW : i32, C : i32, G : i32, eps : f32, swish : i32,";
const GN_FNS = `
  fn sigm(z : f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(z, -80.0, 80.0))); }
`;

/** Group statistics of x [N, HW, C] in G groups: output [2, N·G] (means, then 1/std), one thread per group. */
export function groupNormStatsProgram(rows: number): Program {
  return {
    outputShape: [2, rows],
    shaderKey: "darlGnStats",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(rows, 64), 1, 1],
    variableNames: ["x"],
    uniforms: GN,
    workgroupSize: [64, 1, 1],
    getUserCode: () => `
      fn main() {
        let u = uniforms;
        let r = i32(globalId.x);
        if (r >= u.N * u.G) { return; }
        let b = r / u.G;
        let cg = u.C / u.G;
        let c0 = (r % u.G) * cg;
        let m = f32(u.HW * cg);
        var s = 0.0;
        for (var p = 0; p < u.HW; p = p + 1) {
          for (var k = 0; k < cg; k = k + 1) { s = s + x[(b * u.HW + p) * u.C + c0 + k]; }
        }
        let mu = s / m;
        var q = 0.0;
        for (var p = 0; p < u.HW; p = p + 1) {
          for (var k = 0; k < cg; k = k + 1) { let d = x[(b * u.HW + p) * u.C + c0 + k] - mu; q = q + d * d; }
        }
        result[r] = mu;
        result[u.N * u.G + r] = inverseSqrt(q / m + u.eps);
      }`,
  };
}

/** y = swish?(x̂·g + b), element-wise. */
export function groupNormApplyProgram(size: number): Program {
  return elementwise(
    "darlGnApply",
    [size],
    ["x", "stats", "g", "b"],
    GN,
    `let u = uniforms;
        let c = e % u.C;
        let r = (e / (u.HW * u.C)) * u.G + c / (u.C / u.G);
        let a = (x[e] - stats[r]) * stats[u.N * u.G + r] * g[c] + b[c];
        if (u.swish != 0) { result[e] = a * sigm(a); } else { result[e] = a; }`,
    GN_FNS,
  );
}

// dz = dy·swish'(a) where swish is on, else dy; x̂ from the saved statistics.
const GN_DZ = `
  fn gnXhat(e : i32, r : i32) -> f32 { return (x[e] - stats[r]) * stats[uniforms.N * uniforms.G + r]; }
  fn gnDz(e : i32, c : i32, xh : f32) -> f32 {
    if (uniforms.swish == 0) { return dy[e]; }
    let a = xh * g[c] + b[c];
    let s = sigm(a);
    return dy[e] * s * (1.0 + a * (1.0 - s));
  }
`;
// (x̂, dx̂ = dz·γ) of element e in group row r, channel c.
const GN_DXHAT = `
  fn gnDxhat(e : i32, r : i32, c : i32) -> vec2<f32> {
    let xh = gnXhat(e, r);
    return vec2<f32>(xh, gnDz(e, c, xh) * g[c]);
  }
`;

/** Group-norm input gradient: output [N, HW, C], one thread per (sample, group). */
export function groupNormGradXProgram(n: number, hw: number, c: number, groups: number): Program {
  return {
    outputShape: [n, hw, c],
    shaderKey: "darlGnGradX",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(n * groups, 64), 1, 1],
    variableNames: ["x", "g", "b", "stats", "dy"],
    uniforms: GN,
    workgroupSize: [64, 1, 1],
    getUserCode: () =>
      `${GN_FNS}${GN_DZ}${GN_DXHAT}
      fn main() {
        let u = uniforms;
        let r = i32(globalId.x);
        if (r >= u.N * u.G) { return; }
        let bi = r / u.G;
        let cg = u.C / u.G;
        let c0 = (r % u.G) * cg;
        var s1 = 0.0;
        var s2 = 0.0;
        for (var p = 0; p < u.HW; p = p + 1) {
          for (var k = 0; k < cg; k = k + 1) {
            let d = gnDxhat((bi * u.HW + p) * u.C + c0 + k, r, c0 + k);
            s1 = s1 + d.y;
            s2 = s2 + d.y * d.x;
          }
        }
        let m = f32(u.HW * cg);
        let rs = stats[u.N * u.G + r];
        for (var p = 0; p < u.HW; p = p + 1) {
          for (var k = 0; k < cg; k = k + 1) {
            let e = (bi * u.HW + p) * u.C + c0 + k;
            let d = gnDxhat(e, r, c0 + k);
            result[e] = rs / m * (m * d.y - s1 - d.x * s2);
          }
        }
      }`,
  };
}

/** Group-norm parameter gradients: output [2, C] = (Σ dz·x̂, Σ dz), one thread per channel. */
export function groupNormGradParamsProgram(c: number): Program {
  return {
    outputShape: [2, c],
    shaderKey: "darlGnGradParams",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(c, 64), 1, 1],
    variableNames: ["x", "g", "b", "stats", "dy"],
    uniforms: GN,
    workgroupSize: [64, 1, 1],
    getUserCode: () =>
      `${GN_FNS}${GN_DZ}
      fn main() {
        let u = uniforms;
        let c = i32(globalId.x);
        if (c >= u.C) { return; }
        let gi = c / (u.C / u.G);
        var dg = 0.0;
        var db = 0.0;
        for (var row = 0; row < u.N * u.HW; row = row + 1) {
          let e = row * u.C + c;
          let xh = gnXhat(e, (row / u.HW) * u.G + gi);
          let dz = gnDz(e, c, xh);
          dg = dg + dz * xh;
          db = db + dz;
        }
        result[c] = dg;
        result[u.C + c] = db;
      }`,
  };
}
