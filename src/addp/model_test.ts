import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { createRng } from "../rng.ts";
import { maxAbsDiff, useCpu } from "../test_util.ts";
import { selectBackend } from "../backend.ts";
import "../kernels/mod.ts";
import { createTrainer, trainStep } from "../train/trainer.ts";
import type { ParamTree } from "../nn/tree.ts";
import { ADDP_DEFAULTS, addpEncode, addpLogits, initAddp } from "./model.ts";
import { ADDP_OUTSIDE_ENCODER, addpEncoder } from "./encoder.ts";
import { addpLoss, alternatingTargets, mapToLatent } from "./alternating_denoising.ts";
import { timestepGrid } from "./mask_schedule.ts";
import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
import { lookupCodes } from "./vector_quantizer.ts";

const cfg = { ...ADDP_DEFAULTS, dim: 16, depth: 1, decoderDepth: 1, heads: 2, codebookSize: 8 };
const tcfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
const pcfg = { ...PREDICTOR_DEFAULTS, codebookSize: 8, width: 16, depth: 1, decoderDepth: 1, heads: 2 };

Deno.test("addpLogits(): unreliable ids are invisible; reliable ids and the image are seen; all-masked works", async () => {
  await useCpu();
  const p = initAddp(cfg, 0);
  const rng = createRng(1);
  const ids = Int32Array.from({ length: 98 }, () => rng.int(8));
  const mask = new Uint8Array(98).map((_, i) => (i % 49 < 30 ? 1 : 0));
  const x = tf.randomUniform([2, 28, 28, 1], -1, 1, "float32", 3);
  const run = (z: Int32Array, img = x, m = mask) => addpLogits(p, cfg, img, tf.tensor2d(z, [2, 49], "int32"), m).data();
  const base = await run(ids);
  assert.ok(maxAbsDiff(base, await run(Int32Array.from(ids, (v, i) => (mask[i] ? (v + 1) % 8 : v)))) < 1e-5);
  assert.ok(maxAbsDiff(base, await run(Int32Array.from(ids, (v, i) => (i === 45 ? (v + 1) % 8 : v)))) > 1e-4);
  assert.ok(maxAbsDiff(base, await run(ids, x.mul(0.5))) > 1e-4);
  const all = await run(ids, x, new Uint8Array(98).fill(1));
  assert.equal(all.length, 2 * 49 * 8);
  assert.ok(all.every(Number.isFinite));
  // The encoder reads pixels only: its output does not depend on ids at all (it has no such input).
  assert.deepEqual(addpEncode(p, cfg, x).shape, [2, 50, 16]);
  assert.throws(
    () => addpLogits(p, cfg, x, tf.zeros([2, 49], "int32"), new Uint8Array(98).map((_, i) => (i < 30 ? 1 : 0))),
    /same masked count/,
  );
});

Deno.test("mapToLatent(): P·C, argmax and sampled codes on a toy codebook", async () => {
  await useCpu();
  const C = tf.tensor2d([[1, 0], [0, 1], [-1, -1]]);
  const P = tf.tensor2d([[0.5, 0.25, 0.25], [0, 0, 1]]);
  assert.ok(maxAbsDiff(await mapToLatent(P, C, "weighted").data(), [0.25, 0, -1, -1]) < 1e-6);
  assert.deepEqual(Array.from(await mapToLatent(P, C, "argmax").data()), [1, 0, -1, -1]);
  const sampled = await mapToLatent(tf.tensor2d([[0.5, 0.5, 0]]).tile([2000, 1]), C, "sampled", 7).data();
  let first = 0;
  for (let i = 0; i < 2000; i++) {
    assert.ok(sampled[2 * i] === 1 || sampled[2 * i + 1] === 1, "only codes with probability");
    first += sampled[2 * i]!;
  }
  assert.ok(Math.abs(first / 2000 - 0.5) < 0.05);
});

