/**
 * WGSL programs for `darl-webgpu`, written against tfjs-webgpu's program
 * interface: tfjs generates the bindings (`result`, one array per input) and
 * a `uniforms` struct (input/output shapes plus each program's own fields);
 * each program supplies `main()`.
 *
 * @module
 */

/** What tfjs-webgpu's `runWebGPUProgram` expects of a program. */
export interface Program {
  /** Shape of the single output. */
  outputShape: number[];
  /** Cache key of the compiled pipeline (tfjs appends shapes and dtypes). */
  shaderKey: string;
  /** Which output dimensions map to x/y/z (only its arity matters here). */
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  /** Workgroups to launch. */
  dispatch: [number, number, number];
  /** Input binding names, in input order. */
  variableNames: string[];
  /** Extra uniform fields, e.g. "M : i32, N : i32,". */
  uniforms?: string;
  /** Threads per workgroup. */
  workgroupSize: [number, number, number];
  /** The WGSL body: must define `fn main()`. */
  getUserCode(): string;
}

/** Workgroups needed to cover `a` items, `b` per workgroup. */
export const ceil = (a: number, b: number): number => Math.ceil(a / b);
/** A 2D dispatch layout: a y-axis in the layout makes tfjs call `main()` without an index. */
export const LAYOUT_XY = { x: [0], y: [1] };

/**
 * Tiled matrix product C = op(A)·op(B) (+ bias), batched over z. A 32×32
 * output tile per workgroup of 8×8 threads; each thread keeps a 4×4 block of
 * C in registers as four vec4 accumulators. Transposed operands are handled
 * when tiles are staged into workgroup memory, so all four variants share the
 * inner loop. (Kept small and branch-light: llvmpipe compiles it in seconds.)
 */
export function matMulProgram(
  batch: number,
  M: number,
  N: number,
  transA: boolean,
  transB: boolean,
  bias: boolean,
): Program {
  return {
    outputShape: [batch, M, N],
    shaderKey: `darlMatMul_${transA}_${transB}_${bias}`,
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(N, 32), ceil(M, 32), batch],
    variableNames: bias ? ["A", "B", "bias"] : ["A", "B"],
    uniforms: "M : i32, N : i32, K : i32, lda : i32, ldb : i32, strideA : i32, strideB : i32,",
    workgroupSize: [8, 8, 1],
    getUserCode: () => `
      const TK = 8;
      var<workgroup> As : array<vec4<f32>, 64>;  // [k][i/4]: 8 × 32 values of op(A)
      var<workgroup> Bs : array<vec4<f32>, 64>;  // [k][j/4]: 8 × 32 values of op(B)

      fn loadA(b : i32, i : i32, k : i32) -> f32 {
        if (i >= uniforms.M || k >= uniforms.K) { return 0.0; }
        ${
      transA
        ? "return A[b * uniforms.strideA + k * uniforms.lda + i];"
        : "return A[b * uniforms.strideA + i * uniforms.lda + k];"
    }
      }
      fn loadB(b : i32, k : i32, j : i32) -> f32 {
        if (j >= uniforms.N || k >= uniforms.K) { return 0.0; }
        ${
      transB
        ? "return B[b * uniforms.strideB + j * uniforms.ldb + k];"
        : "return B[b * uniforms.strideB + k * uniforms.ldb + j];"
    }
      }
      fn store(b : i32, i : i32, j0 : i32, v : vec4<f32>) {
        if (i >= uniforms.M) { return; }
        let base = (b * uniforms.M + i) * uniforms.N;
        for (var c = 0; c < 4; c = c + 1) {
          let j = j0 + c;
          if (j < uniforms.N) {
            ${bias ? "result[base + j] = v[c] + bias[j];" : "result[base + j] = v[c];"}
          }
        }
      }

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let row0 = i32(workgroupId.y) * 32;
        let col0 = i32(workgroupId.x) * 32;
        let b = i32(workgroupId.z);
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        for (var k0 = 0; k0 < uniforms.K; k0 = k0 + TK) {
          // Thread (tx, ty) stages k = ty, four consecutive rows/columns at 4·tx.
          let i = row0 + tx * 4;
          let j = col0 + tx * 4;
          let k = k0 + ty;
          As[ty * 8 + tx] = vec4<f32>(loadA(b, i, k), loadA(b, i + 1, k), loadA(b, i + 2, k), loadA(b, i + 3, k));
          Bs[ty * 8 + tx] = vec4<f32>(loadB(b, k, j), loadB(b, k, j + 1), loadB(b, k, j + 2), loadB(b, k, j + 3));
          workgroupBarrier();
          for (var kk = 0; kk < TK; kk = kk + 1) {
            let a = As[kk * 8 + ty];
            let bv = Bs[kk * 8 + tx];
            acc0 = fma(vec4<f32>(a.x), bv, acc0);
            acc1 = fma(vec4<f32>(a.y), bv, acc1);
            acc2 = fma(vec4<f32>(a.z), bv, acc2);
            acc3 = fma(vec4<f32>(a.w), bv, acc3);
          }
          workgroupBarrier();
        }
        let i0 = row0 + ty * 4;
        let j0 = col0 + tx * 4;
        store(b, i0, j0, acc0);
        store(b, i0 + 1, j0, acc1);
        store(b, i0 + 2, j0, acc2);
        store(b, i0 + 3, j0, acc3);
      }`,
  };
}

