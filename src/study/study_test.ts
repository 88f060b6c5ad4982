import assert from "node:assert/strict";
import { fixtureDataset, ROOT } from "../test_util.ts";
import { cellsOf, checkPlan, type StudyPlan } from "./plan.ts";
import { aggregate, reportMarkdown, type StudyRecord, writeReport } from "./report.ts";
import { decodePngImage } from "../data/png.ts";
import { openDataset } from "../data/store.ts";
import { PALETTE } from "../viz/plot.ts";
import { readResults, runStudy } from "./runner.ts";
import { listCheckpoints } from "../train/run_checkpoints.ts";
import "../methods.ts";
import { readPlan } from "./plan.ts";
import { DARL_SCHEMA } from "../darl/config.ts";
import { PRETRAIN_SCHEMA } from "../train/run_config.ts";
import { ADDP_SCHEMA } from "../addp/model.ts";
import { ADDP_RUN_SCHEMA } from "../addp/pretrain.ts";

const rec = (arm: string, seed: number, metrics: Record<string, number>): StudyRecord => ({
  cell: `${arm}-seed${seed}`,
  arm,
  set: {},
  seed,
  step: 1,
  seconds: 1,
  metrics,
  baselines: {},
});

/** A plan for the report's tests: only its name, claim, method, seeds and budget are shown. */
const reportPlan: StudyPlan = {
  name: "s",
  claim: "c",
  method: "darl",
  base: {},
  grid: {},
  seeds: [0, 1],
  budget: { steps: 1 },
  evals: [],
};

Deno.test("cellsOf(): grid product × seeds, seeds outermost, stable ids, budget in images, overrides in order", () => {
  const plan: StudyPlan = {
    name: "s",
    claim: "",
    method: "darl",
    base: { model: { dim: 32 }, train: { batchSize: 16, lr: 1e-3 } },
    grid: { "model.posEncoding": ["rope2d", "learned"], "train.lr": [1e-3, 3e-3] },
    seeds: [0, 7],
    budget: { images: 320 },
    evals: [],
  };
  const cells = cellsOf(plan);
  assert.equal(cells.length, 8);
  assert.deepEqual(cells.slice(0, 2).map((c) => c.id), [
    "posEncoding=rope2d_lr=0.001-seed0",
    "posEncoding=rope2d_lr=0.003-seed0",
  ]);
  assert.equal(cells[4]!.id, "posEncoding=rope2d_lr=0.001-seed7");
  const last = cells.at(-1)!;
  assert.deepEqual(last.model, { dim: 32, posEncoding: "learned" });
  assert.deepEqual(last.train, { batchSize: 16, lr: 3e-3, steps: 20, seed: 7 });
  const arms = cellsOf({
    ...plan,
    grid: {},
    arms: [{ name: "small", set: { preset: "tiny", "model.dim": 64 } }],
    seeds: [1],
  });
  assert.deepEqual(arms.map((c) => [c.id, c.preset, c.model.dim]), [["small-seed1", "tiny", 64]]);
  assert.throws(() => cellsOf({ ...plan, base: {} }), /"budget.images" needs "train.batchSize"/);
  const curve = cellsOf({ ...plan, grid: { "train.steps": [10, 40] }, seeds: [0] });
  assert.deepEqual(curve.map((c) => [c.id, c.train.steps]), [["steps=10-seed0", 10], ["steps=40-seed0", 40]]);
});

