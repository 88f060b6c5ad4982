import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { darlConfig } from "./config.ts";
import { prepareDataset } from "../data/prepare.ts";
import { fixture, runTaskProcess, useCpu } from "../test_util.ts";
import { listCheckpoints, loadCheckpoint } from "../train/checkpoint.ts";
import { readJsonl } from "../train/metrics.ts";
import { initDarl } from "./model.ts";
import { loadDarl } from "./method.ts";
import { createTrainState, darlTrainStep, PRETRAIN_DEFAULTS, type PretrainConfig, pretrainDarl } from "./pretrain.ts";

const cfg = darlConfig("tiny", { imageSize: 8, channels: 1, patchSize: 2, dim: 16, depth: 1, heads: 2 });
let dataDir = "";
async function data(): Promise<string> {
  if (!dataDir) {
    dataDir = `${await Deno.makeTempDir()}/patterns`;
    await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: dataDir });
  }
  return dataDir;
}
const trainCfg = async (out: string, over: Partial<PretrainConfig> = {}): Promise<PretrainConfig> => ({
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
  assert.match(ok.stdout, /step 2\/2 \| loss [\d.]+ \| lr [\d.e-]+ \| [\d.]+ img\/s \| ETA 0s/);
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
