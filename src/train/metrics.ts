/**
 * Metrics as JSON lines (one object per logged step) and a console progress
 * line (step, loss, lr, img/s, ETA).
 *
 * @module
 */
import { appendText, exists, writeFileAtomic } from "../data/files.ts";

/**
 * One logged record, a line of `metrics.jsonl`; `step` is always present.
 *
 * @example
 * ```ts
 * import type { MetricRecord } from "./metrics.ts";
 * const r: MetricRecord = { step: 100, loss: 0.42, lr: 1e-3, eval_test_loss: 0.45 };
 * if (r.step !== 100) throw new Error();
 * ```
 */
export type MetricRecord = { step: number } & Record<string, number | string>;

/**
 * Appends records to a JSONL file.
 *
 * @param path The file.
 * @param records Records to append.
 */
export async function appendJsonl(path: string, records: MetricRecord[]): Promise<void> {
  if (records.length === 0) return;
  await appendText(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

/**
 * Reads a JSONL metrics file (missing file → empty; a torn last line is
 * ignored).
 *
 * @param path The file.
 * @returns The records.
 */
export async function readJsonl(path: string): Promise<MetricRecord[]> {
  if (!(await exists(path))) return [];
  const out: MetricRecord[] = [];
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch { /* a line cut by a crash */ }
  }
  return out;
}

/**
 * Drops records after `step` (used when resuming from an earlier
 * checkpoint, so the file matches the run that continues).
 *
 * @param path The file.
 * @param step The last step to keep.
 * @returns The kept records.
 */
export async function truncateJsonl(path: string, step: number): Promise<MetricRecord[]> {
  const kept = (await readJsonl(path)).filter((r) => r.step <= step);
  if (await exists(path)) {
    await writeFileAtomic(path, new TextEncoder().encode(kept.map((r) => JSON.stringify(r) + "\n").join("")));
  }
  return kept;
}

/**
 * Formats seconds as e.g. "1h02m", "4m05s" or "12s".
 *
 * @param s Seconds.
 * @returns The duration.
 * @example
 * ```ts
 * import { formatDuration } from "./metrics.ts";
 * if (formatDuration(245) !== "4m05s") throw new Error();
 * ```
 */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** Fields of a progress line. */
export interface Progress {
  /** Completed steps. */
  step: number;
  /** Total steps. */
  steps: number;
  /** Named values shown after the step, e.g. loss and lr. */
  values: Record<string, number>;
  /** Throughput. */
  rate: number;
  /** Unit of the throughput, e.g. "img/s". */
  unit: string;
}

/**
 * Formats a progress line: `step 120/4000 | loss 0.4123 | lr 1.2e-4 | 812.3 img/s | ETA 4m12s`.
 *
 * @param p The fields.
 * @param stepsPerSecond For the ETA.
 * @returns The line.
 * @example
 * ```ts
 * import { progressLine } from "./metrics.ts";
 * const s = progressLine({ step: 1, steps: 3, values: { loss: 0.5 }, rate: 10, unit: "img/s" }, 1);
 * if (!s.includes("ETA 2s")) throw new Error(s);
 * ```
 */
export function progressLine(p: Progress, stepsPerSecond: number): string {
  const vals = Object.entries(p.values).map(([k, v]) =>
    `${k} ${Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(4)}`
  );
  const eta = formatDuration((p.steps - p.step) / stepsPerSecond);
  const width = String(p.steps).length;
  return [`step ${String(p.step).padStart(width)}/${p.steps}`, ...vals, `${p.rate.toFixed(1)} ${p.unit}`, `ETA ${eta}`]
    .join(" | ");
}