Deno.test("checkPlan(): each malformed field is one line naming the plan and the field", () => {
  const good = {
    name: "s",
    claim: "c",
    method: "darl",
    base: {},
    grid: {},
    seeds: [0],
    budget: { steps: 5 },
    evals: [{ kind: "probe", heads: ["ridge"] }],
  };
  checkPlan(good, "p.json");
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ seeds: [] }, /"seeds" must be a non-empty list/],
    [{ seeds: [1, 1] }, /repeated seed/],
    [{ budget: { steps: 5, images: 10 } }, /exactly one of "steps" and "images"/],
    [{ budget: { steps: 0 } }, /"budget.steps" must be an integer ≥ 1/],
    [{ grid: { "model.dim": [] } }, /"grid.model.dim" must be a non-empty list/],
    [{ grid: { dim: [1] } }, /"dim" must be "preset", "model.<field>" or "train.<field>"/],
    [{ grid: { "train.seed": [1] } }, /is set by the sweep/],
    [{ arms: [{ name: "x", set: { "train.out": "a" } }] }, /"train.out" is set by the sweep/],
    [{ evals: [{ kind: "probe", heads: ["svm"] }] }, /head "svm" is not one of/],
    [{ evals: [{ kind: "sample", count: 1 }] }, /"count" must be an integer ≥ 2/],
    [
      { evals: [{ kind: "finetune", epochs: 1, train: { layerDecy: 1 } }] },
      /"train.layerDecy" is not one of .*layerDecay/,
    ],
    [{ evals: [{ kind: "finetune", epochs: 1, train: { seed: 3 } }] }, /"train.seed" is not one of/],
    [{ evals: [{ kind: "finetune", epochs: 1, train: { layerDecay: 2 } }] }, /"train": --layer-decay: expected/],
    [{ evals: [{ kind: "vtab" }] }, /"kind" must be probe, finetune or sample/],
    [
      { evals: [{ kind: "finetune", epochs: 5 }, { kind: "finetune", epochs: 5, train: { lr: 1e-3 } }] },
      /"evals\[1\]": a second pretrained finetune eval of 5 epochs/,
    ],
    [{ name: "a b" }, /"name" must be letters/],
    [{ base: { optim: {} } }, /"base.optim": expected preset, model or train/],
  ];
  for (const [change, re] of bad) {
    assert.throws(() => checkPlan({ ...good, ...change }, "p.json"), (e: Error) => {
      assert.match(e.message, /^--plan p\.json: /);
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("aggregate() and the report: mean ± sample sd over seeds, best arm in bold, lower FD is better", () => {
  const records = [
    rec("a", 0, { "ridge (mean)": 0.8, FD: 30 }),
    rec("b", 0, { "ridge (mean)": 0.7, FD: 10 }),
    rec("a", 1, { "ridge (mean)": 0.9, FD: 50 }),
    rec("b", 1, { "ridge (mean)": 0.7, FD: 12 }),
  ];
  const rows = aggregate(records);
  assert.deepEqual(rows.map((r) => [r.arm, r.n]), [["a", 2], ["b", 2]]);
  assert.ok(Math.abs(rows[0]!.stats["ridge (mean)"]!.mean - 0.85) < 1e-12);
  assert.ok(Math.abs(rows[0]!.stats["ridge (mean)"]!.sd - Math.sqrt(0.005)) < 1e-12);
  assert.equal(rows[1]!.stats.FD!.min, 10);
  const plan = reportPlan;
  const md = reportMarkdown(plan, records, 4);
  assert.match(md, /\| a \| 2 \| \*\*85\.00 ± 7\.07\*\* \| 40\.0 ± 14\.1 \|/);
  assert.match(md, /\| b \| 2 \| 70\.00 ± 0\.00 \| \*\*11\.0 ± 1\.4\*\* \|/);
  assert.match(md, /4 of 4 cells finished/);
  assert.match(md, /Method darl, 1 steps per run/);
  // A curve over training length names no single budget.
  const curve = reportMarkdown({ ...plan, grid: { "train.steps": [1, 2] } }, records, 4);
  assert.match(curve, /Method darl, the steps its arm names per run/);
});

Deno.test("the report: a baseline that differs between arms (a random init) gets a row per arm, pixels one row", () => {
  const withBaselines = (r: StudyRecord, random: number): StudyRecord => ({
    ...r,
    baselines: { "raw pixels": { "ridge (mean)": 0.82 }, "random init": { "ridge (mean)": random } },
  });
  const plan = reportPlan;
  const md = reportMarkdown(plan, [
    withBaselines(rec("rope2d", 0, { "ridge (mean)": 0.8 }), 0.68),
    withBaselines(rec("sincos", 0, { "ridge (mean)": 0.8 }), 0.72),
    withBaselines(rec("sincos", 1, { "ridge (mean)": 0.8 }), 0.72),
  ], 4);
  assert.match(md, /\| raw pixels \| 82\.00 \|/);
  assert.match(md, /\| random init, rope2d \| 68\.00 \|/);
  assert.match(md, /\| random init, sincos \| 72\.00 \|/);
  assert.equal(md.match(/random init/g)!.length, 2);
  const same = reportMarkdown(plan, [
    withBaselines(rec("patch", 0, { "ridge (mean)": 0.8 }), 0.68),
    withBaselines(rec("global", 0, { "ridge (mean)": 0.7 }), 0.68),
  ], 2);
  assert.match(same, /\| random init \| 68\.00 \|/);
  // Arms that share an architecture share one row, named by the overrides they share.
  const arm = (objective: string, patchSize: number, random: number): StudyRecord => ({
    ...withBaselines(rec(`objective=${objective}_patchSize=${patchSize}`, 0, { "ridge (mean)": 0.8 }), random),
    set: { "model.objective": objective, "model.patchSize": patchSize },
  });
  const grid = reportMarkdown(plan, [arm("mse", 4, 0.68), arm("diffusion", 4, 0.68), arm("mse", 7, 0.71)], 3);
  assert.match(grid, /\| random init, patchSize=4 \| 68\.00 \|/);
  assert.match(grid, /\| random init, objective=mse_patchSize=7 \| 71\.00 \|/);
  assert.equal(grid.match(/\| random init/g)!.length, 2);
});

// Pixels of a report chart in reference ink (dashes and label): the one grey the charts use for it.
async function refInk(dir: string, chart: string): Promise<number> {
  const img = decodePngImage(await Deno.readFile(`${dir}/charts/${chart}.png`), chart);
  let n = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data.subarray(i, i + 3).every((v) => v === 90)) n++;
  return n;
}

Deno.test("the report's bar charts draw the baselines measured for that metric as reference lines", async () => {
  const dir = await Deno.makeTempDir();
  const records = [0, 1].map((seed) => ({
    ...rec("a", seed, { "ridge (mean)": 0.8, FD: 30 }),
    baselines: { "raw pixels": { "ridge (mean)": 0.82 } },
  }));
  await writeReport(dir, reportPlan, records, 2);
  assert.ok(await refInk(dir, "ridge-mean") > 100, "pixels line on the ridge chart");
  assert.equal(await refInk(dir, "fd"), 0, "no baseline has FD");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the report's curves draw the baselines measured for that metric as reference lines too", async () => {
  const dir = await Deno.makeTempDir();
  const plan: StudyPlan = { ...reportPlan, grid: { "train.steps": [10, 20, 40] } };
  const records = [10, 20, 40].map((steps, i) => ({
    ...rec(`steps=${steps}`, 0, { "ridge (mean)": 0.7 + i * 0.02 }),
    set: { "train.steps": steps },
    baselines: { "raw pixels": { "ridge (mean)": 0.8 } },
  }));
  await writeReport(dir, plan, records, 3);
  const ink = await refInk(dir, "ridge-mean-vs-train-steps");
  assert.ok(ink > 100, `pixels line on the curve: ${ink} grey pixels`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the report's bar charts for a two-axis grid: bars coloured by the first axis, side by side per setting of the rest", async () => {
  const dir = await Deno.makeTempDir();
  const plan: StudyPlan = {
    ...reportPlan,
    grid: { "model.objective": ["mse", "diffusion"], "model.patchSize": [4, 7] },
  };
  const records = cellsOf(plan).map((c, i) => ({
    ...rec(c.arm, 0, { "logreg (mean)": 0.8 + i / 100 }),
    set: c.set,
  }));
  await writeReport(dir, plan, records, records.length);
  const img = decodePngImage(await Deno.readFile(`${dir}/charts/logreg-mean.png`), "chart");
  // Each bar's colour, read just above the axis at its centre column (barChart's layout: 50 px left, 10 right).
  const bw = (img.width - 60) / 4, y = img.height - 1;
  let axis = y;
  while (img.data[(axis * img.width + 55) * 3] !== 0) axis--;
  const colours = [0, 1, 2, 3].map((i) => {
    const o = ((axis - 2) * img.width + Math.round(50 + (i + 0.5) * bw)) * 3;
    return [...img.data.subarray(o, o + 3)];
  });
  // mse 4, diffusion 4, mse 7, diffusion 7.
  assert.deepEqual(colours, [PALETTE[0], PALETTE[1], PALETTE[0], PALETTE[1]]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task sweep: a two-seed plan on the fixture runs, survives kill -9, resumes, and aggregates", async () => {
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  const plan = {
    name: "fixture",
    claim: "a fixture study",
    method: "darl",
    base: {
      model: { dim: 16, depth: 1, heads: 2, patchSize: 2 },
      train: { data, batchSize: 4, logEvery: 1, ckptEvery: 1, keep: 2, sampleEvery: 0 },
    },
    grid: {},
    seeds: [0, 1],
    budget: { steps: 40 },
    evals: [{ kind: "probe", heads: ["ridge"], shots: [2] }],
  };
  await Deno.writeTextFile(`${tmp}/plan.json`, JSON.stringify(plan));
  const args = ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}tasks/sweep.ts`];
  const sweep = [...args, "--plan", `${tmp}/plan.json`, "--out", `${tmp}/out`, "--backend", "cpu"];
  // Kill the first run as soon as the second cell has a checkpoint: mid-training, after one finished cell.
  const child = new Deno.Command(Deno.execPath(), { args: sweep, stdout: "null", stderr: "null" }).spawn();
  const second = `${tmp}/out/cells/base-seed1`;
  let killed = false;
  for (let i = 0; i < 6000 && !killed; i++) {
    const names = await Array.fromAsync(Deno.readDir(second)).then((es) => es.map((e) => e.name), () => []);
    if (names.some((n) => /^ckpt-\d+\.safetensors$/.test(n))) { // a written checkpoint, not a temp file
      child.kill("SIGKILL");
      killed = true;
    } else await new Promise((r) => setTimeout(r, 10));
  }
  await child.status;
  assert.ok(killed, "the second cell never started");
  const before = await readResults(`${tmp}/out/results.jsonl`);
  assert.deepEqual(before.map((r) => r.cell), ["base-seed0"]);
  // A line cut short by a kill is ignored.
  await Deno.writeTextFile(`${tmp}/out/results.jsonl`, '{"cell":"base-se', { append: true });
  const rerun = await new Deno.Command(Deno.execPath(), { args: sweep, stdout: "piped", stderr: "piped" }).output();
  const log = new TextDecoder().decode(rerun.stdout);
  assert.equal(rerun.code, 0, new TextDecoder().decode(rerun.stderr));
  assert.match(log, /2 cells, 1 finished, 1 to run now/);
  assert.match(log, /resum/i, "the second cell resumes from its checkpoint");
  const after = await readResults(`${tmp}/out/results.jsonl`);
  assert.deepEqual(after.map((r) => [r.cell, r.step]), [["base-seed0", 40], ["base-seed1", 40]]);
  assert.deepEqual(after[0], before[0], "a finished cell is never redone");
  const ridge = after.map((r) => r.metrics["ridge (mean)"]!);
  const mean = (ridge[0]! + ridge[1]!) / 2, sd = Math.abs(ridge[0]! - ridge[1]!) / Math.SQRT2;
  const report = await Deno.readTextFile(`${tmp}/out/report.md`);
  const cell = `${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)}`;
  assert.ok(report.includes(`| base | 2 | ${cell} |`), `${cell} not in\n${report}`);
  assert.match(report, /\| raw pixels \|/);
  for (const f of ["charts/ridge-mean.png", "plan.json", "cells/base-seed1/metrics.jsonl"]) {
    assert.ok((await Deno.stat(`${tmp}/out/${f}`)).size > 50, f);
  }
  // The same folder refuses a plan with another budget; --report-only rewrites the report alone.
  await Deno.writeTextFile(`${tmp}/plan2.json`, JSON.stringify({ ...plan, budget: { steps: 41 } }));
  const other = await new Deno.Command(Deno.execPath(), {
    args: [...args, "--plan", `${tmp}/plan2.json`, "--out", `${tmp}/out`, "--backend", "cpu"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(other.code, 1);
  assert.match(new TextDecoder().decode(other.stderr).trim(), /^error: --out .*holds results of a plan with another/);
  await Deno.remove(`${tmp}/out/report.md`);
  const only = await new Deno.Command(Deno.execPath(), {
    args: [...args, "--plan", `${tmp}/plan.json`, "--out", `${tmp}/out`, "--report-only"],
    stdout: "piped",
  }).output();
  assert.equal(only.code, 0);
  assert.equal(await Deno.readTextFile(`${tmp}/out/report.md`), report);
  await Deno.remove(tmp, { recursive: true });
});

/** Every plan in studies/, read and checked, with its file name. */
async function studyPlans(): Promise<[string, StudyPlan][]> {
  const files = [...Deno.readDirSync(`${ROOT}studies`)].map((e) => e.name).filter((n) => n.endsWith(".json"));
  return await Promise.all(
    files.map(async (f): Promise<[string, StudyPlan]> => [f, await readPlan(`${ROOT}studies/${f}`)]),
  );
}

Deno.test("every plan in studies/ is valid and names only real config fields", async () => {
  const plans = await studyPlans();
  assert.ok(plans.length >= 6);
  for (const [f, plan] of plans) {
    assert.equal(`${plan.name}.json`, f);
    const [model, train] = plan.method === "addp" ? [ADDP_SCHEMA, ADDP_RUN_SCHEMA] : [DARL_SCHEMA, PRETRAIN_SCHEMA];
    for (const c of cellsOf(plan)) {
      for (const k of Object.keys(c.model)) assert.ok(k in model, `${f}: model.${k}`);
      for (const k of Object.keys(c.train)) assert.ok(k in train, `${f}: train.${k}`);
    }
  }
});

// The default run's batch and warm-up have changed (64 and 100 steps, then 32 and 200): a plan that left them to the
// defaults would silently train other cells than the ones its report describes.
Deno.test("every DARL plan in studies/ sets its batch and warm-up instead of taking the default run's", async () => {
  const darl = (await studyPlans()).filter(([, plan]) => plan.method === "darl");
  for (const [f, plan] of darl) {
    for (const c of cellsOf(plan)) {
      assert.equal(typeof c.train.batchSize, "number", `${f}: ${c.id} train.batchSize`);
      assert.equal(typeof c.train.warmupSteps, "number", `${f}: ${c.id} train.warmupSteps`);
    }
  }
  assert.ok(darl.length >= 6, `${darl.length} DARL plans`);
});

Deno.test("a finetune eval fine-tunes the cell's model, with scratch a random init that its config names as such, and evals of one kind keep their own runs", async () => {
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  const plan: StudyPlan = {
    name: "ft",
    claim: "",
    method: "darl",
    base: {
      model: { dim: 16, depth: 1, heads: 2, patchSize: 2 },
      train: { data, batchSize: 4, logEvery: 5, ckptEvery: 10, sampleEvery: 0 },
    },
    grid: {},
    seeds: [0],
    budget: { steps: 10 },
    evals: [
      { kind: "finetune", epochs: 1, train: { batchSize: 8, logEvery: 5 } },
      { kind: "finetune", epochs: 1, scratch: true, train: { batchSize: 8, logEvery: 5, layerDecay: 1 } },
      // Equal compute: the scratch baseline given the pretraining's share as well.
      { kind: "finetune", epochs: 2, scratch: true, train: { batchSize: 8, logEvery: 5, layerDecay: 1 } },
    ],
  };
  const lines: string[] = [];
  const [r] = await runStudy(plan, { out: `${tmp}/out`, log: (l) => lines.push(l) });
  assert.deepEqual(Object.keys(r!.metrics).filter((m) => m.startsWith("finetune")).sort(), [
    "finetune",
    "finetune from scratch (1 epoch)",
    "finetune from scratch (2 epochs)",
  ]);
  for (const m of Object.keys(r!.metrics).filter((m) => m.startsWith("finetune"))) {
    assert.ok(r!.metrics[m]! >= 0 && r!.metrics[m]! <= 1, m);
    const pct = (100 * r!.metrics[m]!).toFixed(2);
    assert.ok(lines.some((l) => l.includes(`${m}: ${pct}% on the test split`)), `${m} logged`);
  }
  const config = async (d: string) =>
    JSON.parse(await Deno.readTextFile(`${tmp}/out/cells/base-seed0/${d}/config.json`));
  const [pre, scratch, scratch2] = [
    await config("finetune"),
    await config("finetune-scratch-1ep"),
    await config("finetune-scratch-2ep"),
  ];
  assert.match(pre.pretrained, /base-seed0\/ckpt-0000010\.safetensors$/);
  assert.equal(pre.train.layerDecay, 0.75);
  assert.match(scratch.pretrained, /^random init \(seed 0\) of .*ckpt-0000010\.safetensors$/);
  assert.notEqual(scratch.model.pretrainedKey, pre.model.pretrainedKey);
  assert.equal(scratch.train.layerDecay, 1);
  // The second scratch eval trained its own run (twice the steps), not a resume of the first's.
  assert.deepEqual([scratch.train.epochs, scratch2.train.epochs], [1, 2]);
  const lastStep = async (d: string) => (await listCheckpoints(`${tmp}/out/cells/base-seed0/${d}`)).at(-1)!.step;
  assert.equal(await lastStep("finetune-scratch-2ep"), 2 * await lastStep("finetune-scratch-1ep"));
  for (const c of ["finetune-vs-scratch", "finetune-loss", "finetune", "finetune-from-scratch-1-epoch"]) {
    assert.ok((await Deno.stat(`${tmp}/out/charts/${c}.png`)).size > 500, c);
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("a sample eval scores the cell's samples against real images and keeps each eval's grid", async () => {
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  const [H, W] = (await openDataset(data)).header.shape;
  const plan: StudyPlan = {
    name: "gen",
    claim: "",
    method: "darl",
    base: {
      model: { dim: 16, depth: 1, heads: 2, patchSize: 2, objective: "diffusion" },
      train: { data, batchSize: 4, logEvery: 5, ckptEvery: 10, sampleEvery: 0 },
    },
    grid: {},
    seeds: [0],
    budget: { steps: 10 },
    evals: [{ kind: "sample", count: 4 }, { kind: "sample", count: 2 }],
  };
  const lines: string[] = [];
  const [r] = await runStudy(plan, { out: `${tmp}/out`, log: (l) => lines.push(l) });
  // The second eval's scores are its own (named by its grid), not written over the first's.
  for (const m of ["FD", "KID", "IS", "FD (samples-2)", "KID (samples-2)", "IS (samples-2)"]) {
    assert.ok(Number.isFinite(r!.metrics[m]), m);
    assert.ok(Number.isFinite(r!.baselines["real train images"]![m]), `real ${m}`);
  }
  assert.ok(r!.baselines["real train images"]!.FD! < r!.metrics.FD!, JSON.stringify(r));
  const report = await Deno.readTextFile(`${tmp}/out/report.md`);
  assert.match(
    report,
    /\| arm \| seeds \| FD \| KID \| IS \| FD \(samples-2\) \| KID \(samples-2\) \| IS \(samples-2\) \|/,
  );
  // Each sample eval keeps its own grid: 4 and then 2 images in one row, 3× magnified with 2-pixel gaps.
  for (const [file, n] of [["samples.png", 4], ["samples-2.png", 2]] as const) {
    const path = `${tmp}/out/cells/base-seed0/${file}`;
    const png = decodePngImage(await Deno.readFile(path), path);
    assert.deepEqual([png.width, png.height], [2 + n * (3 * W + 2), 2 + 3 * H + 2], file);
    assert.ok(png.data.some((v) => v !== 40), `${file}: only background`);
    assert.ok(lines.some((l) => l.endsWith(`samples: ${path}`)), `${file} logged`);
  }
  await Deno.remove(tmp, { recursive: true });
});
