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
 * The tasks and their data are in vtab_tasks.ts.
 *
 * @module
 */
import { adaptImages } from "../data/resize.ts";
import type { SplitData } from "../data/store.ts";
import type { Encoder } from "../nn/encoder.ts";
import { barChart } from "../viz/plot.ts";
import type { RasterImage } from "../data/png.ts";
import { cachedFeatures, DEFAULT_FEATURES, type FeatureSpec } from "./features.ts";
import { type Classifier, classifierAccuracy, disposeClassifier } from "./classifier.ts";
import { linearProbe } from "./linear_probe.ts";
import { VTAB_TASKS, type VtabGroup, type VtabTaskData } from "./vtab_tasks.ts";

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
 * import { runVtabTask, VTAB_DEFAULTS } from "./vtab.ts";
 * import { loadVtabTask } from "./vtab_tasks.ts";
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
