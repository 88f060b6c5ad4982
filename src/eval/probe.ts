/**
 * The probe report behind `deno task probe`: for a checkpoint and a labelled
 * dataset, features from the chosen layer are scored with the linear probe,
 * closed-form ridge (all data and 1/5/10/25 shots) and weighted kNN, always
 * beside two baselines computed the same way: raw pixels and a randomly
 * initialised model of the same config.
 *
 * @module
 */
import type { DarlConfig } from "../config.ts";
import { DarlError } from "../errors.ts";
import { sha256Hex } from "../data/files.ts";
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import { type DarlParams, initDarl } from "../darl/model.ts";
import { cachedFeatures, checkLayer, featureDim, type FeatureSource, type FeatureSpec } from "./features.ts";
import { KNN_DEFAULTS, knnAccuracy, type KnnConfig } from "./knn.ts";
import { type LabelledFeatures, LINEAR_PROBE_DEFAULTS, linearProbe, type LinearProbeConfig } from "./linear_probe.ts";
import { fewShotRidge, ridgeAccuracy } from "./ridge.ts";

/** Which heads to run. */
export type ProbeHead = "linear" | "ridge" | "knn";

/** Options of {@linkcode runProbes}. */
export interface ProbeOptions {
  /** The dataset (train and test splits, labelled). */
  dataset: Dataset;
  /** The trained model, with a stable identity for the feature cache. */
  model: { params: DarlParams; cfg: DarlConfig; key: string; name: string };
  /** Layer, pooling and attention. */
  spec: FeatureSpec;
  /** Heads to run. */
  heads: ProbeHead[];
  /** Few-shot sizes for ridge. */
  shots: number[];
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
  /** Accuracy per column ("linear", "ridge", "ridge 5-shot", "knn", …). */
  scores: Record<string, number>;
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
  const { dataset: ds, model } = opts;
  checkLayer(opts.spec.layer, model.cfg);
  featureDim(opts.spec.pool, model.cfg);
  const train = getSplit(ds, "train"), test = getSplit(ds, "test");
  const yTrain = labelled(train, "train", ds.dir), yTest = labelled(test, "test", ds.dir);
  const classes = ds.header.classes.length;
  const columns = [
    ...(opts.heads.includes("linear") ? ["linear"] : []),
    ...(opts.heads.includes("ridge") ? ["ridge", ...opts.shots.map((k) => `ridge ${k}-shot`)] : []),
    ...(opts.heads.includes("knn") ? ["knn"] : []),
  ];
  const randomSeed = opts.randomSeed ?? 1;
  const sources: [string, FeatureSource][] = [
    ["raw pixels", { kind: "pixels" }],
    [`random init (seed ${randomSeed})`, {
      kind: "model",
      params: initDarl(model.cfg, randomSeed),
      cfg: model.cfg,
      key: `random:${randomSeed}:${JSON.stringify(model.cfg)}`,
      spec: opts.spec,
    }],
    [model.name, { kind: "model", params: model.params, cfg: model.cfg, key: model.key, spec: opts.spec }],
  ];
  const rows: ProbeRow[] = [];
  for (const [name, src] of sources) {
    const t0 = performance.now();
    const cacheDir = opts.cacheDir ?? ".cache/features";
    const fTrain = await cachedFeatures(src, train, ds.header.shape, `${ds.header.checksum}:train`, cacheDir);
    const fTest = await cachedFeatures(src, test, ds.header.shape, `${ds.header.checksum}:test`, cacheDir);
    log(
      `${name}: ${fTrain.dim}-d features ${fTrain.cached ? "from cache" : "computed"} in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    const tr: LabelledFeatures = { x: fTrain.x, y: yTrain }, te: LabelledFeatures = { x: fTest.x, y: yTest };
    const scores: Record<string, number> = {};
    if (opts.heads.includes("linear")) {
      scores.linear = (await linearProbe(tr, te, fTrain.dim, classes, opts.linear ?? LINEAR_PROBE_DEFAULTS)).accuracy;
      log(`  linear probe ${(100 * scores.linear).toFixed(2)}%`);
    }
    if (opts.heads.includes("ridge")) {
      scores.ridge = await ridgeAccuracy(tr, te, fTrain.dim, classes);
      for (const k of opts.shots) scores[`ridge ${k}-shot`] = await fewShotRidge(tr, te, fTrain.dim, classes, k);
      log(`  ridge ${(100 * scores.ridge).toFixed(2)}%`);
    }
    if (opts.heads.includes("knn")) {
      scores.knn = await knnAccuracy(tr, te, fTrain.dim, classes, opts.knn ?? KNN_DEFAULTS);
      log(`  kNN ${(100 * scores.knn).toFixed(2)}%`);
    }
    rows.push({ source: name, dim: fTrain.dim, scores });
  }
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

/** A stable key for a checkpoint file (its bytes' SHA-256). */
export async function checkpointKey(path: string): Promise<string> {
  return `ckpt:${await sha256Hex(await Deno.readFile(path))}`;
}
