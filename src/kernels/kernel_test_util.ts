/**
 * Shared checks for darl's fast kernels: each fused op and overridden
 * kernel, run on a fast backend and on stock tfjs CPU, forward and gradient,
 * over shapes that do and do not divide the kernels' tiles.
 *
 * @module
 */
import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { attention } from "../nn/attention.ts";
import { conv2d } from "../nn/conv2d.ts";
import { groupNorm } from "../nn/group_norm.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { biasGelu } from "../nn/mlp.ts";
import { ropeTables } from "../nn/rope.ts";
import { adamwUpdate, globalNorm, initAdamW } from "../train/optim.ts";

/** Deterministic test data (no RNG state involved). */
export function wave(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed) * Math.cos(i * 0.117 + 2 * seed)),
    shape,
  );
}

/** One named result of a case. */
export type CaseResults = Record<string, Float32Array>;

/** A case: computes named output tensors on the active backend. */
export type KernelCase = { name: string; run: () => Record<string, tf.Tensor> };

/**
 * Runs a case and reads its outputs with `await data()` (WebGPU in Deno
 * cannot read synchronously), disposing them.
 */
export async function runCase(c: KernelCase): Promise<CaseResults> {
  const out = c.run();
  const res: CaseResults = {};
  for (const [k, t] of Object.entries(out)) res[k] = (await t.data()) as Float32Array;
  tf.dispose(Object.values(out));
  return res;
}

const grad = (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, w: tf.Tensor) =>
  tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);

