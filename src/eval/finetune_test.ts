import assert from "node:assert/strict";
import { darlConfig } from "../darl/config.ts";
import { prepareDataset } from "../data/prepare.ts";
import { openDataset } from "../data/store.ts";
import { PRETRAIN_DEFAULTS, pretrainDarl } from "../darl/pretrain.ts";
import { fixture, runTaskProcess, useCpu } from "../test_util.ts";
import "../methods.ts";
import { loadModel, randomInitModel } from "../train/registry.ts";
import { finetune, FINETUNE_DEFAULTS, type FinetuneConfig, resolveFinetuneConfig } from "./finetune.ts";

async function setup() {
  const tmp = await Deno.makeTempDir();
  const data = `${tmp}/patterns`;
  await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: data });
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 2, heads: 2 });
  await pretrainDarl(cfg, {
    ...PRETRAIN_DEFAULTS,
    data,
    out: `${tmp}/pre`,
    steps: 4,
    batchSize: 4,
    logEvery: 2,
    ckptEvery: 4,
    sampleEvery: 0,
  }, { log: () => {} });
  return { tmp, data };
}

const ft = (data: string, out: string): FinetuneConfig => ({
  ...FINETUNE_DEFAULTS,
  data,
  out,
  epochs: 3,
  batchSize: 6,
  lr: 3e-3,
  warmupEpochs: 0.5,
  logEvery: 2,
  ckptEvery: 4,
  keep: 5,
});

Deno.test("finetune() learns the fixture classes and resumes exactly", async () => {
  await useCpu();
  const { tmp, data } = await setup();
  const ds = await openDataset(data);
  const model = await loadModel(`${tmp}/pre`);
  const full = await finetune(model, ds, ft(data, `${tmp}/a`), { log: () => {} });
  assert.equal(full.step, 12); // 3 epochs × ceil(24/6)
  assert.ok(full.losses[full.losses.length - 1]! < full.losses[0]!, `loss should fall: ${full.losses}`);
  assert.ok(full.testAccuracy >= 0 && full.testAccuracy <= 1);
  const part = await finetune(model, ds, ft(data, `${tmp}/b`), { log: () => {}, stopAfter: 5 });
  const rest = await finetune(model, ds, ft(data, `${tmp}/b`), { log: () => {}, resume: true });
  assert.deepEqual([...part.losses, ...rest.losses], full.losses);
  assert.equal(rest.testAccuracy, full.testAccuracy);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task finetune: bad checkpoint and unlabelled data fail with one line", async () => {
  const tmp = await Deno.makeTempDir();
  await Deno.writeFile(`${tmp}/bogus.safetensors`, new Uint8Array([1, 2, 3]));
  const r = await runTaskProcess("finetune.ts", [
    "--ckpt",
    `${tmp}/bogus.safetensors`,
    "--backend",
    "cpu",
    "--data",
    fixture("idx"),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^error: .*header\.json: file not found/);
  const { data } = await setup();
  const r2 = await runTaskProcess("finetune.ts", [
    "--ckpt",
    `${tmp}/bogus.safetensors`,
    "--backend",
    "cpu",
    "--data",
    data,
  ]);
  assert.match(r2.stderr.trim(), /^error: .*bogus\.safetensors: truncated safetensors file/);
  assert.equal(r2.stderr.trim().split("\n").length, 1);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("resolveFinetuneConfig(): a run's config.json and --resume supply the config and pretrained checkpoint", async () => {
  await useCpu();
  const { tmp, data } = await setup();
  const model = await loadModel(`${tmp}/pre`);
  await finetune(model, await openDataset(data), ft(data, `${tmp}/a`), { log: () => {}, stopAfter: 2 });
  const fromFile = await resolveFinetuneConfig({ configFile: `${tmp}/a/config.json`, train: { out: `${tmp}/b` } });
  assert.deepEqual(fromFile.train, ft(data, `${tmp}/b`));
  assert.equal(fromFile.pretrained, model.path);
  const resumed = await resolveFinetuneConfig({ train: { out: `${tmp}/a` }, resume: true });
  assert.equal(resumed.pretrained, model.path);
  assert.equal(resumed.train.batchSize, 6);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("finetune from scratch: the run records the random init it copies, and a resume or re-run rebuilds it", async () => {
  await useCpu();
  const { tmp, data } = await setup();
  const ds = await openDataset(data);
  const pre = await loadModel(`${tmp}/pre`);
  const full = await finetune(randomInitModel(pre, 0), ds, ft(data, `${tmp}/a`), { log: () => {} });
  const pretrained = await finetune(pre, ds, ft(data, `${tmp}/p`), { log: () => {} });
  assert.notDeepEqual(full.losses, pretrained.losses);
  const config = JSON.parse(await Deno.readTextFile(`${tmp}/a/config.json`));
  assert.equal(config.pretrained, `random init (seed 0) of ${pre.path}`);
  assert.deepEqual(config.randomInitOf, { path: pre.path, seed: 0 });
  const fromFile = await resolveFinetuneConfig({ configFile: `${tmp}/a/config.json`, train: { out: `${tmp}/b` } });
  assert.deepEqual([fromFile.pretrained, fromFile.scratch], [pre.path, true]);
  const given = await resolveFinetuneConfig({ ckpt: `${tmp}/pre`, scratch: true, train: { out: `${tmp}/c` } });
  assert.deepEqual([given.pretrained, given.scratch], [`${tmp}/pre`, true]);
  await finetune(randomInitModel(pre, 0), ds, ft(data, `${tmp}/b`), { log: () => {}, stopAfter: 5 });
  const resumed = await resolveFinetuneConfig({ train: { out: `${tmp}/b` }, resume: true });
  assert.deepEqual([resumed.pretrained, resumed.scratch], [pre.path, true]);
  const rest = await finetune(
    randomInitModel(await loadModel(resumed.pretrained), resumed.train.seed),
    ds,
    resumed.train,
    {
      log: () => {},
      resume: true,
    },
  );
  assert.deepEqual(rest.losses, full.losses.slice(5));
  assert.equal(rest.testAccuracy, full.testAccuracy);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task finetune --scratch trains a random init of the checkpoint's architecture", async () => {
  const { tmp, data } = await setup();
  const args = ["--ckpt", `${tmp}/pre`, "--backend", "cpu", "--data", data, "--epochs", "1", "--batch-size", "6"];
  const r = await runTaskProcess("finetune.ts", [...args, "--scratch", "--seed", "2", "--out", `${tmp}/s`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^from scratch: random init \(seed 2\) of /m);
  const result = JSON.parse(await Deno.readTextFile(`${tmp}/s/result.json`));
  assert.match(result.pretrained, /^random init \(seed 2\) of .*pre/);
  assert.equal(result.randomInitOf.seed, 2);
  await Deno.remove(tmp, { recursive: true });
});