Deno.test("alternatingTargets(): C[z₀] on reliable positions, f(P) on unreliable ones, nested masks, soft targets", async () => {
  await useCpu();
  const frozen = {
    tokenizer: { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never,
    predictor: initPredictor(pcfg, 0),
    predictorCfg: pcfg,
  };
  const rng = createRng(2);
  const ids = tf.tensor2d(Int32Array.from({ length: 98 }, () => rng.int(8)), [2, 49], "int32");
  const t = alternatingTargets(frozen, ids, rng, timestepGrid(), "argmax");
  assert.ok(t.mask.every((v, i) => v <= t.maskNext[i]!));
  const latent = await t.latent.reshape([98, 4]).data();
  const hard = await lookupCodes(
    (frozen.tokenizer as { params: { codebook: { embed: tf.Tensor } } }).params.codebook.embed,
    ids.reshape([98]),
  ).data();
  let reliable = 0;
  for (let i = 0; i < 98; i++) {
    if (t.mask[i]) continue;
    reliable++;
    assert.ok(maxAbsDiff(latent.subarray(4 * i, 4 * i + 4), hard.subarray(4 * i, 4 * i + 4)) < 1e-6);
  }
  assert.equal(reliable, 98 - 2 * t.draw.count);
  const q = await t.target.sum(-1).data();
  assert.ok(q.every((v) => Math.abs(v - 1) < 1e-4));
  const x = await t.images.data();
  assert.ok(x.every((v) => v >= -1 && v <= 1));
});

Deno.test("ADDP learns to fill unreliable tokens from reliable ones through the frozen parts, with flat tensor counts", async () => {
  await selectBackend("cpu", "fast"); // darl-cpu: the tokenizer's im2col convolutions run on its GEMM
  const frozen = {
    tokenizer: { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never,
    predictor: initPredictor(pcfg, 1),
    predictorCfg: pcfg,
  };
  const p = initAddp(cfg, 4);
  const trainer = createTrainer(p as unknown as ParamTree, {
    optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.95, weightDecay: 0 },
    clip: 3,
  });
  const rng = createRng(5), grid = timestepGrid();
  // Each image is one code everywhere, so the reliable tokens reveal the unreliable ones; the target is that code.
  const ids = tf.tensor2d(
    Int32Array.from({ length: 4 * 49 }, (_, i) => [1, 3, 5, 6][Math.floor(i / 49)]!),
    [4, 49],
    "int32",
  );
  const losses: number[] = [];
  let before = 0;
  for (let step = 0; step < 40; step++) {
    const t = alternatingTargets(frozen, ids, rng, grid, "weighted");
    t.target.dispose();
    t.target = tf.tidy(() => tf.oneHot(ids, 8).toFloat());
    const r = trainStep(trainer, () => addpLoss(p, cfg, ids, t), 1e-2);
    losses.push((await r.loss.data())[0]!);
    tf.dispose([t.latent, t.images, t.target, r.loss, r.gradNorm]);
    if (step === 2) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before);
  const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5, tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(tail < 0.6 * head, `loss ${head} → ${tail}`);
});

Deno.test("ADDP random-init baseline: one cache key and the same features across mapping, decoder and codebook", async () => {
  await useCpu();
  const images = tf.randomUniform([2, 28, 28, 1], -1, 1, "float32", 3);
  const random = async (c: typeof cfg) => {
    const model = initAddp(c, 0);
    const enc = addpEncoder(model, c, "trained").randomInit(5);
    const t = enc.tokens(images);
    const values = await t.data();
    t.dispose();
    enc.dispose();
    tf.dispose(model as never);
    return { key: enc.key, values };
  };
  const base = await random(cfg);
  // Every field outside the encoder, varied: the shared key is only sound if the encoder's draws really are the same.
  const variants = [
    { mapping: "argmax" as const },
    { decoderDepth: 2 },
    { codebookSize: 16, timesteps: 50 },
    { smoothing: 0.2, maxDelta: 3 },
  ];
  assert.deepEqual(new Set(variants.flatMap((v) => Object.keys(v))), new Set(ADDP_OUTSIDE_ENCODER));
  for (const other of variants) {
    const r = await random({ ...cfg, ...other });
    assert.equal(r.key, base.key, JSON.stringify(other));
    assert.deepEqual(r.values, base.values, JSON.stringify(other));
  }
  assert.notEqual((await random({ ...cfg, dim: 32 })).key, base.key);
  images.dispose();
});
