import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { createRng } from "../rng.ts";
import { maxAbsDiff, useCpu } from "../test_util.ts";
import { createTrainer, trainStep } from "../train/trainer.ts";
import { initPredictor, PREDICTOR_DEFAULTS, predictorLogits, predictorLoss, predictorTree } from "./token_predictor.ts";

const cfg = { ...PREDICTOR_DEFAULTS, codebookSize: 8, width: 32, depth: 2, decoderDepth: 1, heads: 2 };

Deno.test("predictorLogits(): masked content is invisible, unmasked content is seen", async () => {
  await useCpu();
  const p = initPredictor(cfg, 0);
  const rng = createRng(1);
  const ids = Int32Array.from({ length: 2 * 49 }, () => rng.int(8));
  const mask = new Uint8Array(98).map((_, i) => (i % 49 < 30 ? 1 : 0));
  const drop = new Uint8Array(98).map((_, i) => (i % 49 < 25 ? 1 : 0));
  const changedMasked = Int32Array.from(ids, (v, i) => (mask[i] ? (v + 3) % 8 : v));
  const changedVisible = Int32Array.from(ids, (v, i) => (i % 49 === 40 ? (v + 3) % 8 : v));
  for (const d of [null, drop]) {
    const base = await predictorLogits(p, cfg, tf.tensor2d(ids, [2, 49], "int32"), mask, d).data();
    const m = await predictorLogits(p, cfg, tf.tensor2d(changedMasked, [2, 49], "int32"), mask, d).data();
    const v = await predictorLogits(p, cfg, tf.tensor2d(changedVisible, [2, 49], "int32"), mask, d).data();
    assert.ok(maxAbsDiff(base, m) < 1e-5, "masked ids do not reach the logits");
    assert.ok(maxAbsDiff(base, v) > 1e-4, "visible ids do");
  }
});

Deno.test("the predictor learns to fill masked tokens from visible ones, with flat tensor counts", async () => {
  await useCpu();
  const p = initPredictor(cfg, 2);
  const trainer = createTrainer(predictorTree(p), {
    optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.95, weightDecay: 0.05 },
    clip: 3,
  });
  const rng = createRng(3);
  // Each image is one of 8 codes everywhere: any visible token tells the masked ones.
  const batch = () => {
    const a = new Int32Array(16 * 49);
    for (let b = 0; b < 16; b++) {
      const c = rng.int(8);
      for (let t = 0; t < 49; t++) a[b * 49 + t] = c;
    }
    return tf.tensor2d(a, [16, 49], "int32");
  };
  const accs: number[] = [];
  let before = 0;
  for (let step = 0; step < 25; step++) {
    const ids = batch();
    let acc!: tf.Scalar;
    const r = trainStep(trainer, () => {
      const out = predictorLoss(p, cfg, ids, rng);
      acc = tf.keep(out.accuracy);
      return out.loss;
    }, 3e-3);
    accs.push((await acc.data())[0]!);
    tf.dispose([ids, acc, r.loss, r.gradNorm]);
    if (step === 3) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before);
  const last = accs.slice(-5).reduce((a, b) => a + b, 0) / 5;
  assert.ok(last > 0.9, `masked-token accuracy ${last}`);
});
