/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes
 * of JSON (`{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`), then
 * the raw little-endian tensor bytes.
 *
 * @module
 */
import { DarlError } from "../errors.ts";

/** A tensor as stored: float32 or int32 values and a shape. */
export interface StoredTensor {
  /** "F32" or "I32". */
  dtype: "F32" | "I32";
  /** The shape. */
  shape: number[];
  /** Values, row-major. */
  data: Float32Array | Int32Array;
}

/**
 * Encodes tensors and string metadata.
 *
 * @param tensors Tensors by name.
 * @param metadata String key/values (stored under `__metadata__`).
 * @returns The file bytes.
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]), { step: "3" });
 * const { tensors, metadata } = decodeSafetensors(bytes, "x.safetensors");
 * if (tensors.get("w")!.data[1] !== 2 || metadata.step !== "3") throw new Error();
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, StoredTensor>,
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * 4;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8; // align data to 8 bytes, as the reference writer does
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4), o);
    o += t.data.length * 4;
  }
  return out;
}

/**
 * Decodes a safetensors file, validating its header.
 *
 * @param bytes The file bytes.
 * @param file The file name, for errors.
 * @returns Tensors and metadata.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file: string,
): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new DarlError(`${file}: truncated safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) {
    throw new DarlError(`${file}: bad safetensors header length ${n} for a ${bytes.length}-byte file`);
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new DarlError(`${file}: safetensors header is not valid JSON`);
  }
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const tensors = new Map<string, StoredTensor>();
  const dataStart = 8 + n;
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (info.dtype !== "F32" && info.dtype !== "I32") {
      throw new DarlError(`${file}: tensor "${name}" has dtype ${info.dtype}; darl reads F32 and I32`);
    }
    const [a, b] = info.data_offsets;
    const count = info.shape.reduce((x, y) => x * y, 1);
    if (b - a !== count * 4 || dataStart + b > bytes.length || a < 0) {
      throw new DarlError(`${file}: tensor "${name}" has offsets [${a}, ${b}] inconsistent with shape [${info.shape}]`);
    }
    const raw = bytes.slice(dataStart + a, dataStart + b);
    tensors.set(name, {
      dtype: info.dtype,
      shape: info.shape,
      data: info.dtype === "F32" ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer),
    });
  }
  return { tensors, metadata };
}
