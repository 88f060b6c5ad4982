/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes
 * of JSON (`{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`), then
 * the raw little-endian tensor bytes.
 *
 * @module
 */
import { DarlError } from "../errors.ts";

/**
 * A tensor as stored: float32 or int32 values and a shape.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, type StoredTensor } from "./safetensors.ts";
 * const t: StoredTensor = { dtype: "I32", shape: [2], data: new Int32Array([7, 8]) };
 * if (encodeSafetensors(new Map([["ids", t]]), {}).length < 16) throw new Error();
 * ```
 */
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
 * Decodes a safetensors file, validating its header: every tensor has a
 * known dtype, an array shape of non-negative integers and `data_offsets`
 * consistent with it, and the tensors tile the data section exactly (no
 * overlaps, no gaps, nothing past the end).
 *
 * @param bytes The file bytes.
 * @param file The file name, for errors.
 * @returns Tensors, metadata, and the data section (for checksums).
 * @example
 * ```ts
 * import { decodeSafetensors } from "./safetensors.ts";
 * const json = new TextEncoder().encode("null");
 * const bytes = new Uint8Array(8 + json.length);
 * new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
 * bytes.set(json, 8);
 * try { decodeSafetensors(bytes, "x.safetensors"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("header is not a JSON object")) throw e; }
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file: string,
): { tensors: Map<string, StoredTensor>; metadata: Record<string, string>; data: Uint8Array } {
  if (bytes.length < 8) throw new DarlError(`${file}: truncated safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) {
    throw new DarlError(`${file}: bad safetensors header length ${n} for a ${bytes.length}-byte file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new DarlError(`${file}: safetensors header is not valid JSON`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) {
    throw new DarlError(`${file}: safetensors header is not a JSON object`);
  }
  const entries = header as Record<string, unknown>;
  const meta = entries.__metadata__ ?? {};
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) {
    throw new DarlError(`${file}: safetensors "__metadata__" is not an object of strings`);
  }
  const metadata = meta as Record<string, string>;
  const tensors = new Map<string, StoredTensor>();
  const data = bytes.subarray(8 + n);
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(entries)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const where = `${file}: tensor "${name}"`;
    if (!info || typeof info !== "object") throw new DarlError(`${where}: entry is not an object`);
    if (info.dtype !== "F32" && info.dtype !== "I32") {
      throw new DarlError(`${where} has dtype ${String(info.dtype)}; darl reads F32 and I32`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new DarlError(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new DarlError(`${where}: "data_offsets" must be [begin, end], got ${JSON.stringify(offs)}`);
    }
    const [a, b] = offs as [number, number];
    const count = (shape as number[]).reduce((x, y) => x * y, 1);
    if (b - a !== count * 4 || b > data.length) {
      throw new DarlError(`${where} has offsets [${a}, ${b}] inconsistent with shape [${shape}]`);
    }
    spans.push([a, b, name]);
    const chunk = data.slice(a, b);
    tensors.set(name, {
      dtype: info.dtype,
      shape: shape as number[],
      data: info.dtype === "F32" ? new Float32Array(chunk.buffer) : new Int32Array(chunk.buffer),
    });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let end = 0;
  for (const [a, b, name] of spans) {
    if (a !== end) {
      throw new DarlError(
        `${file}: tensor "${name}" starts at byte ${a} but the previous tensor ends at ${end} (overlapping or gapped offsets)`,
      );
    }
    end = b;
  }
  if (end !== data.length) {
    throw new DarlError(`${file}: tensors cover ${end} of ${data.length} data bytes`);
  }
  return { tensors, metadata, data };
}
