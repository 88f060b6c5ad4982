/**
 * The VTAB-1k task catalogue and its data (evaluation spec §A1–A3): the 19
 * tasks with their groups and class counts, and per task 800 training and
 * 200 validation examples plus the test split (or a seeded stratified draw
 * of it). dSprites location/orientation (exact factor grid) and CLEVR-like
 * count/distance (procedural renders) are built here; other tasks come from
 * prepared datasets named in a config file.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { exists, readInput, writeFileAtomic } from "../data/files.ts";
import { openDataset, type SplitData } from "../data/store.ts";
import { drawSubset, takeSplit } from "../data/subset.ts";
import { createRng, shuffle } from "../rng.ts";
import { renderClevr } from "./clevr.ts";
import { dspritesSplitIndices, renderDsprites } from "./dsprites.ts";

/**
 * VTAB's groups, plus non-VTAB extras.
 *
 * @example
 * ```ts
 * import { VTAB_TASKS, type VtabGroup } from "./vtab_tasks.ts";
 * const g: VtabGroup = VTAB_TASKS.dsprites_loc!.group;
 * if (g !== "structured") throw new Error();
 * ```
 */
export type VtabGroup = "natural" | "specialized" | "structured" | "extra";

/**
 * The 19 VTAB tasks with their groups and class counts (§A1).
 *
 * @example
 * ```ts
 * import { VTAB_TASKS } from "./vtab_tasks.ts";
 * if (Object.keys(VTAB_TASKS).length !== 19 || VTAB_TASKS.sun397!.classes !== 397) throw new Error();
 * ```
 */
export const VTAB_TASKS: Record<string, { group: Exclude<VtabGroup, "extra">; classes: number }> = {
  caltech101: { group: "natural", classes: 102 },
  cifar100: { group: "natural", classes: 100 },
  dtd: { group: "natural", classes: 47 },
  flowers102: { group: "natural", classes: 102 },
  pets: { group: "natural", classes: 37 },
  sun397: { group: "natural", classes: 397 },
  svhn: { group: "natural", classes: 10 },
  camelyon: { group: "specialized", classes: 2 },
  eurosat: { group: "specialized", classes: 10 },
  resisc45: { group: "specialized", classes: 45 },
  retinopathy: { group: "specialized", classes: 5 },
  clevr_count: { group: "structured", classes: 8 },
  clevr_dist: { group: "structured", classes: 6 },
  dmlab: { group: "structured", classes: 6 },
  kitti_dist: { group: "structured", classes: 4 },
  dsprites_loc: { group: "structured", classes: 16 },
  dsprites_ori: { group: "structured", classes: 16 },
  snorb_azim: { group: "structured", classes: 18 },
  snorb_elev: { group: "structured", classes: 9 },
};

/** Tasks darl builds itself. */
export const PROCEDURAL_TASKS = ["dsprites_loc", "dsprites_ori", "clevr_count", "clevr_dist"];

/**
 * A task's data: 800 train, 200 validation, the test split.
 *
 * @example
 * ```ts
 * import { loadVtabTask, type VtabTaskData } from "./vtab_tasks.ts";
 * const t: VtabTaskData = await loadVtabTask("dsprites_ori", null, { maxTest: 10, cacheDir: "" });
 * if (t.train800.count !== 800 || t.val200.count !== 200 || t.test.count !== 10) throw new Error();
 * ```
 */
export interface VtabTaskData {
  /** Task name. */
  name: string;
  /** Its group. */
  group: VtabGroup;
  /** Number of classes. */
  classes: number;
  /** [H, W, C] of the images. */
  shape: [number, number, number];
  /** The first 800 training examples. */
  train800: SplitData;
  /** The first 200 validation examples. */
  val200: SplitData;
  /** The test split. */
  test: SplitData;
  /** Where the data came from. */
  source: string;
  /** A stable identity for feature caching. */
  key: string;
}

