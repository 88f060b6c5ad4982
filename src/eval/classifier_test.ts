import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { darlConfig } from "../darl/config.ts";
import { darlEncoder } from "../darl/encoder.ts";
import { initDarl } from "../darl/model.ts";
import { createRng } from "../rng.ts";
import { useCpu } from "../test_util.ts";
import { classifierAccuracy, disposeClassifier, initClassifier, layerScales, trainClassifier } from "./classifier.ts";
import { FINETUNE_DEFAULTS } from "./finetune.ts";

/** 8×8 images, bright on the left half (class 0) or the right half (class 1), with noise. */
function halves(count: number, seed: number) {
  const rng = createRng(seed);
  const images = new Uint8Array(count * 64), labels = new Uint16Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % 2;
    for (let i = 0; i < 64; i++) {
      const left = i % 8 < 4;
      images[n * 64 + i] = Math.round((left === (n % 2 === 0) ? 160 : 40) + 80 * rng.uniform());
    }
  }
  return { count, images, labels };
}

Deno.test("trainClassifier() fine-tunes a DARL encoder to separate two classes, leaking no tensors", async () => {
  await useCpu();
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 2, heads: 2 });
  const encoder = () => darlEncoder(initDarl(cfg, 0), cfg, "random:0");
  const test = halves(32, 7);
  const before = encoder();
  const untrained = initClassifier(before, 2, 0);
  const chance = await classifierAccuracy(untrained, test);
  disposeClassifier(untrained);
  const tensors = tf.memory().numTensors;
  const hp = { ...FINETUNE_DEFAULTS, epochs: 20, batchSize: 16, lr: 3e-3, augment: "none" as const };
  const clf = await trainClassifier(encoder(), halves(64, 1), 2, hp);
  const acc = await classifierAccuracy(clf, test);
  assert.ok(acc >= 0.95, `accuracy ${acc} (untrained ${chance})`);
  disposeClassifier(clf);
  assert.equal(tf.memory().numTensors, tensors);
});

Deno.test("layerScales(): the head learns fastest and each block below it by another factor of decay", () => {
  const encoder = { depth: 3, blockIndex: (n: string) => (n.startsWith("blocks.") ? Number(n[7]) + 1 : 0) };
  const names = ["backbone.patch.w", "backbone.blocks.0.qkv.w", "backbone.blocks.2.mlp.w", "head.out.w"];
  const s = layerScales(names, encoder as never, 0.5);
  assert.deepEqual(s, [0.0625, 0.125, 0.5, 1]);
});
