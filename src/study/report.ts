/**
 * A study's report from its finished cells: each arm's metrics as mean ±
 * standard deviation over seeds (a markdown table, best arm per metric in
 * bold), the baselines the evaluations measured beside the model (raw pixels,
 * random init, real images), and PNG charts: bars with error bars per metric,
 * the baselines drawn across them as reference lines, and, for a numeric grid
 * axis with three or more values, a line per setting of the other axes.
 *
 * @module
 */
import { armLabel, finetuneRuns, type StudyPlan } from "./plan.ts";
import { type Bar, barChart, linePlot, PALETTE, type RefLine, type Series } from "../viz/plot.ts";
import { readJsonl } from "../train/metrics.ts";
import { writePng } from "../viz/grid.ts";
import { writeFileAtomic } from "../data/files.ts";

/**
 * One finished cell, as one line of `results.jsonl`.
 *
 * @example
 * ```ts
 * import type { StudyRecord } from "./report.ts";
 * const r: StudyRecord = { cell: "base-seed0", arm: "base", set: {}, seed: 0, step: 100, seconds: 60, metrics: { "logreg (mean)": 0.85 }, baselines: {} };
 * if (r.metrics["logreg (mean)"]! < 0.5) throw new Error();
 * ```
 */
export interface StudyRecord {
  /** The cell's id. */
  cell: string;
  /** Its arm. */
  arm: string;
  /** The arm's overrides. */
  set: Record<string, unknown>;
  /** Its seed. */
  seed: number;
  /** Training steps reached. */
  step: number;
  /** Wall-clock seconds for training and evaluation. */
  seconds: number;
  /** Metric name → value (accuracies as fractions; FD, KID, IS as measured). */
  metrics: Record<string, number>;
  /** Reference rows measured beside the model: name → metric → value. */
  baselines: Record<string, Record<string, number>>;
}

/**
 * An arm's aggregate over its seeds.
 *
 * @example
 * ```ts
 * import { aggregate } from "./report.ts";
 * const rows = aggregate([
 *   { cell: "a-seed0", arm: "a", set: {}, seed: 0, step: 1, seconds: 1, metrics: { m: 1 }, baselines: {} },
 *   { cell: "a-seed1", arm: "a", set: {}, seed: 1, step: 1, seconds: 1, metrics: { m: 3 }, baselines: {} },
 * ]);
 * if (rows[0]!.stats.m!.mean !== 2 || Math.abs(rows[0]!.stats.m!.sd - Math.SQRT2) > 1e-12) throw new Error();
 * ```
 */
export interface ArmRow {
  /** The arm. */
  arm: string;
  /** Its overrides. */
  set: Record<string, unknown>;
  /** Seeds finished. */
  n: number;
  /** Per metric: mean, sample standard deviation (NaN for one seed), min and max. */
  stats: Record<string, { mean: number; sd: number; min: number; max: number }>;
}

/**
 * Groups records by arm (in first-seen order) and summarises each metric.
 *
 * @param records Finished cells.
 * @returns One row per arm.
 * @example
 * ```ts
 * import { aggregate } from "./report.ts";
 * if (aggregate([]).length !== 0) throw new Error();
 * ```
 */
export function aggregate(records: StudyRecord[]): ArmRow[] {
  const byArm = new Map<string, StudyRecord[]>();
  for (const r of records) byArm.set(r.arm, [...(byArm.get(r.arm) ?? []), r]);
  return [...byArm].map(([arm, rs]) => {
    const stats: ArmRow["stats"] = {};
    for (const m of new Set(rs.flatMap((r) => Object.keys(r.metrics)))) {
      const v = rs.map((r) => r.metrics[m]).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
      if (v.length === 0) continue;
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : NaN;
      stats[m] = { mean, sd, min: Math.min(...v), max: Math.max(...v) };
    }
    return { arm, set: rs[0]!.set, n: rs.length, stats };
  });
}

/** Lower is better for distances; higher for accuracies and IS. */
const lowerIsBetter = (metric: string) => /^(FD|KID)\b/.test(metric);
/** Accuracies are stored as fractions and shown as percentages. */
const isAccuracy = (metric: string) => !/^(FD|KID|IS)\b/.test(metric);

function show(metric: string, v: number): string {
  if (!Number.isFinite(v)) return "—";
  if (isAccuracy(metric)) return (100 * v).toFixed(2);
  if (metric.startsWith("KID")) return (1000 * v).toFixed(1);
  return v.toFixed(metric.startsWith("IS") ? 2 : 1);
}

