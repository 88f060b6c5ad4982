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
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import type { Encoder } from "../nn/encoder.ts";
import { cachedFeatures, featureDim, type FeatureSource, type FeatureSpec } from "./features.ts";
import { KNN_DEFAULTS, knnAccuracy, type KnnConfig } from "./knn.ts";
import { type LabelledFeatures, LINEAR_PROBE_DEFAULTS, linearProbe, type LinearProbeConfig } from "./linear_probe.ts";
import { logisticRegression, LOGREG_DEFAULTS, type LogregConfig } from "./logreg.ts";
import { fewShotRidge, ridgeAccuracy } from "./ridge.ts";

/** Heads, in report order: converged logistic regression, LARS linear probe, ridge, kNN. */
export const PROBE_HEADS = ["logreg", "linear", "ridge", "knn"] as const;

/** Which heads to run. */
export type ProbeHead = typeof PROBE_HEADS[number];

/** Options of {@linkcode runProbes}. */
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
  /** Feature cache directory ("" disables). */
  cacheDir?: string;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/** One row of the report: a feature source and its scores. */
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

/** The whole report. */
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
    if (opts.heads.includes("logreg")) {
      const r = await logisticRegression(tr, te, fTrain.dim, classes, opts.logreg ?? LOGREG_DEFAULTS, log);
      scores.logreg = r.accuracy;
      details.logreg = { l2: r.l2, sweep: r.sweep, iterations: r.fit.iterations, converged: r.fit.converged };
      log(`  logreg ${(100 * r.accuracy).toFixed(2)}% (λ ${r.l2}, ${r.fit.iterations} iterations on all data)`);
    }
    if (opts.heads.includes("linear")) {
      const cfg = opts.linear ?? LINEAR_PROBE_DEFAULTS;
      scores.linear = (await linearProbe(tr, te, fTrain.dim, classes, cfg, log)).accuracy;
      log(`  linear probe ${(100 * scores.linear).toFixed(2)}%`);
    }
    if (opts.heads.includes("ridge")) {
      scores.ridge = await ridgeAccuracy(tr, te, fTrain.dim, classes);
      for (const k of opts.shots) scores[`ridge ${k}-shot`] = await fewShotRidge(tr, te, fTrain.dim, classes, k);
      log(`  ridge ${(100 * scores.ridge).toFixed(2)}%`);
    }
    if (opts.heads.includes("knn")) {
      scores.knn = await knnAccuracy(tr, te, fTrain.dim, classes, opts.knn ?? KNN_DEFAULTS, log);
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
  ].join("\n");
}
