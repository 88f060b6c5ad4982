import assert from "node:assert/strict";
import { darlConfig } from "../darl/config.ts";
import { darlEncoder } from "../darl/encoder.ts";
import { initDarl } from "../darl/model.ts";
import { writeDataset } from "../data/store.ts";
import { useCpu } from "../test_util.ts";
import { trainClassifier } from "./classifier.ts";
import { FINETUNE_DEFAULTS } from "./finetune.ts";
import { CLEVR_DIST_THRESHOLDS, clevrLabel, renderClevr, type Scene } from "./clevr.ts";
import { DSPRITES_COUNT, dspritesLabel, dspritesSplitIndices, renderSprite, spriteFactors } from "./dsprites.ts";
import { runVtabTask, summariseVtab, VTAB_DEFAULTS, vtabMarkdown, type VtabTaskResult } from "./vtab.ts";
import { loadVtabTask, readVtabConfig, VTAB_TASKS } from "./vtab_tasks.ts";

Deno.test("dSprites: the full factor grid, row-major with posY fastest, and VTAB's 16-bin labels", () => {
  assert.equal(DSPRITES_COUNT, 737280);
  assert.deepEqual(spriteFactors(0), { shape: 0, scale: 0, orientation: 0, posX: 0, posY: 0 });
  assert.deepEqual(spriteFactors(1), { shape: 0, scale: 0, orientation: 0, posX: 0, posY: 1 });
  assert.deepEqual(spriteFactors(32), { shape: 0, scale: 0, orientation: 0, posX: 1, posY: 0 });
  assert.deepEqual(spriteFactors(DSPRITES_COUNT - 1), { shape: 2, scale: 5, orientation: 39, posX: 31, posY: 31 });
  const f = (posX: number, orientation: number) => ({ shape: 0, scale: 0, orientation, posX, posY: 0 });
  assert.deepEqual([0, 1, 2, 30, 31].map((x) => dspritesLabel("dsprites_loc", f(x, 0))), [0, 0, 1, 15, 15]);
  assert.deepEqual([0, 2, 3, 5, 37, 38, 39].map((o) => dspritesLabel("dsprites_ori", f(0, o))), [
    0,
    0,
    1,
    2,
    14,
    15,
    15,
  ]);
  // Splits partition the grid 80/10/10.
  const [tr, va, te] = [dspritesSplitIndices("train"), dspritesSplitIndices("val"), dspritesSplitIndices("test")];
  assert.equal(tr.length + va.length + te.length, DSPRITES_COUNT);
  assert.equal(te.length, 73728);
  assert.equal(new Set([...tr.slice(0, 1000), ...va.slice(0, 1000), ...te.slice(0, 1000)]).size, 3000);
});

Deno.test("renderSprite() draws binary sprites that move with posX and stay in frame", () => {
  const centroidX = (img: Uint8Array) => {
    let s = 0, n = 0;
    img.forEach((v, i) => v && ((s += i % 64), n++));
    return s / n;
  };
  for (const shape of [0, 1, 2]) {
    const left = renderSprite({ shape, scale: 5, orientation: 7, posX: 0, posY: 10 });
    const right = renderSprite({ shape, scale: 5, orientation: 7, posX: 31, posY: 10 });
    assert.ok(left.every((v) => v === 0 || v === 255));
    assert.ok(centroidX(right) - centroidX(left) > 25, `shape ${shape}`);
    for (let y = 0; y < 64; y++) assert.equal(right[y * 64 + 63], 0, "sprites stay inside the frame");
  }
  const small = renderSprite({ shape: 1, scale: 0, orientation: 0, posX: 16, posY: 16 });
  const big = renderSprite({ shape: 1, scale: 5, orientation: 0, posX: 16, posY: 16 });
  assert.ok(big.filter((v) => v).length > 3 * small.filter((v) => v).length);
});

Deno.test("CLEVR-like labels: count − 3 and nearest-depth bins; renders are deterministic", () => {
  const scene = (depths: number[]): Scene => ({
    camera: [7, -7, 5],
    objects: depths.map((depth) => ({
      shape: "cube",
      colour: 0,
      metal: false,
      radius: 0.35,
      x: 0,
      y: 0,
      angle: 0,
      depth,
    })),
  });
  assert.equal(clevrLabel("clevr_count", scene([9, 9, 9])), 0);
  assert.equal(clevrLabel("clevr_count", scene(new Array(10).fill(9))), 7);
  assert.deepEqual(CLEVR_DIST_THRESHOLDS, [0, 8, 8.5, 9, 9.5, 10, 100]);
  assert.deepEqual([7.9, 8.2, 8.7, 9.2, 9.7, 12].map((d) => clevrLabel("clevr_dist", scene([d, 13, 14]))), [
    0,
    1,
    2,
    3,
    4,
    5,
  ]);
  const a = renderClevr("clevr_count", "test", 3), b = renderClevr("clevr_count", "test", 3);
  assert.deepEqual(a.images, b.images);
  assert.ok(a.labels.every((l) => l <= 7));
  assert.notDeepEqual(renderClevr("clevr_count", "train", 1).images, a.images.subarray(0, 64 * 64 * 3));
});

