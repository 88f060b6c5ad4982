/**
 * The VTAB-1k protocol (evaluation spec §A3–A4): per task, train on the
 * first 800 training examples and pick hyper-parameters (learning rate ×
 * weight decay) on the first 200 validation examples, then retrain on all
 * 1,000 and score the test split (or a seeded stratified draw of it with
 * `maxTest`). The head is a linear probe by default (BN(affine = False) +
 * linear, SGD with momentum 0.9 and L2 weight decay, VPT's lr grid), full
 * fine-tuning by option. Results are reported per task, per group (natural,
 * specialized, structured) and overall, always labelled with how many of
 * the 19 tasks ran.
 *
 * Tasks built here: dSprites location/orientation (exact factor grid) and
 * CLEVR-like count/distance (procedural renders). Other tasks come from
 * prepared datasets named in a config file; images are resized to the model.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { exists, readInput, writeFileAtomic } from "../data/files.ts";
import { adaptImages } from "../data/resize.ts";
import { openDataset, type SplitData } from "../data/store.ts";
import { drawSubset, takeSplit } from "../data/subset.ts";
import type { Encoder } from "../nn/encoder.ts";
import { createRng, shuffle } from "../rng.ts";
import { barChart } from "../viz/plot.ts";
import type { RasterImage } from "../data/png.ts";
import { renderClevr } from "./clevr.ts";
import { dspritesSplitIndices, renderDsprites } from "./dsprites.ts";
import { cachedFeatures, DEFAULT_FEATURES, type FeatureSpec } from "./features.ts";
import { type Classifier, classifierAccuracy, disposeClassifier } from "./finetune.ts";
import { linearProbe } from "./linear_probe.ts";

/**
 * VTAB's groups, plus non-VTAB extras.
 *
 * @example
 * ```ts
 * import { VTAB_TASKS, type VtabGroup } from "./vtab.ts";
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
 * import { VTAB_TASKS } from "./vtab.ts";
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
 * import { loadVtabTask, type VtabTaskData } from "./vtab.ts";
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
 * import type { TaskSource } from "./vtab.ts";
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
 * import { loadVtabTask } from "./vtab.ts";
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
 * Sweep and head settings.
 *
 * @example
 * ```ts
 * import { VTAB_DEFAULTS, type VtabOptions } from "./vtab.ts";
 * const quick: VtabOptions = { ...VTAB_DEFAULTS, lrs: [1], wds: [0], epochs: 5 };
 * if (quick.head !== "linear") throw new Error();
 * ```
 */
