/**
 * ADDP's components, one training step each at the defaults (batch 64,
 * Fashion-MNIST-sized images, random weights), and generation: the VQ
 * tokenizer (convolutions), the MAGE-style token predictor, ADDP's step
 * (two frozen predictor passes + a VQ decode + the encoder/decoder forward
 * and backward, and its targets alone), its held-out loss measurement, and
 * MaskGIT generation at 12 and 20 steps. ADDP's step runs beside two DARL-MSE
 * steps of its width: with its encoder's 4 blocks, and with 6, as many as its
 * encoder and decoder together.
 */
import { tf } from "../src/tf.ts";
import { createRng } from "../src/rng.ts";
import type { ParamTree } from "../src/nn/tree.ts";
import { createTrainer, trainStep } from "../src/train/trainer.ts";
import { conv2d, initConv2d } from "../src/nn/conv2d.ts";
import { groupNorm, initGroupNorm } from "../src/nn/group_norm.ts";
import { initTokenizer, TOKENIZER_DEFAULTS, tokenizerTrainable } from "../src/addp/tokenizer.ts";
import { ADDP_HELD_OUT_CHUNK, addpHeldOutObjective } from "../src/addp/pretrain.ts";
import { heldOutLoss } from "../src/train/held_out.ts";
import { tokenizerTrainStep } from "../src/addp/tokenizer_train.ts";
import { initPredictor, PREDICTOR_DEFAULTS, predictorLoss, predictorTree } from "../src/addp/token_predictor.ts";
import { ADDP_DEFAULTS, initAddp } from "../src/addp/model.ts";
import { addpLoss, alternatingTargets } from "../src/addp/alternating_denoising.ts";
import { timestepGrid } from "../src/addp/mask_schedule.ts";
import { ADDP_SAMPLING, addpGenerate } from "../src/addp/generate.ts";
import { darlConfig } from "../src/darl/config.ts";
import { initDarl } from "../src/darl/model.ts";
import { PRETRAIN_DEFAULTS } from "../src/darl/pretrain.ts";
import { createTrainState, darlTrainStep } from "../src/darl/train_step.ts";
import { type BenchBackend, benchBackends, benchCase, useBackend } from "./_harness.ts";
import { randomFrozen, randomIds } from "./_addp_inputs.ts";

const B = 64;
const adamw = { kind: "adamw" as const, beta1: 0.9, beta2: 0.95, weightDecay: 0.05 };
const ids = () => randomIds(B);
const frozen = randomFrozen;
// Stock tfjs-cpu needs ~30 s for one tokenizer step (its Conv2DBackpropFilter is a scalar loop): darl and wasm only.
const runners = (await benchBackends()).filter((b) => b !== "cpu");
const n = (b: BenchBackend) => (b === "darl-cpu" ? 5 : 2);

// One residual-block half of the tokenizer at its first level, forward and backward: darl's im2col and fused
// GroupNorm/swish kernels against the stock composition (pads, slices, a concat, moments, sigmoid) on each backend.
for (const backend of await benchBackends()) {
  benchCase({
    group: `tokenizer conv layer: GroupNorm + swish + 3×3 conv 16→16, fwd + bwd (b${B}, 28×28)`,
    runner: backend,
    images: B,
    n: backend === "cpu" ? 2 : 5,
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const rng = createRng(7), norm = initGroupNorm(16), conv = initConv2d(rng, 16, 16, 3);
      const x = tf.randomNormal([B, 28, 28, 16], 0, 1, "float32", 8);
      const f = (xx: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(conv2d({ w, b }, groupNorm(norm, xx, 8, 1e-6, true)).square());
      return async () => {
        await useBackend(backend);
        const g = tf.grads(f)([x, conv.w, conv.b!]);
        await g[1]!.data();
        tf.dispose(g);
      };
    },
  });
}

