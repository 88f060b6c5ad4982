import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useCpu } from "../test_util.ts";
import { selectBackend } from "../backend.ts";
import "../kernels/mod.ts";
import { namedLeaves } from "../nn/tree.ts";
import { createRng } from "../rng.ts";
import { createTrainer, trainStep } from "../train/trainer.ts";
import { emaUpdate, restartDeadCodes } from "./vector_quantizer.ts";
import {
  checkTokenizerConfig,
  detokenize,
  initTokenizer,
  tokenGrid,
  tokenize,
  TOKENIZER_DEFAULTS,
  tokenizerTrainable,
} from "./tokenizer.ts";
import { tokenizerLoss } from "./tokenizer_loss.ts";

const small = { ...TOKENIZER_DEFAULTS, width: 8, widthMult: [1, 2, 2], groups: 4, codebookSize: 16, codeDim: 8 };

Deno.test("the token grid equals the ViT patch grid: 28 → 7×7, 32 → 8×8", () => {
  assert.equal(tokenGrid(TOKENIZER_DEFAULTS), 7);
  assert.equal(tokenGrid({ ...TOKENIZER_DEFAULTS, imageSize: 32 }), 8);
  assert.throws(() => checkTokenizerConfig({ ...TOKENIZER_DEFAULTS, imageSize: 30 }), /divisible by 4/);
  assert.throws(() => checkTokenizerConfig({ ...TOKENIZER_DEFAULTS, groups: 5 }), /--groups: 5 does not divide/);
  assert.throws(() => checkTokenizerConfig({ ...TOKENIZER_DEFAULTS, decay: 1 }), /--decay/);
});

Deno.test("tokenize() and detokenize() round-trip shapes for grey and RGB images", async () => {
  await useCpu();
  for (const [size, ch] of [[28, 1], [32, 3]] as const) {
    const cfg = { ...small, imageSize: size, channels: ch };
    const p = initTokenizer(cfg, 0);
    const ids = tokenize(p, cfg, tf.randomUniform([2, size, size, ch], -1, 1));
    const g = size / 4;
    assert.deepEqual(ids.shape, [2, g * g]);
    assert.equal(ids.dtype, "int32");
    assert.deepEqual(detokenize(p, cfg, ids).shape, [2, size, size, ch]);
  }
});

Deno.test("the tokenizer learns: reconstruction error falls, dead codes restart, tensors stay flat", async () => {
  await selectBackend("cpu", "fast"); // darl-cpu: the im2col convolutions run on its GEMM
  const cfg = { ...small, decay: 0.8 }; // a fast EMA, so unused codes die within the test
  const p = initTokenizer(cfg, 1);
  // Structured images: a bright rectangle at a random place on a dark background.
  const rng = createRng(4);
  const n = 8, px = new Float32Array(n * 28 * 28).fill(-1);
  for (let i = 0; i < n; i++) {
    const y0 = rng.int(14), x0 = rng.int(14), h = 6 + rng.int(8), w = 6 + rng.int(8);
    for (let y = y0; y < Math.min(28, y0 + h); y++) {
      for (let x = x0; x < Math.min(28, x0 + w); x++) px[i * 784 + y * 28 + x] = 1;
    }
  }
  const images = tf.tensor4d(px, [n, 28, 28, 1]);
  const { codebook } = p;
  const trainable = tokenizerTrainable(p);
  assert.ok(namedLeaves(trainable).every(([name]) => !name.includes("codebook")));
  const trainer = createTrainer(trainable, { optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.99, weightDecay: 0 } });
  const mses: number[] = [];
  let restarted = 0, before = 0;
  for (let step = 0; step < 25; step++) {
    let z!: tf.Tensor, ids!: tf.Tensor, mse!: tf.Scalar;
    const r = trainStep(trainer, () => {
      const out = tokenizerLoss(p, cfg, images);
      [z, ids, mse] = [tf.keep(out.z), tf.keep(out.ids), tf.keep(out.mse)];
      return out.loss;
    }, 3e-3);
    emaUpdate(codebook, z, ids, cfg.decay);
    const count = restartDeadCodes(codebook, z, rng, cfg.deadThreshold);
    restarted += (await count.data())[0]!;
    count.dispose();
    mses.push((await mse.data())[0]!);
    tf.dispose([z, ids, mse, r.loss, r.gradNorm]);
    if (step === 5) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before);
  assert.ok(restarted > 0, "dead codes were restarted");
  assert.ok(mses.at(-1)! < 0.5 * mses[0]!, `mse ${mses[0]} → ${mses.at(-1)}`);
});
