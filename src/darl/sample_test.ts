import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { darlConfig } from "./config.ts";
import { prepareDataset } from "../data/prepare.ts";
import { createRng } from "../rng.ts";
import { fixture, maxAbsDiff, useCpu } from "../test_util.ts";
import { darlDiffusionLoss, drawDiffusionNoise } from "./diffusion.ts";
import { darlForward, initDarl } from "./model.ts";
import { darlGenerator } from "./method.ts";
import { betaNoiseLevel, cosineGrid, logSnr } from "./noise.ts";
import { patchDecoder } from "./patch_decoder.ts";
import { PRETRAIN_DEFAULTS, pretrainDarl } from "./pretrain.ts";
import { createKvCache, decodeStep, disposeKvCache, SAMPLE_DEFAULTS, sampleDarl, samplePatches } from "./sample.ts";

const diffCfg = (over = {}) =>
  darlConfig("tiny", {
    imageSize: 8,
    patchSize: 2,
    dim: 16,
    depth: 2,
    heads: 2,
    objective: "diffusion",
    target: "global",
    ...over,
  });

Deno.test("betaNoiseLevel() matches the Beta(a, 1) mean and variance, and stays finite for tiny a", () => {
  for (const a of [0.03, 0.5, 1]) {
    const g = betaNoiseLevel(createRng(a * 1000), a, 1, 60000);
    let s = 0, s2 = 0;
    for (const v of g) {
      s += v;
      s2 += v * v;
    }
    const mean = s / g.length, variance = s2 / g.length - mean * mean;
    const m = a / (a + 1), vv = a / ((a + 1) ** 2 * (a + 2));
    assert.ok(Math.abs(mean - m) < 0.01 * Math.max(1, m * 10), `a=${a}: mean ${mean} vs ${m}`);
    assert.ok(Math.abs(variance - vv) < 0.05 * vv + 1e-4, `a=${a}: var ${variance} vs ${vv}`);
  }
  const tiny = betaNoiseLevel(createRng(2), 0.01, 1, 20000);
  assert.ok(tiny.every((v) => v >= 0 && v <= 1));
  assert.ok(Array.from(tiny, logSnr).every(Number.isFinite));
  // DARL's a = 0.03 puts most draws at very high noise (γ < 0.01).
  const darl = betaNoiseLevel(createRng(3), 0.03, 1, 20000);
  assert.ok(darl.filter((v) => v < 0.01).length / darl.length > 0.8);
});

Deno.test("samplePatches() with an oracle x0-predictor returns the true patch (DDPM and DDIM)", async () => {
  await useCpu();
  const truth = tf.tensor2d(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 0.9), [3, 4]);
  for (const sampler of ["ddpm", "ddim"] as const) {
    const out = samplePatches(() => truth.clone(), 3, 4, createRng(1), { steps: 20, sampler, temperature: 1 });
    assert.ok(maxAbsDiff(await out.data(), await truth.data()) < 1e-5, sampler);
    out.dispose();
  }
  assert.deepEqual([cosineGrid(10)[0]! < 1e-12, cosineGrid(10)[10]], [true, 1]);
});

Deno.test("decodeStep() with the key/value cache equals the full causal forward pass", async () => {
  await useCpu();
  const cases = [
    ["rope2d", "raster"],
    ["learned", "raster"],
    ["sincos", "raster"],
    ["rope2d", "nested"],
    ["sincos", "nested"],
  ] as const;
  for (const [posEncoding, patchOrder] of cases) {
    const cfg = diffCfg({ posEncoding, patchOrder });
    const params = initDarl(cfg, 5);
    const patches = tf.randomUniform([2, 16, 4], -1, 1, "float32", 6);
    const full = darlForward(params, cfg, patches, { shift: true }).normed!; // [2, 16, d]
    const cache = createKvCache(cfg);
    let h = decodeStep(params, cfg, cache, null, 2);
    for (let t = 0; t < 16; t++) {
      const want = full.slice([0, t, 0], [2, 1, 16]).reshape([2, 16]);
      assert.ok(maxAbsDiff(await h.data(), await want.data()) < 1e-4, `${posEncoding}, ${patchOrder}, position ${t}`);
      if (t < 15) {
        const next = decodeStep(params, cfg, cache, patches.slice([0, t, 0], [2, 1, 4]).reshape([2, 4]), 2);
        h.dispose();
        h = next;
      }
    }
    h.dispose();
    disposeKvCache(cache);
  }
});

