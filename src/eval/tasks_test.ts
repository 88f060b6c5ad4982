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
    method: "byol",
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
    /other\.safetensors: is a "byol" checkpoint; models load from darl, addp, mage checkpoints/,
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
    /is a "byol" checkpoint; models load from darl, addp, mage checkpoints/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task sample: unconditional samples and completions go to separate folders, replaced whole", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const data = `${tmp}/patterns`;
  await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: data });
  const cfg = darlConfig("tiny", { imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2, target: "global" });
  const train = { ...PRETRAIN_DEFAULTS, data, out: `${tmp}/run`, steps: 2, batchSize: 4, logEvery: 1, ckptEvery: 2 };
  await pretrainDarl(cfg, { ...train, sampleEvery: 0 }, { log: () => {} });
  const run = (args: string[]) => runTaskProcess("sample.ts", ["--ckpt", `${tmp}/run`, "--backend", "cpu", ...args]);
  const list = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.equal((await run(["--count", "3", "--mse-noise", "0.1"])).code, 0);
  assert.equal((await run(["--count", "2", "--complete-rows", "1", "--data", data])).code, 0);
  assert.deepEqual(list(`${tmp}/run/samples`), ["completion-r1-seed0", "unconditional-seed0"]);
  assert.deepEqual(list(`${tmp}/run/samples/unconditional-seed0`), ["grid.png", "images"]);
  assert.deepEqual(list(`${tmp}/run/samples/unconditional-seed0/images`), ["0000.png", "0001.png", "0002.png"]);
  assert.deepEqual(list(`${tmp}/run/samples/completion-r1-seed0/images`), ["0000.png", "0001.png"]);
  // A second run of the same kind replaces its folder: no stale images from the first.
  assert.equal((await run(["--count", "1"])).code, 0);
  assert.deepEqual(list(`${tmp}/run/samples/unconditional-seed0/images`), ["0000.png"]);
  // An unusable --out is found before sampling starts.
  const file = `${tmp}/a-file`;
  await Deno.writeTextFile(file, "");
  const r = await run(["--out", `${file}/samples`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^error: --out .*a-file\/samples: .*a-file is a file, not a directory$/);
  assert.doesNotMatch(r.stdout, /patches/, "nothing was sampled");
  assert.match((await run(["--count", "0"])).stderr, /--count: expected an integer ≥ 1/);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task probe and sample refuse a checkpoint holding NaN weights", async () => {
  const tmp = await Deno.makeTempDir();
  const { encodeSafetensors } = await import("../train/safetensors.ts");
  const { sha256Hex } = await import("../data/files.ts");
  const t = { dtype: "F32" as const, shape: [2], data: new Float32Array([0, NaN]) };
  const meta = { format: "darl-checkpoint", method: "darl", step: 2, model: {}, train: {}, state: {} };
  const darl = JSON.stringify({ ...meta, dataSha256: await sha256Hex(new Uint8Array(t.data.buffer)) });
  await Deno.writeFile(`${tmp}/ckpt-0000002.safetensors`, encodeSafetensors(new Map([["sos", t]]), { darl }));
  for (const script of ["probe.ts", "sample.ts"]) {
    const r = await runTaskProcess(script, ["--ckpt", tmp, "--backend", "cpu"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr.trim(),
      /^error: .*ckpt-0000002\.safetensors: 1 of 1 tensors hold NaN or Inf \(sos\); the run had diverged/,
    );
  }
  await Deno.remove(tmp, { recursive: true });
});
