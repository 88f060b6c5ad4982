import assert from "node:assert/strict";
import { fixture } from "../test_util.ts";
import { encodeCifarBatch, parseCifarBatch, readCifarDir } from "./cifar.ts";

Deno.test("readCifarDir() reads CIFAR-10 and CIFAR-100 fixtures", async () => {
  const c10 = await readCifarDir(fixture("cifar10"), "cifar10");
  assert.equal(c10.train.count, 6);
  assert.equal(c10.test.count, 3);
  assert.equal(c10.classes[9], "truck");
  const c100 = await readCifarDir(fixture("cifar100"), "cifar100");
  assert.equal(c100.train.count, 6);
  assert.equal(c100.classes.length, 100);
  assert.deepEqual([...c100.train.labels.slice(0, 3)], [0, 1, 2]);
});

Deno.test("parseCifarBatch() converts planar RGB to channels-last and round-trips", () => {
  const images = Uint8Array.from({ length: 2 * 3072 }, (_, i) => (i * 7) % 251);
  const enc = encodeCifarBatch(images, [3, 4], "cifar10");
  const dec = parseCifarBatch(enc, "b", "cifar10");
  assert.deepEqual(dec.images, images);
  assert.deepEqual([...dec.labels], [3, 4]);
  // Pixel 1's green value sits at 1 + 1024 in the record body.
  assert.equal(enc[1 + 1024 + 1], images[3 * 1 + 1]);
});

Deno.test("parseCifarBatch() rejects lengths that are not a multiple of the record size", () => {
  assert.throws(
    () => parseCifarBatch(new Uint8Array(3073 * 2 + 5), "data_batch_1.bin", "cifar10"),
    /data_batch_1\.bin: length 6151 is not a positive multiple of the cifar10 record size 3073/,
  );
  assert.throws(() => parseCifarBatch(new Uint8Array(3073), "train.bin", "cifar100"), /cifar100 record size 3074/);
  const bad = new Uint8Array(3073);
  bad[0] = 12;
  assert.throws(() => parseCifarBatch(bad, "x.bin", "cifar10"), /record 0 has label 12, expected 0–9/);
});

Deno.test("readCifarDir() names the missing file", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(readCifarDir(dir, "cifar10"), /data_batch_1\.bin: file not found/);
  await assert.rejects(readCifarDir(`${dir}/nope`, "cifar10"), /nope: directory not found/);
  await Deno.remove(dir, { recursive: true });
});
