import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { createRng } from "../rng.ts";
import { maxAbsDiff, useCpu } from "../test_util.ts";
import { codebookUsage, emaUpdate, initCodebook, nearestCode, quantize, restartDeadCodes } from "./vector_quantizer.ts";

Deno.test("quantize() picks the nearest code, passes gradients straight through and weights commitment by β", async () => {
  await useCpu();
  const cb = initCodebook(createRng(0), 3, 2);
  cb.embed.assign(tf.tensor2d([[0, 0], [2, 0], [0, 2]]));
  const z = tf.tensor2d([[1.9, 0.3], [0.2, 0.1], [-0.1, 1.2]]);
  const { ids, zq, commitment } = quantize(cb, z, 0.25);
  assert.deepEqual(Array.from(await ids.data()), [1, 0, 2]);
  assert.ok(maxAbsDiff(await zq.data(), [2, 0, 0, 0, 0, 2]) < 1e-6);
  const want = 0.25 * (0.01 + 0.09 + 0.04 + 0.01 + 0.01 + 0.64) / 6;
  assert.ok(Math.abs((await commitment.data())[0]! - want) < 1e-6);
  // d(sum(zq · w))/dz = w: the straight-through estimator.
  const w = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const g = tf.grad((x: tf.Tensor) => quantize(cb, x).zq.mul(w).sum())(z);
  assert.ok(maxAbsDiff(await g.data(), await w.data()) < 1e-6);
  // Commitment pulls z towards its code: gradient 2β(z − c)/n.
  const gc = tf.grad((x: tf.Tensor) => quantize(cb, x, 0.25).commitment)(z);
  const zs = await z.data(), codes = [2, 0, 0, 0, 0, 2];
  assert.ok(maxAbsDiff(await gc.data(), Array.from(zs, (v, i) => 2 * 0.25 * (v - codes[i]!) / 6)) < 1e-6);
});

Deno.test("emaUpdate() follows the EMA formulas with Laplace smoothing", async () => {
  await useCpu();
  const cb = initCodebook(createRng(0), 3, 2);
  const size0 = [2, 1, 0.5], sum0 = [2, 2, 1, 1, 0, 0.5];
  cb.clusterSize.assign(tf.tensor1d(size0));
  cb.embedSum.assign(tf.tensor2d(sum0, [3, 2]));
  const z = tf.tensor2d([[1, 1], [3, 1], [0, 4]]);
  const ids = tf.tensor1d([0, 0, 2], "int32");
  const decay = 0.9, eps = 1e-5;
  emaUpdate(cb, z, ids, decay, eps);
  const counts = [2, 0, 1], sums = [4, 2, 0, 0, 0, 4];
  const size = size0.map((s, i) => decay * s + (1 - decay) * counts[i]!);
  const sum = sum0.map((s, i) => decay * s + (1 - decay) * sums[i]!);
  const n = size.reduce((a, b) => a + b, 0);
  const smoothed = size.map((s) => (s + eps) / (n + 3 * eps) * n);
  assert.ok(maxAbsDiff(await cb.clusterSize.data(), size) < 1e-6);
  assert.ok(maxAbsDiff(await cb.embedSum.data(), sum) < 1e-6);
  assert.ok(maxAbsDiff(await cb.embed.data(), sum.map((s, i) => s / smoothed[Math.floor(i / 2)]!)) < 1e-5);
});

Deno.test("emaUpdate() moves codes to the means of their clusters", async () => {
  await useCpu();
  const cb = initCodebook(createRng(1), 2, 2);
  cb.embed.assign(tf.tensor2d([[-1, 0], [1, 0]]));
  const z = tf.tensor2d([[-3, 1], [-2, 1], [2, -1], [4, -1]]);
  for (let i = 0; i < 800; i++) emaUpdate(cb, z, nearestCode(cb.embed, z), 0.99);
  assert.ok(maxAbsDiff(await cb.embed.data(), [-2.5, 1, 3, -1]) < 1e-2);
});

Deno.test("restartDeadCodes() re-seeds each dead code from a distinct batch vector and leaves live codes alone", async () => {
  await useCpu();
  const cb = initCodebook(createRng(0), 6, 3);
  cb.clusterSize.assign(tf.tensor1d([4, 0.1, 4, 0, 0.2, 4]));
  const before = await cb.embed.data();
  const z = tf.randomNormal([2, 4, 3], 0, 1, "float32", 5);
  const zs = await z.data();
  const restarted = restartDeadCodes(cb, z, createRng(2), 0.5);
  assert.equal((await restarted.data())[0], 3);
  const after = await cb.embed.data(), sum = await cb.embedSum.data(), size = await cb.clusterSize.data();
  const rows = (a: ArrayLike<number>, i: number) => Array.from(a).slice(i * 3, i * 3 + 3);
  const batchRows = Array.from({ length: 8 }, (_, i) => rows(zs, i).join());
  const seeded = [1, 3, 4].map((c) => rows(after, c).join());
  for (const s of seeded) assert.ok(batchRows.includes(s), "a dead code equals a batch vector");
  assert.equal(new Set(seeded).size, 3);
  for (const c of [0, 2, 5]) assert.deepEqual(rows(after, c), rows(before, c));
  for (const c of [1, 3, 4]) {
    assert.deepEqual(rows(sum, c), rows(after, c));
    assert.equal(size[c], 1);
  }
  assert.equal((await restartDeadCodes(cb, z, createRng(3), 0.5).data())[0], 0);
});

Deno.test("codebookUsage() gives perplexity K for uniform use and 1 for a collapsed codebook", () => {
  assert.deepEqual(codebookUsage([3, 3, 3], 8), { perplexity: 1, used: 1 });
  const u = codebookUsage([0, 0, 1, 1, 2, 2, 3, 3], 8);
  assert.ok(Math.abs(u.perplexity - 4) < 1e-9);
  assert.equal(u.used, 4);
});
