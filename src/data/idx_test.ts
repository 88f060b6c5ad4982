import assert from "node:assert/strict";
import { DarlError } from "../errors.ts";
import { fixture } from "../test_util.ts";
import { encodeIdx, parseIdx, readIdx, readIdxPair } from "./idx.ts";

Deno.test("readIdxPair() reads the IDX fixtures, plain and gzipped", async () => {
  const train = await readIdxPair(fixture("idx/train-images-idx3-ubyte"), fixture("idx/train-labels-idx1-ubyte"));
  assert.deepEqual(train.shape, [8, 8, 1]);
  assert.equal(train.images.length, 24 * 64);
  assert.deepEqual([...train.labels!.slice(0, 4)], [0, 1, 2, 0]);
  const test = await readIdx(fixture("idx/t10k-images-idx3-ubyte.gz"));
  assert.deepEqual(test.dims, [12, 8, 8]);
});

Deno.test("parseIdx() reads big-endian wider types", () => {
  const bytes = new Uint8Array([0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe]);
  assert.deepEqual([...parseIdx(bytes, "x").data], [256, -2]);
});

Deno.test("parseIdx() rejects a bad magic number, naming the file", () => {
  const good = encodeIdx([2, 2], new Uint8Array(4));
  const bad = good.slice();
  bad[2] = 0x42;
  assert.throws(
    () => parseIdx(bad, "imgs.idx"),
    (e: Error) => e instanceof DarlError && /imgs\.idx: bad IDX magic number 0x00004202/.test(e.message),
  );
  const zero = good.slice();
  zero[0] = 1;
  assert.throws(() => parseIdx(zero, "imgs.idx"), /bad IDX magic/);
});

Deno.test("parseIdx() rejects truncated headers and data", () => {
  const good = encodeIdx([3, 2, 2], new Uint8Array(12));
  assert.throws(() => parseIdx(good.subarray(0, 2), "a"), /a: truncated IDX file/);
  assert.throws(() => parseIdx(good.subarray(0, 10), "a"), /a: truncated IDX header \(expected 16 bytes, found 10\)/);
  assert.throws(
    () => parseIdx(good.subarray(0, 20), "a"),
    /a: truncated IDX data \(dims \[3, 2, 2\] need 28 bytes, found 20\)/,
  );
  assert.throws(() => parseIdx(new Uint8Array([...good, 1]), "a"), /trailing bytes/);
});

Deno.test("readIdxPair() rejects mismatched label counts and missing files", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/l`, encodeIdx([5], new Uint8Array(5)));
  await assert.rejects(
    readIdxPair(fixture("idx/train-images-idx3-ubyte"), `${dir}/l`),
    /has 5 labels but .* has 24 images/,
  );
  await assert.rejects(readIdxPair(`${dir}/missing`, null), /missing: file not found \(expected an IDX file\)/);
  await Deno.writeFile(`${dir}/bad.gz`, new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]));
  await assert.rejects(readIdx(`${dir}/bad.gz`), /bad\.gz: corrupt or truncated gzip data/);
  await Deno.remove(dir, { recursive: true });
});
