import assert from "node:assert/strict";
import { darlConfig } from "../darl/config.ts";
import { prepareDataset } from "../data/prepare.ts";
import { openDataset } from "../data/store.ts";
import { darlEncoder } from "../darl/encoder.ts";
import { initDarl } from "../darl/model.ts";
import { createRng } from "../rng.ts";
import { fixture, maxAbsDiff, useCpu, writeUnlabelledDataset } from "../test_util.ts";
import { choleskySolve, symmetricEigen } from "./linalg.ts";
import { knnAccuracy } from "./knn.ts";
import { linearProbe } from "./linear_probe.ts";
import { fitLogreg, logisticRegression, LOGREG_DEFAULTS } from "./logreg.ts";
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

Deno.test("linearProbe() with SGD reads its weight decay: decay shrinks the fitted weights", async () => {
  await useCpu();
  const train = clusters(300, 6, 3, 5), test = clusters(90, 6, 3, 5);
  const fit = (weightDecay: number) =>
    linearProbe(train, test, 6, 3, {
      optimizer: "sgd",
      weightDecay,
      epochs: 20,
      batchSize: 32,
      blr: 1,
      warmupEpochs: 1,
      seed: 0,
    });
  const plain = await fit(0), decayed = await fit(0.1);
  const norm = (w: Float32Array) => Math.sqrt(w.reduce((a, v) => a + v * v, 0));
  assert.ok(norm(decayed.weights) < 0.8 * norm(plain.weights), `${norm(decayed.weights)} vs ${norm(plain.weights)}`);
  assert.ok(plain.accuracy > 0.95 && decayed.accuracy > 0.9);
  await assert.rejects(
    linearProbe(train, test, 6, 3, { epochs: 1, batchSize: 32, blr: 1, warmupEpochs: 0, seed: 0, weightDecay: 0.1 }),
    /weight decay is for the SGD head/,
  );
  await assert.rejects(
    linearProbe(train, test, 6, 3, { epochs: 1, batchSize: 0, blr: 1, warmupEpochs: 0, seed: 0 }),
    /--batch-size: expected a positive integer, got 0/,
  );
});

/** Newton's method in float64 for the same objective: the reference solution. */
function newtonLogreg(x: Float32Array, y: Int32Array, d: number, C: number, l2: number): Float64Array {
  const n = y.length, D = d + 1, P = D * C;
  const row = (i: number) => [...x.subarray(i * d, (i + 1) * d), 1];
  let w = new Float64Array(P);
  for (let it = 0; it < 30; it++) {
    const g = new Float64Array(P), H = new Float64Array(P * P);
    for (let i = 0; i < n; i++) {
      const xi = row(i), z = Array.from({ length: C }, (_, c) => xi.reduce((a, v, j) => a + v * w[j * C + c]!, 0));
      const m = Math.max(...z),
        e = z.map((v) => Math.exp(v - m)),
        s = e.reduce((a, b) => a + b),
        p = e.map((v) => v / s);
      for (let j = 0; j < D; j++) {
        for (let c = 0; c < C; c++) {
          g[j * C + c]! += (xi[j]! * (p[c]! - (y[i] === c ? 1 : 0))) / n;
          for (let k = 0; k < D; k++) {
            for (let c2 = 0; c2 < C; c2++) {
              H[(j * C + c) * P + k * C + c2]! += (xi[j]! * xi[k]! * ((c === c2 ? p[c]! : 0) - p[c]! * p[c2]!)) / n;
            }
          }
        }
      }
    }
    for (let q = 0; q < P; q++) {
      const bias = q >= d * C;
      if (!bias) g[q]! += l2 * w[q]!;
      H[q * P + q]! += bias ? 1e-9 : l2; // the bias is unregularised: fix its gauge (zero sum over classes)
    }
    const step = choleskySolve(H, g, P, 1);
    w = w.map((v, q) => v - step[q]!);
  }
  return w;
}

Deno.test("fitLogreg() (L-BFGS, float32 products) matches Newton's method in float64", async () => {
  await useCpu();
  const raw = clusters(240, 3, 3, 11, 1.5); // overlapping classes: a finite, non-trivial optimum
  const { applyStandardizer, fitStandardizer } = await import("./standardize.ts");
  const xs = applyStandardizer(raw.x, 3, fitStandardizer(raw.x, 3));
  for (const l2 of [1e-1, 1e-3]) {
    const fit = await fitLogreg(raw, 3, 3, l2, { ...LOGREG_DEFAULTS, gradTol: 1e-7 });
    assert.ok(fit.converged, `λ ${l2}: ${fit.gradMax} after ${fit.iterations} iterations`);
    const ref = newtonLogreg(xs, raw.y, 3, 3, l2);
    assert.ok(maxAbsDiff(fit.w, ref) < 2e-4 * Math.max(1, ...ref.map(Math.abs)), `λ ${l2}: ${fit.w} vs ${ref}`);
  }
  // The probe picks λ on held-out data and separates well-separated clusters.
  const r = await logisticRegression(clusters(500, 6, 4, 2), clusters(200, 6, 4, 2), 6, 4, {
    ...LOGREG_DEFAULTS,
    l2Grid: [1e-1, 1e-3],
    heldOut: 100,
  });
  assert.ok(r.accuracy > 0.98 && r.sweep.length === 2 && [1e-1, 1e-3].includes(r.l2));
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
    encoder: darlEncoder(initDarl(cfg, 4), cfg, "test-model", "model"),
    spec: { layer: "final", pool: "mean" as const, causal: true },
    heads: ["logreg", "linear", "ridge", "knn"] as ("logreg" | "linear" | "ridge" | "knn")[],
    shots: [1, 2],
    linear: { epochs: 5, batchSize: 8, blr: 0.1, warmupEpochs: 1, seed: 0 },
    cacheDir: `${dir}-cache`,
  };
  const r = await runProbes(opts);
  assert.deepEqual(r.rows.map((row) => row.source), ["raw pixels", "random init (seed 1)", "model"]);
  assert.deepEqual(r.columns, ["logreg", "linear", "ridge", "ridge 1-shot", "ridge 2-shot", "knn"]);
  assert.ok(typeof (r.rows[2]!.details.logreg as { l2: number }).l2 === "number");
  for (const row of r.rows) for (const c of r.columns) assert.ok(row.scores[c]! >= 0 && row.scores[c]! <= 1);
  assert.match(probeTable(r), /\| raw pixels \| 64 \| /);
  // Features are cached: the second run reads them back.
  const logs: string[] = [];
  await runProbes({ ...opts, heads: ["ridge"], log: (m) => logs.push(m) });
  assert.ok(logs.some((l) => l.startsWith("model: 16-d features from cache")));
  assert.ok(logs.some((l) => l === "  ridge: from cache"), "head scores are cached too");
  await assert.rejects(
    runProbes({ ...opts, spec: { ...opts.spec, layer: "block3" } }),
    /--layer: unknown layer "block3" \(expected embed, block0, final\)/,
  );
  const unlabelled = `${dir}-nolabels`;
  await writeUnlabelledDataset(unlabelled, 2);
  await assert.rejects(runProbes({ ...opts, dataset: await openDataset(unlabelled) }), /the train split has no labels/);
});
