/**
 * One DARL training step (forward, backward, clipping, AdamW) per backend:
 * the reference tiny step (d128, 4 blocks, 4 heads, 49 tokens, batch 32) on
 * every backend here plus its jax-js twin, the tiny model at batch 64 on the
 * fast backends, the default `deno task pretrain` model (the `wide` preset:
 * P = 7, d256, MLP head) at batch 64 and at the default run's batch (32) on
 * darl's backends, the small preset at batch 64 on darl-cpu, and on darl-cpu
 * the default model's variants that docs/reproduction.md trains at the
 * default run's wall-clock (it checks its step counts against these
 * costs). Rates (img/s) are in `deno task bench:report`.
 */
import { tf } from "../src/tf.ts";
import { type DarlConfig, darlConfig, DEFAULT_PRESET } from "../src/darl/config.ts";
import { initDarl } from "../src/darl/model.ts";
import { PRETRAIN_DEFAULTS } from "../src/darl/pretrain.ts";
import { createTrainState, darlTrainStep } from "../src/darl/train_step.ts";
import { type BenchBackend, benchBackends, benchCase, useBackend } from "./_harness.ts";
import { createJaxTwin } from "./jax_twin.ts";
import { drawDiffusionNoise } from "../src/darl/diffusion.ts";
import { createRng } from "../src/rng.ts";
import { createWeightEma, updateWeightEma } from "../src/train/ema.ts";

/** A change to a preset, named in the runner column (e.g. "darl-cpu diffusion"). */
interface Variant {
  name: string;
  overrides: Partial<DarlConfig>;
  /** A moving average of the weights, updated after each step as the training loop does (`--ema-decay`). */
  emaDecay?: number;
}

function stepCase(group: string, backend: BenchBackend, batch: number, n: number, preset = "tiny", variant?: Variant) {
  benchCase({
    group,
    runner: variant ? `${backend} ${variant.name}` : backend,
    images: batch,
    n,
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const cfg = darlConfig(preset, variant?.overrides ?? {});
      const state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
      const ema = variant?.emaDecay
        ? createWeightEma(state.params as never, variant.emaDecay, state.trainer.names)
        : undefined;
      const pixels = Float32Array.from({ length: batch * 784 }, (_, i) => Math.sin(i * 0.01));
      const x = tf.tensor4d(pixels, [batch, 28, 28, 1]);
      let step = 0;
      return async () => {
        await useBackend(backend);
        // Drawing the noise (Beta levels and Gaussians, on the host) is part of a diffusion step.
        const noise = cfg.objective === "diffusion" ? drawDiffusionNoise(createRng(step++), cfg, batch) : undefined;
        const { loss, gradNorm } = darlTrainStep(state, x, 1e-4, noise);
        if (ema) updateWeightEma(ema, step + 1000);
        await loss.data();
        tf.dispose([loss, gradNorm]);
      };
    },
  });
}

const slowN = (b: BenchBackend) => (b.startsWith("darl-") ? (b === "darl-cpu" ? 10 : 3) : 2);
for (const backend of await benchBackends()) stepCase("train step tiny b32", backend, 32, slowN(backend));
benchCase({
  group: "train step tiny b32",
  runner: "jax-js",
  images: 32,
  n: 5,
  warmup: 1,
  async setup() {
    const twin = await createJaxTwin({ batch: 32, dim: 128, depth: 4, heads: 4, image: 28, patch: 4 });
    return async () => void (await twin.step());
  },
});
// Batch 64 is the studies' batch (every plan in studies/ sets it) and the one earlier reports measured, so these
// cases stay comparable across reports; the default run's own batch gets a case of its own.
const STUDY_BATCH = 64;
for (const backend of await benchBackends()) {
  if (backend.startsWith("darl-") || backend === "wasm") {
    stepCase(`train step tiny b${STUDY_BATCH}`, backend, STUDY_BATCH, slowN(backend));
  }
  if (backend.startsWith("darl-")) {
    for (const batch of new Set([STUDY_BATCH, PRETRAIN_DEFAULTS.batchSize])) {
      stepCase(
        `train step default model (${DEFAULT_PRESET}, b${batch})`,
        backend,
        batch,
        slowN(backend),
        DEFAULT_PRESET,
      );
    }
  }
  // The model-size study's exchange rate: how many small steps cost as much as a tiny one (studies/model-size.json).
  if (backend === "darl-cpu") stepCase(`train step small b${STUDY_BATCH}`, backend, STUDY_BATCH, 5, "small");
}
// The default recipe's exchange rates: what a step of each variant costs against the default's (docs/reproduction.md).
const VARIANTS: Variant[] = [
  { name: "default", overrides: {} },
  { name: "default, weight EMA", overrides: {}, emaDecay: 0.999 },
  { name: "diffusion", overrides: { objective: "diffusion" } },
  { name: "depth 6, mlp ratio 2", overrides: { depth: 6, mlpRatio: 2 } },
  { name: "head depth 4", overrides: { headDepth: 4 } },
  { name: "head depth 1", overrides: { headDepth: 1 } },
  { name: "head depth 0", overrides: { headDepth: 0 } },
];
const variantsGroup = `train step default model variants (${DEFAULT_PRESET}, b${PRETRAIN_DEFAULTS.batchSize})`;
for (const v of VARIANTS) stepCase(variantsGroup, "darl-cpu", PRETRAIN_DEFAULTS.batchSize, 10, DEFAULT_PRESET, v);
// The objectives side by side (issue: diffusion vs MSE train-step img/s), darl's backends only.
for (const backend of await benchBackends()) {
  if (!backend.startsWith("darl-")) continue;
  for (const objective of ["mse", "diffusion"] as const) {
    // darlConfig gives a diffusion model the global targets it needs.
    stepCase("train step tiny b32, MSE vs diffusion", backend, 32, slowN(backend), "tiny", {
      name: objective,
      overrides: { objective },
    });
  }
}