/** The cases every fast backend must match. */
export function kernelCases(): KernelCase[] {
  const cases: KernelCase[] = [];
  const mm: [number[], number[], boolean, boolean][] = [
    [[7, 5], [5, 3], false, false],
    [[37, 29], [29, 41], false, false],
    [[29, 37], [29, 41], true, false],
    [[37, 29], [41, 29], false, true],
    [[29, 37], [41, 29], true, true],
    [[3, 70, 33], [3, 33, 130], false, false],
    [[2, 33, 70], [2, 130, 33], true, true],
    [[130, 257], [257, 9], false, false],
    [[300, 64], [64, 520], false, false],
  ];
  for (const [sa, sb, ta, tb] of mm) {
    cases.push({
      name: `matMul ${sa}×${sb} tA=${ta} tB=${tb}`,
      run: () =>
        tf.tidy(() => {
          const a = wave(sa, 1), b = wave(sb, 2);
          const y = tf.matMul(a, b, ta, tb);
          const w = wave(y.shape, 3);
          const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), w)))([a, b]);
          return { y, da: da!, db: db! };
        }),
    });
  }
  for (const [rows, n] of [[3, 8], [37, 13], [1568, 130]] as const) {
    cases.push({
      name: `fused matMul + bias ${rows}×${n}`,
      run: () =>
        tf.tidy(() => {
          const a = wave([rows, 17], 4), b = wave([17, n], 5), bias = wave([n], 6);
          const w = wave([rows, n], 7);
          const f = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
            tf.sum(tf.mul(tf.fused.matMul({ a: p as tf.Tensor2D, b: q as tf.Tensor2D, bias: r }), w));
          const [da, db, dbias] = tf.grads(f)([a, b, bias]);
          return {
            y: tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }),
            da: da!,
            db: db!,
            dbias: dbias!,
          };
        }),
    });
  }
  for (const shape of [[5, 7, 33], [4, 128], [2, 3, 2]]) {
    cases.push({
      name: `layerNorm ${shape}`,
      run: () =>
        tf.tidy(() => {
          const d = shape[shape.length - 1]!;
          const x = wave(shape, 8), g = wave([d], 9), b = wave([d], 10), w = wave(shape, 11);
          const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm({ g: gg, b: bb }, xx), w));
          const [dx, dg, db] = tf.grads(f)([x, g, b]);
          return {
            y: layerNorm({ g, b }, x),
            dx: dx!,
            dg: dg!,
            db: db!,
          };
        }),
    });
    cases.push({
      name: `biasGelu ${shape}`,
      run: () =>
        tf.tidy(() => {
          const d = shape[shape.length - 1]!;
          const x = tf.mul(wave(shape, 12), 3), b = wave([d], 13), w = wave(shape, 14);
          const [dx, db] = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasGelu(xx, bb), w)))([x, b]);
          return {
            y: biasGelu(x, b),
            dx: dx!,
            db: db!,
          };
        }),
    });
  }
  // The last field: false (bidirectional), true (causal) or a causal prefix length.
  const attn: [number, number, number, number, "rope2d" | "rope1d" | null, boolean | number][] = [
    [2, 9, 2, 8, "rope2d", true],
    [3, 16, 2, 16, "rope1d", true],
    [2, 13, 3, 12, null, false],
    [2, 49, 4, 32, "rope2d", true],
    [1, 17, 1, 20, "rope2d", false],
    [2, 17, 4, 16, "rope2d", 6],
    [2, 10, 2, 8, null, 9],
  ];
  for (const [B, T, H, dh, rope, mask] of attn) {
    const causal = mask !== false, prefix = typeof mask === "number" ? mask : 1;
    cases.push({
      name: `attention B${B} T${T} H${H} dh${dh} ${rope ?? "no rope"} ${
        !causal ? "bidirectional" : prefix > 1 ? `prefix ${prefix}` : "causal"
      }`,
      run: () =>
        tf.tidy(() => {
          const qkv = wave([B, T, 3 * H * dh], 15);
          const w = wave([B, T, H * dh], 16);
          let r = null;
          if (rope) {
            const pos = Array.from(
              { length: T },
              (_, i) => (i === 0 ? null : { row: Math.floor((i - 1) / 4), col: (i - 1) % 4, index: i }),
            );
            const t = ropeTables(pos, dh, rope, 100);
            r = { cos: tf.tensor2d(t.cos, [T, dh]), sin: tf.tensor2d(t.sin, [T, dh]), segment: t.segment };
          }
          const dq = grad((x) => attention(x, H, r, causal, prefix), qkv, w);
          return { y: attention(qkv, H, r, causal, prefix), dqkv: dq };
        }),
    });
  }
  for (
    const [name, op] of [
      ["add", tf.add],
      ["sub", tf.sub],
      ["mul", tf.mul],
      ["div", tf.div],
      ["squaredDifference", tf.squaredDifference],
      ["maximum", tf.maximum],
      ["minimum", tf.minimum],
    ] as const
  ) {
    cases.push({
      name: `${name} with broadcasting`,
      run: () =>
        tf.tidy(() => {
          const a = wave([6, 5, 7], 17), big = wave([40, 600], 18);
          return {
            same: op(big, wave([40, 600], 19)),
            row: op(a, tf.add(wave([6, 5, 1], 20), 2)),
            col: op(a, tf.add(wave([7], 21), 2)),
            scalar: op(tf.scalar(1.5), a),
            mixed: op(wave([6, 1, 7], 22), tf.add(wave([5, 1], 23), 2)),
            // Both operands broadcast on different axes (ADDP's masked position embeddings).
            crossed: op(wave([6, 5, 1], 24), tf.add(wave([5, 7], 25), 2)),
            scalarRight: op(a, tf.scalar(-2.5)),
            rank4: op(wave([2, 1, 3, 1], 26), tf.add(wave([4, 1, 5], 27), 2)),
          };
        }),
    });
  }
  cases.push({
    name: "exp, log, tanh",
    run: () =>
      tf.tidy(() => {
        const x = tf.mul(wave([5, 7, 9], 30), 3);
        return { exp: tf.exp(x), log: tf.log(tf.add(tf.abs(x), 0.01)), tanh: tf.tanh(x), logSoftmax: tf.logSoftmax(x) };
      }),
  });
  // The tokenizer's layers: im2col convolutions (odd and even kernels, whose "same" padding is asymmetric), group
  // norm with and without swish, and the 2×2 average pool, each with its gradients.
  for (const [k, c, out] of [[3, 5, 4], [4, 3, 2], [1, 6, 3]] as const) {
    cases.push({
      name: `conv2d ${k}×${k} ${c}→${out} (im2col)`,
      run: () =>
        tf.tidy(() => {
          const x = wave([2, 7, 6, c], 40),
            w = wave([k, k, c, out], 41),
            b = wave([out], 42),
            dy = wave([2, 7, 6, out], 43);
          const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(conv2d({ w: ww, b: bb }, xx), dy));
          const [dx, dw, db] = tf.grads(f)([x, w, b]);
          return { y: conv2d({ w, b }, x), dx: dx!, dw: dw!, db: db! };
        }),
    });
  }
  for (
    const [shape, groups, swish] of [[[2, 5, 3, 8], 4, true], [[3, 4, 4, 6], 2, false], [
      [1, 2, 2, 4],
      4,
      true,
    ]] as const
  ) {
    cases.push({
      name: `groupNorm ${shape} in ${groups} groups${swish ? " + swish" : ""}`,
      run: () =>
        tf.tidy(() => {
          const c = shape[3];
          const x = tf.mul(wave([...shape], 44), 3), g = wave([c], 45), b = wave([c], 46), dy = wave([...shape], 47);
          const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(groupNorm({ g: gg, b: bb }, xx, groups, 1e-6, swish), dy));
          const [dx, dg, db] = tf.grads(f)([x, g, b]);
          return { y: groupNorm({ g, b }, x, groups, 1e-6, swish), dx: dx!, dg: dg!, db: db! };
        }),
    });
  }
  cases.push({
    name: "softmax over the last axis (large logits, one-wide rows) and its gradient",
    run: () =>
      tf.tidy(() => {
        const x = tf.mul(wave([3, 7, 258], 51), 40), dy = wave([3, 7, 258], 52);
        return { y: tf.softmax(x), dx: grad((v) => tf.softmax(v), x, dy), one: tf.softmax(wave([5, 1], 53)) };
      }),
  });
  cases.push({
    name: "2×2 average pool and its gradient",
    run: () =>
      tf.tidy(() => {
        const x = wave([2, 6, 4, 3], 48), dy = wave([2, 3, 2, 3], 49);
        const pool = (v: tf.Tensor) => tf.avgPool(v as tf.Tensor4D, 2, 2, "valid");
        return {
          y: pool(x),
          dx: grad(pool, x, dy),
          dx3: grad((v) => tf.avgPool(v as tf.Tensor4D, 3, 1, "same"), x, wave([2, 6, 4, 3], 50)),
        };
      }),
  });
  cases.push({
    name: "sum over leading and trailing axes, slice, split, concat, zero padding",
    run: () =>
      tf.tidy(() => {
        const x = wave([9, 70, 33], 24);
        const [s0, s1] = tf.split(x, [30, 40], 1);
        return {
          lead: tf.sum(x, [0, 1]),
          trail: tf.sum(x, [1, 2], true),
          mid: tf.sum(x, 1),
          slice: x.slice([1, 3, 2], [4, 50, 20]),
          split: s1!,
          splitGrad: grad((v) => tf.concat([tf.split(v, [30, 40], 1)[1]!, s0!], 1), x, wave([9, 70, 33], 25)),
          // The im2col convolutions' zero padding, with asymmetric and zero-width pads, and its gradient.
          pad: tf.pad(wave([2, 5, 7, 3], 26), [[0, 0], [1, 2], [0, 1], [0, 0]]),
          padEdges: tf.pad(wave([3, 4, 6], 27), [[1, 0], [0, 0], [2, 3]]),
          padGrad: grad(
            (v) => tf.pad(v, [[0, 0], [1, 1], [1, 1], [0, 0]]),
            wave([2, 5, 7, 3], 28),
            wave([2, 7, 9, 3], 29),
          ),
        };
      }),
  });
  cases.push({
    name: "transpose (patchify's rank-6 permutation, others, gradient) and gather",
    run: () =>
      tf.tidy(() => {
        const img = wave([3, 7, 4, 5, 4, 2], 32);
        return {
          patchify: tf.transpose(img, [0, 1, 3, 2, 4, 5]),
          cycle: tf.transpose(wave([3, 5, 9], 33), [2, 0, 1]),
          swap: tf.transpose(wave([4, 1, 6], 34), [1, 0, 2]),
          matrix: tf.transpose(wave([37, 29], 35)),
          grad: grad((v) => tf.transpose(v, [0, 1, 3, 2, 4, 5]), img, wave([3, 7, 5, 4, 4, 2], 36)),
          gatherRows: tf.gather(wave([9, 5, 3], 37), tf.tensor1d([8, 0, 3, 3, 1], "int32")),
          gatherGrid: tf.gather(wave([6, 4], 38), tf.tensor2d([[5, 1], [0, 2]], [2, 2], "int32")),
          gatherAxis1: tf.gather(wave([3, 7], 39), tf.tensor1d([6, 0, 2], "int32"), 1),
          gatherGrad: grad((v) => tf.gather(v, tf.tensor1d([2, 2, 0], "int32")), wave([4, 3], 40), wave([3, 3], 41)),
        };
      }),
  });
  cases.push({
    name: "AdamW multi-tensor update and global norm",
    run: () => {
      const params = tf.tidy(() =>
        [wave([37, 29], 26), wave([29], 27), wave([5, 3, 7], 28)].map((t) => tf.variable(t))
      );
      const grads = [wave([37, 29], 29), wave([29], 30), wave([5, 3, 7], 31)];
      const state = initAdamW(params);
      const norm = globalNorm(grads);
      const out: Record<string, tf.Tensor> = { norm };
      const half = tf.scalar(0.5);
      for (let s = 0; s < 3; s++) {
        adamwUpdate(params, grads, state, 0.01, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, [
          true,
          false,
          true,
        ], half);
      }
      half.dispose();
      params.forEach((p, i) => (out[`p${i}`] = p.clone()));
      state.m.forEach((p, i) => (out[`m${i}`] = p.clone()));
      tf.dispose([...params, ...grads, ...state.m, ...state.v]);
      return out;
    },
  });
  return cases;
}

/**
 * Asserts two results agree to a relative tolerance: max |a − b| ≤ tol ·
 * max(1, max |b|).
 */
export function assertClose(name: string, got: CaseResults, want: CaseResults, tol: number): void {
  for (const key of Object.keys(want)) {
    const a = got[key], b = want[key]!;
    assert.ok(a, `${name}: missing ${key}`);
    assert.equal(a.length, b.length, `${name}/${key}: length`);
    let diff = 0, scale = 1;
    for (let i = 0; i < b.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    assert.ok(diff <= tol * scale, `${name}/${key}: max |Δ| ${diff} > ${tol} × ${scale}`);
  }
}
