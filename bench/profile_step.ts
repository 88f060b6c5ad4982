/**
 * Where one DARL training step's (or ADDP's targets') time goes: wall time
 * over 10 steps, then a `tf.profile` of 5 steps, a step's kernel time per kernel
 * name and per matrix product shape. `deno run -A bench/profile_step.ts
 * [--batch 32] [--backend darl-cpu] [--step darl|addp-targets] [--preset tiny]`
 * (addp-targets: ADDP's two predictor passes and VQ decode; --preset: the
 * DARL preset, e.g. wide for the default `deno task pretrain` model); run it on an
 * idle machine (e.g. under `../shared/tools/quiet.sh`). On darl-cpu it ends
 * with the products' arithmetic rate against the machine's multiply-add
 * ceiling (the matmul benchmark's FMA case, median of 15) and the step time
 * the products would allow at that ceiling (the most any GEMM kernel can
 * still give this step here), and with every other kernel free as well.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { tf } from "../src/tf.ts";
import { darlConfig } from "../src/darl/config.ts";
import { initDarl } from "../src/darl/model.ts";
import { PRETRAIN_DEFAULTS } from "../src/darl/pretrain.ts";
import { createTrainState, darlTrainStep } from "../src/darl/train_step.ts";
import { type BenchBackend, FMA_PEAK_ITERS, fmaPeakFlops, matMulFlops, useBackend } from "./_harness.ts";
import type { DarlCpuBackend } from "../src/kernels/cpu/backend.ts";
import { createRng } from "../src/rng.ts";
import { alternatingTargets } from "../src/addp/alternating_denoising.ts";
import { timestepGrid } from "../src/addp/mask_schedule.ts";
import { randomFrozen, randomIds } from "./_addp_inputs.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "32" },
    backend: { type: "string", default: "darl-cpu" },
    step: { type: "string", default: "darl" },
    preset: { type: "string", default: "tiny" },
  },
});
if (!["darl", "addp-targets"].includes(values.step)) {
  throw new Error(`--step: expected darl or addp-targets, got "${values.step}"`);
}
const batch = Number(values.batch);
if (!Number.isInteger(batch) || batch < 1) {
  throw new Error(`--batch: expected a positive integer, got "${values.batch}"`);
}
await useBackend(values.backend as BenchBackend);
const darlStep = () => {
  const cfg = darlConfig(values.preset), state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
  const x = tf.tensor4d(Float32Array.from({ length: batch * 784 }, (_, i) => Math.sin(i * 0.01)), [batch, 28, 28, 1]);
  return async () => {
    const r = darlTrainStep(state, x, 1e-4);
    await r.loss.data();
    tf.dispose([r.loss, r.gradNorm]);
  };
};
// ADDP's targets at the defaults with random weights: two predictor passes and a VQ decode (addp_bench.ts's inputs).
const addpTargets = () => {
  const rng = createRng(4), grid = timestepGrid(), ids = randomIds(batch), frozen = randomFrozen();
  return async () => {
    const t = alternatingTargets(frozen, ids, rng, grid, "weighted");
    await t.target.data();
    tf.dispose([t.latent, t.images, t.target]);
  };
};
const step = values.step === "darl" ? darlStep() : addpTargets();
for (let i = 0; i < 5; i++) await step();
const t0 = performance.now();
for (let i = 0; i < 10; i++) await step();
const wall = (performance.now() - t0) / 10;
// Five steps, reported per step: one step's products vary by ±5% from run to run.
const PROFILED = 5;
const kernels = (await tf.profile(async () => {
  for (let i = 0; i < PROFILED; i++) await step();
})).kernels.filter((k) => !k.name.endsWith("__op"));
const ms = (k: { kernelTimeMs: unknown }) => Number(k.kernelTimeMs) / PROFILED;
const total = kernels.reduce((a, k) => a + ms(k), 0);
console.log(
  `${values.backend}, ${values.step === "darl" ? `${values.preset} DARL step` : "ADDP targets"}, batch ${batch}: wall ${
    wall.toFixed(1)
  } ms (mean of 10)`,
);
console.log(
  `profiled: ${kernels.length / PROFILED} kernels, ${total.toFixed(1)} ms of kernel time a step (mean of ${PROFILED})`,
);
const isProduct = (k: { name: string }) => k.name.includes("MatMul");
const table = (key: (k: (typeof kernels)[number]) => string | null, top: number) => {
  const agg = new Map<string, [number, number]>();
  for (const k of kernels) {
    const name = key(k);
    if (name === null) continue;
    const a = agg.get(name) ?? [0, 0];
    a[0] += ms(k), a[1]++;
    agg.set(name, a);
  }
  for (const [n, [t, c]] of [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, top)) {
    console.log(`  ${t.toFixed(1).padStart(7)} ms  ×${String(c / PROFILED).padEnd(4)} ${n}`);
  }
};
console.log("by kernel:");
table((k) => k.name, 20);
console.log("matrix products by shape:");
table((k) => (isProduct(k) ? `${k.name} ${JSON.stringify(k.inputShapes)}` : null), 12);

const products = kernels.filter(isProduct);
const flops = products.reduce((sum, k) => sum + matMulFlops(k.inputShapes[0]!, k.outputShapes[0]!), 0) / PROFILED;
const productMs = products.reduce((a, k) => a + ms(k), 0);
const rate = flops / productMs / 1e6; // GFLOP/s
console.log(
  `matrix products: ${(flops / 1e9).toFixed(2)} GFLOP in ${productMs.toFixed(1)} ms (${rate.toFixed(1)} GFLOP/s)`,
);
if (values.backend === "darl-cpu") {
  const be = tf.backend() as DarlCpuBackend, iters = FMA_PEAK_ITERS;
  for (let i = 0; i < 3; i++) be.fmaPeak(iters);
  const times = Array.from({ length: 15 }, () => {
    const t = performance.now();
    be.fmaPeak(iters);
    return performance.now() - t;
  }).sort((a, b) => a - b);
  const ceiling = fmaPeakFlops(be.rt.threads, iters) / times[7]! / 1e6;
  const atCeiling = wall - productMs + flops / ceiling / 1e6;
  console.log(
    `FMA ceiling (${be.rt.threads} threads, no memory): ${ceiling.toFixed(1)} GFLOP/s; the products run at ${
      (100 * rate / ceiling).toFixed(0)
    }% of it; at the ceiling the step would take ${atCeiling.toFixed(1)} ms (${(wall / atCeiling).toFixed(2)}× faster)`,
  );
  const floor = flops / ceiling / 1e6;
  console.log(
    `the products alone at the ceiling, every other kernel free: ${floor.toFixed(1)} ms (${
      (wall / floor).toFixed(2)
    }× faster): no WebAssembly kernel (4-lane SIMD) makes the step faster than that here`,
  );
}
