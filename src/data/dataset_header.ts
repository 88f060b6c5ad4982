/**
 * The header of darl's on-disk dataset format (`<dir>/header.json`): its
 * format name and version, what it records per split, how a split's bytes
 * are hashed and how the header is validated on read. Writing and opening a
 * whole dataset live in `store.ts`, which re-exports everything here.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { readInput, sha256Hex } from "./files.ts";

/**
 * Format name written in every header.
 *
 * @example
 * ```ts
 * import { DATASET_FORMAT } from "./dataset_header.ts";
 * if (DATASET_FORMAT !== "darl-dataset") throw new Error();
 * ```
 */
export const DATASET_FORMAT = "darl-dataset";
/**
 * Current format version (2: splits stored in a seeded shuffled order).
 *
 * @example
 * ```ts
 * import { DATASET_VERSION } from "./dataset_header.ts";
 * if (DATASET_VERSION !== 2) throw new Error();
 * ```
 */
export const DATASET_VERSION = 2;

/**
 * How the items of every split were ordered when written.
 *
 * @example
 * ```ts
 * import type { DatasetOrder } from "./dataset_header.ts";
 * const order: DatasetOrder = { kind: "shuffled", seed: 0 };
 * if (order.kind !== "shuffled") throw new Error();
 * ```
 */
export interface DatasetOrder {
  /** Always "shuffled": a Fisher–Yates permutation per split. */
  kind: "shuffled";
  /** Seed; split i (in name order) is permuted by the stream mixSeed(seed, i). */
  seed: number;
}

/**
 * One split as stored.
 *
 * @example
 * ```ts
 * import type { SplitHeader } from "./dataset_header.ts";
 * import { writeDataset } from "./store.ts";
 * const split = { count: 2, images: new Uint8Array(8), labels: new Uint16Array([0, 1]) };
 * const h = await writeDataset((await Deno.makeTempDir()) + "/d", { name: "d", source: "x", shape: [2, 2, 1], classes: ["a", "b"], splits: { train: split } });
 * const train: SplitHeader = h.splits.train!;
 * if (train.classCounts.join() !== "1,1" || train.labels !== "train-labels.u16") throw new Error();
 * ```
 */
export interface SplitHeader {
  /** Number of images. */
  count: number;
  /** Images file name, relative to the dataset directory. */
  images: string;
  /** Labels file name, or null when unlabelled. */
  labels: string | null;
  /** SHA-256 of the images bytes followed by the labels bytes. */
  sha256: string;
  /** Images per class (empty when unlabelled). */
  classCounts: number[];
}

/**
 * The contents of `header.json`.
 *
 * @example
 * ```ts
 * import { type DatasetHeader, readDatasetHeader } from "./dataset_header.ts";
 * import { writeDataset } from "./store.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 1, images: new Uint8Array(4), labels: null };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: [], splits: { train: split } });
 * const h: DatasetHeader = await readDatasetHeader(dir);
 * if (h.shape.join() !== "2,2,1" || h.checksum.length !== 64) throw new Error();
 * ```
 */
export interface DatasetHeader {
  /** Always "darl-dataset". */
  format: typeof DATASET_FORMAT;
  /** Format version. */
  version: number;
  /** Dataset name, e.g. "fashion-mnist". */
  name: string;
  /** Where the data came from and how it was split. */
  source: string;
  /** [H, W, C] of every image. */
  shape: [number, number, number];
  /** Class names; empty for an unlabelled dataset. */
  classes: string[];
  /** The order items were written in. */
  order: DatasetOrder;
  /** Splits by name ("train", "test"). */
  splits: Record<string, SplitHeader>;
  /** SHA-256 over the split hashes, in split-name order. */
  checksum: string;
}

/**
 * Labels as stored: uint16 little-endian, one per image.
 *
 * @param labels Class per image.
 * @returns The bytes of a `<split>-labels.u16` file.
 * @example
 * ```ts
 * import { labelsBytes } from "./dataset_header.ts";
 * if (labelsBytes(new Uint16Array([1, 258])).join() !== "1,0,2,1") throw new Error();
 * ```
 */
export function labelsBytes(labels: Uint16Array): Uint8Array {
  const out = new Uint8Array(labels.length * 2);
  const v = new DataView(out.buffer);
  labels.forEach((l, i) => v.setUint16(2 * i, l, true));
  return out;
}

/**
 * A split's `sha256`: SHA-256 of its images bytes followed by its labels
 * bytes (images alone when unlabelled).
 *
 * @param images The images file's bytes.
 * @param labels The labels file's bytes, or null.
 * @returns Lower-case hex digest.
 * @example
 * ```ts
 * import { splitHash } from "./dataset_header.ts";
 * const a = await splitHash(new Uint8Array([1, 2]), new Uint8Array([3]));
 * if (a !== await splitHash(new Uint8Array([1, 2, 3]), null) || a.length !== 64) throw new Error();
 * ```
 */
export async function splitHash(images: Uint8Array, labels: Uint8Array | null): Promise<string> {
  if (!labels) return await sha256Hex(images);
  const all = new Uint8Array(images.length + labels.length);
  all.set(images);
  all.set(labels, images.length);
  return await sha256Hex(all);
}

/**
 * Reads and validates a dataset header.
 *
 * @param dir The dataset directory.
 * @returns The header.
 * @example
 * ```ts
 * import { readDatasetHeader } from "./dataset_header.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/header.json`, JSON.stringify({ format: "darl-dataset", version: 1 }));
 * try { await readDatasetHeader(dir); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("prepare the dataset again")) throw e; }
 * ```
 */
export async function readDatasetHeader(dir: string): Promise<DatasetHeader> {
  const path = `${dir}/header.json`;
  const text = new TextDecoder().decode(await readInput(path, "a darl dataset header (run `deno task prepare`)"));
  let h: DatasetHeader;
  try {
    h = JSON.parse(text);
  } catch {
    throw new DarlError(`${path}: not valid JSON (expected a darl dataset header)`);
  }
  if (h?.format !== DATASET_FORMAT) throw new DarlError(`${path}: expected format "${DATASET_FORMAT}"`);
  if (h.version === 1) {
    throw new DarlError(
      `${path}: format version 1 keeps the source order (often grouped by class, so subsets are biased); ` +
        `prepare the dataset again (\`deno task prepare --overwrite …\`) to write version ${DATASET_VERSION}`,
    );
  }
  if (h.version !== DATASET_VERSION) {
    throw new DarlError(`${path}: format version ${h.version} is not supported (expected ${DATASET_VERSION})`);
  }
  if (!Array.isArray(h.shape) || h.shape.length !== 3 || !h.splits || typeof h.splits !== "object") {
    throw new DarlError(`${path}: missing "shape" [H, W, C] or "splits"`);
  }
  return h;
}
