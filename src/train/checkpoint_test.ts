import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { sha256Hex } from "../data/files.ts";
import { useCpu } from "../test_util.ts";
import { type CheckpointMeta, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "./safetensors.ts";

const META: CheckpointMeta = { format: "darl-checkpoint", method: "demo", step: 3, model: {}, train: {}, state: {} };

/** A safetensors file from a raw header object and data bytes. */
function rawFile(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("decodeSafetensors() rejects malformed headers with one line naming the file and tensor", () => {
  const data = new Uint8Array(8);
  const bad: [unknown, RegExp][] = [
    [null, /x\.st: safetensors header is not a JSON object/],
    [[1, 2], /header is not a JSON object/],
    [{ w: { dtype: "F32", shape: [2] } }, /tensor "w": "data_offsets" must be \[begin, end\], got undefined/],
    [
      { w: { dtype: "F32", shape: 2, data_offsets: [0, 8] } },
      /tensor "w": "shape" must be an array of non-negative integers, got 2/,
    ],
    [{ w: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, /"shape" must be an array of non-negative integers/],
    [{ w: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, /tensor "w" has dtype F64/],
    [{ w: null }, /tensor "w": entry is not an object/],
    [{ w: { dtype: "F32", shape: [3], data_offsets: [0, 12] } }, /offsets \[0, 12\] inconsistent with shape \[3\]/],
    // Overlapping: two tensors share bytes 0–4.
    [
      { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [2], data_offsets: [0, 8] } },
      /tensor "b" starts at byte 0 but the previous tensor ends at 4 \(overlapping or gapped offsets\)/,
    ],
    [{ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, /tensors cover 4 of 8 data bytes/],
    [{ __metadata__: [1], a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, /"__metadata__" is not an object/],
  ];
  for (const [header, re] of bad) assert.throws(() => decodeSafetensors(rawFile(header, data), "x.st"), re);
});

Deno.test("loadCheckpoint() detects a flipped byte, bad metadata and non-finite values; saveCheckpoint() writes none", async () => {
  await useCpu();
  const dir = await Deno.makeTempDir(), path = `${dir}/ckpt-0000003.safetensors`;
  await saveCheckpoint(path, { w: tf.tensor1d([1, 2, 3, 4]) }, null, META);
  assert.equal((await loadCheckpoint(path)).meta.step, 3);
  const bytes = await Deno.readFile(path);
  const flipped = bytes.slice();
  flipped[flipped.length - 3]! ^= 0x10;
  await Deno.writeFile(`${dir}/flipped.safetensors`, flipped);
  await assert.rejects(
    loadCheckpoint(`${dir}/flipped.safetensors`),
    /flipped\.safetensors: tensor data does not match its checksum/,
  );
  // Metadata: a missing model, a negative step, no checksum.
  const write = async (
    meta: Record<string, unknown>,
    t: StoredTensor = { dtype: "F32", shape: [1], data: new Float32Array([1]) },
  ) => {
    const tensors = new Map([["w", t]]);
    const sha = await sha256Hex(new Uint8Array(t.data.buffer));
    await Deno.writeFile(
      `${dir}/m.safetensors`,
      encodeSafetensors(tensors, { darl: JSON.stringify({ dataSha256: sha, ...meta }) }),
    );
    return `${dir}/m.safetensors`;
  };
  const { model: _m, ...noModel } = META;
  await assert.rejects(
    loadCheckpoint(await write(noModel)),
    /m\.safetensors: checkpoint metadata has no "model" object/,
  );
  await assert.rejects(
    loadCheckpoint(await write({ ...META, step: -1 })),
    /"step" must be a non-negative integer, got -1/,
  );
  await assert.rejects(loadCheckpoint(await write({ ...META, dataSha256: undefined })), /no tensor checksum/);
  // A NaN checkpoint with a valid checksum (as an older darl could write) is refused by every reader.
  const nan = { dtype: "F32" as const, shape: [2], data: new Float32Array([1, NaN]) };
  await assert.rejects(
    loadCheckpoint(await write({ ...META }, nan)),
    /1 of 1 tensors hold NaN or Inf \(w\); the run had diverged/,
  );
  // And saveCheckpoint never writes one.
  await assert.rejects(
    saveCheckpoint(`${dir}/nan.safetensors`, { w: tf.tensor1d([0, Infinity]) }, null, META),
    /nan\.safetensors: not written: 1 of 1 tensors hold NaN or Inf \(w\)/,
  );
  await assert.rejects(Deno.stat(`${dir}/nan.safetensors`), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});