Deno.test("the patch decoder cannot see its target: changing x_t with x̃_t fixed changes nothing", async () => {
  await useCpu();
  const cfg = diffCfg();
  const params = initDarl(cfg, 7);
  // Make the zero-initialised output layers non-trivial.
  for (const blk of params.decoder!.blocks) {
    (blk.ada.w as tf.Variable).assign(tf.randomNormal(blk.ada.w.shape, 0, 0.1, "float32", 1));
  }
  (params.decoder!.final.out.w as tf.Variable).assign(
    tf.randomNormal(params.decoder!.final.out.w.shape, 0, 0.1, "float32", 2),
  );
  const x = tf.randomUniform([1, 16, 4], -1, 1, "float32", 3);
  const t = 5;
  const x2 = tf.add(x, tf.concat([tf.zeros([1, t, 4]), tf.ones([1, 1, 4]), tf.zeros([1, 10, 4])], 1));
  const noisy = tf.randomNormal([16, 4], 0, 1, "float32", 4), lsnr = tf.fill([16], -3);
  const out = (p: tf.Tensor) =>
    patchDecoder(params.decoder!, noisy, darlForward(params, cfg, p, { shift: true }).normed!.reshape([16, 16]), lsnr);
  const a = (await out(x).data()) as Float32Array, b = (await out(x2).data()) as Float32Array;
  for (let i = 0; i <= t; i++) assert.equal(maxAbsDiff(a.subarray(i * 4, i * 4 + 4), b.subarray(i * 4, i * 4 + 4)), 0);
  assert.ok(maxAbsDiff(a.subarray((t + 1) * 4), b.subarray((t + 1) * 4)) > 0, "later positions do see x_t through h");
});

Deno.test("diffusion pretraining loss falls on the fixture, and samples are images", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const data = `${tmp}/patterns`;
  await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: data });
  const cfg = diffCfg();
  const r = await pretrainDarl(cfg, {
    ...PRETRAIN_DEFAULTS,
    data,
    out: `${tmp}/run`,
    steps: 60,
    batchSize: 8,
    lr: 3e-3,
    warmupSteps: 5,
    logEvery: 10,
    ckptEvery: 60,
    sampleEvery: 60,
  }, { log: () => {} });
  const first = r.losses.slice(0, 10).reduce((a, b) => a + b) / 10,
    last = r.losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(last < 0.8 * first, `loss ${first} → ${last}`);
  assert.ok((await Deno.stat(`${tmp}/run/predictions/step-0000060.png`)).size > 100);
  const before = tf.memory().numTensors;
  const imgs = await sampleDarl(r.state.params, cfg, { ...SAMPLE_DEFAULTS, count: 3, steps: 8, seed: 1 });
  assert.deepEqual(imgs.shape, [3, 8, 8, 1]);
  const v = await imgs.data();
  assert.ok(v.every((p) => p >= -1 && p <= 1));
  imgs.dispose();
  assert.equal(tf.memory().numTensors, before, "sampling leaves no tensors behind");
  const again = await sampleDarl(r.state.params, cfg, { ...SAMPLE_DEFAULTS, count: 3, steps: 8, seed: 1 });
  assert.deepEqual(await again.data(), v, "seeded sampling is reproducible");
  again.dispose();
  const uncached = await sampleDarl(r.state.params, cfg, {
    ...SAMPLE_DEFAULTS,
    count: 3,
    steps: 8,
    seed: 1,
    useCache: false,
  });
  assert.ok(maxAbsDiff(await uncached.data(), v) < 1e-3, "the cache changes speed, not results");
  uncached.dispose();
  // The loss on one batch uses the decoder, never the MSE head.
  const noise = drawDiffusionNoise(createRng(0), cfg, 2);
  const l = darlDiffusionLoss(r.state.params, cfg, tf.zeros([2, 8, 8, 1]), noise);
  assert.ok(Number.isFinite((await l.loss.data())[0]!));
  assert.equal(r.state.params.head, undefined);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("sampleDarl() refuses MSE models trained on per-patch targets", async () => {
  await useCpu();
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2 });
  await assert.rejects(
    sampleDarl(initDarl(cfg, 0), cfg, SAMPLE_DEFAULTS),
    /per-patch normalised targets, which cannot be turned back into pixels/,
  );
  const global = { ...cfg, target: "global" as const };
  const imgs = await sampleDarl(initDarl(global, 0), global, { ...SAMPLE_DEFAULTS, count: 2, mseNoise: 0.1 });
  assert.deepEqual(imgs.shape, [2, 8, 8, 1]);
  imgs.dispose();
});

Deno.test("completions in nested order keep the given rows, and refuse rows the order does not visit first", async () => {
  await useCpu();
  const cfg = darlConfig("tiny", {
    imageSize: 8,
    patchSize: 2,
    dim: 16,
    depth: 1,
    heads: 2,
    target: "global",
    patchOrder: "nested",
  });
  const gen = darlGenerator(initDarl(cfg, 0), cfg);
  const images = new Uint8Array(2 * 64).map((_, i) => (i * 37) % 256);
  const complete = (rows: number) => gen.sample({ count: 2, seed: 0, images, options: { completeRows: rows } });
  await assert.rejects(complete(1), /nested patch order does not visit the top 1 rows first/);
  const out = (await complete(2)).images;
  for (let b = 0; b < 2; b++) {
    // Two rows of 2×2 patches: the top 4 pixel rows come back as given (up to the round trip through [−1, 1]).
    const top = (x: Uint8Array) => [...x.subarray(b * 64, b * 64 + 32)];
    assert.ok(top(out).every((v, i) => Math.abs(v - top(images)[i]!) <= 1), `image ${b}`);
    assert.notDeepEqual([...out.subarray(b * 64 + 32, (b + 1) * 64)], [...images.subarray(b * 64 + 32, (b + 1) * 64)]);
  }
});
