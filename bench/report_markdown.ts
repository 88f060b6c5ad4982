/**
 * The benchmark report's text: machine and backends, the machine's load
 * while the benchmarks ran (LOADED when other processes used more than 0.2
 * cores on average), the speed-ups that matter on the reference step, WebGPU
 * dispatches per step, and every case's median and rate.
 *
 * @module
 */
import type { LoadRecord, ResultRow } from "./report.ts";

/** Mean cores other processes may use before a report is marked LOADED (as `shared/tools/quiet.sh`). */
export const LOADED_CORES = 0.2;

/** Everything the report shows. */
export interface ReportInput {
  /** Host, OS, versions, threads, date. */
  machine: { host: string; os: string; deno: string; tfjs: string; threads: number; date: string };
  /** One line per backend. */
  backends: string[];
  /** Medians and rates. */
  rows: ResultRow[];
  /** WebGPU dispatches per training step, by backend. */
  dispatches: Record<string, number> | null;
  /** Load per bench process. */
  loads: LoadRecord[];
}

/**
 * Builds the markdown and JSON of a report.
 *
 * @param r The measurements.
 * @returns Markdown text and the JSON object.
 * @example
 * ```ts
 * import { reportMarkdown } from "./report_markdown.ts";
 * const machine = { host: "h", os: "linux", deno: "2", tfjs: "4", threads: 2, date: "2026-01-01T00:00:00Z" };
 * const loads = [{ what: "a [cpu]", seconds: 10, othersMean: 0.5, othersPeak: 0.9 }];
 * const { markdown, json } = reportMarkdown({ machine, backends: [], rows: [], dispatches: null, loads });
 * if (!markdown.includes("LOADED") || json.loaded !== true) throw new Error();
 * ```
 */
export function reportMarkdown(r: ReportInput): { markdown: string; json: Record<string, unknown> } {
  const step = r.rows.filter((x) => x.group === "train step tiny b32");
  const ms = (runner: string) => step.find((x) => x.runner === runner)?.medianMs;
  const stock = ["wasm", "cpu", "webgpu"].map((x) => [x, ms(x)] as const).filter(([, v]) => v !== undefined);
  const bestStock = stock.sort((a, b) => a[1]! - b[1]!)[0];
  const ratios: Record<string, string> = {};
  for (const fast of ["darl-cpu", "darl-webgpu"]) {
    const m = ms(fast);
    if (!m) continue;
    if (bestStock) ratios[`${fast} vs best stock (${bestStock[0]})`] = `${(bestStock[1]! / m).toFixed(1)}×`;
    if (ms("jax-js")) ratios[`${fast} vs jax-js`] = `${(ms("jax-js")! / m).toFixed(2)}×`;
  }
  const weighted = r.loads.reduce((a, l) => a + l.othersMean * l.seconds, 0);
  const seconds = r.loads.reduce((a, l) => a + l.seconds, 0);
  const load = {
    othersMean: seconds ? weighted / seconds : null,
    worstProcess: r.loads.reduce((a, l) => Math.max(a, l.othersMean), 0),
    peak: r.loads.reduce((a, l) => Math.max(a, l.othersPeak), 0),
  };
  const loaded = r.loads.some((l) => l.othersMean > LOADED_CORES);
  const m = r.machine;
  const lines = [
    `# darl benchmark report${loaded ? " — LOADED: other work ran meanwhile, measure again on a quiet machine" : ""}`,
    ``,
    `${m.date} · ${m.host} · ${m.os} · ${m.threads} hardware threads · Deno ${m.deno} · tfjs ${m.tfjs}`,
    ``,
    ...r.backends.map((b) => `- ${b}`),
    ``,
    `Each runner of each bench file ran in a \`deno bench\` process of its own; medians over the measured iterations; rates from the medians.`,
    ``,
    `## Machine load while measuring`,
    ``,
    load.othersMean === null
      ? `Not recorded (/proc is not readable here).`
      : `Other processes used ${load.othersMean.toFixed(2)} cores on average (worst process ${
        load.worstProcess.toFixed(2)
      }, peak 2-s window ${load.peak.toFixed(2)}); a report is LOADED above ${LOADED_CORES} cores in any process: ${
        loaded ? "**LOADED**" : "quiet"
      }.`,
    ``,
    `## Speed-ups on the reference step (tiny DARL, batch 32, AdamW)`,
    ``,
    ...(Object.keys(ratios).length
      ? Object.entries(ratios).map(([k, v]) => `- ${k}: **${v}**`)
      : [`None: the report needs one of darl's runners and a stock or jax-js runner (\`--runners\`).`]),
    ``,
    ...(r.dispatches
      ? [
        `## WebGPU dispatches per training step (tiny, batch 32)`,
        ``,
        ...Object.entries(r.dispatches).map(([k, v]) => `- ${k}: ${v}`),
        ``,
      ]
      : []),
    `## All cases`,
    ``,
    `| group | runner | n | median ms | rate |`,
    `| --- | --- | ---: | ---: | ---: |`,
    ...r.rows.map((x) =>
      `| ${x.group} | ${x.runner} | ${x.n} | ${x.medianMs.toFixed(x.medianMs < 10 ? 2 : 1)} | ${
        x.rate === undefined ? "" : `${x.rate.toFixed(x.rate < 10 ? 2 : 1)} ${x.unit}`
      } |`
    ),
    ``,
  ];
  return {
    markdown: lines.join("\n"),
    json: {
      machine: m,
      backends: r.backends,
      loaded,
      load,
      loads: r.loads,
      ratios,
      dispatches: r.dispatches,
      rows: r.rows,
    },
  };
}
