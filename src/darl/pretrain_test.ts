import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { darlConfig } from "./config.ts";
import { fixtureDataset, runTaskProcess, useCpu } from "../test_util.ts";
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { readJsonl } from "../train/metrics.ts";
import { heldOutLoss } from "../train/held_out.ts";
import { getSplit, openDataset } from "../data/store.ts";
import { darlMseLoss } from "./loss.ts";
import { initDarl } from "./model.ts";
import { loadDarl } from "./method.ts";
import { loadModel } from "../train/registry.ts";
import { type DarlRunConfig, PRETRAIN_DEFAULTS, pretrainDarl, resolvePretrainConfigs } from "./pretrain.ts";
import { createTrainState, darlTrainStep } from "./train_step.ts";

const cfg = darlConfig("tiny", { imageSize: 8, channels: 1, patchSize: 2, dim: 16, depth: 1, heads: 2 });
const data = fixtureDataset;
const trainCfg = async (out: string, over: Partial<DarlRunConfig> = {}): Promise<DarlRunConfig> => ({
  ...PRETRAIN_DEFAULTS,
  data: await data(),
  out,
  steps: 6,
  batchSize: 4,
  lr: 3e-3,
  warmupSteps: 2,
  logEvery: 2,
  ckptEvery: 3,
  keep: 5,
  sampleEvery: 3,
  augment: "crop+flip",
  ...over,
});
const quiet = () => {};

