import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { darlConfig, type PosEncoding } from "./config.ts";
import { maxAbsDiff, useCpu } from "../test_util.ts";
import { darlForward, initDarl, nextPatchHead } from "./model.ts";
import { patchify, unpatchify } from "../nn/patchify.ts";
import { darlMseLoss, patchTarget } from "./loss.ts";
import { disposeTree } from "../nn/tree.ts";
import { darlEncoder } from "./encoder.ts";

const small = (over = {}) => darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 32, depth: 2, heads: 2, ...over });

Deno.test("patchify() and unpatchify() round-trip and use (row, col, channel) order", async () => {
  await useCpu();
  const x = tf.randomUniform([2, 8, 12, 3], -1, 1, "float32", 1);
  const p = patchify(x, 4);
  assert.deepEqual(p.shape, [2, 6, 48]);
  const back = unpatchify(p, 4, 2, 3);
  assert.equal(maxAbsDiff(x.dataSync(), back.dataSync()), 0);
  // Patch 1 (row 0, col 1) starts at pixel (0, 4); its value 4 is pixel (0, 5) channel 1.
  const xd = x.dataSync(), pd = p.dataSync();
  assert.equal(pd[48 + 4], xd[(0 * 12 + 5) * 3 + 1]);
  assert.throws(() => patchify(tf.zeros([1, 6, 6, 1]), 4), /must divide/);
});

Deno.test("darlForward() is causal: changing patch t changes no output before t", async () => {
  await useCpu();
  const cfg = small();
  const params = initDarl(cfg, 1);
  const x = tf.randomUniform([2, 16, 4], -1, 1, "float32", 2);
  const t = 6;
  const x2 = tf.tidy(() => {
    const noise = tf.concat([tf.zeros([2, t, 4]), tf.ones([2, 1, 4]), tf.zeros([2, 16 - t - 1, 4])], 1);
    return tf.add(x, noise);
  });
  // Input token t + 1 holds patch x_t (0-based t), so outputs 0..t are unaffected.
  const a = darlForward(params, cfg, x).pred!.arraySync();
  const b = darlForward(params, cfg, x2).pred!.arraySync();
  for (let i = 0; i < 16; i++) {
    const d = maxAbsDiff(a[0]![i]!, b[0]![i]!);
    if (i <= t) assert.equal(d, 0, `output ${i} changed`);
    else assert.ok(d > 1e-5, `output ${i} should change`);
  }
  const c = darlForward(params, cfg, x, { causal: false }).pred!.arraySync();
  const d = darlForward(params, cfg, x2, { causal: false }).pred!.arraySync();
  assert.ok(maxAbsDiff(c[0]![0]!, d[0]![0]!) > 1e-5, "bidirectional attention must see later patches");
});

