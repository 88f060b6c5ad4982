import assert from "node:assert/strict";
import { darlConfig } from "../config.ts";
import { prepareDataset } from "../data/prepare.ts";
import { openDataset } from "../data/store.ts";
import { initDarl } from "../darl/model.ts";
import { createRng } from "../rng.ts";
import { fixture, useCpu, writeUnlabelledDataset } from "../test_util.ts";
import { choleskySolve, symmetricEigen } from "./linalg.ts";
import { knnAccuracy } from "./knn.ts";
import { linearProbe } from "./linear_probe.ts";
import { probeTable, runProbes } from "./probe.ts";
import { fewShotRidge, ridgeAccuracy } from "./ridge.ts";

/** Points of `classes` separable clusters in d dimensions. */
function clusters(n: number, d: number, classes: number, seed: number, spread = 0.3) {
  const rng = createRng(seed), centres = Array.from({ length: classes * d }, () => rng.normal() * 3);
  const x = new Float32Array(n * d), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[y[i]! * d + j]! + rng.normal() * spread;
  }
  return { x, y };
}

Deno.test("ridgeAccuracy() recovers a linearly separable labelling exactly", async () => {
  await useCpu();
  const test = clusters(200, 8, 4, 2), train = clusters(400, 8, 4, 2);
  assert.equal(await ridgeAccuracy(train, test, 8, 4), 1);
  assert.equal(await fewShotRidge(train, test, 8, 4, 5), 1);
  // Labels unrelated to the features: near chance.
  const noise = { x: train.x, y: Int32Array.from(train.y, (_, i) => (i * 7919 + (i >> 3)) % 4) };
  assert.ok((await ridgeAccuracy(noise, test, 8, 4)) < 0.5);
});

Deno.test("linearProbe() and knnAccuracy() separate clusters", async () => {
  await useCpu();
  const train = clusters(600, 10, 5, 3), test = clusters(200, 10, 5, 3);
  // LARS moves weights by ~0.1% of their norm per step, so few steps need a larger base lr.
  const r = await linearProbe(train, test, 10, 5, { epochs: 30, batchSize: 64, blr: 20, warmupEpochs: 2, seed: 0 });
  assert.ok(r.accuracy > 0.98, `linear probe ${r.accuracy}`);
  assert.ok((await knnAccuracy(train, test, 10, 5)) > 0.98);
  // Chance level on shuffled labels.
  const shuffled = { x: train.x, y: Int32Array.from(train.y, (_, i) => (i * 7919) % 5) };
  assert.ok((await knnAccuracy(shuffled, test, 10, 5)) < 0.5);
});

Deno.test("choleskySolve() and symmetricEigen() are exact on SPD matrices", () => {
  const rng = createRng(9), d = 7;
  const M = Float64Array.from({ length: d * d }, () => rng.normal());
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) A[i * d + j]! += M[i * d + k]! * M[j * d + k]!;
    }
    A[i * d + i]! += 1;
  }
  const b = Float64Array.from({ length: d }, () => rng.normal());
  const x = choleskySolve(A, b, d, 1);
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += A[i * d + k]! * x[k]!;
    assert.ok(Math.abs(s - b[i]!) < 1e-9);
  }
  const { values, vectors } = symmetricEigen(A, d);
  for (let e = 0; e < d; e++) { // A v = λ v
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += A[i * d + k]! * vectors[k * d + e]!;
      assert.ok(Math.abs(s - values[e]! * vectors[i * d + e]!) < 1e-8);
    }
  }
});

Deno.test("runProbes() reports the model beside raw-pixel and random-init baselines", async () => {
  await useCpu();
  const dir = `${await Deno.makeTempDir()}/patterns`;
  await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: dir });
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2 });
  const opts = {
    dataset: await openDataset(dir),
    model: { params: initDarl(cfg, 4), cfg, key: "test-model", name: "model" },
    spec: { layer: "final", pool: "mean" as const, causal: true },
    heads: ["linear", "ridge", "knn"] as ("linear" | "ridge" | "knn")[],
    shots: [1, 2],
    linear: { epochs: 5, batchSize: 8, blr: 0.1, warmupEpochs: 1, seed: 0 },
    cacheDir: `${dir}-cache`,
  };
  const r = await runProbes(opts);
  assert.deepEqual(r.rows.map((row) => row.source), ["raw pixels", "random init (seed 1)", "model"]);
  assert.deepEqual(r.columns, ["linear", "ridge", "ridge 1-shot", "ridge 2-shot", "knn"]);
  for (const row of r.rows) for (const c of r.columns) assert.ok(row.scores[c]! >= 0 && row.scores[c]! <= 1);
  assert.match(probeTable(r), /\| raw pixels \| 64 \| /);
  // Features are cached: the second run reads them back.
  const logs: string[] = [];
  await runProbes({ ...opts, heads: ["ridge"], log: (m) => logs.push(m) });
  assert.ok(logs.some((l) => l.startsWith("model: 16-d features from cache")));
  await assert.rejects(
    runProbes({ ...opts, spec: { ...opts.spec, layer: "block3" } }),
    /--layer: unknown layer "block3" \(expected final, embed or block0…block0\)/,
  );
  const unlabelled = `${dir}-nolabels`;
  await writeUnlabelledDataset(unlabelled, 2);
  await assert.rejects(runProbes({ ...opts, dataset: await openDataset(unlabelled) }), /the train split has no labels/);
});
