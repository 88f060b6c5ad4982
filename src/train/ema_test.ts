import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useCpu } from "../test_util.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { createWeightEma, disposeWeightEma, emaDecayAt, updateWeightEma } from "./ema.ts";
import { type LoopSpec, runTrainingLoop } from "./loop.ts";
import { warmupCosine } from "./optim.ts";
import { checkResumeCompatible, PRETRAIN_RESUME } from "./run_config.ts";
import { createTrainer, trainStep } from "./trainer.ts";

Deno.test("updateWeightEma() follows s ← d_t·s + (1 − d_t)·p with the warmed-up decay, only on the named leaves", async () => {
  await useCpu();
  const a = tf.variable(tf.tensor1d([1, -2])), b = tf.variable(tf.tensor1d([5]));
  const before = tf.memory().numTensors;
  const ema = createWeightEma({ a, b }, 0.9, ["a"]);
  let ref = [1, -2];
  for (let step = 1; step <= 40; step++) {
    const p = [Math.sin(step), step / 10];
    tf.tidy(() => a.assign(tf.tensor1d(p)));
    updateWeightEma(ema, step);
    const d = Math.min(0.9, (1 + step) / (10 + step));
    ref = ref.map((s, i) => d * s + (1 - d) * p[i]!);
  }
  const got = await ema.shadow[0]!.data();
  ref.forEach((r, i) => assert.ok(Math.abs(got[i]! - r) < 1e-5, `${got[i]} vs ${r}`));
  assert.deepEqual(ema.names, ["a"]);
  assert.equal(emaDecayAt(0.9, 100), 0.9);
  assert.ok(emaDecayAt(0.9, 5) < 0.9);
  assert.equal(tf.memory().numTensors, before + 1, "one shadow tensor, nothing leaked by the updates");
  disposeWeightEma(ema);
  assert.throws(() => createWeightEma({ a }, 1), /--ema-decay: expected a decay in \(0, 1\), got 1/);
  assert.throws(() => createWeightEma({ a }, 0.9, ["c"]), /no parameter "c"/);
  tf.dispose([a, b]);
});

/** A loop fitting w to 3 by SGD on (w − 3)², with checkpoints every 5 steps. */
function toyLoop(out: string, emaDecay: number): { spec: LoopSpec; w: tf.Variable } {
  const w = tf.variable(tf.zeros([1]));
  const trainer = createTrainer({ w }, { optimizer: { kind: "sgd", momentum: 0, weightDecay: 0 } });
  const spec: LoopSpec = {
    out,
    steps: 20,
    batchSize: 1,
    logEvery: 5,
    ckptEvery: 5,
    keep: 4,
    seed: 0,
    trainCount: 1,
    params: { w },
    opt: trainer.opt,
    emaDecay,
    meta: { format: "darl-checkpoint", method: "demo", model: {}, train: {}, state: {} },
    lrAt: (s) => warmupCosine(s, { lr: 0.1, minLr: 0.01, warmupSteps: 2, steps: 20 }),
    step: (_idx, _s, lr) => trainStep(trainer, () => tf.sum(tf.square(tf.sub(w, 3))), lr),
    checkResume: () => [],
    plotTitle: "demo",
  };
  return { spec, w };
}

Deno.test("runTrainingLoop() with a weight EMA: the average is saved as the model, the live weights as live.*, training is unchanged, and resume is exact", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir();
  const quiet = { log: () => {} };
  const plain = toyLoop(`${tmp}/plain`, 0);
  await runTrainingLoop(plain.spec, quiet);
  const full = toyLoop(`${tmp}/full`, 0.8);
  const before = tf.memory().numTensors;
  await runTrainingLoop(full.spec, quiet);
  assert.equal(tf.memory().numTensors, before, "the loop releases its shadow weights");
  const ck = await loadCheckpoint(`${tmp}/full/ckpt-0000020.safetensors`);
  const live = (await full.w.data())[0]!;
  assert.equal(live, (await plain.w.data())[0], "the average changes no training");
  assert.equal(ck.live!.get("w")!.data[0], live);
  assert.equal((await loadCheckpoint(`${tmp}/plain/ckpt-0000020.safetensors`)).live, undefined);
  // The average lags the live weights on their way up to 3.
  const avg = ck.params.get("w")!.data[0]!;
  assert.ok(avg > 0.5 && avg < live, `average ${avg}, live ${live}`);

  const half = toyLoop(`${tmp}/half`, 0.8);
  await runTrainingLoop(half.spec, { ...quiet, stopAfter: 10 });
  const rest = toyLoop(`${tmp}/half`, 0.8);
  await runTrainingLoop(rest.spec, { ...quiet, resume: true });
  const resumed = await loadCheckpoint(`${tmp}/half/ckpt-0000020.safetensors`);
  for (const k of ["params", "live"] as const) {
    assert.deepEqual(resumed[k]!.get("w")!.data, ck[k]!.get("w")!.data, k);
  }
  assert.deepEqual(resumed.opt!.m.get("w")!.data, ck.opt!.m.get("w")!.data);

  // A run with an average cannot continue one saved without it.
  const noAvg = toyLoop(`${tmp}/plain`, 0.8);
  noAvg.spec.steps = 25;
  await assert.rejects(
    runTrainingLoop(noAvg.spec, { ...quiet, resume: true }),
    /plain\/ckpt-0000020\.safetensors: has no moving average of the weights to continue \(--ema-decay\)/,
  );
  tf.dispose([plain.w, full.w, half.w, rest.w, noAvg.w]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("checkResumeCompatible(): --ema-decay is locked, and checkpoints from before it resume as 0", async () => {
  await useCpu();
  const path = (await Deno.makeTempDir()) + "/ckpt-0000001.safetensors";
  const train = { batchSize: 4, seed: 0, augment: "none", steps: 5 };
  await saveCheckpoint(path, { w: tf.ones([1]) }, null, {
    format: "darl-checkpoint",
    method: "demo",
    step: 1,
    model: {},
    train,
    state: {},
  });
  const old = await loadCheckpoint(path);
  assert.deepEqual(checkResumeCompatible(old, {}, {}, { ...train, emaDecay: 0 }, "", PRETRAIN_RESUME), []);
  assert.throws(
    () => checkResumeCompatible(old, {}, {}, { ...train, emaDecay: 0.999 }, "", PRETRAIN_RESUME),
    /checkpoint has emaDecay=0 but emaDecay=0\.999 was requested; an exact resume needs the same value/,
  );
});