/**
 * The report's markdown: the plan, the arms table and the baselines.
 *
 * @param plan The plan.
 * @param records Finished cells.
 * @param total Cells in the plan.
 * @returns Markdown.
 * @example
 * ```ts
 * import { reportMarkdown } from "./report.ts";
 * const plan = { name: "s", claim: "c", method: "darl", base: {}, grid: {}, seeds: [0], budget: { steps: 1 }, evals: [] };
 * const md = reportMarkdown(plan, [{ cell: "base-seed0", arm: "base", set: {}, seed: 0, step: 1, seconds: 1, metrics: { "ridge (mean)": 0.5 }, baselines: {} }], 1);
 * if (!md.includes("| base | 1 | 50.00 |")) throw new Error();
 * ```
 */
export function reportMarkdown(plan: StudyPlan, records: StudyRecord[], total: number): string {
  const rows = aggregate(records);
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.stats)))];
  const budget = "train.steps" in plan.grid || plan.arms?.some((a) => "train.steps" in a.set)
    ? "the steps its arm names"
    : plan.budget.steps
    ? `${plan.budget.steps} steps`
    : `${plan.budget.images} training images`;
  const out = [
    `# Study: ${plan.name}`,
    "",
    `Claim: ${plan.claim}`,
    "",
    `Method ${plan.method}, ${budget} per run, seeds ${
      plan.seeds.join(", ")
    }; ${records.length} of ${total} cells finished. ` +
    `Accuracies in %, KID ×10⁻³; mean ± sample standard deviation over seeds (— with one seed); best arm in bold.`,
    "",
  ];
  if (rows.length) {
    const best = new Map<string, number>();
    for (const m of metrics) {
      const vals = rows.map((r) => r.stats[m]?.mean ?? NaN).filter(Number.isFinite);
      best.set(m, lowerIsBetter(m) ? Math.min(...vals) : Math.max(...vals));
    }
    out.push(`| arm | seeds | ${metrics.join(" | ")} |`, `| --- | ---: |${metrics.map(() => " ---: |").join("")}`);
    for (const r of rows) {
      const cells = metrics.map((m) => {
        const s = r.stats[m];
        if (!s) return "—";
        const text = `${show(m, s.mean)}${Number.isFinite(s.sd) ? ` ± ${show(m, s.sd)}` : ""}`;
        return s.mean === best.get(m) && rows.length > 1 ? `**${text}**` : text;
      });
      out.push(`| ${r.arm} | ${r.n} | ${cells.join(" | ")} |`);
    }
  }
  const baselines = baselineRows(records);
  if (baselines.size) {
    const cols = [...new Set([...baselines.values()].flatMap((b) => Object.keys(b)))];
    out.push(
      "",
      "Baselines (measured beside each arm's first finished cell; where arms differ, one row per group of arms with the same scores):",
      "",
    );
    out.push(`| baseline | ${cols.join(" | ")} |`, `| --- |${cols.map(() => " ---: |").join("")}`);
    for (const [k, b] of baselines) {
      out.push(`| ${k} | ${cols.map((c) => (c in b ? show(c, b[c]!) : "—")).join(" | ")} |`);
    }
  }
  return out.join("\n") + "\n";
}

/**
 * One row per baseline, or, for a baseline whose scores differ between arms,
 * one per group of arms that share its scores: a random init depends on the
 * architecture an arm sets (its patch size, say), not on its objective or
 * budget, and raw pixels on neither. A group is named by the overrides its
 * arms share (`patchSize=7`), a lone arm by its name. Records from older
 * sweeps kept only the first cell's.
 */
function baselineRows(records: StudyRecord[]): Map<string, Record<string, number>> {
  const perArm = new Map<string, Map<string, Record<string, number>>>();
  const sets = new Map(records.map((r) => [r.arm, r.set]));
  for (const r of records) {
    for (const [k, v] of Object.entries(r.baselines)) {
      const arms = perArm.get(k) ?? new Map<string, Record<string, number>>();
      if (!arms.has(r.arm)) arms.set(r.arm, v);
      perArm.set(k, arms);
    }
  }
  const rows = new Map<string, Record<string, number>>();
  for (const [k, arms] of perArm) {
    const groups = new Map<string, string[]>();
    for (const [arm, v] of arms) groups.set(JSON.stringify(v), [...groups.get(JSON.stringify(v)) ?? [], arm]);
    if (groups.size === 1) rows.set(k, arms.values().next().value!);
    else {
      for (const names of groups.values()) {
        const shared = Object.entries(sets.get(names[0]!)!).filter(([key, v]) =>
          names.every((n) => JSON.stringify(sets.get(n)![key]) === JSON.stringify(v))
        );
        const name = names.length > 1 && shared.length ? armLabel(Object.fromEntries(shared)) : names.join(" / ");
        rows.set(`${k}, ${rows.has(`${k}, ${name}`) ? names.join(" / ") : name}`, arms.get(names[0]!)!);
      }
    }
  }
  return rows;
}