/** Per-row mean and 1/std of [rows, D]: output [2, rows] (means, then rstds). */
export function layerNormStatsProgram(rows: number): Program {
  return {
    outputShape: [2, rows],
    shaderKey: "darlLnStats",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(rows, 64), 1, 1],
    variableNames: ["x"],
    uniforms: "rows : i32, D : i32, eps : f32,",
    workgroupSize: [64, 1, 1],
    getUserCode: () => `
      fn main() {
        let r = i32(globalId.x);
        if (r >= uniforms.rows) { return; }
        let D = uniforms.D;
        var s = 0.0;
        for (var i = 0; i < D; i = i + 1) { s = s + x[r * D + i]; }
        let mu = s / f32(D);
        var q = 0.0;
        for (var i = 0; i < D; i = i + 1) { let d = x[r * D + i] - mu; q = q + d * d; }
        result[r] = mu;
        result[uniforms.rows + r] = inverseSqrt(q / f32(D) + uniforms.eps);
      }`,
  };
}

/** y = (x − mean)·rstd·g + b, element-wise. */
export function layerNormApplyProgram(size: number): Program {
  return {
    outputShape: [size],
    shaderKey: "darlLnApply",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(size, 256), 1, 1],
    variableNames: ["x", "stats", "g", "b"],
    uniforms: "size : i32, rows : i32, D : i32,",
    workgroupSize: [256, 1, 1],
    getUserCode: () => `
      fn main() {
        let e = i32(globalId.x);
        if (e >= uniforms.size) { return; }
        let r = e / uniforms.D;
        let c = e % uniforms.D;
        result[e] = (x[e] - stats[r]) * stats[uniforms.rows + r] * g[c] + b[c];
      }`,
  };
}

/** LayerNorm input gradient, one thread per row. */
export function layerNormGradXProgram(rows: number, D: number): Program {
  return {
    outputShape: [rows, D],
    shaderKey: "darlLnGradX",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(rows, 64), 1, 1],
    variableNames: ["x", "g", "dy", "stats"],
    uniforms: "rows : i32, D : i32,",
    workgroupSize: [64, 1, 1],
    getUserCode: () => `
      fn main() {
        let r = i32(globalId.x);
        if (r >= uniforms.rows) { return; }
        let D = uniforms.D;
        let mu = stats[r];
        let rs = stats[uniforms.rows + r];
        var m1 = 0.0;
        var m2 = 0.0;
        for (var i = 0; i < D; i = i + 1) {
          let dh = dy[r * D + i] * g[i];
          m1 = m1 + dh;
          m2 = m2 + dh * (x[r * D + i] - mu) * rs;
        }
        m1 = m1 / f32(D);
        m2 = m2 / f32(D);
        for (var i = 0; i < D; i = i + 1) {
          let xh = (x[r * D + i] - mu) * rs;
          result[r * D + i] = rs * (dy[r * D + i] * g[i] - m1 - xh * m2);
        }
      }`,
  };
}

/** LayerNorm parameter gradients: output [2, D] = (Σ dy·x̂, Σ dy), one thread per column. */
export function layerNormGradParamsProgram(D: number): Program {
  return {
    outputShape: [2, D],
    shaderKey: "darlLnGradParams",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(D, 64), 1, 1],
    variableNames: ["x", "dy", "stats"],
    uniforms: "rows : i32, D : i32,",
    workgroupSize: [64, 1, 1],
    getUserCode: () => `
      fn main() {
        let c = i32(globalId.x);
        if (c >= uniforms.D) { return; }
        let D = uniforms.D;
        var dg = 0.0;
        var db = 0.0;
        for (var r = 0; r < uniforms.rows; r = r + 1) {
          let d = dy[r * D + c];
          dg = dg + d * (x[r * D + c] - stats[r]) * stats[uniforms.rows + r];
          db = db + d;
        }
        result[c] = dg;
        result[D + c] = db;
      }`,
  };
}

const GELU = `
  const GELU_K = 0.7978845608028654;
  const GELU_C = 0.044715;
  fn sigm(z : f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(z, -80.0, 80.0))); }
`;

