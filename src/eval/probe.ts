/**
 * The probe report behind `deno task probe`: for a checkpoint and a labelled
 * dataset, features from the chosen layer are scored with L2 logistic
 * regression trained to convergence (the headline), MAE's LARS linear
 * probe, closed-form ridge (all data and 1/5/10/25 shots) and weighted kNN,
 * always beside two baselines computed the same way: raw pixels and a
 * randomly initialised model of the same config.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { exists, sha256Hex, writeFileAtomic } from "../data/files.ts";
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import type { Encoder } from "../nn/encoder.ts";
import { cachedFeatures, featureDim, type FeatureSource, type FeatureSpec } from "./features.ts";
import { KNN_DEFAULTS, knnAccuracy, type KnnConfig } from "./knn.ts";
import { type LabelledFeatures, LINEAR_PROBE_DEFAULTS, linearProbe, type LinearProbeConfig } from "./linear_probe.ts";
import { logisticRegression, LOGREG_DEFAULTS, type LogregConfig } from "./logreg.ts";
import { fewShotRidge, ridgeAccuracy } from "./ridge.ts";

/** Bumped whenever a head's results change for the same inputs, so cached scores are not reused. */
const HEADS_VERSION = 1;

/**
 * Heads, in report order: converged logistic regression, LARS linear probe, ridge, kNN.
 *
 * @example
 * ```ts
 * import { PROBE_HEADS } from "./probe.ts";
 * if (PROBE_HEADS[0] !== "logreg") throw new Error(); // the headline column
 * ```
 */
export const PROBE_HEADS = ["logreg", "linear", "ridge", "knn"] as const;

/**
 * Which heads to run.
 *
 * @example
 * ```ts
 * import type { ProbeHead } from "./probe.ts";
 * const cheap: ProbeHead[] = ["ridge", "knn"];
 * if (cheap.length !== 2) throw new Error();
 * ```
 */
export type ProbeHead = typeof PROBE_HEADS[number];

/**
 * Options of {@linkcode runProbes}.
 *
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import type { ProbeOptions } from "./probe.ts";
 * const opts = (dataset: ProbeOptions["dataset"], encoder: Encoder): ProbeOptions => ({
 *   dataset, encoder, spec: { layer: "final", pool: "grid2", causal: true }, heads: ["logreg", "ridge"], shots: [1, 5],
 * });
 * if (typeof opts !== "function") throw new Error();
 * ```
 */
