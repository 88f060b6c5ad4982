import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { createRng } from "../rng.ts";
import { useCpu } from "../test_util.ts";
import { maskgitGenerate, type MaskGitOptions, stepCounts } from "./maskgit.ts";

const ADDP: MaskGitOptions = { steps: 12, temperature: 6, schedule: "cosine", topP: 1, variant: "addp" };

Deno.test("stepCounts(): ADDP's ceil schedule at L = 49, S = 12, and MaskGIT's, which commits everything", () => {
  assert.deepEqual(stepCounts(49, ADDP), [49, 48, 46, 43, 39, 35, 30, 25, 19, 13, 7, 1]);
  const mg = stepCounts(49, { ...ADDP, variant: "maskgit" });
  assert.equal(mg.at(-1), 0);
  assert.ok(mg.every((n, i) => i === 0 || n < mg[i - 1]!), "strictly fewer masked every step");
  assert.deepEqual(stepCounts(10, { ...ADDP, steps: 4, schedule: "linear", variant: "maskgit" }), [7, 5, 2, 0]);
});

Deno.test("maskgitGenerate() follows the counts and never re-masks or changes known tokens", async () => {
  await useCpu();
  const [batch, tokens, k] = [3, 49, 16];
  const knownFlag = new Uint8Array(batch * tokens), knownIds = new Int32Array(batch * tokens);
  const r = createRng(5);
  for (let i = 0; i < knownFlag.length; i++) {
    // Sample 0: nothing known; 1: the top 3 rows (outpainting); 2: a random half (inpainting).
    const b = Math.floor(i / tokens), t = i % tokens;
    knownFlag[i] = b === 1 ? (t < 21 ? 1 : 0) : b === 2 ? (r.uniform() < 0.5 ? 1 : 0) : 0;
    knownIds[i] = knownFlag[i] ? r.int(k) : 0;
  }
  const unknown = [0, 1, 2].map((b) =>
    tokens - knownFlag.subarray(b * tokens, (b + 1) * tokens).reduce((a, v) => a + v, 0)
  );
  const counts = unknown.map((u) => stepCounts(u, ADDP));
  let seeded = 0;
  const random = (ids: tf.Tensor) => tf.randomNormal([ids.shape[0]!, tokens, k], 0, 2, "float32", seeded++);
  let prevMask: Uint8Array | null = null;
  await maskgitGenerate(random, batch, tokens, createRng(1), ADDP, { ids: knownIds, known: knownFlag }, (s) => {
    for (let b = 0; b < batch; b++) {
      const m = s.mask.subarray(b * tokens, (b + 1) * tokens);
      assert.equal(m.reduce((a, v) => a + v, 0), counts[b]![s.step], `sample ${b} step ${s.step}`);
    }
    for (let i = 0; i < knownFlag.length; i++) {
      if (knownFlag[i]) {
        assert.equal(s.mask[i], 0);
        assert.equal(s.ids[i], knownIds[i]);
      }
      if (prevMask) assert.ok(s.mask[i]! <= prevMask[i]!, "a committed token is never re-masked");
    }
    prevMask = Uint8Array.from(s.mask);
  });
});

Deno.test("maskgitGenerate() samples from the predicted distribution and honours top-p", async () => {
  await useCpu();
  const peaked = (ids: tf.Tensor) =>
    tf.tidy(() => tf.oneHot(tf.fill([ids.shape[0]!, 9], 3, "int32"), 5).toFloat().mul(30));
  const out = await maskgitGenerate(peaked, 2, 9, createRng(0), { ...ADDP, steps: 4, variant: "maskgit" });
  assert.ok(out.ids.every((v) => v === 3));
  // Two codes at 0.6 / 0.4: top-p 0.5 keeps only the first.
  const two = (ids: tf.Tensor) =>
    tf.tidy(() => tf.log(tf.tensor1d([0.6, 0.4]).tile([ids.shape[0]! * 20]).reshape([ids.shape[0]!, 20, 2])));
  const plain = await maskgitGenerate(two, 4, 20, createRng(2), { ...ADDP, steps: 3, variant: "maskgit" });
  assert.ok(plain.ids.some((v) => v === 1));
  const top = await maskgitGenerate(two, 4, 20, createRng(2), { ...ADDP, steps: 3, variant: "maskgit", topP: 0.5 });
  assert.ok(top.ids.every((v) => v === 0));
});

Deno.test("maskgitGenerate() refuses zero steps, negative temperature and top-p outside (0, 1]", async () => {
  const f = (ids: tf.Tensor) => tf.zeros([ids.shape[0]!, 4, 2]);
  await assert.rejects(
    () => maskgitGenerate(f, 1, 4, createRng(0), { ...ADDP, steps: 0 }),
    /--steps: expected an integer ≥ 1, got 0/,
  );
  await assert.rejects(
    () => maskgitGenerate(f, 1, 4, createRng(0), { ...ADDP, temperature: -1 }),
    /--temperature: expected a number ≥ 0/,
  );
  await assert.rejects(() => maskgitGenerate(f, 1, 4, createRng(0), { ...ADDP, topP: 0 }), /--top-p/);
});
