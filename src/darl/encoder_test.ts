import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useCpu } from "../test_util.ts";
import { darlConfig } from "./config.ts";
import { DARL_OUTSIDE_ENCODER, darlEncoder } from "./encoder.ts";
import { initDarl } from "./model.ts";
import { namedLeaves } from "../nn/tree.ts";

const small = { dim: 32, depth: 2, heads: 2 } as const;

async function randomTokens(overrides: Parameters<typeof darlConfig>[1]) {
  const cfg = darlConfig("tiny", { ...small, ...overrides });
  const model = initDarl(cfg, 0);
  const enc = darlEncoder(model, cfg, "trained").randomInit(3);
  const images = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 7);
  const t = enc.tokens(images);
  const values = await t.data();
  tf.dispose([t, images]);
  enc.dispose();
  tf.dispose(model as never);
  return { key: enc.key, values };
}

Deno.test("random-init baseline: one cache key, and the same features, across heads, objectives and targets", async () => {
  await useCpu();
  const base = await randomTokens({});
  // After a first call, so the RoPE tables it caches are already counted.
  const before = tf.memory().numTensors;
  await randomTokens({});
  assert.equal(tf.memory().numTensors, before);
  // Every field outside the encoder, varied: the shared key is only sound if the trunk's draws really are the same.
  const variants = [
    { target: "global" as const },
    { headDepth: 2 },
    { objective: "diffusion" as const, noiseA: 0.5, noiseB: 0.5, decoderDepth: 3, decoderWidth: 48 },
    { objective: "diffusion" as const, decoderCondition: "none" as const, prediction: "eps" as const, noiseDraws: 2 },
  ];
  assert.deepEqual(new Set(variants.flatMap((v) => Object.keys(v))), new Set(DARL_OUTSIDE_ENCODER));
  for (const other of variants) {
    const r = await randomTokens(other);
    assert.equal(r.key, base.key, JSON.stringify(other));
    assert.deepEqual(r.values, base.values, JSON.stringify(other));
  }
  for (const other of [{ posEncoding: "learned" as const }, { dim: 64, heads: 2 }, { patchSize: 7 }]) {
    assert.notEqual((await randomTokens(other)).key, base.key, JSON.stringify(other));
  }
});

Deno.test("a prefix-attention model's encoder reads bidirectionally unless told otherwise", async () => {
  await useCpu();
  const cfg = darlConfig("tiny", { ...small, attention: "prefix" });
  const model = initDarl(cfg, 0);
  const enc = darlEncoder(model, cfg, "prefix");
  assert.equal(enc.causalByDefault, false);
  assert.equal(darlEncoder(model, darlConfig("tiny", small), "causal").causalByDefault, true);
  const images = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 7);
  const read = async (causal?: boolean) => {
    const t = enc.tokens(images, causal === undefined ? {} : { causal });
    const v = await t.data();
    t.dispose();
    return v;
  };
  const byDefault = await read(), bidirectional = await read(false), causal = await read(true);
  assert.deepEqual(byDefault, bidirectional);
  assert.notDeepEqual(byDefault, causal);
  tf.dispose([images, model as never]);
});

Deno.test("blockIndex() places every DARL parameter: embeddings 0, block i at i + 1, norm and head after", () => {
  const cfg = darlConfig("tiny", { ...small, depth: 3, posEncoding: "learned", headDepth: 1 });
  const params = initDarl(cfg, 0);
  const enc = darlEncoder(params, cfg, "k");
  const byIndex = new Map<number, string[]>();
  for (const [name] of namedLeaves(params as never)) {
    const i = enc.blockIndex(name);
    byIndex.set(i, [...(byIndex.get(i) ?? []), name]);
  }
  assert.deepEqual(byIndex.get(0)!.sort(), ["patchEmbed.b", "patchEmbed.w", "pos", "sos"]);
  for (const i of [1, 2, 3]) {
    assert.equal(byIndex.get(i)!.length, 12);
    assert.ok(byIndex.get(i)!.every((n) => n.startsWith(`blocks.${i - 1}.`)));
  }
  // The head's own blocks come after the trunk, with the final norm.
  assert.ok(byIndex.get(4)!.includes("norm.g") && byIndex.get(4)!.includes("head.blocks.0.mlp.fc1.w"));
  assert.deepEqual([...byIndex.keys()].sort(), [0, 1, 2, 3, 4]);
  enc.dispose();
});