Deno.test("pretrainDarl() resumes exactly: the loss sequence equals an uninterrupted run", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const full = await pretrainDarl(cfg, await trainCfg(`${tmp}/a`), { log: quiet });
  assert.equal(full.losses.length, 6);
  const first = await pretrainDarl(cfg, await trainCfg(`${tmp}/b`), { log: quiet, stopAfter: 3 });
  assert.equal(first.step, 3);
  const rest = await pretrainDarl(cfg, await trainCfg(`${tmp}/b`), { log: quiet, resume: true });
  assert.deepEqual([...first.losses, ...rest.losses], full.losses);
  // Metrics, loss curve, predictions picture and checkpoints were written.
  const metrics = await readJsonl(`${tmp}/b/metrics.jsonl`);
  assert.deepEqual(metrics.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
  assert.ok((await Deno.stat(`${tmp}/b/loss.png`)).size > 1000);
  assert.ok((await Deno.stat(`${tmp}/b/predictions/step-0000006.png`)).size > 100);
  assert.deepEqual((await listCheckpoints(`${tmp}/b`)).map((c) => c.step), [3, 6]);
  // The trained model loads back with identical weights.
  const { params } = await loadDarl(`${tmp}/a`);
  const w = full.state.params.blocks[0]!.qkv.w;
  assert.deepEqual(params.blocks[0]!.qkv.w.dataSync(), w.dataSync());
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("pretrainDarl() with --ema-decay: the same training, the average saved as the model, loadModel gives either", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const plain = await pretrainDarl(cfg, await trainCfg(`${tmp}/a`, { evalEvery: 0 }), { log: quiet });
  const avg = await pretrainDarl(cfg, await trainCfg(`${tmp}/e`, { evalEvery: 0, emaDecay: 0.5 }), { log: quiet });
  assert.deepEqual(avg.losses, plain.losses);
  const ema = await loadModel(`${tmp}/e`), live = await loadModel(`${tmp}/e`, "encoder", "live");
  const none = await loadModel(`${tmp}/a`);
  assert.match(ema.description, /; moving average of the weights \(decay 0\.5\)$/);
  assert.match(live.description, /; live weights$/);
  assert.notEqual(ema.key, live.key, "feature caches tell the two apart");
  const w = (m: typeof ema) => m.checkpoint.params.get("blocks.0.qkv.w")!.data;
  assert.deepEqual(w(live), w(none), "the live weights are the plain run's");
  assert.notDeepEqual(w(ema), w(none));
  // The model a loader builds is the average (the method loaders read only the saved weights).
  const { params } = await loadDarl(`${tmp}/e`);
  assert.deepEqual(params.blocks[0]!.qkv.w.dataSync(), w(ema));
  [ema, live, none].forEach((m) => m.dispose());
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("pretrainDarl(): the held-out loss is logged every --eval-every steps and at the end, is the objective on fixed draws, and changes no weight", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const plain = await pretrainDarl(cfg, await trainCfg(`${tmp}/a`, { evalEvery: 0 }), { log: quiet });
  const lines: string[] = [];
  const measured = await pretrainDarl(cfg, await trainCfg(`${tmp}/b`, { evalEvery: 4, evalImages: 10 }), {
    log: (l) => lines.push(l),
  });
  assert.deepEqual(measured.losses, plain.losses);
  const wa = plain.state.params.blocks[0]!.mlp.fc2.w, wb = measured.state.params.blocks[0]!.mlp.fc2.w;
  assert.deepEqual(await wb.data(), await wa.data());
  const metrics = await readJsonl(`${tmp}/b/metrics.jsonl`);
  assert.deepEqual(metrics.filter((r) => "eval_test_loss" in r).map((r) => r.step), [4, 6]);
  assert.ok(!(await readJsonl(`${tmp}/a/metrics.jsonl`)).some((r) => "eval_train_loss" in r));
  assert.ok(
    lines.some((l) => /^step 6\/6 .*\| eval_train_loss [\d.]+ \| eval_test_loss [\d.]+ \|/.test(l)),
    lines.join("\n"),
  );
  // The logged value is the next-patch loss of the final weights on the seeded draws of each split.
  const ds = await openDataset(await data());
  const again = await heldOutLoss(
    { train: getSplit(ds, "train"), test: getSplit(ds, "test") },
    { evalImages: 10 },
    [8, 8, 1],
    (x) => darlMseLoss(measured.state.params, cfg, x).loss,
  )();
  const last = metrics.at(-1)!;
  assert.ok(Math.abs((last.eval_train_loss as number) - again.eval_train_loss!) < 1e-6, JSON.stringify([last, again]));
  assert.ok(Math.abs((last.eval_test_loss as number) - again.eval_test_loss!) < 1e-6);
  assert.notEqual(again.eval_train_loss, again.eval_test_loss);
  // The diffusion objective is measured with the same noise each time: with weights that do not move (lr 1e-30),
  // steps 1 and 2 log the same values (ε prediction: the zero-initialised decoder's x0 loss ignores the noise).
  const diffusion = darlConfig("tiny", { ...cfg, objective: "diffusion", target: "global", prediction: "eps" });
  const still = await trainCfg(`${tmp}/d`, { steps: 2, lr: 1e-30, minLr: 0, evalEvery: 1, evalImages: 6 });
  await pretrainDarl(diffusion, still, { log: quiet });
  const d = (await readJsonl(`${tmp}/d/metrics.jsonl`)).map((r) => [r.eval_train_loss, r.eval_test_loss]);
  assert.ok(d.flat().every((v) => typeof v === "number" && v > 0 && Number.isFinite(v)), JSON.stringify(d));
  assert.deepEqual(d[1], d[0]);
  // A run whose checkpoints predate the held-out loss resumes, with the defaults for it.
  const ck = await loadCheckpoint(`${tmp}/a/ckpt-0000006.safetensors`);
  const { evalEvery: _e, evalImages: _i, ...older } = ck.meta.train as Record<string, unknown>;
  await saveCheckpoint(ck.path, plain.state.params as never, plain.state.trainer.opt, { ...ck.meta, train: older });
  const r = await resolvePretrainConfigs({ train: { out: `${tmp}/a`, steps: 8 }, resume: true });
  assert.equal(r.train.evalEvery, PRETRAIN_DEFAULTS.evalEvery);
  assert.equal(r.train.evalImages, PRETRAIN_DEFAULTS.evalImages);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("pretrainDarl() refuses incompatible resumes and existing runs", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  await pretrainDarl(cfg, await trainCfg(`${tmp}/r`, { steps: 3 }), { log: quiet });
  await assert.rejects(
    pretrainDarl({ ...cfg, dim: 32 }, await trainCfg(`${tmp}/r`), { log: quiet, resume: true }),
    /ckpt-0000003\.safetensors: checkpoint has dim=16 but dim=32 was requested/,
  );
  await assert.rejects(
    pretrainDarl(cfg, await trainCfg(`${tmp}/r`, { batchSize: 8 }), { log: quiet, resume: true }),
    /checkpoint has batchSize=4 but batchSize=8 was requested/,
  );
  await assert.rejects(pretrainDarl(cfg, await trainCfg(`${tmp}/r`), { log: quiet }), /already holds checkpoints/);
  await assert.rejects(
    pretrainDarl(cfg, await trainCfg(`${tmp}/none`), { log: quiet, resume: true }),
    /no checkpoint to resume from/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("pretrainDarl() stops on a non-finite loss or gradient and never writes a non-finite checkpoint", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  // The case: at lr 1e2 step 2 has a finite loss but a non-finite gradient.
  for (const lr of [1e2, 1e6]) {
    const t = await trainCfg(`${tmp}/nan-${lr}`, {
      lr,
      clip: 0,
      warmupSteps: 0,
      logEvery: 1,
      ckptEvery: 1,
      steps: 50,
      sampleEvery: 0,
    });
    await assert.rejects(
      pretrainDarl(cfg, t, { log: quiet }),
      /(loss|the gradient norm) became (NaN|Infinity|-Infinity) at step (\d+).*; stopped without saving \(last good checkpoint: .*ckpt-\d+\.safetensors\)/,
    );
    const ckpts = await listCheckpoints(`${tmp}/nan-${lr}`);
    const metrics = await readJsonl(`${tmp}/nan-${lr}/metrics.jsonl`);
    assert.ok(ckpts.length >= 1);
    assert.ok(metrics.every((r) => Number.isFinite(r.loss as number) && Number.isFinite(r.grad_norm as number)));
    assert.equal(ckpts[ckpts.length - 1]!.step, metrics[metrics.length - 1]!.step);
    // Every checkpoint left loads (loading verifies that all values are finite).
    for (const c of ckpts) assert.equal((await loadCheckpoint(c.path)).meta.method, "darl");
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("darlTrainStep() keeps tf.memory().numTensors flat across steps", async () => {
  await useCpu();
  const state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
  const x = tf.randomUniform([4, 8, 8, 1], -1, 1);
  const counts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const { loss, gradNorm } = darlTrainStep(state, x, 1e-3);
    await loss.data();
    tf.dispose([loss, gradNorm]);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[1], counts[0]);
  assert.equal(counts[3], counts[0]);
});

Deno.test("deno task pretrain: incompatible --resume fails with one line", async () => {
  const tmp = await Deno.makeTempDir();
  const common = [
    "--data",
    await data(),
    "--out",
    `${tmp}/run`,
    "--patch-size",
    "2",
    "--dim",
    "16",
    "--depth",
    "1",
    "--heads",
    "2",
    "--batch-size",
    "4",
    "--log-every",
    "1",
    "--ckpt-every",
    "2",
    "--sample-every",
    "0",
    "--backend",
    "cpu",
    "--kernels",
    "stock",
  ];
  const ok = await runTaskProcess("pretrain.ts", [...common, "--steps", "2"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /backend: cpu \(cpu, stock kernels\)/);
  // The last step also reports the held-out loss.
  assert.match(
    ok.stdout,
    /step 2\/2 \| loss [\d.]+ \| lr [\d.e-]+ \| eval_train_loss [\d.]+ \| eval_test_loss [\d.]+ \| [\d.]+ img\/s \| ETA 0s/,
  );
  const bad = await runTaskProcess("pretrain.ts", [...common, "--steps", "4", "--dim", "32", "--resume"]);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr.trim(),
    /^error: .*ckpt-0000002\.safetensors: checkpoint has dim=16 but dim=32 was requested/,
  );
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  const resumed = await runTaskProcess("pretrain.ts", [...common, "--steps", "4", "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from .*ckpt-0000002\.safetensors at step 2/);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("--resume with a corrupt newest checkpoint names it and the previous good one; --resume-from continues", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), out = `${tmp}/r`;
  const full = await pretrainDarl(cfg, await trainCfg(`${tmp}/full`, { ckptEvery: 2 }), { log: quiet });
  await pretrainDarl(cfg, await trainCfg(out, { ckptEvery: 2 }), { log: quiet, stopAfter: 4 });
  const newest = `${out}/ckpt-0000004.safetensors`, prev = `${out}/ckpt-0000002.safetensors`;
  const bytes = await Deno.readFile(newest);
  bytes[bytes.length - 5]! ^= 0xff;
  await Deno.writeFile(newest, bytes);
  await assert.rejects(
    pretrainDarl(cfg, await trainCfg(out, { ckptEvery: 2 }), { log: quiet, resume: true }),
    new RegExp(
      `ckpt-0000004\\.safetensors: cannot resume from it \\(tensor data does not match its checksum.*\\); the previous good checkpoint is .*ckpt-0000002\\.safetensors: pass --resume-from`,
    ),
  );
  const rest = await pretrainDarl(cfg, await trainCfg(out, { ckptEvery: 2 }), { log: quiet, resumeFrom: prev });
  // From step 2 the run continues exactly; the corrupt checkpoint is kept aside, not deleted.
  assert.deepEqual(rest.losses, full.losses.slice(2));
  assert.ok((await Deno.stat(`${newest}.superseded`)).isFile);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("a run owns its --out: a live lock refuses a second run, a stale one is taken over; stale temp files go", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), out = `${tmp}/run`;
  await Deno.mkdir(out);
  // A lock held by a live process (this one) refuses the run, before any work.
  await Deno.writeTextFile(`${out}/.lock`, JSON.stringify({ pid: Deno.pid, host: Deno.hostname(), started: "now" }));
  await assert.rejects(
    pretrainDarl(cfg, await trainCfg(out, { steps: 2 }), { log: quiet }),
    new RegExp(`--out .*run: in use by another run \\(pid ${Deno.pid} on `),
  );
  // A lock whose process is gone is stale; temp files of a killed run are removed.
  await Deno.writeTextFile(`${out}/.lock`, JSON.stringify({ pid: 999999999, host: Deno.hostname(), started: "then" }));
  await Deno.writeTextFile(`${out}/ckpt-0000001.safetensors.tmp-999999999-abcdef`, "partial");
  const notes: string[] = [];
  await pretrainDarl(cfg, await trainCfg(out, { steps: 2, sampleEvery: 0 }), { log: (l) => notes.push(l) });
  assert.ok(notes.some((l) => l.includes("removed a stale lock")));
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  assert.deepEqual(names, ["ckpt-0000002.safetensors", "config.json", "loss.png", "metrics.jsonl"]);
  // The readable config is the run's config.
  const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
  assert.equal(config.method, "darl");
  assert.equal(config.model.dim, 16);
  assert.equal(config.train.steps, 2);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("resolvePretrainConfigs(): resume takes the run's own configs and dataset; bad values leave no folder", async () => {
  const tmp = await Deno.makeTempDir(), out = `${tmp}/run`;
  await pretrainDarl(cfg, await trainCfg(out, { steps: 2, sampleEvery: 0 }), { log: quiet });
  // Resuming with no --data reads the checkpoint's dataset (the fixture), never the default one.
  const r = await resolvePretrainConfigs({ train: { out, steps: 4 }, resume: true });
  assert.equal(r.train.data, await data());
  assert.equal(r.train.steps, 4);
  assert.equal(r.cfg.dim, 16);
  await assert.rejects(
    resolvePretrainConfigs({ preset: "small", train: { out }, resume: true }),
    /--preset: cannot change the model of a run being resumed/,
  );
  // Every hyper-parameter is checked before anything is created.
  const bad: [Partial<DarlRunConfig>, RegExp][] = [
    [{ lr: 0 }, /--lr: expected a number > 0 and ≤ 1000000, got 0/],
    [{ lr: -1 }, /--lr: expected a number > 0 and ≤ 1000000, got -1/],
    [{ warmupSteps: -5 }, /--warmup-steps: expected an integer ≥ 0/],
    [{ clip: -1 }, /--clip: expected a number ≥ 0/],
    [{ weightDecay: -0.1 }, /--weight-decay: expected a number ≥ 0/],
    [{ beta1: 1 }, /--beta1: expected a number ≥ 0 and < 1, got 1/],
    [{ beta2: -0.5 }, /--beta2: expected a number ≥ 0 and < 1/],
    [{ minLr: 1 }, /--min-lr: 1 is above --lr 0.001/],
    [{ seed: 1.5 }, /--seed: expected an integer/],
    [{ steps: 0 }, /--steps: expected an integer ≥ 1/],
    [{ batchSize: 1e9 }, /--batch-size: expected an integer ≥ 1 and ≤ 1000000, got 1000000000/],
  ];
  for (const [over, re] of bad) {
    await assert.rejects(resolvePretrainConfigs({ train: { ...over, data: await data(), out: `${tmp}/new` } }), re);
  }
  // A batch larger than the data, or too large for memory, fails in pretrainDarl before the run directory exists.
  await assert.rejects(
    pretrainDarl(cfg, await trainCfg(`${tmp}/new`, { batchSize: 25 }), { log: quiet }),
    /--batch-size: 25 is larger than the 24 training images/,
  );
  const big = darlConfig("tiny", { imageSize: 8, channels: 1, patchSize: 1, dim: 4096, depth: 64, heads: 32 });
  await assert.rejects(
    pretrainDarl(big, await trainCfg(`${tmp}/new`, { batchSize: 24 }), { log: quiet }),
    /--batch-size: one step needs about [\d.]+ GiB but this machine has [\d.]+ GiB available/,
  );
  assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), ["run"]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("resolvePretrainConfigs(): a run's config.json reproduces its configs; flags override it; bad files fail", async () => {
  const tmp = await Deno.makeTempDir();
  await pretrainDarl(cfg, await trainCfg(`${tmp}/a`, { steps: 2, sampleEvery: 0 }), { log: quiet });
  const r = await resolvePretrainConfigs({ configFile: `${tmp}/a/config.json`, train: { out: `${tmp}/b`, lr: 2e-3 } });
  assert.deepEqual(r.cfg, cfg);
  assert.deepEqual(r.train, { ...(await trainCfg(`${tmp}/b`, { steps: 2, sampleEvery: 0 })), lr: 2e-3 });
  // A config.json written before a field existed (here headDepth) replays with that field's default, as a checkpoint
  // does, not with the default preset's value; a partial model section gets the preset for everything it leaves out.
  const stored = JSON.parse(await Deno.readTextFile(`${tmp}/a/config.json`));
  delete stored.model.headDepth;
  await Deno.writeTextFile(`${tmp}/old.json`, JSON.stringify(stored));
  assert.deepEqual(
    (await resolvePretrainConfigs({ configFile: `${tmp}/old.json`, train: { out: `${tmp}/c` } })).cfg,
    cfg,
  );
  await Deno.writeTextFile(
    `${tmp}/partial.json`,
    JSON.stringify({ model: { depth: 2, patchSize: 2 }, train: stored.train }),
  );
  const partial = (await resolvePretrainConfigs({ configFile: `${tmp}/partial.json`, train: { out: `${tmp}/d` } })).cfg;
  assert.deepEqual(partial, darlConfig(undefined, { imageSize: 8, channels: 1, depth: 2, patchSize: 2 }));
  assert.equal(partial.headDepth, 2);
  await Deno.writeTextFile(`${tmp}/bad.json`, JSON.stringify({ train: { lr: -1 } }));
  await assert.rejects(
    resolvePretrainConfigs({ configFile: `${tmp}/bad.json` }),
    /--config .*bad\.json: "train": --lr: expected a number > 0/,
  );
  await Deno.writeTextFile(`${tmp}/bad.json`, JSON.stringify({ model: { depht: 2 } }));
  await assert.rejects(resolvePretrainConfigs({ configFile: `${tmp}/bad.json` }), /"model": unknown field "depht"/);
  await Deno.remove(tmp, { recursive: true });
});
