import assert from "node:assert/strict";
import { createRng } from "../rng.ts";
import { maskCounts, nestedMasks, sampleMaskRatio, sampleTimesteps, timestepGrid } from "./mask_schedule.ts";

Deno.test("maskCounts() gives the spec's small-L schedules and ends at one soft token", () => {
  assert.deepEqual(maskCounts(49, 12), [49, 48, 46, 43, 39, 35, 30, 25, 19, 13, 7, 1]);
  assert.deepEqual(maskCounts(64, 12), [64, 62, 60, 56, 51, 46, 39, 33, 25, 17, 9, 1]);
  const lin = maskCounts(49, 7, "linear");
  assert.deepEqual(lin, [42, 35, 28, 21, 14, 8, 1]); // (1 − 6/7)·49 = 7.000…02 in floating point, as in the official code
  const c20 = maskCounts(256, 20);
  assert.equal(c20[0], 256); // ADDP's step 0 commits nothing at L = 256, S = 20 (spec §3)
  assert.throws(() => maskCounts(49, 0), /steps must be a positive integer/);
});

Deno.test("timestepGrid() keeps k = 1..66 with truncated-normal weights peaking near r = 0.55", () => {
  const g = timestepGrid();
  assert.deepEqual(g.k, Array.from({ length: 66 }, (_, i) => i + 1));
  assert.ok(Math.abs(g.prob.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(g.ratio.every((r) => r >= 0.5 && r < 1));
  const argmax = g.prob.indexOf(Math.max(...g.prob));
  assert.ok(Math.abs(g.ratio[argmax]! - 0.55) < 0.02);
  // pdf ratio between two levels is the normal's, unaffected by truncation.
  const want = Math.exp(-0.5 * (((g.ratio[0]! - 0.55) / 0.25) ** 2 - ((g.ratio[65]! - 0.55) / 0.25) ** 2));
  assert.ok(Math.abs(g.prob[0]! / g.prob[65]! - want) < 1e-9);
});

Deno.test("sampleTimesteps() follows the grid's distribution, with δ in 1..5 and nested counts", () => {
  const g = timestepGrid();
  const rng = createRng(7);
  const hist = new Map<number, number>();
  const n = 40000;
  for (let i = 0; i < n; i++) {
    const d = sampleTimesteps(rng, g, 49);
    const delta = d.k - d.kNext;
    assert.ok(d.kNext === 1 ? delta >= 0 && delta <= 5 : delta >= 1 && delta <= 5);
    assert.ok(d.count <= d.countNext && d.countNext <= 49 && d.count >= Math.ceil(49 * 0.5));
    assert.equal(d.count, Math.ceil(49 * Math.cos((Math.PI / 2) * d.k / 100)));
    hist.set(d.k, (hist.get(d.k) ?? 0) + 1);
  }
  for (const [i, k] of g.k.entries()) {
    const p = g.prob[i]!, got = (hist.get(k) ?? 0) / n;
    assert.ok(Math.abs(got - p) < 4 * Math.sqrt(p * (1 - p) / n) + 1e-4, `k=${k}: ${got} vs ${p}`);
  }
  // k = 1 masks everything.
  assert.equal(Math.ceil(49 * Math.cos(Math.PI / 200)), 49);
});

Deno.test("nestedMasks() has the exact counts per sample and m_t ⊆ m_{t+1} for every timestep pair", () => {
  const rng = createRng(3);
  const g = timestepGrid();
  for (const k of g.k) {
    for (let delta = 1; delta <= 5; delta++) {
      const count = Math.ceil(49 * Math.cos((Math.PI / 2) * k / 100));
      const countNext = Math.ceil(49 * Math.cos((Math.PI / 2) * Math.max(k - delta, 1) / 100));
      const { mask, maskNext } = nestedMasks(rng, 3, 49, count, countNext);
      for (let b = 0; b < 3; b++) {
        const m = mask.subarray(b * 49, (b + 1) * 49), mn = maskNext.subarray(b * 49, (b + 1) * 49);
        assert.equal(m.reduce((a, v) => a + v, 0), count);
        assert.equal(mn.reduce((a, v) => a + v, 0), countNext);
        assert.ok(m.every((v, i) => v <= mn[i]!));
      }
    }
  }
  // Different samples get different masks.
  const { mask } = nestedMasks(createRng(1), 2, 49, 25, 30);
  assert.notDeepEqual(Array.from(mask.subarray(0, 49)), Array.from(mask.subarray(49)));
  assert.throws(() => nestedMasks(rng, 1, 49, 30, 20), /count \(30\) ≤ countNext \(20\)/);
});

Deno.test("sampleMaskRatio() stays in [0.5, 1] with the truncated normal's mean", () => {
  const rng = createRng(11);
  let sum = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const r = sampleMaskRatio(rng);
    assert.ok(r >= 0.5 && r <= 1);
    sum += r;
  }
  // Mean of N(0.55, 0.25) truncated to [0.5, 1]: μ + σ(φ(α) − φ(β)) / (Φ(β) − Φ(α)), α = −0.2, β = 1.8.
  const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  const want = 0.55 + 0.25 * (phi(-0.2) - phi(1.8)) / (0.964070 - 0.420740);
  assert.ok(Math.abs(sum / n - want) < 0.005, `${sum / n} vs ${want}`);
});
