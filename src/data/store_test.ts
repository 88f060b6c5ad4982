import assert from "node:assert/strict";
import { openDataset, writeDataset } from "./store.ts";
import { exists } from "./files.ts";

const content = () => ({
  name: "t",
  source: "test",
  shape: [2, 2, 1] as [number, number, number],
  classes: ["a", "b"],
  splits: {
    train: { count: 3, images: Uint8Array.from({ length: 12 }, (_, i) => i), labels: new Uint16Array([0, 1, 1]) },
    test: { count: 1, images: new Uint8Array([9, 9, 9, 9]), labels: new Uint16Array([1]) },
  },
});

Deno.test("writeDataset() and openDataset() round-trip with counts and checksums", async () => {
  const dir = `${await Deno.makeTempDir()}/ds`;
  const h = await writeDataset(dir, content());
  assert.equal(h.splits.train!.count, 3);
  assert.deepEqual(h.splits.train!.classCounts, [1, 2]);
  assert.match(h.checksum, /^[0-9a-f]{64}$/);
  assert.deepEqual(h.order, { kind: "shuffled", seed: 0 });
  const ds = await openDataset(dir);
  assert.deepEqual([...ds.splits.train!.labels!].sort(), [0, 1, 1]);
  // Each image travels with its label: image k holds 4k … 4k + 3, labelled [0, 1, 1][k].
  for (let i = 0; i < 3; i++) {
    const k = ds.splits.train!.images[4 * i]! / 4;
    assert.deepEqual([...ds.splits.train!.images.subarray(4 * i, 4 * i + 4)], [4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3]);
    assert.equal(ds.splits.train!.labels![i], [0, 1, 1][k]);
  }
  assert.equal(ds.splits.test!.images[3], 9);
  // Refuses to overwrite, leaving the dataset intact.
  await assert.rejects(writeDataset(dir, content()), /already exists \(pass --overwrite/);
  assert.ok(await exists(`${dir}/header.json`));
});

Deno.test("openDataset() detects corruption and missing files", async () => {
  const dir = `${await Deno.makeTempDir()}/ds`;
  await writeDataset(dir, content());
  const f = `${dir}/train-images.u8`;
  const bytes = await Deno.readFile(f);
  bytes[0] = 200;
  await Deno.writeFile(f, bytes);
  await assert.rejects(openDataset(dir), /train-images\.u8: checksum mismatch/);
  await Deno.writeFile(f, bytes.subarray(0, 5));
  await assert.rejects(openDataset(dir), /train-images\.u8: 5 bytes, expected 12/);
  await assert.rejects(openDataset(`${dir}-missing`), /header\.json: file not found/);
});

Deno.test("writeDataset() leaves nothing behind when content is invalid", async () => {
  const parent = await Deno.makeTempDir();
  const bad = content();
  bad.splits.train.labels = new Uint16Array([0, 5, 1]);
  await assert.rejects(writeDataset(`${parent}/ds`, bad), /label 5 but only 2 classes/);
  const left = [];
  for await (const e of Deno.readDir(parent)) left.push(e.name);
  assert.deepEqual(left, []);
});

Deno.test("openDataset() refuses a version-1 (source-ordered) dataset, saying to prepare it again", async () => {
  const dir = `${await Deno.makeTempDir()}/ds`;
  await writeDataset(dir, content());
  const h = JSON.parse(await Deno.readTextFile(`${dir}/header.json`));
  await Deno.writeTextFile(`${dir}/header.json`, JSON.stringify({ ...h, version: 1 }));
  await assert.rejects(
    openDataset(dir),
    /header\.json: format version 1 keeps the source order .*prepare the dataset again \(`deno task prepare --overwrite …`\)/,
  );
});

Deno.test("openDataset() rejects a label outside the class range, naming the file and image", async () => {
  const dir = `${await Deno.makeTempDir()}/ds`;
  await writeDataset(dir, content());
  const h = JSON.parse(await Deno.readTextFile(`${dir}/header.json`));
  // One class fewer in the header than the labels use (checksums stay valid: only the header changed).
  await Deno.writeTextFile(`${dir}/header.json`, JSON.stringify({ ...h, classes: ["a"] }));
  await assert.rejects(openDataset(dir), /labels\.u16: image \d has label 1 but the header lists 1 classes/);
});

Deno.test("writeDataset() removes temporary directories a killed earlier run left", async () => {
  const parent = await Deno.makeTempDir();
  await Deno.mkdir(`${parent}/ds.tmp-999999999-abc123`);
  await writeDataset(`${parent}/ds`, content());
  const left = [];
  for await (const e of Deno.readDir(parent)) left.push(e.name);
  assert.deepEqual(left, ["ds"]);
});
