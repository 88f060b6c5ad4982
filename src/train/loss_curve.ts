/**
 * The loss curve every training run writes as `loss.png`: the per-step batch
 * losses, faint, under their running mean, and each measured loss (held-out
 * draws) as a line with a marker at every measurement.
 *
 * @module
 */
import type { RasterImage } from "../data/png.ts";
import { linePlot, PALETTE, type Series } from "../viz/plot.ts";
import type { MetricRecord } from "./metrics.ts";

/**
 * Centred running mean: each value is the mean of the up-to-`window` values
 * around it (fewer at the ends), so the curve does not lag behind the data.
 *
 * @param ys The values.
 * @param window Values per mean (odd windows centre exactly).
 * @returns The smoothed values, as many as `ys`.
 * @example
 * ```ts
 * import { runningMean } from "./loss_curve.ts";
 * const m = runningMean([1, 2, 3, 4, 5], 3);
 * if (m.join() !== "1.5,2,3,4,4.5") throw new Error(m.join());
 * ```
 */
export function runningMean(ys: number[], window: number): number[] {
  const half = Math.floor(window / 2), prefix = [0];
  for (const y of ys) prefix.push(prefix.at(-1)! + y);
  return ys.map((_, i) => {
    const lo = Math.max(0, i - half), hi = Math.min(ys.length, i - half + window);
    return (prefix[hi]! - prefix[lo]!) / (hi - lo);
  });
}

// A colour moved `share` of the way to white.
const tint = (c: readonly number[], share: number) =>
  c.map((v) => Math.round(v + (255 - v) * share)) as [number, number, number];

/**
 * Renders a run's loss curve. The batch loss of one step is noisy (a few
 * dozen images), so it is drawn faint and its running mean over 1/100 of the
 * logged steps solid; losses measured every so many steps (keys ending in
 * `_loss`, e.g. `eval_test_loss`) get markers so they stay visible over it.
 *
 * @param history Logged records, oldest first.
 * @param title Plot title.
 * @returns An RGB image (log-scale loss against step).
 * @example
 * ```ts
 * import { lossCurve } from "./loss_curve.ts";
 * import type { MetricRecord } from "./metrics.ts";
 * const history: MetricRecord[] = Array.from({ length: 400 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) + 0.1 }));
 * history[399] = { ...history[399]!, eval_test_loss: 0.12 };
 * if (lossCurve(history, "loss").width !== 640) throw new Error();
 * ```
 */
export function lossCurve(history: MetricRecord[], title: string): RasterImage {
  const at = (key: string) => history.filter((r) => typeof r[key] === "number");
  const batches = at("loss"), xs = batches.map((r) => r.step), ys = batches.map((r) => r.loss as number);
  const window = Math.round(batches.length / 100);
  const series: Series[] = window >= 3
    ? [
      { name: "train loss (batches)", xs, ys, color: tint(PALETTE[0]!, 0.6) },
      { name: "train loss (running mean)", xs, ys: runningMean(ys, window), color: PALETTE[0]! },
    ]
    : [{ name: "train loss (batches)", xs, ys, color: PALETTE[0]! }];
  const measured = [...new Set(history.flatMap((r) => Object.keys(r)))].filter((k) => k.endsWith("_loss"));
  measured.forEach((key, i) => {
    const rs = at(key);
    series.push({
      name: key.replace(/_/g, " "),
      xs: rs.map((r) => r.step),
      ys: rs.map((r) => r[key] as number),
      color: PALETTE[(i + 1) % PALETTE.length]!,
      marker: true,
    });
  });
  return linePlot(series, { title, xLabel: "step", yLabel: "loss", logY: true });
}
