/**
 * The IDX format of MNIST and Fashion-MNIST (evaluation spec §A8): two zero
 * bytes, a type byte, the number of dimensions, one big-endian u32 per
 * dimension, then row-major big-endian data.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { readInput } from "./files.ts";

/**
 * A parsed IDX file.
 *
 * @example
 * ```ts
 * import { type IdxArray, parseIdx } from "./idx.ts";
 * const labels: IdxArray = parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 4, 1, 9]), "labels.idx");
 * if (labels.dims.join() !== "3" || labels.type !== 0x08) throw new Error();
 * ```
 */
export interface IdxArray {
  /** Dimensions, e.g. [60000, 28, 28] for images or [60000] for labels. */
  dims: number[];
  /** The element type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64). */
  type: number;
  /** The values, converted to native order. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPE_SIZES: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

/**
 * Parses IDX bytes.
 *
 * @param bytes The file contents.
 * @param file The file name, for errors.
 * @returns The array.
 * @example
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
 * const a = parseIdx(bytes, "labels.idx");
 * if (a.dims[0] !== 2 || a.data[1] !== 9) throw new Error();
 * ```
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) {
    throw new DarlError(`${file}: truncated IDX file (${bytes.length} bytes; expected a 4-byte magic number)`);
  }
  const type = bytes[2]!, ndim = bytes[3]!;
  const size = TYPE_SIZES[type];
  if (bytes[0] !== 0 || bytes[1] !== 0 || size === undefined || ndim === 0) {
    const magic = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    throw new DarlError(
      `${file}: bad IDX magic number 0x${magic} (expected 0x0000 + type 08/09/0B/0C/0D/0E + ndim, e.g. 0x00000803 for images)`,
    );
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) {
    throw new DarlError(`${file}: truncated IDX header (expected ${headerLen} bytes, found ${bytes.length})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerLen + count * size;
  if (bytes.length < expected) {
    throw new DarlError(
      `${file}: truncated IDX data (dims [${dims.join(", ")}] need ${expected} bytes, found ${bytes.length})`,
    );
  }
  if (bytes.length > expected) {
    throw new DarlError(
      `${file}: ${bytes.length - expected} unexpected trailing bytes after IDX data (dims [${dims.join(", ")}])`,
    );
  }
  const body = bytes.subarray(headerLen, expected);
  let data: IdxArray["data"];
  switch (type) {
    case 0x08:
      data = new Uint8Array(body);
      break;
    case 0x09:
      data = new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
      break;
    default: {
      const Ctor = { 0x0b: Int16Array, 0x0c: Int32Array, 0x0d: Float32Array, 0x0e: Float64Array }[
        type as 0x0b | 0x0c | 0x0d | 0x0e
      ];
      const out = new Ctor(count);
      const bv = new DataView(body.buffer, body.byteOffset, body.length);
      for (let i = 0; i < count; i++) {
        out[i] = type === 0x0b
          ? bv.getInt16(i * 2, false)
          : type === 0x0c
          ? bv.getInt32(i * 4, false)
          : type === 0x0d
          ? bv.getFloat32(i * 4, false)
          : bv.getFloat64(i * 8, false);
      }
      data = out;
    }
  }
  return { dims, type, data };
}

/**
 * Reads an IDX file (optionally gzipped) from disk.
 *
 * @param path The file.
 * @returns The array.
 *
 * @example
 * ```ts
 * import { readIdx } from "./idx.ts";
 * const a = await readIdx(new URL("../../fixtures/idx/t10k-images-idx3-ubyte.gz", import.meta.url).pathname);
 * if (a.dims.length !== 3) throw new Error(); // gzip is undone transparently
 * ```
 */
export async function readIdx(path: string): Promise<IdxArray> {
  return parseIdx(await readInput(path, "an IDX file"), path);
}

/**
 * Reads a pair of IDX image and label files into uint8 images
 * [N, H, W, C] (C = 1 for rank-3 image files) and integer labels.
 *
 * @param imagesPath IDX images (u8, [N, H, W] or [N, H, W, C]).
 * @param labelsPath IDX labels (u8, [N]), or null.
 * @returns Images, their shape and labels.
 */
export async function readIdxPair(
  imagesPath: string,
  labelsPath: string | null,
): Promise<{ images: Uint8Array; shape: [number, number, number]; labels: Uint16Array | null }> {
  const img = await readIdx(imagesPath);
  if (img.type !== 0x08 || (img.dims.length !== 3 && img.dims.length !== 4)) {
    throw new DarlError(
      `${imagesPath}: expected u8 images of rank 3 or 4 (magic 0x00000803/0x00000804), got type 0x${
        img.type.toString(16)
      } rank ${img.dims.length}`,
    );
  }
  const [n, h, w, c = 1] = img.dims as [number, number, number, number?];
  let labels: Uint16Array | null = null;
  if (labelsPath) {
    const lab = await readIdx(labelsPath);
    if (lab.dims.length !== 1 || (lab.type !== 0x08 && lab.type !== 0x0b && lab.type !== 0x0c)) {
      throw new DarlError(
        `${labelsPath}: expected integer labels of rank 1 (magic 0x00000801), got rank ${lab.dims.length}`,
      );
    }
    if (lab.dims[0] !== n) {
      throw new DarlError(`${labelsPath}: has ${lab.dims[0]} labels but ${imagesPath} has ${n} images`);
    }
    labels = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(lab.data[i]);
      if (v < 0 || v > 65535) throw new DarlError(`${labelsPath}: label ${v} at index ${i} is out of range 0–65535`);
      labels[i] = v;
    }
  }
  return { images: img.data as Uint8Array, shape: [h, w, c], labels };
}

/**
 * Encodes u8 data as an IDX file (used to write fixtures and exports).
 *
 * @param dims Dimensions.
 * @param data Values.
 * @returns IDX bytes.
 * @example
 * ```ts
 * import { encodeIdx, parseIdx } from "./idx.ts";
 * const a = parseIdx(encodeIdx([2, 2], new Uint8Array([1, 2, 3, 4])), "x");
 * if (a.data[3] !== 4) throw new Error();
 * ```
 */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