async function cachedRender(
  file: string,
  count: number,
  size: number,
  render: () => { images: Uint8Array; labels: Uint16Array },
): Promise<SplitData> {
  if (!file) return { count, ...render() };
  if (await exists(file)) {
    const bytes = await Deno.readFile(file);
    if (bytes.length === count * (size + 2)) {
      const labels = new Uint16Array(bytes.slice(count * size).buffer);
      return { count, images: bytes.subarray(0, count * size), labels };
    }
  }
  const r = render();
  const all = new Uint8Array(count * (size + 2));
  all.set(r.images);
  all.set(new Uint8Array(r.labels.buffer), count * size);
  await Deno.mkdir(file.replace(/\/[^/]*$/, ""), { recursive: true });
  await writeFileAtomic(file, all);
  return { count, images: r.images, labels: r.labels };
}

/**
 * Where a configured task's data lives.
 *
 * @example
 * ```ts
 * import type { TaskSource } from "./vtab_tasks.ts";
 * const svhn: TaskSource = { data: "data/svhn" }; // a prepared dataset with train and test splits
 * if (!svhn.data) throw new Error();
 * ```
 */
export interface TaskSource {
  /** A prepared darl dataset with train and test splits. */
  data: string;
}

/**
 * Loads (or renders) a task's VTAB-1k splits. With `maxTest`, the test
 * split is a seeded draw: procedural tasks take the first images of their
 * (already random) test order, prepared datasets a draw stratified by class.
 *
 * @param name A VTAB task, or an extra task name.
 * @param source For non-procedural tasks: the prepared dataset.
 * @param opts Test-split limit and cache directory ("" renders without caching).
 * @returns The task's data.
 *
 * @example
 * ```ts
 * import { loadVtabTask } from "./vtab_tasks.ts";
 * const t = await loadVtabTask("clevr_count", null, { maxTest: 8, cacheDir: "" });
 * if (t.shape.join() !== "64,64,3" || t.classes !== 8) throw new Error();
 * ```
 */
export async function loadVtabTask(
  name: string,
  source: TaskSource | null,
  opts: { maxTest?: number; cacheDir?: string } = {},
): Promise<VtabTaskData> {
  const cache = opts.cacheDir ?? ".cache/vtab";
  const cacheFile = (f: string) => (cache ? `${cache}/${f}` : "");
  const limit = (n: number) => Math.min(n, opts.maxTest ?? Infinity);
  if (name === "dsprites_loc" || name === "dsprites_ori") {
    const size = 64 * 64;
    const test = dspritesSplitIndices("test");
    const nTest = limit(test.length);
    const part = (split: "train" | "val" | "test", n: number) =>
      cachedRender(
        cacheFile(`${name}-${split}-${n}.bin`),
        n,
        size,
        () => renderDsprites(name, dspritesSplitIndices(split).subarray(0, n)),
      );
    return {
      name,
      group: "structured",
      classes: 16,
      shape: [64, 64, 1],
      train800: await part("train", 800),
      val200: await part("val", 200),
      test: await part("test", nTest),
      source: "procedural dSprites (full factor grid, seeded 80/10/10 split)",
      key: `${name}:v1:${nTest}`,
    };
  }
  if (name === "clevr_count" || name === "clevr_dist") {
    const size = 64 * 64 * 3, nTest = limit(15000);
    const part = (split: "train" | "val" | "test", n: number) =>
      cachedRender(cacheFile(`${name}-${split}-${n}.bin`), n, size, () => renderClevr(name, split, n));
    return {
      name,
      group: "structured",
      classes: name === "clevr_count" ? 8 : 6,
      shape: [64, 64, 3],
      train800: await part("train", 800),
      val200: await part("val", 200),
      test: await part("test", nTest),
      source: "procedural CLEVR-like renders (3–10 objects, ray-traced 64×64)",
      key: `${name}:v1:${nTest}`,
    };
  }
  if (!source) {
    throw new DarlError(`task "${name}": no data (add it to the --config file as {"data": "<prepared dataset>"})`);
  }
  const ds = await openDataset(source.data);
  const train = ds.splits.train, test = ds.splits.test;
  if (!train?.labels || !test?.labels) {
    throw new DarlError(`${source.data}: task "${name}" needs labelled train and test splits`);
  }
  const size = ds.header.shape.reduce((a, b) => a * b);
  // Prepared datasets may be ordered by class, so VTAB's "first 800" is taken
  // from a seeded shuffle of train; validation comes from its last 10% (at
  // least 200), as VTAB does for datasets without a validation split.
  const order = shuffle(Array.from({ length: train.count }, (_, i) => i), createRng(0x7ab));
  const valStart = Math.min(Math.floor(0.9 * train.count), train.count - 200);
  if (valStart < 800) {
    throw new DarlError(
      `${source.data}: task "${name}" needs at least 1,000 training images for 800 + 200 (has ${train.count})`,
    );
  }
  const testIdx = drawSubset(test, limit(test.count), 0x7e57);
  const vt = VTAB_TASKS[name];
  return {
    name,
    group: vt ? vt.group : "extra",
    classes: ds.header.classes.length,
    shape: ds.header.shape,
    train800: takeSplit(train, order.slice(0, 800), size),
    val200: takeSplit(train, order.slice(valStart, valStart + 200), size),
    test: takeSplit(test, testIdx, size),
    source: `${source.data} (${ds.header.name})`,
    key: `${ds.header.checksum}:${testIdx.length < test.count ? `draw-${testIdx.length}` : "all"}`,
  };
}

