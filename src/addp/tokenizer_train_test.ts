import assert from "node:assert/strict";
import { fixtureDataset, heldOutLog, runTaskProcess, useCpu } from "../test_util.ts";
import { listCheckpoints, loadCheckpoint } from "../train/checkpoint.ts";
import { getSplit, openDataset } from "../data/store.ts";
import { heldOutLoss } from "../train/held_out.ts";
import { readJsonl } from "../train/metrics.ts";
import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
import { tokenizerLoss } from "./tokenizer_loss.ts";
import {
  resolveTokenizerConfigs,
  TOKENIZER_RUN_DEFAULTS,
  type TokenizerRunConfig,
  trainTokenizer,
} from "./tokenizer_train.ts";

const cfg = { ...TOKENIZER_DEFAULTS, imageSize: 8, width: 4, groups: 2, codebookSize: 8, codeDim: 4, decay: 0.8 };
const trainCfg = async (out: string, over: Partial<TokenizerRunConfig> = {}): Promise<TokenizerRunConfig> => ({
  ...TOKENIZER_RUN_DEFAULTS,
  data: await fixtureDataset(),
  out,
  steps: 6,
  batchSize: 4,
  lr: 3e-3,
  warmupSteps: 2,
  logEvery: 2,
  ckptEvery: 3,
  keep: 5,
  sampleEvery: 3,
  augment: "flip",
  evalEvery: 3,
  evalImages: 10,
  ...over,
});
const quiet = () => {};

Deno.test("trainTokenizer() resumes exactly (codebook included) and writes scores, pictures and checkpoints", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const full = await trainTokenizer(cfg, await trainCfg(`${tmp}/a`), { log: quiet });
  const first = await trainTokenizer(cfg, await trainCfg(`${tmp}/b`), { log: quiet, stopAfter: 3 });
  assert.equal(first.eval, null, "no test score for an unfinished run");
  const rest = await trainTokenizer(cfg, await trainCfg(`${tmp}/b`), { log: quiet, resume: true });
  assert.deepEqual([...first.losses, ...rest.losses], full.losses);
  const [a, b] = [
    await loadCheckpoint(`${tmp}/a/ckpt-0000006.safetensors`),
    await loadCheckpoint(`${tmp}/b/ckpt-0000006.safetensors`),
  ];
  for (const name of ["codebook.embed", "codebook.clusterSize", "encoder.stem.w"]) {
    assert.deepEqual(a.params.get(name)!.data, b.params.get(name)!.data, name);
  }
  // The codebook is assigned by EMA: it has no optimiser moments; the convolutions do.
  assert.ok(!a.opt!.m.has("codebook.embed") && a.opt!.m.has("encoder.stem.w"));
  assert.equal(a.meta.method, "vq-tokenizer");
  const e = full.eval!;
  assert.ok(e.images > 0 && e.psnr > 0 && e.used >= 1 && e.used <= 8 && e.perplexity <= e.used + 1e-9);
  const stored = JSON.parse(await Deno.readTextFile(`${tmp}/a/eval.json`));
  assert.equal(stored.psnr, e.psnr);
  for (
    const f of ["reconstructions.png", "loss.png", "metrics.jsonl", "config.json", "reconstructions/step-0000003.png"]
  ) {
    assert.ok((await Deno.stat(`${tmp}/a/${f}`)).size > 50, f);
  }
  assert.deepEqual((await listCheckpoints(`${tmp}/b`)).map((c) => c.step), [3, 6]);
  // The held-out loss: logged at steps 3 and 6, the same after a resume, the objective of the final weights on the
  // seeded draws, and without effect on training.
  const [ea, eb] = [await heldOutLog(`${tmp}/a`), await heldOutLog(`${tmp}/b`)];
  assert.deepEqual(ea.map((e) => e[0]), [3, 6]);
  assert.deepEqual(eb, ea);
  const ds = await openDataset(await fixtureDataset());
  const again = await heldOutLoss(
    { train: getSplit(ds, "train"), test: getSplit(ds, "test") },
    { evalImages: 10 },
    [8, 8, 1],
    (x) => tokenizerLoss(full.params, cfg, x).loss,
  )();
  const [, train, test] = ea[1] as number[];
  assert.ok(Math.abs(train! - again.eval_train_loss!) < 1e-6 && Math.abs(test! - again.eval_test_loss!) < 1e-6);
  assert.notEqual(again.eval_train_loss, again.eval_test_loss);
  const plain = await trainTokenizer(cfg, await trainCfg(`${tmp}/c`, { evalEvery: 0 }), { log: quiet });
  assert.deepEqual(plain.losses, full.losses);
  assert.ok(!(await readJsonl(`${tmp}/c/metrics.jsonl`)).some((r) => "eval_train_loss" in r));
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("resolveTokenizerConfigs(): the image shape comes from the data; resume refuses another method's run", async () => {
  const tmp = await Deno.makeTempDir();
  const data = await fixtureDataset();
  const { cfg: c } = await resolveTokenizerConfigs({ train: { data, out: `${tmp}/t` } });
  assert.equal(c.imageSize, 8);
  await assert.rejects(
    resolveTokenizerConfigs({ train: { data, out: `${tmp}/t` }, model: { groups: 3 } }),
    /--groups: 3 does not divide level width 16/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task tokenizer: a dataset of another size than --image-size, bad flags: one line, non-zero exit", async () => {
  const data = await fixtureDataset();
  const tmp = await Deno.makeTempDir();
  const r = await runTaskProcess("tokenizer.ts", ["--data", data, "--out", `${tmp}/x`, "--codebook-size", "1"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error: --codebook-size: expected an integer ≥ 2/m);
  const r2 = await runTaskProcess("tokenizer.ts", ["--data", data, "--out", `${tmp}/y`, "--width-mult", "1,2,2,2,2"]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /^error: --image-size: 8 must be divisible by 16/m);
  for (const d of ["x", "y"]) await assert.rejects(Deno.stat(`${tmp}/${d}`), "nothing left behind");
  await Deno.remove(tmp, { recursive: true });
});
