import assert from "node:assert/strict";
import { fixture, runTaskProcess } from "../test_util.ts";
import { encodeIdx } from "./idx.ts";
import { openDataset } from "./store.ts";
import { prepareDataset } from "./prepare.ts";

async function entries(dir: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("prepareDataset() prepares every fixture format", async () => {
  const out = await Deno.makeTempDir();
  const idx = await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: `${out}/idx`, name: "patterns" });
  assert.equal(idx.splits.train!.count, 24);
  assert.equal(idx.splits.test!.count, 12);
  assert.deepEqual(idx.classes, ["0", "1", "2"]);
  const c10 = await prepareDataset({ source: "cifar10", dir: fixture("cifar10"), out: `${out}/c10` });
  assert.deepEqual(c10.shape, [32, 32, 3]);
  const c100 = await prepareDataset({ source: "cifar100", dir: fixture("cifar100"), out: `${out}/c100` });
  assert.equal(c100.classes.length, 100);
  const split = await prepareDataset({ source: "folder", dir: fixture("folder_split"), out: `${out}/fs` });
  assert.equal(split.splits.train!.count, 6);
  assert.equal(split.splits.test!.count, 3);
  const folder = await prepareDataset({
    source: "folder",
    dir: fixture("folder"),
    out: `${out}/f`,
    testFraction: 0.34,
  });
  assert.equal(folder.splits.train!.count + folder.splits.test!.count, 10);
  assert.deepEqual(folder.splits.test!.classCounts, [1, 1, 1]);
  const ds = await openDataset(`${out}/idx`);
  assert.equal(ds.header.name, "patterns");
  await Deno.remove(out, { recursive: true });
});

Deno.test("deno task prepare: bad inputs fail with one line naming the file, and leave no dataset", async () => {
  const tmp = await Deno.makeTempDir();
  const goodImgs = await Deno.readFile(fixture("idx/train-images-idx3-ubyte"));
  const goodLabels = fixture("idx/train-labels-idx1-ubyte");
  const badMagic = goodImgs.slice();
  badMagic[2] = 0x99;
  await Deno.writeFile(`${tmp}/magic.idx`, badMagic);
  await Deno.writeFile(`${tmp}/trunc.idx`, goodImgs.subarray(0, 500));
  await Deno.mkdir(`${tmp}/cifar`);
  await Deno.writeFile(`${tmp}/cifar/data_batch_1.bin`, new Uint8Array(3073 + 10));
  await Deno.writeFile(`${tmp}/cifar/test_batch.bin`, new Uint8Array(3073));
  await Deno.mkdir(`${tmp}/mixed/a`, { recursive: true });
  await Deno.mkdir(`${tmp}/mixed/b`, { recursive: true });
  await Deno.copyFile(fixture("folder/checks/0.png"), `${tmp}/mixed/a/0.png`);
  await Deno.copyFile(fixture("folder/checks/0.png"), `${tmp}/mixed/b/0.png`);
  const { encodePngImage } = await import("./png.ts");
  await Deno.writeFile(
    `${tmp}/mixed/b/1.png`,
    encodePngImage({ width: 5, height: 8, channels: 1, data: new Uint8Array(40) }),
  );
  await Deno.mkdir(`${tmp}/empty/a`, { recursive: true });
  await Deno.mkdir(`${tmp}/empty/b`, { recursive: true });
  await Deno.copyFile(fixture("folder/checks/0.png"), `${tmp}/empty/a/0.png`);
  await Deno.writeFile(`${tmp}/labels.idx`, encodeIdx([3], new Uint8Array(3)));

  const idxArgs = (
    imgs: string,
    labels = goodLabels,
  ) => [
    "--source",
    "idx",
    "--train-images",
    imgs,
    "--train-labels",
    labels,
    "--test-images",
    imgs,
    "--out",
    `${tmp}/out`,
  ];
  const cases: [string[], RegExp][] = [
    [idxArgs(`${tmp}/nope.idx`), /nope\.idx: file not found \(expected an IDX file\)/],
    [idxArgs(`${tmp}/magic.idx`), /magic\.idx: bad IDX magic number 0x00009903/],
    [idxArgs(`${tmp}/trunc.idx`), /trunc\.idx: truncated IDX data/],
    [
      idxArgs(fixture("idx/train-images-idx3-ubyte"), `${tmp}/labels.idx`),
      /labels\.idx: has 3 labels but .* has 24 images/,
    ],
    [
      ["--source", "cifar10", "--dir", `${tmp}/cifar`, "--out", `${tmp}/out`],
      /data_batch_1\.bin: length 3083 is not a positive multiple of the cifar10 record size 3073/,
    ],
    [
      ["--source", "folder", "--dir", `${tmp}/mixed`, "--out", `${tmp}/out`],
      /mixed\/b\/1\.png: image is 5×8 but .* is 8×8/,
    ],
    [["--source", "folder", "--dir", `${tmp}/empty`, "--out", `${tmp}/out`], /empty\/b: empty class folder/],
    [["--source", "folder", "--dir", `${tmp}/missing`, "--out", `${tmp}/out`], /missing: directory not found/],
    [
      ["--source", "tarball"],
      /--source: expected one of fashion-mnist, mnist, idx, cifar10, cifar100, folder, got "tarball"/,
    ],
    [["--bogus", "1"], /--bogus: unknown flag/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runTaskProcess("prepare.ts", args);
    assert.notEqual(r.code, 0, `should fail: ${args.join(" ")}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
    assert.match(lines[0]!, /^error: /);
    assert.match(lines[0]!, pattern);
  }
  // Nothing was written: no dataset and no temporary directory.
  assert.deepEqual((await entries(tmp)).filter((n) => n.startsWith("out")), []);
  const ok = await runTaskProcess("prepare.ts", [
    "--source",
    "idx",
    "--idx-dir",
    fixture("idx"),
    "--out",
    `${tmp}/out`,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /prepared idx in .*out: 8×8×1 images, 3 classes, test 12, train 24/);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("prepareDataset() reads IDX label files far above 125k labels (no spread into Math.max)", async () => {
  const tmp = await Deno.makeTempDir();
  const n = 200_000;
  const images = Uint8Array.from({ length: n }, (_, i) => i % 251);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 7);
  await Deno.writeFile(`${tmp}/img`, encodeIdx([n, 1, 1], images));
  await Deno.writeFile(`${tmp}/lab`, encodeIdx([n], labels));
  const h = await prepareDataset({
    source: "idx",
    trainImages: `${tmp}/img`,
    trainLabels: `${tmp}/lab`,
    testImages: `${tmp}/img`,
    testLabels: `${tmp}/lab`,
    out: `${tmp}/big`,
  });
  assert.equal(h.classes.length, 7);
  assert.equal(h.splits.train!.count, n);
  await Deno.remove(tmp, { recursive: true });
});