Deno.test("prefix attention: the prefix sees itself, later outputs stay causal, and the loss drops the outputs that see their targets", async () => {
  await useCpu();
  const cfg = small({ attention: "prefix" });
  const params = initDarl(cfg, 1);
  const x = tf.randomUniform([2, 16, 4], -1, 1, "float32", 2);
  const prefix = 5; // input tokens [SOS, x1 … x4]
  const bump = (t: number) =>
    tf.tidy(() => tf.add(x, tf.concat([tf.zeros([2, t, 4]), tf.ones([2, 1, 4]), tf.zeros([2, 15 - t, 4])], 1)));
  const pred = (p: tf.Tensor) => darlForward(params, cfg, p, { prefix }).pred!.arraySync();
  const a = pred(x);
  // Patch x4 (0-based 3) is the prefix's last input: every output sees it, so outputs 0 … 3 see their own targets.
  const b = pred(bump(3));
  for (let i = 0; i < 16; i++) assert.ok(maxAbsDiff(a[0]![i]!, b[0]![i]!) > 1e-5, `output ${i} should see x4`);
  // A patch after the prefix reaches only the outputs after it, as under the causal mask.
  const c = pred(bump(9));
  for (let i = 0; i < 16; i++) {
    const d = maxAbsDiff(a[0]![i]!, c[0]![i]!);
    if (i <= 9) assert.equal(d, 0, `output ${i} changed`);
    else assert.ok(d > 1e-5, `output ${i} should change`);
  }
  // The loss averages the squared error over outputs prefix − 1 … 15 only.
  const images = unpatchify(x, 2, 4, 4);
  const { loss, forward, target } = darlMseLoss(params, cfg, images, prefix);
  const err = tf.squaredDifference(forward.pred!, target).mean(-1).arraySync() as number[][];
  const kept = err.flatMap((row) => row.slice(prefix - 1));
  const want = kept.reduce((s, v) => s + v, 0) / kept.length;
  assert.ok(Math.abs(loss.dataSync()[0]! - want) < 1e-5 * want, `${loss.dataSync()[0]} vs ${want}`);
  const every = err.flat().reduce((s, v) => s + v, 0) / err.flat().length;
  assert.ok(Math.abs(every - want) > 1e-3 * want, "the check must tell the kept outputs from all of them");
  assert.throws(() => darlMseLoss(params, cfg, images, 17), /prefix 17 is not an integer in \[1, 16\]/);
  assert.throws(
    () => darlConfig("tiny", { attention: "prefix", objective: "diffusion" }),
    /--attention prefix: only the MSE objective/,
  );
});

Deno.test("darlForward() returns named intermediates; shift:false adds the last patch", async () => {
  await useCpu();
  const cfg = small();
  const params = initDarl(cfg, 3);
  const x = tf.randomUniform([3, 16, 4], -1, 1, "float32", 4);
  const a = darlForward(params, cfg, x);
  assert.equal(a.blocks.length, 2);
  assert.deepEqual(a.embed.shape, [3, 16, 32]);
  assert.deepEqual(a.normed!.shape, [3, 16, 32]);
  const b = darlForward(params, cfg, x, { shift: false, head: false });
  assert.deepEqual(b.normed!.shape, [3, 17, 32]);
  assert.equal(b.pred, undefined);
  // Causal attention: the first 16 tokens are the same with or without the last patch.
  const bn = b.normed!.slice([0, 0, 0], [3, 16, 32]).dataSync();
  assert.ok(maxAbsDiff(a.normed!.dataSync(), bn) < 1e-5);
});

Deno.test("every position encoding runs and gives a finite loss", async () => {
  await useCpu();
  for (const posEncoding of ["rope2d", "rope1d", "learned", "sincos", "none"] as PosEncoding[]) {
    const cfg = small({ posEncoding });
    const params = initDarl(cfg, 5);
    const loss = tf.tidy(() =>
      darlMseLoss(params, cfg, tf.randomUniform([2, 8, 8, 1], -1, 1, "float32", 6)).loss.dataSync()[0]!
    );
    assert.ok(Number.isFinite(loss) && loss > 0, `${posEncoding}: ${loss}`);
  }
});

Deno.test("patchTarget() normalises each patch to zero mean and unit variance", async () => {
  await useCpu();
  const p = tf.randomUniform([2, 3, 16], -1, 1, "float32", 7);
  const t = patchTarget(p, "patch");
  const { mean, variance } = tf.moments(t, -1);
  assert.ok(maxAbsDiff(mean.dataSync(), new Float32Array(6)) < 1e-5);
  assert.ok(maxAbsDiff(variance.dataSync(), new Float32Array(6).fill(1)) < 1e-3);
  assert.equal(patchTarget(p, "global"), p);
});

Deno.test("initDarl() is deterministic in its seed", async () => {
  await useCpu();
  const cfg = small();
  const a = initDarl(cfg, 9), b = initDarl(cfg, 9), c = initDarl(cfg, 10);
  assert.equal(maxAbsDiff(a.blocks[1]!.qkv.w.dataSync(), b.blocks[1]!.qkv.w.dataSync()), 0);
  assert.ok(maxAbsDiff(a.blocks[1]!.qkv.w.dataSync(), c.blocks[1]!.qkv.w.dataSync()) > 0);
});

