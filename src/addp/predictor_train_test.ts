import assert from "node:assert/strict";
import { fixtureDataset, heldOutLog, runTaskProcess, useCpu } from "../test_util.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { getSplit, openDataset } from "../data/store.ts";
import { createRng, mixSeed } from "../rng.ts";
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { heldOutLoss } from "../train/held_out.ts";
import { loadTokenizer } from "./load.ts";
import { tokenize, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
import { TOKENIZER_RUN_DEFAULTS, trainTokenizer } from "./tokenizer_train.ts";
import { PREDICTOR_DEFAULTS, predictorLoss } from "./token_predictor.ts";
import { PREDICTOR_RUN_DEFAULTS, type PredictorRunConfig, trainPredictor } from "./predictor_train.ts";

const quiet = () => {};
const tokCfg = { ...TOKENIZER_DEFAULTS, imageSize: 8, width: 4, groups: 2, codebookSize: 8, codeDim: 4 };
const predCfg = { ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1, heads: 2 };

async function tokenizerRun(out: string, over = {}): Promise<string> {
  const data = await fixtureDataset();
  const train = {
    ...TOKENIZER_RUN_DEFAULTS,
    data,
    out,
    steps: 2,
    batchSize: 4,
    logEvery: 1,
    ckptEvery: 2,
    sampleEvery: 0,
  };
  await trainTokenizer({ ...tokCfg, ...over }, train, { log: quiet });
  return out;
}

const runCfg = async (
  out: string,
  tokenizer: string,
  over: Partial<PredictorRunConfig> = {},
): Promise<PredictorRunConfig> => ({
  ...PREDICTOR_RUN_DEFAULTS,
  data: await fixtureDataset(),
  tokenizer,
  out,
  steps: 6,
  batchSize: 4,
  warmupSteps: 2,
  logEvery: 2,
  ckptEvery: 3,
  keep: 5,
  sampleEvery: 3,
  evalEvery: 3,
  evalImages: 10,
  ...over,
});

Deno.test("trainPredictor() takes its grid and codebook from the tokenizer, resumes exactly and scores held-out tokens", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const tok = await tokenizerRun(`${tmp}/vq`);
  const full = await trainPredictor(predCfg, await runCfg(`${tmp}/a`, tok), { log: quiet });
  assert.equal(full.cfg.tokens, 4);
  assert.equal(full.cfg.codebookSize, 8);
  const first = await trainPredictor(predCfg, await runCfg(`${tmp}/b`, tok), { log: quiet, stopAfter: 3 });
  const rest = await trainPredictor(predCfg, await runCfg(`${tmp}/b`, tok), { log: quiet, resume: true });
  assert.deepEqual([...first.losses, ...rest.losses], full.losses);
  const ck = await loadCheckpoint(`${tmp}/a/ckpt-0000006.safetensors`);
  assert.equal(ck.meta.method, "mage");
  assert.ok(full.eval!.accuracy >= 0 && full.eval!.accuracy <= 1 && full.eval!.crossEntropy > 0);
  for (const f of ["eval.json", "samples.png", "samples/step-0000003.png", "loss.png"]) {
    assert.ok((await Deno.stat(`${tmp}/a/${f}`)).size > 50, f);
  }
  // The held-out loss: logged at steps 3 and 6, the same after a resume, the training objective of the final
  // weights on the tokenized draws (one chunk of 10 images: chunk 0's mask), and without effect on training.
  const evals = (run: string) => heldOutLog(`${tmp}/${run}`);
  assert.deepEqual((await evals("a")).map((e) => e[0]), [3, 6]);
  assert.deepEqual(await evals("b"), await evals("a"));
  const vq = await loadTokenizer(tok), ds = await openDataset(await fixtureDataset());
  const again = await heldOutLoss(
    { train: getSplit(ds, "train"), test: getSplit(ds, "test") },
    { evalImages: 10 },
    [8, 8, 1],
    (x, c) => predictorLoss(full.params, full.cfg, tokenize(vq.params, vq.cfg, x), createRng(mixSeed(c, 0x3e1d))).loss,
  )();
  disposeTree(vq.params as unknown as ParamTree);
  const [, train, test] = (await evals("a"))[1] as number[];
  assert.ok(Math.abs(train! - again.eval_train_loss!) < 1e-6, JSON.stringify([train, again]));
  assert.ok(Math.abs(test! - again.eval_test_loss!) < 1e-6);
  assert.notEqual(train, test);
  const plain = await trainPredictor(predCfg, await runCfg(`${tmp}/c`, tok, { evalEvery: 0 }), { log: quiet });
  assert.deepEqual(plain.losses, full.losses);
  assert.deepEqual(await evals("c"), []);
  // Resuming with a tokenizer of another codebook is refused.
  const other = await tokenizerRun(`${tmp}/vq16`, { codebookSize: 16 });
  await assert.rejects(
    trainPredictor(predCfg, await runCfg(`${tmp}/b`, other), { log: quiet, resume: true }),
    /codebookSize=8 but codebookSize=16/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task predictor: a DARL or missing checkpoint as --tokenizer is one line and a non-zero exit", async () => {
  const tmp = await Deno.makeTempDir();
  const data = await fixtureDataset();
  const r = await runTaskProcess("predictor.ts", ["--data", data, "--tokenizer", `${tmp}/none`, "--out", `${tmp}/p`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error: .*none: not found/m);
  const darl = await runTaskProcess("pretrain.ts", [
    "--data",
    data,
    "--out",
    `${tmp}/darl`,
    "--steps",
    "1",
    "--batch-size",
    "4",
    "--dim",
    "16",
    "--depth",
    "1",
    "--heads",
    "2",
    "--patch-size",
    "2",
    "--log-every",
    "1",
    "--ckpt-every",
    "1",
    "--sample-every",
    "0",
  ]);
  assert.equal(darl.code, 0, darl.stderr);
  const r2 = await runTaskProcess("predictor.ts", ["--data", data, "--tokenizer", `${tmp}/darl`, "--out", `${tmp}/p`]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /^error: .*ckpt-0000001\.safetensors: is a "darl" checkpoint, expected a VQ tokenizer$/m);
  await assert.rejects(Deno.stat(`${tmp}/p`));
  await Deno.remove(tmp, { recursive: true });
});
