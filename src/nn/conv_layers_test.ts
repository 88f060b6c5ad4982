import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { createRng } from "../rng.ts";
import { maxAbsDiff, useCpu } from "../test_util.ts";
import { conv2d, initConv2d } from "./conv2d.ts";
import { groupNorm, initGroupNorm } from "./group_norm.ts";
import { embed } from "./embedding.ts";
import { softCrossEntropy } from "./soft_cross_entropy.ts";

function randn(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, "float32", seed);
}

/** Direct convolution with "same" padding, for reference. */
function naiveConv(
  x: Float32Array,
  [n, h, w, ci]: [number, number, number, number],
  k: Float32Array,
  kk: number,
  co: number,
  stride: number,
) {
  const oh = Math.ceil(h / stride), ow = Math.ceil(w / stride);
  const padTotH = Math.max((oh - 1) * stride + kk - h, 0), padTotW = Math.max((ow - 1) * stride + kk - w, 0);
  const pt = Math.floor(padTotH / 2), pl = Math.floor(padTotW / 2);
  const out = new Float32Array(n * oh * ow * co);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let o = 0; o < co; o++) {
          let s = 0;
          for (let dy = 0; dy < kk; dy++) {
            for (let dx = 0; dx < kk; dx++) {
              const iy = y * stride + dy - pt, ix = xo * stride + dx - pl;
              if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
              for (let c = 0; c < ci; c++) {
                s += x[((b * h + iy) * w + ix) * ci + c]! * k[((dy * kk + dx) * ci + c) * co + o]!;
              }
            }
          }
          out[((b * oh + y) * ow + xo) * co + o] = s;
        }
      }
    }
  }
  return out;
}

Deno.test("conv2d() matches a direct convolution, stride 1 and 2", async () => {
  await useCpu();
  for (const stride of [1, 2]) {
    const shape: [number, number, number, number] = [2, 7, 7, 3];
    const x = randn(shape, 1);
    const p = initConv2d(createRng(stride), 3, 5, 3, false);
    const y = conv2d(p, x, stride);
    assert.deepEqual(y.shape, [2, Math.ceil(7 / stride), Math.ceil(7 / stride), 5]);
    const ref = naiveConv(await x.data() as Float32Array, shape, await p.w.data() as Float32Array, 3, 5, stride);
    assert.ok(maxAbsDiff(await y.data(), ref) < 1e-4);
    tf.dispose([x, y, p.w]);
  }
});

Deno.test("conv2d()'s im2col path has stock tfjs's gradients for input, kernel and bias (1×1, 3×3, 4×4)", async () => {
  await useCpu();
  for (const k of [1, 3, 4]) {
    const x = randn([2, 5, 6, 3], 10 + k);
    const p = initConv2d(createRng(k), 3, 4, k);
    const dy = randn([2, 5, 6, 4], 20 + k);
    const ours = tf.grads((xx: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => conv2d({ w, b }, xx).mul(dy).sum());
    const stock = tf.grads((xx: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.conv2d(xx as tf.Tensor4D, w as tf.Tensor4D, 1, "same").add(b).mul(dy).sum()
    );
    const [a, b] = [ours([x, p.w, p.b!]), stock([x, p.w, p.b!])];
    for (let i = 0; i < 3; i++) {
      assert.ok(maxAbsDiff(await a[i]!.data(), await b[i]!.data()) < 1e-4, `k=${k} grad ${i}`);
    }
    const y = conv2d(p, x), ys = tf.conv2d(x as tf.Tensor4D, p.w as tf.Tensor4D, 1, "same").add(p.b!);
    assert.ok(maxAbsDiff(await y.data(), await ys.data()) < 1e-5, `k=${k} forward`);
  }
});

Deno.test("initConv2d() draws U(±1/√fanIn) and a zero bias", async () => {
  const p = initConv2d(createRng(0), 16, 32, 3);
  const w = await p.w.data();
  const limit = 1 / Math.sqrt(9 * 16);
  assert.ok(w.every((v) => Math.abs(v) <= limit));
  assert.ok(Math.max(...Array.from(w, Math.abs)) > 0.9 * limit);
  assert.ok((await p.b!.data()).every((v) => v === 0));
  tf.dispose([p.w, p.b!]);
});

Deno.test("groupNorm() normalises each (sample, group) and then applies gain and bias per channel", async () => {
  await useCpu();
  const [n, h, w, c, g] = [2, 3, 4, 6, 3];
  const x = randn([n, h, w, c], 3).mul(3).add(1);
  const p = { g: tf.tensor1d([1, 2, 3, 4, 5, 6]), b: tf.tensor1d([0, 0, 1, 1, 2, 2]) };
  const y = await groupNorm(p, x, g).data();
  const xs = await x.data();
  const gs = c / g;
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < g; gi++) {
      const vals: number[] = [];
      for (let i = 0; i < h * w; i++) for (let j = 0; j < gs; j++) vals.push(xs[(b * h * w + i) * c + gi * gs + j]!);
      const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length + 1e-6);
      for (let i = 0; i < h * w; i++) {
        for (let j = 0; j < gs; j++) {
          const ch = gi * gs + j, at = (b * h * w + i) * c + ch;
          const want = ((xs[at]! - mean) / sd) * (ch + 1) + [0, 0, 1, 1, 2, 2][ch]!;
          assert.ok(Math.abs(y[at]! - want) < 1e-4);
        }
      }
    }
  }
  assert.throws(() => groupNorm(initGroupNorm(6), x, 4), /6 channels do not split into 4 groups/);
  tf.dispose([x, p.g, p.b]);
});

Deno.test("embed() gathers rows for ids of any shape", async () => {
  const table = tf.tensor2d([[0, 1], [2, 3], [4, 5]]);
  const e = embed(table, tf.tensor2d([[2, 0], [1, 1]], [2, 2], "int32"));
  assert.deepEqual(e.shape, [2, 2, 2]);
  assert.deepEqual(Array.from(await e.data()), [4, 5, 0, 1, 2, 3, 2, 3]);
});

Deno.test("softCrossEntropy() smooths like PyTorch, takes hard ids as one-hot, and weights rows", async () => {
  await useCpu();
  const logits = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
  const q = tf.tensor2d([[0.7, 0.2, 0.1], [0, 1, 0]]);
  const eps = 0.1;
  const lp = await tf.logSoftmax(logits).data();
  const qs = await q.data();
  const rowCe = [0, 1].map((r) =>
    -[0, 1, 2].reduce((a, j) => a + ((1 - eps) * qs[r * 3 + j]! + eps / 3) * lp[r * 3 + j]!, 0)
  );
  const mean = (await softCrossEntropy(logits, q, eps).data())[0]!;
  assert.ok(Math.abs(mean - (rowCe[0]! + rowCe[1]!) / 2) < 1e-5);
  const weighted = (await softCrossEntropy(logits, q, eps, tf.tensor1d([0, 1])).data())[0]!;
  assert.ok(Math.abs(weighted - rowCe[1]!) < 1e-5);
  const hard = (await softCrossEntropy(logits, tf.tensor1d([1, 1], "int32"), eps, tf.tensor1d([0, 1])).data())[0]!;
  assert.ok(Math.abs(hard - rowCe[1]!) < 1e-5);
  assert.throws(() => softCrossEntropy(logits, q, 1), /smoothing 1 is not in \[0, 1\)/);
});