export interface ProbeOptions {
  /** The dataset (train and test splits, labelled). */
  dataset: Dataset;
  /** The trained encoder (its key identifies it in the feature cache). */
  encoder: Encoder;
  /** Layer, pooling and attention. */
  spec: FeatureSpec;
  /** Heads to run. */
  heads: ProbeHead[];
  /** Few-shot sizes for ridge. */
  shots: number[];
  /** Logistic-regression settings. */
  logreg?: LogregConfig;
  /** Linear-probe hyper-parameters. */
  linear?: LinearProbeConfig;
  /** kNN settings. */
  knn?: KnnConfig;
  /** Seed of the random-init baseline. */
  randomSeed?: number;
  /** Cache directory for features and head scores ("" disables). */
  cacheDir?: string;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/**
 * One row of the report: a feature source and its scores.
 *
 * @example
 * ```ts
 * import type { ProbeRow } from "./probe.ts";
 * const row: ProbeRow = { source: "raw pixels", dim: 784, scores: { logreg: 0.855 }, details: {} };
 * if (row.scores.logreg! < 0.5) throw new Error();
 * ```
 */
export interface ProbeRow {
  /** "raw pixels", "random init", or the checkpoint's name. */
  source: string;
  /** Feature width. */
  dim: number;
  /** Accuracy per column ("logreg", "linear", "ridge", "ridge 5-shot", "knn", …). */
  scores: Record<string, number>;
  /** Per head: how it was fitted (logreg: chosen λ, held-out path, iterations). */
  details: Record<string, unknown>;
}

/**
 * The whole report.
 *
 * @example
 * ```ts
 * import { type ProbeReport, probeTable } from "./probe.ts";
 * const r: ProbeReport = {
 *   dataset: { name: "d", checksum: "c", train: 10, test: 5, classes: 2 }, spec: { layer: "final", pool: "mean", causal: true },
 *   columns: ["ridge"], rows: [{ source: "raw pixels", dim: 4, scores: { ridge: 0.8 }, details: {} }],
 * };
 * if (!probeTable(r).includes("| raw pixels | 4 | 80.00 |")) throw new Error();
 * ```
 */
export interface ProbeReport {
  /** Dataset name and checksum. */
  dataset: { name: string; checksum: string; train: number; test: number; classes: number };
  /** The feature spec used. */
  spec: FeatureSpec;
  /** Columns in order. */
  columns: string[];
  /** Rows: raw pixels, random init, the model. */
  rows: ProbeRow[];
}

function labelled(split: SplitData, name: string, dir: string): Int32Array {
  if (!split.labels) throw new DarlError(`${dir}: the ${name} split has no labels (probes need a labelled dataset)`);
  return Int32Array.from(split.labels);
}

/**
 * Runs the probes for the model and both baselines.
 *
 * @param opts Dataset, model, spec and heads.
 * @returns The report.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { openDataset, writeDataset } from "../data/store.ts";
 * import { createRng } from "../rng.ts";
 * import { initLinear, linear } from "../nn/linear.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { runProbes } from "./probe.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 20, images: Uint8Array.from({ length: 80 }, (_, i) => (Math.floor(i / 4) % 2) * 255), labels: Uint16Array.from({ length: 20 }, (_, i) => i % 2) };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: ["dark", "light"], splits: { train: split, test: split } });
 * // A toy encoder: one patch token per image, embedded linearly.
 * const make = (seed: number): Encoder => {
 *   const embed = initLinear(createRng(seed), 4, 3);
 *   return {
 *     key: `toy:${seed}`, name: `toy ${seed}`, width: 3, depth: 1, imageShape: [2, 2, 1], prefixTokens: 0, grid: 1, layers: ["final"], causalByDefault: false,
 *     tokens: (x: tf.Tensor) => linear(embed, x.reshape([x.shape[0]!, 1, 4])) as tf.Tensor3D, params: () => ({ w: embed.w }),
 *     blockIndex: () => 1, randomInit: (s: number) => make(s), dispose: () => {},
 *   };
 * };
 * const r = await runProbes({ dataset: await openDataset(dir), encoder: make(0), spec: { layer: "final", pool: "mean", causal: false }, heads: ["ridge"], shots: [], cacheDir: "" });
 * if (r.rows.length !== 3 || r.rows[0]!.scores.ridge !== 1) throw new Error();
 * ```
 */
export async function runProbes(opts: ProbeOptions): Promise<ProbeReport> {
  const log = opts.log ?? (() => {});
  const { dataset: ds, encoder } = opts;
  featureDim(opts.spec, encoder);
  const train = getSplit(ds, "train"), test = getSplit(ds, "test");
  const yTrain = labelled(train, "train", ds.dir), yTest = labelled(test, "test", ds.dir);
  const classes = ds.header.classes.length;
  const columns = [
    ...(opts.heads.includes("logreg") ? ["logreg"] : []),
    ...(opts.heads.includes("linear") ? ["linear"] : []),
    ...(opts.heads.includes("ridge") ? ["ridge", ...opts.shots.map((k) => `ridge ${k}-shot`)] : []),
    ...(opts.heads.includes("knn") ? ["knn"] : []),
  ];
  const randomSeed = opts.randomSeed ?? 1;
  const random = encoder.randomInit(randomSeed);
  const sources: [string, FeatureSource][] = [
    ["raw pixels", { kind: "pixels" }],
    [random.name, { kind: "encoder", encoder: random, spec: opts.spec }],
    [encoder.name, { kind: "encoder", encoder, spec: opts.spec }],
  ];
  const rows: ProbeRow[] = [];
  for (const [name, src] of sources) {
    const t0 = performance.now();
    const cacheDir = opts.cacheDir ?? ".cache/features";
    log(`${name}: features of ${train.count} train and ${test.count} test images`);
    const fTrain = await cachedFeatures(src, train, ds.header.shape, `${ds.header.checksum}:train`, cacheDir, log);
    const fTest = await cachedFeatures(src, test, ds.header.shape, `${ds.header.checksum}:test`, cacheDir, log);
    log(
      `${name}: ${fTrain.dim}-d features ${fTrain.cached ? "from cache" : "computed"} in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    const tr: LabelledFeatures = { x: fTrain.x, y: yTrain }, te: LabelledFeatures = { x: fTest.x, y: yTest };
    const scores: Record<string, number> = {};
    const details: Record<string, unknown> = {};
    const sourceKey = src.kind === "pixels" ? "pixels" : [src.encoder.key, src.spec];
    // Heads are deterministic functions of the features and their settings, so their scores are cached
    // too: a second probe of the same checkpoint (or the pixel baseline again) costs nothing.
    const head = async <T>(name: string, settings: unknown, run: () => Promise<T>): Promise<T> => {
      if (!cacheDir) return await run();
      const key = await sha256Hex(
        new TextEncoder().encode(JSON.stringify([HEADS_VERSION, sourceKey, ds.header.checksum, name, settings])),
      );
      const file = `${cacheDir}/heads/${key}.json`;
      if (await exists(file)) {
        log(`  ${name}: from cache`);
        return JSON.parse(await Deno.readTextFile(file)) as T;
      }
      const value = await run();
      await Deno.mkdir(`${cacheDir}/heads`, { recursive: true });
      await writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(value)));
      return value;
    };
    if (opts.heads.includes("logreg")) {
      const cfg = opts.logreg ?? LOGREG_DEFAULTS;
      const r = await head("logreg", cfg, async () => {
        const fit = await logisticRegression(tr, te, fTrain.dim, classes, cfg, log);
        return {
          accuracy: fit.accuracy,
          l2: fit.l2,
          sweep: fit.sweep,
          iterations: fit.fit.iterations,
          converged: fit.fit.converged,
          gradMax: fit.fit.gradMax,
        };
      });
      scores.logreg = r.accuracy;
      details.logreg = {
        l2: r.l2,
        sweep: r.sweep,
        iterations: r.iterations,
        converged: r.converged,
        gradMax: r.gradMax,
      };
      log(
        `  logreg ${(100 * r.accuracy).toFixed(2)}% (λ ${r.l2}; on all data ${r.iterations} iterations, ` +
          `max |gradient| ${r.gradMax.toExponential(1)}${r.converged ? "" : ", NOT converged"})`,
      );
    }
    if (opts.heads.includes("linear")) {
      const cfg = opts.linear ?? LINEAR_PROBE_DEFAULTS;
      scores.linear = await head(
        "linear",
        cfg,
        async () => (await linearProbe(tr, te, fTrain.dim, classes, cfg, log)).accuracy,
      );
      log(`  linear probe ${(100 * scores.linear).toFixed(2)}%`);
    }
    if (opts.heads.includes("ridge")) {
      const r = await head("ridge", opts.shots, async () => {
        const out: Record<string, number> = { ridge: await ridgeAccuracy(tr, te, fTrain.dim, classes) };
        for (const k of opts.shots) out[`ridge ${k}-shot`] = await fewShotRidge(tr, te, fTrain.dim, classes, k);
        return out;
      });
      Object.assign(scores, r);
      log(`  ridge ${(100 * scores.ridge!).toFixed(2)}%`);
    }
    if (opts.heads.includes("knn")) {
      const cfg = opts.knn ?? KNN_DEFAULTS;
      scores.knn = await head("knn", cfg, () => knnAccuracy(tr, te, fTrain.dim, classes, cfg, log));
      log(`  kNN ${(100 * scores.knn).toFixed(2)}%`);
    }
    rows.push({ source: name, dim: fTrain.dim, scores, details });
  }
  random.dispose();
  return {
    dataset: { name: ds.header.name, checksum: ds.header.checksum, train: train.count, test: test.count, classes },
    spec: opts.spec,
    columns,
    rows,
  };
}

/**
 * Renders a report as a markdown table (accuracies in %).
 *
 * @param r The report.
 * @returns Markdown.
 *
 * @example
 * ```ts
 * import { probeTable } from "./probe.ts";
 * const md = probeTable({
 *   dataset: { name: "fashion-mnist", checksum: "c", train: 60000, test: 10000, classes: 10 }, spec: { layer: "final", pool: "mean", causal: true },
 *   columns: ["logreg"], rows: [{ source: "raw pixels", dim: 784, scores: { logreg: 0.8557 }, details: {} }],
 * });
 * if (!md.includes("| raw pixels | 784 | 85.57 |")) throw new Error(md);
 * ```
 */
export function probeTable(r: ProbeReport): string {
  const head = `| features | dim | ${r.columns.join(" | ")} |`;
  const sep = `| --- | ---: | ${r.columns.map(() => "---:").join(" | ")} |`;
  const body = r.rows.map((row) =>
    `| ${row.source} | ${row.dim} | ${r.columns.map((c) => (100 * row.scores[c]!).toFixed(2)).join(" | ")} |`
  );
  return [
    `Probes on ${r.dataset.name} (${r.dataset.train} train / ${r.dataset.test} test, ${r.dataset.classes} classes); ` +
    `features: layer ${r.spec.layer}, ${r.spec.pool} pooling, ${
      r.spec.causal ? "causal" : "bidirectional"
    } attention. ` +
    `Test top-1 accuracy (%).`,
    "",
    head,
    sep,
    ...body,
    ...(r.columns.includes("logreg")
      ? [
        "",
        `logreg: L2 logistic regression trained to convergence, λ chosen on a held-out 10k of train (${
          r.rows.map((row) => {
            const d = row.details.logreg as { l2: number; converged: boolean } | undefined;
            return d ? `${row.source}: ${d.l2}${d.converged ? "" : ", not converged"}` : "";
          }).filter((x) => x).join("; ")
        }).`,
      ]
      : []),
  ].join("\n");
}