const slug = (s: string) => s.replace(/[^\w]+/g, "-").replace(/^-|-$/g, "").toLowerCase();

/**
 * Where a study chart's value axis starts: 0, unless every bar (with its
 * error bar) sits far above 0, as accuracies of close arms do; then a round
 * number one data span below the lowest, so a 1-point gap between 83% arms
 * shows instead of vanishing in a 0–100 axis.
 *
 * @param bars Values with optional error half-lengths.
 * @returns The axis start.
 * @example
 * ```ts
 * import { axisFloor } from "./report.ts";
 * if (axisFloor([{ value: 82.8, err: 0.7 }, { value: 83.4, err: 0.35 }, { value: 80.8, err: 0.4 }]) !== 77) throw new Error();
 * if (axisFloor([{ value: 143.8 }, { value: 358.2 }]) !== 0) throw new Error();
 * ```
 */
export function axisFloor(bars: { value: number; err?: number }[]): number {
  let lo = Infinity, hi = -Infinity;
  for (const b of bars) [lo, hi] = [Math.min(lo, b.value - (b.err ?? 0)), Math.max(hi, b.value + (b.err ?? 0))];
  if (!(lo > 0) || !Number.isFinite(hi) || hi - lo > lo / 2) return 0;
  const span = Math.max(hi - lo, hi / 100), step = Math.pow(10, Math.floor(Math.log10(span)));
  return Math.max(0, Number((Math.floor((lo - span) / step) * step).toPrecision(12)));
}

const scale = (m: string, v: number) => (isAccuracy(m) ? 100 * v : m.startsWith("KID") ? 1000 * v : v);

// One arm's bar for a metric: its mean over seeds, with the spread as an error bar when there is one.
const armBar = (r: ArmRow, m: string, label: string): Bar => ({
  label,
  value: scale(m, r.stats[m]!.mean),
  ...(Number.isFinite(r.stats[m]!.sd) ? { err: scale(m, r.stats[m]!.sd) } : {}),
});

/**
 * Writes `report.md` and `charts/*.png` into the study's folder.
 *
 * @param dir The study's output folder.
 * @param plan The plan.
 * @param records Finished cells.
 * @param total Cells in the plan.
 * @returns The chart files written.
 * @example
 * ```ts
 * import { writeReport } from "./report.ts";
 * const dir = await Deno.makeTempDir();
 * const plan = { name: "s", claim: "c", method: "darl", base: {}, grid: {}, seeds: [0], budget: { steps: 1 }, evals: [] };
 * const files = await writeReport(dir, plan, [{ cell: "base-seed0", arm: "base", set: {}, seed: 0, step: 1, seconds: 1, metrics: { m: 0.5 }, baselines: {} }], 1);
 * if (files.length !== 1) throw new Error();
 * ```
 */