Deno.test("initDarl() and disposeTree() leave no tensors behind, with or without the patch decoder", async () => {
  await useCpu();
  for (const objective of ["mse", "diffusion"] as const) {
    const before = tf.memory().numTensors;
    disposeTree(
      initDarl(darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 2, heads: 2, objective }), 0) as never,
    );
    assert.equal(tf.memory().numTensors, before, objective);
  }
});

Deno.test("an MLP head (headDepth) adds residual blocks after the trunk and keeps the trunk's initialisation", async () => {
  await useCpu();
  const plain = initDarl(small(), 3), deep = initDarl(small({ headDepth: 2 }), 3);
  assert.equal(plain.head!.blocks.length, 0);
  assert.equal(deep.head!.blocks.length, 2);
  // Everything drawn before the head's blocks is the same tensor for tensor.
  assert.equal(maxAbsDiff(plain.blocks[1]!.qkv.w.dataSync(), deep.blocks[1]!.qkv.w.dataSync()), 0);
  assert.equal(maxAbsDiff(plain.head!.out.w.dataSync(), deep.head!.out.w.dataSync()), 0);
  const x = tf.randomNormal([2, 16, 4], 0, 1, "float32", 1);
  const a = darlForward(plain, small(), x), b = darlForward(deep, small({ headDepth: 2 }), x);
  // Same trunk, so the same representation; the head's blocks change only the prediction.
  assert.equal(maxAbsDiff(a.normed!.dataSync(), b.normed!.dataSync()), 0);
  assert.ok(maxAbsDiff(a.pred!.dataSync(), b.pred!.dataSync()) > 1e-4);
  // The forward pass's prediction is the head applied to the representation.
  assert.ok(maxAbsDiff(b.pred!.dataSync(), nextPatchHead(deep.head!, b.normed!).dataSync()) < 1e-6);
  // And the head's blocks train: the loss has a gradient with respect to them.
  const images = tf.randomUniform([2, 8, 8, 1], -1, 1, "float32", 6);
  const fc2 = deep.head!.blocks[0]!.mlp.fc2;
  const g = tf.grad((w: tf.Tensor) => {
    const blocks = [{ ...deep.head!.blocks[0]!, mlp: { ...deep.head!.blocks[0]!.mlp, fc2: { ...fc2, w } } }];
    const head = { ...deep.head!, blocks: [...blocks, deep.head!.blocks[1]!] };
    return darlMseLoss({ ...deep, head }, small({ headDepth: 2 }), images).loss;
  })(fc2.w);
  assert.ok(maxAbsDiff(g.dataSync(), new Float32Array(g.size)) > 0);
});

Deno.test("nested patch order: positions follow the patches, so only the causal pass changes", async () => {
  await useCpu();
  const images = tf.randomUniform([2, 8, 8, 1], 0, 1, "float32", 4); // a 4×4 grid of 2×2 patches
  for (const posEncoding of ["rope2d", "sincos"] as const) {
    const raster = small({ posEncoding }), nested = small({ posEncoding, patchOrder: "nested" });
    const params = initDarl(raster, 1);
    const tokens = async (cfg: typeof raster, causal: boolean) => {
      const t = darlEncoder(params, cfg, "k").tokens(images, { causal });
      const v = await t.data();
      t.dispose();
      return v;
    };
    // Bidirectional attention with each patch at its own grid place is blind to the order.
    const bidirectional = maxAbsDiff(await tokens(raster, false), await tokens(nested, false));
    assert.ok(bidirectional < 1e-5, `${posEncoding}: ${bidirectional}`);
    // Causally, patch (1, 0) sees 4 patches in raster order and 2 in nested order.
    assert.ok(maxAbsDiff(await tokens(raster, true), await tokens(nested, true)) > 1e-3, posEncoding);
    disposeTree(params as never);
  }
  images.dispose();
});