for (const backend of runners) {
  benchCase({
    group: `ADDP token predictor train step (b${B})`,
    runner: backend,
    images: B,
    n: n(backend),
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const p = initPredictor(PREDICTOR_DEFAULTS, 0), z = ids(), rng = createRng(3);
      const trainer = createTrainer(predictorTree(p), { optimizer: adamw, clip: 3 });
      return async () => {
        await useBackend(backend);
        const r = trainStep(trainer, () => predictorLoss(p, PREDICTOR_DEFAULTS, z, rng).loss, 1e-4);
        await r.loss.data();
        tf.dispose([r.loss, r.gradNorm]);
      };
    },
  });
  // Two yardsticks: DARL's tiny model (ADDP's encoder width and depth), and one as deep as ADDP's encoder and
  // decoder together.
  for (const depth of [ADDP_DEFAULTS.depth, ADDP_DEFAULTS.depth + ADDP_DEFAULTS.decoderDepth]) {
    benchCase({
      group: `ADDP train step (b${B})`,
      runner: `${backend} DARL-MSE step, width ${ADDP_DEFAULTS.dim}, ${depth} blocks`,
      images: B,
      n: n(backend),
      warmup: 1,
      async setup() {
        await useBackend(backend);
        const cfg = darlConfig("tiny", { depth }), state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
        const x = tf.randomUniform([B, 28, 28, 1], -1, 1, "float32", 6);
        return async () => {
          await useBackend(backend);
          const r = darlTrainStep(state, x, 1e-4);
          await r.loss.data();
          tf.dispose([r.loss, r.gradNorm]);
        };
      },
    });
  }
  for (const part of ["targets only", "full step"] as const) {
    benchCase({
      group: `ADDP train step (b${B})`,
      runner: `${backend} ${part}`,
      images: B,
      n: n(backend),
      warmup: 1,
      async setup() {
        await useBackend(backend);
        const f = frozen(), p = initAddp(ADDP_DEFAULTS, 0), z = ids(), rng = createRng(4), grid = timestepGrid();
        const trainer = createTrainer(p as unknown as ParamTree, { optimizer: adamw, clip: 3 });
        return async () => {
          await useBackend(backend);
          const t = alternatingTargets(f, z, rng, grid, "weighted");
          if (part === "full step") {
            const r = trainStep(trainer, () => addpLoss(p, ADDP_DEFAULTS, z, t), 1e-4);
            await r.loss.data();
            tf.dispose([r.loss, r.gradNorm]);
          } else await t.target.data();
          tf.dispose([t.latent, t.images, t.target]);
        };
      },
    });
  }
  // The held-out loss of an ADDP run (pretrain.ts): 1,000 images of each split, tokenized, through both frozen
  // predictor passes, the VQ decode and the model, in chunks of 50; measured to size its default --eval-every.
  benchCase({
    group: `ADDP train step (b${B})`,
    runner: `${backend} held-out loss, 2 × 1,000 images`,
    images: 2000,
    n: 2,
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const rng = createRng(9);
      const split = { count: 1000, images: Uint8Array.from({ length: 1000 * 784 }, () => rng.int(256)), labels: null };
      const objective = addpHeldOutObjective(initAddp(ADDP_DEFAULTS, 0), ADDP_DEFAULTS, frozen());
      const measure = heldOutLoss(
        { train: split, test: split },
        { evalImages: 1000 },
        [28, 28, 1],
        objective,
        ADDP_HELD_OUT_CHUNK,
      );
      return async () => {
        await useBackend(backend);
        await measure();
      };
    },
  });
  for (const steps of [12, 20]) {
    benchCase({
      group: `ADDP generation, 16 images`,
      runner: `${backend} ${steps} steps`,
      images: 16,
      n: n(backend),
      warmup: 1,
      async setup() {
        await useBackend(backend);
        const f = frozen(), p = initAddp(ADDP_DEFAULTS, 0);
        return async () => {
          await useBackend(backend);
          const x = await addpGenerate(p, ADDP_DEFAULTS, f.tokenizer, 16, createRng(5), { ...ADDP_SAMPLING, steps });
          x.dispose();
        };
      },
    });
  }
  // Last: at batch 64 one step's activations take most of darl-cpu's 4 GiB heap.
  benchCase({
    group: `ADDP tokenizer train step (b${B})`,
    runner: backend,
    images: B,
    n: n(backend),
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const cfg = TOKENIZER_DEFAULTS, p = initTokenizer(cfg, 0);
      const trainer = createTrainer(tokenizerTrainable(p), { optimizer: adamw });
      const x = tf.randomUniform([B, 28, 28, 1], -1, 1, "float32", 2);
      let step = 0;
      return async () => {
        await useBackend(backend);
        const r = tokenizerTrainStep(p, cfg, trainer, x, 1e-4, step++);
        await r.loss.data();
        tf.dispose([r.loss, r.gradNorm]);
      };
    },
  });
}
