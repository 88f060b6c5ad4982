import assert from "node:assert/strict";
import { darlConfig } from "../darl/config.ts";
import { prepareDataset } from "../data/prepare.ts";
import { PRETRAIN_DEFAULTS, pretrainDarl } from "../darl/pretrain.ts";
import { fixture, runTaskProcess, useCpu, writeUnlabelledDataset } from "../test_util.ts";
import { saveCheckpoint } from "../train/checkpoint.ts";
import { tf } from "../tf.ts";

async function oneLine(script: string, args: string[], pattern: RegExp): Promise<void> {
  const r = await runTaskProcess(script, [...args, "--backend", "cpu"]);
  assert.equal(r.code, 1, `${script} ${args.join(" ")} should fail:\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
}

Deno.test("deno task probe / vtab / fid / sample: bad inputs fail with one line", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const data = `${tmp}/patterns`;
  await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: data });
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2 });
  await pretrainDarl(cfg, {
    ...PRETRAIN_DEFAULTS,
    data,
    out: `${tmp}/run`,
    steps: 2,
    batchSize: 4,
    logEvery: 1,
    ckptEvery: 2,
    sampleEvery: 0,
  }, {
    log: () => {},
  });
  const other = `${tmp}/other.safetensors`;
  await saveCheckpoint(other, { w: tf.ones([2]) }, null, {
    format: "darl-checkpoint",
    method: "addp",
    step: 1,
    model: {},
    train: {},
    state: {},
  });
  const unlabelled = `${tmp}/unlabelled`;
  await writeUnlabelledDataset(unlabelled, 4);

  await oneLine(
    "probe.ts",
    ["--ckpt", other, "--data", data],
    /other\.safetensors: is a "addp" checkpoint; models load from darl checkpoints/,
  );
  await oneLine(
    "probe.ts",
    ["--ckpt", `${tmp}/run`, "--data", data, "--layer", "block7"],
    /--layer: unknown layer "block7"/,
  );
  await oneLine("probe.ts", ["--ckpt", `${tmp}/run`, "--data", unlabelled], /the train split has no labels/);
  await oneLine(
    "probe.ts",
    ["--ckpt", `${tmp}/nowhere`],
    /nowhere: not found \(expected a checkpoint file or a run directory\)/,
  );
  await oneLine(
    "probe.ts",
    ["--ckpt", `${tmp}/run`, "--pool", "max"],
    /--pool: expected mean, last or grid<k>, got "max"/,
  );
  await Deno.writeTextFile(`${tmp}/vtab.json`, JSON.stringify({ tasks: { cifar100: { data: `${tmp}/missing` } } }));
  await oneLine(
    "vtab.ts",
    ["--ckpt", `${tmp}/run`, "--task-data", `${tmp}/vtab.json`],
    /vtab\.json: task "cifar100": .*missing\/header\.json: file not found/,
  );
  await oneLine(
    "vtab.ts",
    ["--ckpt", `${tmp}/run`, "--tasks", "svhn"],
    /--tasks: "svhn" is not built here; map it to a prepared dataset in a --task-data file/,
  );
  await oneLine(
    "vtab.ts",
    ["--ckpt", `${tmp}/run`, "--tasks", "imagenet"],
    /--tasks: expected one of caltech101, .*, got "imagenet"/,
  );
  await oneLine(
    "fid.ts",
    ["--data", unlabelled, "--samples", data],
    /the feature network is a classifier and needs labels/,
  );
  await oneLine(
    "sample.ts",
    ["--ckpt", `${tmp}/run`],
    /per-patch normalised targets, which cannot be turned back into pixels/,
  );
  await oneLine(
    "finetune.ts",
    ["--ckpt", other, "--data", data],
    /is a "addp" checkpoint; models load from darl checkpoints/,
  );
  await Deno.remove(tmp, { recursive: true });
});
