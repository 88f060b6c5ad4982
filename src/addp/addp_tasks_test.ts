import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { encodePngImage } from "../data/png.ts";
import { getSplit, openDataset, writeDataset } from "../data/store.ts";
import { createRng, mixSeed } from "../rng.ts";
import { heldOutLoss } from "../train/held_out.ts";
import { addpLoss, alternatingTargets } from "./alternating_denoising.ts";
import { timestepGrid } from "./mask_schedule.ts";
import { fixtureDataset, heldOutLog, runTaskProcess, useCpu } from "../test_util.ts";
import { listCheckpoints, loadCheckpoint } from "../train/checkpoint.ts";
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { tokenize, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
import { TOKENIZER_RUN_DEFAULTS, trainTokenizer } from "./tokenizer_train.ts";
import { PREDICTOR_DEFAULTS } from "./token_predictor.ts";
import { loadPredictor, PREDICTOR_RUN_DEFAULTS, trainPredictor } from "./predictor_train.ts";
import { ADDP_DEFAULTS } from "./model.ts";
import { ADDP_RUN_DEFAULTS, pretrainAddp } from "./pretrain.ts";
import { registeredMethods } from "../train/registry.ts";
import { loadTokenizer } from "./load.ts";
import { openTokenData } from "./token_cache.ts";
import "../methods.ts";

const quiet = () => {};
const small = { steps: 2, batchSize: 4, logEvery: 1, ckptEvery: 2, sampleEvery: 0 };
const tokCfg = { ...TOKENIZER_DEFAULTS, imageSize: 8, width: 4, groups: 2, codebookSize: 8, codeDim: 4 };
const addpCfg = { ...ADDP_DEFAULTS, imageSize: 8, dim: 16, depth: 1, decoderDepth: 1, heads: 2 };

/** A tiny tokenizer and predictor on the 8×8 fixture, in `dir`/vq and `dir`/mage. */
async function components(dir: string, data: string): Promise<void> {
  await trainTokenizer(tokCfg, { ...TOKENIZER_RUN_DEFAULTS, ...small, data, out: `${dir}/vq` }, { log: quiet });
  await trainPredictor(
    { ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1, heads: 2 },
    { ...PREDICTOR_RUN_DEFAULTS, ...small, data, tokenizer: `${dir}/vq`, out: `${dir}/mage` },
    { log: quiet },
  );
}

Deno.test("pretrainAddp() resumes exactly and writes checkpoints, metrics, samples and the loss plot", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  await components(tmp, data);
  const run = (out: string, evalEvery = 3) => ({
    ...ADDP_RUN_DEFAULTS,
    ...small,
    steps: 6,
    ckptEvery: 3,
    sampleEvery: 3,
    evalEvery,
    evalImages: 10,
    data,
    tokenizer: `${tmp}/vq`,
    predictor: `${tmp}/mage`,
    out,
  });
  const before = tf.memory().numTensors;
  const full = await pretrainAddp(addpCfg, run(`${tmp}/a`), { log: quiet });
  const first = await pretrainAddp(addpCfg, run(`${tmp}/b`), { log: quiet, stopAfter: 3 });
  const rest = await pretrainAddp(addpCfg, run(`${tmp}/b`), { log: quiet, resume: true });
  assert.deepEqual([...first.losses, ...rest.losses], full.losses);
  const [a, b] = [
    await loadCheckpoint(`${tmp}/a/ckpt-0000006.safetensors`),
    await loadCheckpoint(`${tmp}/b/ckpt-0000006.safetensors`),
  ];
  assert.equal(a.meta.method, "addp");
  for (const [name, t] of a.params) assert.deepEqual(t.data, b.params.get(name)!.data, name);
  // The frozen tokenizer travels in the checkpoint (so it samples alone) but is not trained: no moments.
  const tokNames = [...a.params.keys()].filter((n) => n.startsWith("tokenizer."));
  assert.ok(tokNames.length > 0 && tokNames.every((n) => !a.opt!.m.has(n)));
  assert.deepEqual((await listCheckpoints(`${tmp}/b`)).map((c) => c.step), [3, 6]);
  for (
    const f of ["loss.png", "metrics.jsonl", "config.json", "samples/step-0000003.png", "samples/step-0000006.png"]
  ) {
    assert.ok((await Deno.stat(`${tmp}/a/${f}`)).size > 50, f);
  }
  // The held-out loss: logged at steps 3 and 6, the same after a resume, the alternating-denoising loss of the final
  // weights on the tokenized draws (one chunk of 10 images: chunk 0's timesteps), and without effect on training.
  const evals = (dir: string) => heldOutLog(`${tmp}/${dir}`);
  assert.deepEqual((await evals("a")).map((e) => e[0]), [3, 6]);
  assert.deepEqual(await evals("b"), await evals("a"));
  const tok = await loadTokenizer(`${tmp}/vq`), pred = await loadPredictor(`${tmp}/mage`);
  const frozen = { tokenizer: tok, predictor: pred.params, predictorCfg: pred.cfg };
  const ds = await openDataset(data), grid = timestepGrid(full.cfg.timesteps);
  const again = await heldOutLoss(
    { train: getSplit(ds, "train"), test: getSplit(ds, "test") },
    { evalImages: 10 },
    [8, 8, 1],
    (x, c) => {
      const z = tokenize(tok.params, tok.cfg, x);
      const t = alternatingTargets(frozen, z, createRng(mixSeed(c, 0xe7a6)), grid, full.cfg.mapping);
      return addpLoss(full.params, full.cfg, z, t, full.cfg.smoothing);
    },
  )();
  disposeTree(tok.params as unknown as ParamTree);
  disposeTree(pred.params as unknown as ParamTree);
  const [, trainLoss, testLoss] = (await evals("a"))[1] as number[];
  assert.ok(Math.abs(trainLoss! - again.eval_train_loss!) < 1e-6, JSON.stringify([trainLoss, again]));
  assert.ok(Math.abs(testLoss! - again.eval_test_loss!) < 1e-6);
  assert.notEqual(trainLoss, testLoss);
  const plain = await pretrainAddp(addpCfg, run(`${tmp}/c`, 0), { log: quiet });
  assert.deepEqual(plain.losses, full.losses);
  assert.deepEqual(await evals("c"), []);
  // Only the returned models outlive a run: the frozen tokenizer and predictor and the optimiser state are released.
  for (const r of [full, first, rest, plain]) disposeTree(r.params as unknown as ParamTree);
  assert.equal(tf.memory().numTensors, before);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task sample on an ADDP checkpoint: samples, inpainting and outpainting grids; bad flags one line each", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  await components(tmp, data);
  const run = {
    ...ADDP_RUN_DEFAULTS,
    ...small,
    data,
    tokenizer: `${tmp}/vq`,
    predictor: `${tmp}/mage`,
    out: `${tmp}/addp`,
  };
  await pretrainAddp(addpCfg, run, { log: quiet });
  const sample = (args: string[]) =>
    runTaskProcess("sample.ts", ["--ckpt", `${tmp}/addp`, "--backend", "cpu", "--decode-steps", "3", ...args]);
  const list = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const ok = async (args: string[]) => {
    const r = await sample(args);
    assert.equal(r.code, 0, r.stderr);
  };
  await ok(["--count", "3"]);
  await ok(["--count", "2", "--inpaint", "0,0,4,8", "--data", data]);
  await ok(["--count", "2", "--outpaint", "0,0,4,4", "--data", data]);
  const mask = new Uint8Array(64);
  for (let i = 0; i < 32; i++) mask[i] = 255;
  await Deno.writeFile(`${tmp}/top.png`, encodePngImage({ width: 8, height: 8, channels: 1, data: mask }));
  await ok(["--count", "2", "--mask-png", `${tmp}/top.png`, "--data", data]);
  // The token predictor samples with MaskGIT (the baseline); it has no region flags and no image encoder.
  const mage = (args: string[]) => runTaskProcess("sample.ts", ["--ckpt", `${tmp}/mage`, "--backend", "cpu", ...args]);
  const m = await mage(["--count", "3", "--decode-steps", "2"]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /MaskGIT with the token predictor, 2 steps/);
  assert.deepEqual(list(`${tmp}/mage/samples/unconditional-seed0/images`), ["0000.png", "0001.png", "0002.png"]);
  const m2 = await mage(["--inpaint", "0,0,4,4"]);
  assert.equal(m2.code, 1);
  assert.match(m2.stderr.trim(), /^error: --inpaint: not an option for this mage checkpoint$/);
  const probe = await runTaskProcess("probe.ts", ["--ckpt", `${tmp}/mage`, "--backend", "cpu", "--data", data]);
  assert.equal(probe.code, 1);
  assert.match(probe.stderr.trim(), /^error: .*mage.*: a token predictor reads token ids and has no image encoder/);
  const kinds = list(`${tmp}/addp/samples`);
  assert.equal(kinds.length, 4, kinds.join());
  for (const k of kinds) assert.ok(list(`${tmp}/addp/samples/${k}`).includes("grid.png"), k);
  assert.equal(list(`${tmp}/addp/samples/${kinds.find((k) => k.startsWith("unconditional"))}/images`).length, 3);
  const fails = async (args: string[], re: RegExp) => {
    const r = await sample(args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr.trim(), re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  };
  await fails(["--decode-steps", "0"], /^error: --decode-steps: expected an integer ≥ 1/);
  await fails(["--choice-temperature=-1"], /^error: --choice-temperature: expected a number ≥ 0/);
  await fails(["--top-p", "0"], /^error: --top-p: /);
  await fails(
    ["--count", "2", "--inpaint", "0,0,9,4", "--data", data],
    /^error: --inpaint: the box 0,0,9,4 is not inside the 8×8 image/,
  );
  await Deno.writeFile(
    `${tmp}/big.png`,
    encodePngImage({ width: 16, height: 16, channels: 1, data: new Uint8Array(256) }),
  );
  await fails(
    ["--count", "2", "--mask-png", `${tmp}/big.png`, "--data", data],
    /^error: --mask-png .*big\.png: the mask is 16×16, the images are 8×8/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("deno task pretrain --method addp: a DARL checkpoint or a tokenizer of another image size is one line", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  await components(tmp, data);
  const darl = await runTaskProcess("pretrain.ts", [
    ...["--data", data, "--out", `${tmp}/darl`, "--steps", "1", "--batch-size", "4", "--dim", "16", "--depth", "1"],
    ...["--heads", "2", "--patch-size", "2", "--sample-every", "0", "--backend", "cpu"],
  ]);
  assert.equal(darl.code, 0, darl.stderr);
  const addp = (args: string[], out = `${tmp}/refused`) =>
    runTaskProcess("pretrain.ts", [
      ...["--method", "addp", "--data", data, "--out", out, "--steps", "1", "--batch-size", "4"],
      ...["--dim", "16", "--depth", "1", "--decoder-depth", "1", "--heads", "2", "--backend", "cpu"],
      ...args,
    ]);
  const fails = async (args: string[], re: RegExp) => {
    const r = await addp(args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr.trim(), re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    const left = await Deno.stat(`${tmp}/refused`).then(
      () => [...Deno.readDirSync(`${tmp}/refused`)].map((e) => e.name),
      () => null,
    );
    assert.equal(left, null, `a refused run leaves no folder (${args.join(" ")}): ${left}`);
  };
  await fails(
    ["--tokenizer", `${tmp}/darl`, "--predictor", `${tmp}/mage`],
    /^error: .*: is a "darl" checkpoint, expected a VQ tokenizer$/,
  );
  await fails(
    ["--tokenizer", `${tmp}/vq`, "--predictor", `${tmp}/darl`],
    /^error: .*: is a "darl" checkpoint, expected a token predictor/,
  );
  await fails(
    ["--tokenizer", `${tmp}/mage`, "--predictor", `${tmp}/mage`],
    /^error: .*: is a "mage" checkpoint, expected a VQ tokenizer$/,
  );
  // The reverse: an ADDP or tokenizer run is not a DARL model to resume or sample.
  const ok = await addp(["--tokenizer", `${tmp}/vq`, "--predictor", `${tmp}/mage`], `${tmp}/addp`);
  assert.equal(ok.code, 0, ok.stderr);
  const resumeAsDarl = await runTaskProcess("pretrain.ts", ["--out", `${tmp}/addp`, "--resume", "--backend", "cpu"]);
  assert.equal(resumeAsDarl.code, 1);
  assert.match(resumeAsDarl.stderr.trim(), /^error: .*addp.*/);
  const tokAsModel = await runTaskProcess("sample.ts", ["--ckpt", `${tmp}/vq`, "--backend", "cpu"]);
  assert.equal(tokAsModel.code, 1);
  assert.match(
    tokAsModel.stderr.trim(),
    /^error: .*is a "vq-tokenizer" checkpoint; models load from darl, addp, mage checkpoints/,
  );
  // A tokenizer trained on 8×8 grey images cannot serve 16×16 or RGB ones.
  for (const shape of [[16, 16, 1], [8, 8, 3]] as const) {
    const dir = `${tmp}/data-${shape.join("x")}`,
      n = 8,
      split = { count: n, images: new Uint8Array(n * shape[0] * shape[1] * shape[2]), labels: null };
    await writeDataset(dir, {
      name: "other",
      source: "t",
      shape: [...shape],
      classes: [],
      splits: { train: split, test: split },
    });
    await fails(
      ["--data", dir, "--tokenizer", `${tmp}/vq`, "--predictor", `${tmp}/mage`],
      new RegExp(
        `^error: .*vq.*: the tokenizer reads 8×8×1 images but .*${dir.split("/").at(-1)} has ${shape.join("×")}$`,
      ),
    );
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("ADDP's registry entry pretrains for studies and resumes a finished run without training again", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  await components(tmp, data);
  const addp = registeredMethods().find((m) => m.method === "addp")!;
  const { imageSize: _, ...model } = addpCfg;
  const train = { ...small, data, tokenizer: `${tmp}/vq`, predictor: `${tmp}/mage`, out: `${tmp}/a` };
  const before = tf.memory().numTensors;
  assert.deepEqual(await addp.pretrain!({ model, train, resume: false }), { step: 2 });
  const metrics = await Deno.readTextFile(`${tmp}/a/metrics.jsonl`);
  assert.deepEqual(await addp.pretrain!({ model, train, resume: true }), { step: 2 });
  assert.equal(await Deno.readTextFile(`${tmp}/a/metrics.jsonl`), metrics, "a finished run is not trained again");
  assert.equal(tf.memory().numTensors, before);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("openTokenData() keeps ids on disk keyed by the tokenizer's weights; cached ids equal fresh ones", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  await components(tmp, data);
  const tok = await loadTokenizer(`${tmp}/vq`);
  const train = { data, batchSize: 4, augment: "flip" as const };
  const lines: string[] = [];
  const fresh = await openTokenData(tok, train, () => {}, "");
  const first = await openTokenData(tok, train, (l) => lines.push(l), `${tmp}/cache`);
  const second = await openTokenData(tok, train, (l) => lines.push(l), `${tmp}/cache`);
  assert.ok(lines.some((l) => l.includes("tokenizing train")) && lines.at(-1)!.includes(`${tmp}/cache/`));
  for (const c of [first.cache, second.cache]) {
    assert.deepEqual(c.ids, fresh.cache.ids);
    assert.deepEqual(c.flipped, fresh.cache.flipped);
  }
  // Other weights (a tokenizer trained one step longer) are another key.
  await trainTokenizer(tokCfg, { ...TOKENIZER_RUN_DEFAULTS, ...small, steps: 3, data, out: `${tmp}/vq2` }, {
    log: quiet,
  });
  const tok2 = await loadTokenizer(`${tmp}/vq2`);
  await openTokenData(tok2, train, () => {}, `${tmp}/cache`);
  assert.equal([...Deno.readDirSync(`${tmp}/cache`)].length, 2);
  disposeTree(tok.params as unknown as ParamTree), disposeTree(tok2.params as unknown as ParamTree);
  await Deno.remove(tmp, { recursive: true });
});