export async function writeReport(
  dir: string,
  plan: StudyPlan,
  records: StudyRecord[],
  total: number,
): Promise<string[]> {
  const rows = aggregate(records);
  await Deno.mkdir(`${dir}/charts`, { recursive: true });
  const files: string[] = [];
  // A grid of two or more axes names its arms by every setting ("objective=diffusion_patchSize=4_steps=600"),
  // too long for a bar: there each bar shows only the values, in the axes' order given in the title, is
  // coloured by the first axis's value, and stands beside the bars that differ from it only in that value.
  const axes = Object.keys(plan.grid), byValues = axes.length >= 2 && !plan.arms?.length;
  const at = (r: ArmRow, a: string) => plan.grid[a]!.findIndex((v) => JSON.stringify(v) === JSON.stringify(r.set[a]));
  const order = (r: ArmRow) => [...axes.slice(1), axes[0]!].map((a) => at(r, a));
  const ordered = byValues
    ? [...rows].sort((p, q) => {
      const [a, b] = [order(p), order(q)];
      return a.map((x, i) => x - b[i]!).find((d) => d !== 0) ?? 0;
    })
    : rows;
  const bar = (r: ArmRow, m: string): Bar =>
    byValues
      ? { ...armBar(r, m, axes.map((a) => String(r.set[a])).join(" ")), group: Math.max(0, at(r, axes[0]!)) }
      : armBar(r, m, r.arm.slice(0, 24));
  const by = byValues ? `, by ${axes.map((a) => a.replace(/^\w+\./, "")).join(" ")}` : "";
  const baselines = [...baselineRows(records)];
  for (const m of new Set(rows.flatMap((r) => Object.keys(r.stats)))) {
    const bars = ordered.filter((r) => r.stats[m]).map((r) => bar(r, m));
    // The baselines measured beside the arms (raw pixels, random init, real images) as lines to read the bars against.
    // A baseline shared by many arms is named by all of them; report.md has the full name.
    const refs: RefLine[] = baselines.filter(([, b]) => Number.isFinite(b[m])).map(([label, b]) => ({
      label: label.length > 32 ? `${label.slice(0, 30)}..` : label,
      value: scale(m, b[m]!),
    }));
    const file = `${dir}/charts/${slug(m)}.png`;
    const title = `${plan.name}: ${m}${isAccuracy(m) ? " (%)" : ""}${by}`;
    await writePng(file, barChart(bars, { title, refs, min: axisFloor([...bars, ...refs]) }));
    files.push(file);
    // Curves: a numeric axis with three or more values, one line per setting of the other axes.
    for (const [axis, values] of Object.entries(plan.grid)) {
      if (values.length < 3 || !values.every((v) => typeof v === "number")) continue;
      const lines = new Map<string, Series>();
      for (const r of rows) {
        if (!r.stats[m] || typeof r.set[axis] !== "number") continue;
        const rest = Object.entries(r.set).filter(([k]) => k !== axis).map(([k, v]) =>
          `${k.replace(/^\w+\./, "")}=${v}`
        );
        const name = rest.join(" ") || m;
        const s = lines.get(name) ?? { name, xs: [], ys: [] };
        s.xs.push(r.set[axis] as number), s.ys.push(scale(m, r.stats[m]!.mean));
        lines.set(name, s);
      }
      const curve = `${dir}/charts/${slug(m)}-vs-${slug(axis)}.png`;
      const series = [...lines.values()].map((s) => {
        const order = s.xs.map((_, i) => i).sort((a, b) => s.xs[a]! - s.xs[b]!);
        return { ...s, xs: order.map((i) => s.xs[i]!), ys: order.map((i) => s.ys[i]!) };
      });
      await writePng(curve, linePlot(series, { title: `${plan.name}: ${m}`, xLabel: axis, yLabel: m, refs }));
      files.push(curve);
    }
  }
  files.push(...await finetuneCharts(dir, plan, records, rows));
  await writeFileAtomic(`${dir}/report.md`, new TextEncoder().encode(reportMarkdown(plan, records, total)));
  return files;
}

// Pretrained beside from-scratch fine-tuning per arm (one bar chart with each of the plan's fine-tuning runs, not one
// per metric), and the training-loss curves behind them as means over 50 windows: the per-step loss of label-smoothed
// batches is too noisy to read.
async function finetuneCharts(dir: string, plan: StudyPlan, records: StudyRecord[], rows: ArmRow[]): Promise<string[]> {
  const runs = finetuneRuns(plan.evals).filter((f) => records.some((r) => r.metrics[f.metric] !== undefined));
  if (runs.length === 0) return [];
  const files: string[] = [];
  if (runs.some((f) => f.scratch) && runs.some((f) => !f.scratch)) {
    const bars = rows.flatMap((r) =>
      runs.flatMap((f, group) =>
        r.stats[f.metric] ? [{ ...armBar(r, f.metric, `${r.arm.slice(0, 12)} ${f.label}`), group }] : []
      )
    );
    const file = `${dir}/charts/finetune-vs-scratch.png`;
    await writePng(file, barChart(bars, { title: `${plan.name}: test accuracy (%)`, min: axisFloor(bars) }));
    files.push(file);
  }
  const series: Series[] = [];
  for (const r of records) {
    for (const [k, f] of runs.entries()) {
      const rows = await readJsonl(`${dir}/cells/${r.cell}/${f.dir}/metrics.jsonl`);
      const xs: number[] = [], ys: number[] = [];
      const width = Math.max(1, Math.round(rows.length / 50));
      for (let i = 0; i + width <= rows.length; i += width) {
        const w = rows.slice(i, i + width);
        xs.push(w.at(-1)!.step), ys.push(w.reduce((a, x) => a + Number(x.loss), 0) / w.length);
      }
      if (xs.length) series.push({ name: `${r.cell} ${f.label}`, xs, ys, color: PALETTE[k]! });
    }
  }
  if (series.length) {
    const file = `${dir}/charts/finetune-loss.png`;
    const opts = { title: `${plan.name}: fine-tuning loss (window means)`, xLabel: "step", yLabel: "loss" };
    await writePng(file, linePlot(series, opts));
    files.push(file);
  }
  return files;
}
