/**
 * CIFAR-10/100 binary batches (evaluation spec §A8). A CIFAR-10 record is a
 * label byte then 1024 R, 1024 G, 1024 B bytes (32×32, row-major); a
 * CIFAR-100 record has two label bytes (coarse, fine).
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { exists, listDir, readInput } from "./files.ts";

/**
 * Which CIFAR variant a batch file holds.
 *
 * @example
 * ```ts
 * import { type CifarVariant, cifarRecordSize } from "./cifar.ts";
 * const v: CifarVariant = "cifar100"; // coarse and fine label bytes
 * if (cifarRecordSize(v) !== 3074) throw new Error();
 * ```
 */
export type CifarVariant = "cifar10" | "cifar100";

/**
 * Decoded CIFAR records: HWC uint8 images and labels.
 *
 * @example
 * ```ts
 * import { type CifarBatch, encodeCifarBatch, parseCifarBatch } from "./cifar.ts";
 * const bytes = encodeCifarBatch(new Uint8Array(2 * 3072), [3, 7], "cifar10");
 * const b: CifarBatch = parseCifarBatch(bytes, "batch.bin", "cifar10");
 * if (b.labels.join() !== "3,7" || b.images.length !== 2 * 3072) throw new Error();
 * ```
 */
export interface CifarBatch {
  /** [N, 32, 32, 3] uint8, channels last. */
  images: Uint8Array;
  /** Class index per image (the fine label for CIFAR-100). */
  labels: Uint16Array;
  /** Number of records. */
  count: number;
}

/**
 * Bytes per record.
 *
 * @param variant CIFAR-10 or CIFAR-100.
 * @returns 3073 or 3074.
 */
export function cifarRecordSize(variant: CifarVariant): number {
  return variant === "cifar10" ? 3073 : 3074;
}

/**
 * Decodes one binary batch.
 *
 * @param bytes The file contents.
 * @param file The file name, for errors.
 * @param variant CIFAR-10 or CIFAR-100.
 * @returns The records.
 * @example
 * ```ts
 * import { parseCifarBatch } from "./cifar.ts";
 * const rec = new Uint8Array(3073); rec[0] = 7; rec[1] = 255; // label 7, red of pixel 0
 * const b = parseCifarBatch(rec, "data_batch_1.bin", "cifar10");
 * if (b.labels[0] !== 7 || b.images[0] !== 255 || b.images[1] !== 0) throw new Error();
 * ```
 */
export function parseCifarBatch(bytes: Uint8Array, file: string, variant: CifarVariant): CifarBatch {
  const rec = cifarRecordSize(variant);
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    throw new DarlError(
      `${file}: length ${bytes.length} is not a positive multiple of the ${variant} record size ${rec}`,
    );
  }
  const count = bytes.length / rec;
  const images = new Uint8Array(count * 3072);
  const labels = new Uint16Array(count);
  const labelBytes = rec - 3072;
  const maxLabel = variant === "cifar10" ? 9 : 99;
  for (let n = 0; n < count; n++) {
    const base = n * rec;
    const label = bytes[base + labelBytes - 1]!;
    if (label > maxLabel) {
      throw new DarlError(`${file}: record ${n} has label ${label}, expected 0–${maxLabel} for ${variant}`);
    }
    labels[n] = label;
    const px = base + labelBytes;
    const out = n * 3072;
    for (let i = 0; i < 1024; i++) {
      images[out + 3 * i] = bytes[px + i]!;
      images[out + 3 * i + 1] = bytes[px + 1024 + i]!;
      images[out + 3 * i + 2] = bytes[px + 2048 + i]!;
    }
  }
  return { images, labels, count };
}

/**
 * Reads a CIFAR directory: CIFAR-10 (`data_batch_1..5.bin`, `test_batch.bin`,
 * `batches.meta.txt`) or CIFAR-100 (`train.bin`, `test.bin`,
 * `fine_label_names.txt`).
 *
 * @param dir The directory.
 * @param variant CIFAR-10 or CIFAR-100.
 * @returns Train and test records and class names.
 *
 * @example
 * ```ts
 * import { readCifarDir } from "./cifar.ts";
 * const c = await readCifarDir(new URL("../../fixtures/cifar10", import.meta.url).pathname, "cifar10");
 * if (c.classes.length !== 10 || c.train.count < 1) throw new Error();
 * ```
 */
export async function readCifarDir(
  dir: string,
  variant: CifarVariant,
): Promise<{ train: CifarBatch; test: CifarBatch; classes: string[] }> {
  await listDir(dir, `${variant} binary batches`);
  const trainFiles = variant === "cifar10"
    ? [1, 2, 3, 4, 5].map((i) => `${dir}/data_batch_${i}.bin`)
    : [`${dir}/train.bin`];
  const present = [];
  for (const f of trainFiles) if (await exists(f)) present.push(f);
  if (present.length === 0) {
    throw new DarlError(`${trainFiles[0]}: file not found (expected ${variant} training batches in ${dir})`);
  }
  const parts = [];
  for (const f of present) parts.push(parseCifarBatch(await readInput(f, `a ${variant} batch`), f, variant));
  const testFile = variant === "cifar10" ? `${dir}/test_batch.bin` : `${dir}/test.bin`;
  const test = parseCifarBatch(await readInput(testFile, `a ${variant} batch`), testFile, variant);
  const metaFile = variant === "cifar10" ? `${dir}/batches.meta.txt` : `${dir}/fine_label_names.txt`;
  const n = variant === "cifar10" ? 10 : 100;
  let classes = Array.from({ length: n }, (_, i) => String(i));
  if (await exists(metaFile)) {
    const names = new TextDecoder().decode(await readInput(metaFile, "class names")).split(/\r?\n/).map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (names.length !== n) {
      throw new DarlError(`${metaFile}: expected ${n} class names, one per line, found ${names.length}`);
    }
    classes = names;
  }
  return { train: concatBatches(parts), test, classes };
}

function concatBatches(parts: CifarBatch[]): CifarBatch {
  const count = parts.reduce((a, p) => a + p.count, 0);
  const images = new Uint8Array(count * 3072), labels = new Uint16Array(count);
  let o = 0;
  for (const p of parts) {
    images.set(p.images, o * 3072);
    labels.set(p.labels, o);
    o += p.count;
  }
  return { images, labels, count };
}

/**
 * Encodes records as a CIFAR binary batch (for fixtures and exports).
 *
 * @param images [N, 32, 32, 3] HWC uint8.
 * @param labels Labels (fine labels for CIFAR-100; coarse is written as 0).
 * @param variant CIFAR-10 or CIFAR-100.
 * @returns Batch bytes.
 */
export function encodeCifarBatch(images: Uint8Array, labels: ArrayLike<number>, variant: CifarVariant): Uint8Array {
  const rec = cifarRecordSize(variant), n = labels.length;
  const out = new Uint8Array(n * rec);
  for (let k = 0; k < n; k++) {
    const base = k * rec;
    out[base + rec - 3073] = labels[k]!;
    for (let i = 0; i < 1024; i++) {
      for (let c = 0; c < 3; c++) out[base + rec - 3072 + c * 1024 + i] = images[k * 3072 + 3 * i + c]!;
    }
  }
  return out;
}