Deno.test("summariseVtab() labels means by the tasks that ran and never claims 19", () => {
  const r = (name: string, group: VtabTaskResult["group"], accuracy: number) =>
    ({
      name,
      group,
      accuracy,
      best: { lr: 1, wd: 0, val: 0.5 },
      sweep: [],
      testCount: 10,
      source: "x",
    }) as VtabTaskResult;
  const results = [
    r("dsprites_loc", "structured", 0.8),
    r("clevr_count", "structured", 0.4),
    r("cifar100", "natural", 0.3),
    r("fashion-mnist", "extra", 0.9),
  ];
  const s = summariseVtab(results);
  assert.equal(s.groups.structured.ran, 2);
  assert.ok(Math.abs(s.groups.structured.mean! - 0.6) < 1e-12);
  assert.equal(s.groups.specialized.mean, null);
  assert.equal(s.overall.ran, 3);
  assert.ok(Math.abs(s.overall.mean! - 1.5 / 3) < 1e-12, "extras are excluded");
  assert.ok(Math.abs(s.meanOfGroupMeans.mean! - 0.45) < 1e-12);
  assert.equal(s.missing.length, 16);
  const md = vtabMarkdown(results, "t");
  assert.match(md, /3 of 19 tasks; not a 19-task VTAB mean/);
  assert.match(md, /specialized mean: — \(0 of 4 tasks ran\)/);
  assert.match(md, /fashion-mnist \| extra \(not VTAB\)/);
  assert.equal(Object.keys(VTAB_TASKS).length, 19);
});

Deno.test("loadVtabTask() takes 800/200 from a seeded shuffle of a prepared dataset; configs are checked", async () => {
  const dir = `${await Deno.makeTempDir()}/ds`;
  const n = 1200, images = Uint8Array.from({ length: n * 16 }, (_, i) => (i * 31) % 251);
  const labels = Uint16Array.from({ length: n }, (_, i) => Math.floor(i / 120)); // ordered by class
  await writeDataset(dir, {
    name: "toy",
    source: "test",
    shape: [4, 4, 1],
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    splits: {
      train: { count: n, images, labels },
      test: { count: 50, images: images.slice(0, 800), labels: labels.slice(0, 50) },
    },
  });
  const t = await loadVtabTask("cifar100", { data: dir });
  assert.equal(t.train800.count, 800);
  assert.equal(t.val200.count, 200);
  assert.equal(t.group, "natural");
  assert.ok(new Set(t.train800.labels).size === 10, "first 800 of a shuffle covers every class");
  assert.equal((await loadVtabTask("cifar100", { data: dir }, { maxTest: 20 })).test.count, 20);
  const cfgPath = `${dir}/../vtab.json`;
  await Deno.writeTextFile(cfgPath, JSON.stringify({ tasks: { cifar100: { data: `${dir}-missing` } } }));
  await assert.rejects(readVtabConfig(cfgPath), /task "cifar100": .*-missing\/header\.json: file not found/);
  await Deno.writeTextFile(cfgPath, "{oops");
  await assert.rejects(readVtabConfig(cfgPath), /vtab\.json: not valid JSON/);
  await assert.rejects(readVtabConfig(`${dir}/none.json`), /none\.json: file not found/);
});

Deno.test("runVtabTask() sweeps on 800/200, retrains on 1,000 and scores the test split", async () => {
  await useCpu();
  const cache = await Deno.makeTempDir();
  const task = await loadVtabTask("dsprites_loc", null, { maxTest: 64, cacheDir: cache });
  assert.deepEqual(task.shape, [64, 64, 1]);
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2 });
  const encoder = darlEncoder(initDarl(cfg, 0), cfg, "random:0", "random init");
  const r = await runVtabTask(encoder, task, {
    ...VTAB_DEFAULTS,
    lrs: [1, 0.1],
    wds: [0, 0.01],
    epochs: 2,
    cacheDir: cache,
  });
  assert.equal(r.sweep.length, 4);
  assert.ok(r.sweep.some((s) => s.lr === r.best.lr && s.wd === r.best.wd && s.val === r.best.val));
  assert.equal(r.testCount, 64);
  assert.ok(r.accuracy >= 0 && r.accuracy <= 1);
  // The fine-tuning head trains a fresh copy of the encoder for every setting.
  const ft = await runVtabTask(encoder, task, {
    ...VTAB_DEFAULTS,
    head: "finetune",
    lrs: [1e-3],
    wds: [0],
    epochs: 1,
    cacheDir: cache,
    finetune: (train, classes, lr, wd) =>
      trainClassifier(darlEncoder(initDarl(cfg, 0), cfg, "random:0"), train, classes, {
        ...FINETUNE_DEFAULTS,
        epochs: 1,
        lr,
        weightDecay: wd,
      }),
  });
  assert.equal(ft.sweep.length, 1);
  assert.ok(ft.accuracy >= 0 && ft.accuracy <= 1);
  await Deno.remove(cache, { recursive: true });
});