/** y = gelu(x + b) (tanh form), element-wise. */
export function biasGeluProgram(size: number): Program {
  return {
    outputShape: [size],
    shaderKey: "darlBiasGelu",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(size, 256), 1, 1],
    variableNames: ["x", "b"],
    uniforms: "size : i32, C : i32,",
    workgroupSize: [256, 1, 1],
    getUserCode: () =>
      `${GELU}
      fn main() {
        let e = i32(globalId.x);
        if (e >= uniforms.size) { return; }
        let u = x[e] + b[e % uniforms.C];
        result[e] = u * sigm(2.0 * GELU_K * (u + GELU_C * u * u * u));
      }`,
  };
}

/** dx = dy·gelu'(x + b), element-wise. */
export function biasGeluGradProgram(size: number): Program {
  return {
    outputShape: [size],
    shaderKey: "darlBiasGeluGrad",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(size, 256), 1, 1],
    variableNames: ["x", "b", "dy"],
    uniforms: "size : i32, C : i32,",
    workgroupSize: [256, 1, 1],
    getUserCode: () =>
      `${GELU}
      fn main() {
        let e = i32(globalId.x);
        if (e >= uniforms.size) { return; }
        let u = x[e] + b[e % uniforms.C];
        let s = sigm(2.0 * GELU_K * (u + GELU_C * u * u * u));
        let g = s + u * s * (1.0 - s) * 2.0 * GELU_K * (1.0 + 3.0 * GELU_C * u * u);
        result[e] = dy[e] * g;
      }`,
  };
}

/** Column sums of [rows, C]: output [C], one thread per column. */
export function columnSumProgram(C: number): Program {
  return {
    outputShape: [C],
    shaderKey: "darlColumnSum",
    dispatchLayout: LAYOUT_XY,
    dispatch: [ceil(C, 64), 1, 1],
    variableNames: ["x"],
    uniforms: "rows : i32, C : i32,",
    workgroupSize: [64, 1, 1],
    getUserCode: () => `
      fn main() {
        let c = i32(globalId.x);
        if (c >= uniforms.C) { return; }
        var s = 0.0;
        for (var r = 0; r < uniforms.rows; r = r + 1) { s = s + x[r * uniforms.C + c]; }
        result[c] = s;
      }`,
  };
}

/**
 * The AdamW update for `count` tensors in one dispatch (raw WGSL, not a tfjs
 * program: it writes three outputs per tensor). Bindings per tensor k:
 * p, g, m, v (read) then p′, m′, v′ (write); then the gradient scale (a
 * one-element buffer, so clipping needs no read-back) and the uniforms.
 */
export function adamWShader(count: number): string {
  const decls: string[] = [];
  const bodies: string[] = [];
  for (let k = 0; k < count; k++) {
    const b = 7 * k;
    decls.push(
      `@group(0) @binding(${b}) var<storage, read> p${k} : array<f32>;`,
      `@group(0) @binding(${b + 1}) var<storage, read> g${k} : array<f32>;`,
      `@group(0) @binding(${b + 2}) var<storage, read> m${k} : array<f32>;`,
      `@group(0) @binding(${b + 3}) var<storage, read> v${k} : array<f32>;`,
      `@group(0) @binding(${b + 4}) var<storage, read_write> po${k} : array<f32>;`,
      `@group(0) @binding(${b + 5}) var<storage, read_write> mo${k} : array<f32>;`,
      `@group(0) @binding(${b + 6}) var<storage, read_write> vo${k} : array<f32>;`,
    );
    bodies.push(`
      if (e < u.n${k}) {
        let gi = g${k}[e] * gs[0];
        let mi = u.beta1 * m${k}[e] + (1.0 - u.beta1) * gi;
        let vi = u.beta2 * v${k}[e] + (1.0 - u.beta2) * gi * gi;
        let lr = u.lr * u.scale${k};
        po${k}[e] = p${k}[e] * (1.0 - lr * u.decay${k}) - lr * (mi / u.bc1) / (sqrt(vi / u.bc2) + u.eps);
        mo${k}[e] = mi;
        vo${k}[e] = vi;
      }`);
  }
  const fields = Array.from({ length: count }, (_, k) => `n${k} : u32, decay${k} : f32, scale${k} : f32,`).join(" ");
  return `
    struct U { lr : f32, beta1 : f32, beta2 : f32, eps : f32, bc1 : f32, bc2 : f32, pad0 : f32, pad1 : f32, ${fields} };
    ${decls.join("\n")}
    @group(0) @binding(${7 * count}) var<storage, read> gs : array<f32>;
    @group(0) @binding(${7 * count + 1}) var<uniform> u : U;
    @compute @workgroup_size(256)
    fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
      let e = gid.x + gid.y * nwg.x * 256u;
      ${bodies.join("\n")}
    }`;
}