export interface VtabOptions {
  /** Linear probe (default) or full fine-tuning. */
  head: "linear" | "finetune";
  /** Base learning rates (per 256 examples) to sweep. */
  lrs: number[];
  /** Weight decays to sweep. */
  wds: number[];
  /** Epochs on 800 (or 1,000) examples. */
  epochs: number;
  /** Batch size. */
  batchSize: number;
  /** Feature spec for the linear head. */
  features: FeatureSpec;
  /** Feature cache directory. */
  cacheDir?: string;
  /** Fine-tuning: trains a classifier and returns it (used when head = "finetune"). */
  finetune?: (train: SplitData, classes: number, lr: number, wd: number) => Promise<Classifier>;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/**
 * The default sweep: VPT's linear-probe grid (base lrs 50 … 0.05, scaled by
 * batch/256, × weight decays 0.01 … 0: 40 pairs), SGD with momentum, ~1,000
 * steps as TA's reference run.
 *
 * @example
 * ```ts
 * import { VTAB_DEFAULTS } from "./vtab.ts";
 * if (VTAB_DEFAULTS.lrs.length * VTAB_DEFAULTS.wds.length !== 40) throw new Error(); // VPT's 10 × 4 grid
 * ```
 */
export const VTAB_DEFAULTS: VtabOptions = {
  head: "linear",
  lrs: [50, 25, 10, 5, 2.5, 1, 0.5, 0.25, 0.1, 0.05],
  wds: [0.01, 0.001, 0.0001, 0],
  epochs: 80,
  batchSize: 64,
  features: DEFAULT_FEATURES,
};

/**
 * One task's outcome.
 *
 * @example
 * ```ts
 * import { summariseVtab, type VtabTaskResult } from "./vtab.ts";
 * const r: VtabTaskResult = { name: "svhn", group: "natural", accuracy: 0.5, best: { lr: 1, wd: 0, val: 0.5 }, sweep: [], testCount: 100, source: "data/svhn" };
 * if (summariseVtab([r]).groups.natural.ran !== 1) throw new Error();
 * ```
 */
export interface VtabTaskResult {
  /** Task name. */
  name: string;
  /** Group. */
  group: VtabGroup;
  /** Test accuracy after retraining on 1,000. */
  accuracy: number;
  /** The chosen hyper-parameters and their validation accuracy. */
  best: { lr: number; wd: number; val: number };
  /** Every setting tried. */
  sweep: { lr: number; wd: number; val: number }[];
  /** Test examples scored. */
  testCount: number;
  /** Data provenance. */
  source: string;
}

function union(a: SplitData, b: SplitData, size: number): SplitData {
  const images = new Uint8Array((a.count + b.count) * size);
  images.set(a.images);
  images.set(b.images, a.count * size);
  const labels = new Uint16Array(a.count + b.count);
  labels.set(a.labels!);
  labels.set(b.labels!, a.count);
  return { count: a.count + b.count, images, labels };
}

/**
 * Runs the VTAB-1k protocol on one task.
 *
 * @param model The model (with a stable key for caching).
 * @param task The task's data.
 * @param opts Head and sweep.
 * @returns The task's result.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { loadVtabTask, runVtabTask, VTAB_DEFAULTS } from "./vtab.ts";
 * // A toy encoder: the mean of each 32×32 quadrant of a dSprites image, one token per quadrant.
 * const encoder = {
 *   key: "quadrants", name: "quadrants", width: 1, depth: 1, imageShape: [64, 64, 1], prefixTokens: 0, grid: 2, layers: ["final"], causalByDefault: false,
 *   tokens: (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, 32, 32, "valid").reshape([x.shape[0]!, 4, 1]) as tf.Tensor3D,
 * } as unknown as Encoder;
 * const task = await loadVtabTask("dsprites_loc", null, { maxTest: 50, cacheDir: "" });
 * const r = await runVtabTask(encoder, task, { ...VTAB_DEFAULTS, lrs: [1], wds: [0], epochs: 2, features: { layer: "final", pool: "grid2", causal: false }, cacheDir: "" });
 * if (r.testCount !== 50 || r.sweep.length !== 1) throw new Error();
 * ```
 */
export async function runVtabTask(
  encoder: Encoder,
  task: VtabTaskData,
  opts: VtabOptions,
): Promise<VtabTaskResult> {
  const log = opts.log ?? (() => {});
  const size = task.shape.reduce((a, b) => a * b);
  const trainval = union(task.train800, task.val200, size);
  const sweep: { lr: number; wd: number; val: number }[] = [];
  let test: number;
  if (opts.head === "linear") {
    const src = { kind: "encoder" as const, encoder, spec: opts.features };
    const feats = async (s: SplitData, part: string) => {
      const f = await cachedFeatures(src, s, task.shape, `${task.key}:${part}`, opts.cacheDir ?? ".cache/features");
      return { x: f.x, y: Int32Array.from(s.labels!), dim: f.dim };
    };
    const tr = await feats(task.train800, "train800"), va = await feats(task.val200, "val200");
    const trva = await feats(trainval, "train800val200"), te = await feats(task.test, "test");
    const fit = (
      a: { x: Float32Array; y: Int32Array },
      b: { x: Float32Array; y: Int32Array },
      lr: number,
      wd: number,
    ) =>
      linearProbe(a, b, tr.dim, task.classes, {
        optimizer: "sgd",
        weightDecay: wd,
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        blr: lr,
        warmupEpochs: Math.max(1, Math.round(opts.epochs / 10)),
        seed: 0,
      });
    for (const lr of opts.lrs) {
      for (const wd of opts.wds) {
        sweep.push({ lr, wd, val: (await fit(tr, va, lr, wd)).accuracy });
        log(
          `  ${task.name}: lr ${lr} wd ${wd}: val ${(100 * sweep.at(-1)!.val).toFixed(1)}% (${sweep.length}/${
            opts.lrs.length * opts.wds.length
          })`,
        );
      }
    }
    const best = sweep.reduce((a, b) => (b.val > a.val ? b : a));
    test = (await fit(trva, te, best.lr, best.wd)).accuracy;
  } else {
    if (!opts.finetune) throw new Error("runVtabTask: head 'finetune' needs opts.finetune");
    const adapt = (s: SplitData): SplitData => ({
      ...s,
      images: adaptImages(s.images, task.shape, [...encoder.imageShape]),
    });
    const [tr, va, trva, te] = [adapt(task.train800), adapt(task.val200), adapt(trainval), adapt(task.test)];
    const score = async (train: SplitData, eval_: SplitData, lr: number, wd: number) => {
      const clf = await opts.finetune!(train, task.classes, lr, wd);
      try {
        return await classifierAccuracy(clf, eval_);
      } finally {
        disposeClassifier(clf);
      }
    };
    for (const lr of opts.lrs) {
      for (const wd of opts.wds) {
        sweep.push({ lr, wd, val: await score(tr!, va!, lr, wd) });
        log(
          `  ${task.name}: lr ${lr} wd ${wd}: val ${(100 * sweep.at(-1)!.val).toFixed(1)}% (${sweep.length}/${
            opts.lrs.length * opts.wds.length
          })`,
        );
      }
    }
    const best = sweep.reduce((a, b) => (b.val > a.val ? b : a));
    test = await score(trva!, te!, best.lr, best.wd);
  }
  const best = sweep.reduce((a, b) => (b.val > a.val ? b : a));
  log(
    `${task.name}: best lr ${best.lr} wd ${best.wd} (val ${(100 * best.val).toFixed(1)}%) → test ${
      (100 * test).toFixed(2)
    }%`,
  );
  return {
    name: task.name,
    group: task.group,
    accuracy: test,
    best,
    sweep,
    testCount: task.test.count,
    source: task.source,
  };
}

/**
 * Means over whatever ran, each labelled with its task count.
 *
 * @example
 * ```ts
 * import { summariseVtab, type VtabSummary } from "./vtab.ts";
 * const s: VtabSummary = summariseVtab([]);
 * if (s.overall.ran !== 0 || s.missing.length !== 19) throw new Error();
 * ```
 */
export interface VtabSummary {
  /** Per group: mean accuracy and how many of the group's tasks ran. */
  groups: Record<Exclude<VtabGroup, "extra">, { mean: number | null; ran: number; of: number }>;
  /** Mean over the VTAB tasks that ran. */
  overall: { mean: number | null; ran: number; of: 19 };
  /** Mean of the group means that exist. */
  meanOfGroupMeans: { mean: number | null; groups: number };
  /** VTAB tasks that did not run. */
  missing: string[];
}

/**
 * Aggregates per-task results (extras are excluded from every VTAB mean).
 *
 * @param results Task results.
 * @returns Group and overall means with counts.
 * @example
 * ```ts
 * import { summariseVtab } from "./vtab.ts";
 * const s = summariseVtab([{ name: "dsprites_loc", group: "structured", accuracy: 0.5 } as never]);
 * if (s.overall.ran !== 1 || s.groups.natural.mean !== null || s.missing.length !== 18) throw new Error();
 * ```
 */
export function summariseVtab(results: VtabTaskResult[]): VtabSummary {
  const vt = results.filter((r) => r.group !== "extra");
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const groups = {} as VtabSummary["groups"];
  for (const g of ["natural", "specialized", "structured"] as const) {
    const of = Object.values(VTAB_TASKS).filter((t) => t.group === g).length;
    const accs = vt.filter((r) => r.group === g).map((r) => r.accuracy);
    groups[g] = { mean: mean(accs), ran: accs.length, of };
  }
  const gm = Object.values(groups).map((g) => g.mean).filter((m): m is number => m !== null);
  return {
    groups,
    overall: { mean: mean(vt.map((r) => r.accuracy)), ran: vt.length, of: 19 },
    meanOfGroupMeans: { mean: mean(gm), groups: gm.length },
    missing: Object.keys(VTAB_TASKS).filter((n) => !vt.some((r) => r.name === n)),
  };
}

/**
 * The VTAB report as markdown.
 *
 * @param results Task results.
 * @param title A heading.
 * @returns Markdown.
 *
 * @example
 * ```ts
 * import { vtabMarkdown } from "./vtab.ts";
 * const md = vtabMarkdown([{ name: "dsprites_loc", group: "structured", accuracy: 0.54, best: { lr: 1, wd: 0, val: 0.5 }, sweep: [], testCount: 5000, source: "procedural" }], "demo");
 * if (!md.includes("(1 of 19 tasks; not a 19-task VTAB mean)")) throw new Error(md);
 * ```
 */
export function vtabMarkdown(results: VtabTaskResult[], title: string): string {
  const s = summariseVtab(results);
  const pct = (v: number | null) => (v === null ? "—" : `${(100 * v).toFixed(2)}`);
  const lines = [
    `# ${title}`,
    "",
    "| task | group | test acc. (%) | test images | chosen lr / wd (val acc. %) | data |",
    "| --- | --- | ---: | ---: | --- | --- |",
    ...results.map((r) =>
      `| ${r.name} | ${r.group === "extra" ? "extra (not VTAB)" : r.group} | ${pct(r.accuracy)} | ${r.testCount} | ` +
      `${r.best.lr} / ${r.best.wd} (${pct(r.best.val)}) | ${r.source} |`
    ),
    "",
    ...(["natural", "specialized", "structured"] as const).map((g) =>
      `- ${g} mean: ${
        s.groups[g].ran
          ? `${pct(s.groups[g].mean)} (${s.groups[g].ran} of ${s.groups[g].of} tasks)`
          : `— (0 of ${s.groups[g].of} tasks ran)`
      }`
    ),
    `- mean over the VTAB tasks that ran: ${
      s.overall.ran
        ? `${pct(s.overall.mean)} (${s.overall.ran} of 19 tasks${
          s.overall.ran < 19 ? "; not a 19-task VTAB mean" : ""
        })`
        : "—"
    }`,
    `- mean of group means: ${
      s.meanOfGroupMeans.groups ? `${pct(s.meanOfGroupMeans.mean)} (${s.meanOfGroupMeans.groups} of 3 groups)` : "—"
    }`,
    `- missing VTAB tasks (${s.missing.length}): ${s.missing.join(", ") || "none"}`,
  ];
  return lines.join("\n") + "\n";
}

/**
 * A bar chart of per-task accuracy, coloured by group.
 *
 * @param results Task results.
 * @param title The title.
 * @returns An RGB image.
 */
export function vtabChart(results: VtabTaskResult[], title: string): RasterImage {
  const groupIndex = { natural: 0, specialized: 1, structured: 2, extra: 7 };
  return barChart(
    results.map((r) => ({ label: r.name, value: 100 * r.accuracy, group: groupIndex[r.group] })),
    { title, max: 100 },
  );
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

/**
 * The sweep of a head, where the flags left it open: the linear head sweeps
 * VPT's grid for 80 epochs, the fine-tuning head lrs 1e-3 and 1e-4 × weight
 * decays 0.05 and 0 for 10 epochs.
 *
 * @param head "linear" or "finetune".
 * @param given Lrs, weight decays (empty: the head's) and epochs (0: the head's).
 * @returns The sweep.
 * @example
 * ```ts
 * import { headSweep } from "./vtab.ts";
 * if (headSweep("finetune", { lrs: [], wds: [], epochs: 0 }).epochs !== 10) throw new Error();
 * ```
 */
export function headSweep(
  head: "linear" | "finetune",
  given: { lrs: number[]; wds: number[]; epochs: number },
): { lrs: number[]; wds: number[]; epochs: number } {
  const ft = head === "finetune";
  return {
    lrs: given.lrs.length ? given.lrs : ft ? [1e-3, 1e-4] : VTAB_DEFAULTS.lrs,
    wds: given.wds.length ? given.wds : ft ? [0.05, 0] : VTAB_DEFAULTS.wds,
    epochs: given.epochs || (ft ? 10 : VTAB_DEFAULTS.epochs),
  };
}
