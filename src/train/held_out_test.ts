import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useCpu } from "../test_util.ts";
import { heldOutLoss } from "./held_out.ts";

// 30 one-pixel images grouped by class (as npm datasets arrive): class c's images have value 100·c + i.
const labels = Uint16Array.from({ length: 30 }, (_, i) => Math.floor(i / 10));
const split = { count: 30, images: Uint8Array.from(labels, (c, i) => 100 * c + (i % 10)), labels };
const unit = (v: number) => v / 127.5 - 1;

Deno.test("heldOutLoss(): a per-image mean over a fixed stratified draw, whatever the chunking", async () => {
  await useCpu();
  const seen: number[][] = [], chunks: number[] = [];
  const measure = heldOutLoss({ train: split }, { evalImages: 9 }, [1, 1, 1], (x, c) => {
    seen.push([...x.dataSync()]);
    chunks.push(c);
    return tf.mean(x);
  }, 4);
  const first = await measure();
  const drawn = seen.flat();
  // 9 images in chunks of 4, 4 and 1, three of each class (the first 9 would be one class).
  assert.deepEqual(seen.map((s) => s.length), [4, 4, 1]);
  assert.deepEqual(chunks, [0, 1, 2]);
  assert.deepEqual([0, 1, 2].map((c) => drawn.filter((v) => Math.floor((v + 1) * 127.5 / 100 + 1e-6) === c).length), [
    3,
    3,
    3,
  ]);
  const mean = drawn.reduce((a, b) => a + b, 0) / drawn.length;
  assert.ok(Math.abs(first.eval_train_loss! - mean) < 1e-6, `${first.eval_train_loss} vs ${mean}`);
  // The same images at every measurement.
  seen.length = 0;
  assert.deepEqual(await measure(), first);
  assert.deepEqual(seen.flat(), drawn);
  assert.ok(drawn.every((v) => split.images.some((u) => Math.abs(unit(u) - v) < 1e-6)));
});

Deno.test("heldOutLoss(): disposes every tensor and caps the draw at the split's size", async () => {
  await useCpu();
  const measure = heldOutLoss({ test: split }, { evalImages: 1000 }, [1, 1, 1], (x) => tf.mean(tf.square(x)), 7);
  await measure();
  const before = tf.memory().numTensors;
  const r = await measure();
  assert.equal(tf.memory().numTensors, before);
  const all = [...split.images].map(unit);
  assert.ok(Math.abs(r.eval_test_loss! - all.reduce((a, v) => a + v * v, 0) / 30) < 1e-6);
});