/**
 * Reads a VTAB config file: `{"tasks": {"<vtab task>": {"data": "<prepared dataset dir>"}}}`.
 *
 * @param path The file.
 * @returns Task sources by name.
 */
export async function readVtabConfig(path: string): Promise<Record<string, TaskSource>> {
  const text = new TextDecoder().decode(await readInput(path, "a VTAB config (JSON)"));
  let json: { tasks?: Record<string, TaskSource> };
  try {
    json = JSON.parse(text);
  } catch {
    throw new DarlError(`${path}: not valid JSON (expected {"tasks": {"<task>": {"data": "<dir>"}}})`);
  }
  const tasks = json.tasks;
  if (!tasks || typeof tasks !== "object") throw new DarlError(`${path}: missing "tasks" object`);
  for (const [name, src] of Object.entries(tasks)) {
    if (!src || typeof src.data !== "string") throw new DarlError(`${path}: task "${name}" needs a "data" path`);
    if (!(await exists(`${src.data}/header.json`))) {
      throw new DarlError(
        `${path}: task "${name}": ${src.data}/header.json: file not found (prepare the dataset first)`,
      );
    }
  }
  return tasks;
}

/**
 * Which tasks run and where their data comes from: the procedural tasks
 * plus those a `--task-data` file maps to prepared datasets, or the tasks
 * asked for (each must be procedural or mapped).
 *
 * @param taskData A `--task-data` file, or "".
 * @param asked Tasks asked for (empty: all available).
 * @returns The tasks in order and the data sources of the mapped ones.
 */
export async function resolveVtabTasks(
  taskData: string,
  asked: string[],
): Promise<{ tasks: string[]; sources: Record<string, TaskSource> }> {
  const sources = taskData ? await readVtabConfig(taskData) : {};
  for (const name of Object.keys(sources)) {
    if (!(name in VTAB_TASKS)) {
      throw new DarlError(
        `${taskData}: unknown VTAB task "${name}" (expected one of ${Object.keys(VTAB_TASKS).join(", ")})`,
      );
    }
  }
  const tasks = asked.length ? asked : [...PROCEDURAL_TASKS, ...Object.keys(sources)];
  for (const t of tasks) {
    if (!PROCEDURAL_TASKS.includes(t) && !sources[t]) {
      throw new DarlError(`--tasks: "${t}" is not built here; map it to a prepared dataset in a --task-data file`);
    }
  }
  return { tasks, sources };
}
