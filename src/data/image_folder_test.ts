import assert from "node:assert/strict";
import { fixture } from "../test_util.ts";
import { readImageFolder } from "./image_folder.ts";
import { encodePngImage } from "./png.ts";

Deno.test("readImageFolder() reads class folders; grey images join RGB ones", async () => {
  const f = await readImageFolder(fixture("folder"));
  assert.deepEqual(f.classes, ["checks", "hstripes", "vstripes"]);
  assert.deepEqual(f.shape, [8, 8, 3]);
  assert.equal(f.files.length, 10);
  assert.deepEqual([...f.labels!], [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
  // A grey image is replicated to three equal channels.
  assert.equal(f.images[0], f.images[1]);
  assert.equal(f.images[1], f.images[2]);
});

Deno.test("readImageFolder() rejects mixed sizes and empty class folders", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/a`);
  await Deno.mkdir(`${dir}/b`);
  const png = (w: number, h: number) =>
    encodePngImage({ width: w, height: h, channels: 1, data: new Uint8Array(w * h) });
  await Deno.writeFile(`${dir}/a/0.png`, png(8, 8));
  await assert.rejects(readImageFolder(dir), new RegExp(`${dir}/b: empty class folder`));
  await Deno.writeFile(`${dir}/b/0.png`, png(8, 6));
  await assert.rejects(
    readImageFolder(dir),
    /b\/0\.png: image is 8×6 but .*a\/0\.png is 8×8 \(all images must have the same size\)/,
  );
  await Deno.writeFile(`${dir}/b/0.png`, new Uint8Array([1, 2, 3]));
  await assert.rejects(readImageFolder(dir), /b\/0\.png: not a readable PNG/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readImageFolder() reads a flat folder as unlabelled", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/x.png`, encodePngImage({ width: 2, height: 2, channels: 1, data: new Uint8Array(4) }));
  const f = await readImageFolder(dir);
  assert.equal(f.labels, null);
  assert.deepEqual(f.classes, []);
  await Deno.remove(dir, { recursive: true });
});
