/**
 * Line plots and bar charts rendered straight to RGB pixels (for loss
 * curves and evaluation summaries), with axes, ticks and labels.
 *
 * @module
 */
import type { RasterImage } from "../data/png.ts";
import { CHAR_HEIGHT, drawText, textWidth } from "./font.ts";

/**
 * A named series of points.
 *
 * @example
 * ```ts
 * import { linePlot, type Series } from "./plot.ts";
 * const s: Series = { name: "train loss", xs: [1, 2, 3], ys: [0.9, 0.5, 0.4] };
 * if (linePlot([s]).height !== 400) throw new Error();
 * ```
 */
export interface Series {
  /** Legend label. */
  name: string;
  /** x values. */
  xs: number[];
  /** y values (non-finite values are skipped). */
  ys: number[];
  /** RGB colour (default: from a palette). */
  color?: [number, number, number];
  /** Marks each point with a 5×5 square, so a sparse series stands out over a dense one. */
  marker?: boolean;
}

/**
 * Options of {@linkcode linePlot}.
 *
 * @example
 * ```ts
 * import { linePlot, type PlotOptions } from "./plot.ts";
 * const opts: PlotOptions = { title: "Loss", xLabel: "step", yLabel: "loss", logY: true, width: 320, height: 200 };
 * if (linePlot([{ name: "a", xs: [0, 1], ys: [1, 0.1] }], opts).width !== 320) throw new Error();
 * ```
 */
export interface PlotOptions {
  /** Title above the plot. */
  title?: string;
  /** x-axis label. */
  xLabel?: string;
  /** y-axis label. */
  yLabel?: string;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Image width. */
  width?: number;
  /** Image height. */
  height?: number;
  /** Dashed, labelled horizontal lines to read the curves against (e.g. raw pixels); the y axis stretches to fit them. */
  refs?: RefLine[];
}

/** Distinct colours for series and bars. */
export const PALETTE: [number, number, number][] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
];

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

function niceTicks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo || 1;
  const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// Ticks for a log axis spanning [10^lo, 10^hi]: 1-2-5 per decade, thinned to at most ~8.
function logTicks(lo: number, hi: number): number[] {
  for (const mults of [[1, 2, 5], [1, 3], [1]]) {
    const out: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const m of mults) {
        const v = m * Math.pow(10, e), l = Math.log10(v);
        if (l >= lo && l <= hi) out.push(Number(v.toPrecision(6)));
      }
    }
    if (out.length <= 8 && out.length >= 2) return out;
    if (out.length < 2) return [...out, ...niceTicks(lo, hi, 4).map((v) => Number(Math.pow(10, v).toPrecision(3)))];
  }
  return niceTicks(lo, hi, 5).map((v) => Math.pow(10, v));
}

// A bar's or reference line's value as written beside it.
const valueText = (v: number) => fmt(Number(v.toFixed(3)));

type PlacedRef = { value: number; text: string };

// Finite references, highest first (so close lines' labels stack downwards), each with its label text.
function placeRefs(refs: RefLine[] = []): PlacedRef[] {
  return refs.filter((r) => Number.isFinite(r.value)).sort((a, b) => b.value - a.value)
    .map((r) => ({ value: r.value, text: `${r.label} ${valueText(r.value)}` }));
}

// The right margin that holds reference labels clear of the plot.
const refMargin = (refs: PlacedRef[], none: number) =>
  refs.length ? 12 + Math.max(...refs.map((r) => textWidth(r.text))) : none;

// Dashed and drawn over the data, so a line through a bar still shows; labels in the right margin, stacked when
// lines are close.
function drawRefs(
  img: Uint8Array,
  w: number,
  h: number,
  refs: PlacedRef[],
  left: number,
  pw: number,
  rowOf: (v: number) => number,
) {
  const grey: [number, number, number] = [90, 90, 90];
  let below = -Infinity;
  for (const r of refs) {
    const y = Math.round(rowOf(r.value));
    for (let x = left; x < left + pw; x += 8) line(img, w, h, x, y, Math.min(x + 4, left + pw), y, grey);
    const ty = Math.max(y - 3, below);
    drawText(img, w, h, left + pw + 6, ty, r.text, grey);
    below = ty + CHAR_HEIGHT + 2;
  }
}

function line(img: Uint8Array, w: number, h: number, x0: number, y0: number, x1: number, y1: number, c: number[]) {
  const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let i = 0; i <= n; i++) {
    const x = Math.round(x0 + ((x1 - x0) * i) / n), y = Math.round(y0 + ((y1 - y0) * i) / n);
    if (x >= 0 && y >= 0 && x < w && y < h) img.set(c, (y * w + x) * 3);
  }
}

// Grid lines' grey: the legend may cover them, so its placement counts them as empty.
const GRID_GREY = 220;

// A filled square of side 2r + 1 centred on (x, y), clipped to the image.
function square(img: Uint8Array, w: number, h: number, x: number, y: number, r: number, c: readonly number[]) {
  for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
    for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) img.set(c, (yy * w + xx) * 3);
  }
}

// The plot corner whose legend box covers the fewest drawn pixels (curves, reference lines; grid and white count as
// empty), so a rising accuracy curve or a baseline near the top is not written over. Ties keep the earlier corner,
// top-right first. The box is blanked before the legend is written into it.
function drawLegend(
  img: Uint8Array,
  w: number,
  h: number,
  series: Series[],
  plot: { left: number; top: number; pw: number; ph: number },
) {
  if (!series.length) return;
  const pad = 4, rowH = CHAR_HEIGHT + 4;
  const bw = Math.min(plot.pw - 2, 2 * pad + 18 + Math.max(...series.map((s) => textWidth(s.name))));
  const bh = Math.min(plot.ph - 2, 2 * pad + series.length * rowH - 4);
  const xr = plot.left + plot.pw - bw - 2, xl = plot.left + 2, yt = plot.top + 2, yb = plot.top + plot.ph - bh - 2;
  const corners = [[xr, yt], [xl, yt], [xr, yb], [xl, yb]] as const;
  const drawn = (x: number, y: number) => {
    const i = (y * w + x) * 3, r = img[i]!;
    return !(r === img[i + 1] && r === img[i + 2] && (r === 255 || r === GRID_GREY));
  };
  const cost = ([bx, by]: readonly [number, number]) => {
    let n = 0;
    for (let y = by; y < by + bh; y++) for (let x = bx; x < bx + bw; x++) n += drawn(x, y) ? 1 : 0;
    return n;
  };
  const costs = corners.map(cost);
  const [bx, by] = corners[costs.indexOf(Math.min(...costs))]!;
  for (let y = by; y < by + bh; y++) img.fill(255, (y * w + bx) * 3, (y * w + bx + bw) * 3);
  series.forEach((s, k) => {
    const c = s.color ?? PALETTE[k % PALETTE.length]!, ly = by + pad + k * rowH;
    line(img, w, h, bx + pad, ly + 3, bx + pad + 14, ly + 3, c);
    if (s.marker) square(img, w, h, bx + pad + 7, ly + 3, 2, c);
    drawText(img, w, h, bx + pad + 18, ly, s.name, [0, 0, 0]);
  });
}

/**
 * Renders series as a line plot. The legend goes in the plot corner that the
 * curves and reference lines leave freest.
 *
 * @param series The data.
 * @param opts Title, labels, size, log scale, reference lines.
 * @returns An RGB image.
 * @example
 * ```ts
 * import { linePlot } from "./plot.ts";
 * const img = linePlot([{ name: "loss", xs: [0, 1, 2], ys: [1, 0.5, 0.3] }], { title: "Loss" });
 * if (img.channels !== 3 || img.width < 100) throw new Error();
 * ```
 */
export function linePlot(series: Series[], opts: PlotOptions = {}): RasterImage {
  const { width = 640, height = 400, logY = false } = opts;
  const data = new Uint8Array(width * height * 3).fill(255);
  const refs = placeRefs(opts.refs).filter((r) => !logY || r.value > 0);
  const left = 70, right = refMargin(refs, 20), top = 30, bottom = 45;
  const pw = width - left - right, ph = height - top - bottom;
  const tf = (y: number) => (logY ? Math.log10(y) : y);
  const pts = series.flatMap((s) => s.xs.map((x, i) => [x, s.ys[i]!] as const)).filter(([x, y]) =>
    Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0)
  );
  // Loops, not Math.min(...xs): spreading a long run's points overflows the call stack.
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (const [x, y] of pts) {
    [xlo, xhi, ylo, yhi] = [Math.min(xlo, x), Math.max(xhi, x), Math.min(ylo, tf(y)), Math.max(yhi, tf(y))];
  }
  if (!pts.length) [xlo, xhi, ylo, yhi] = [0, 1, 0, 1];
  for (const r of refs) [ylo, yhi] = [Math.min(ylo, tf(r.value)), Math.max(yhi, tf(r.value))];
  if (xhi === xlo) xhi = xlo + 1;
  if (yhi === ylo) [ylo, yhi] = [ylo - 0.5, yhi + 0.5];
  const ypad = (yhi - ylo) * 0.05;
  ylo -= ypad;
  yhi += ypad;
  const X = (x: number) => left + ((x - xlo) / (xhi - xlo)) * pw;
  const Y = (y: number) => top + ph - ((tf(y) - ylo) / (yhi - ylo)) * ph;
  const grey = [GRID_GREY, GRID_GREY, GRID_GREY], black: [number, number, number] = [0, 0, 0];
  for (const t of niceTicks(xlo, xhi, 6)) {
    const x = Math.round(X(t));
    line(data, width, height, x, top, x, top + ph, grey);
    const s = fmt(t);
    drawText(data, width, height, x - textWidth(s) / 2, top + ph + 6, s, black);
  }
  const yt = logY ? logTicks(ylo, yhi) : niceTicks(ylo, yhi, 6);
  for (const t of yt) {
    const y = Math.round(Y(t));
    if (y < top || y > top + ph) continue;
    line(data, width, height, left, y, left + pw, y, grey);
    const s = fmt(t);
    drawText(data, width, height, left - 6 - textWidth(s), y - 3, s, black);
  }
  line(data, width, height, left, top + ph, left + pw, top + ph, black);
  line(data, width, height, left, top, left, top + ph, black);
  series.forEach((s, k) => {
    const c = s.color ?? PALETTE[k % PALETTE.length]!;
    let prev: [number, number] | null = null;
    s.xs.forEach((x, i) => {
      const y = s.ys[i]!;
      if (!Number.isFinite(y) || (logY && y <= 0)) return void (prev = null);
      const p: [number, number] = [Math.round(X(x)), Math.round(Y(y))];
      if (prev) line(data, width, height, prev[0], prev[1], p[0], p[1], c);
      else line(data, width, height, p[0], p[1], p[0], p[1], c);
      if (s.marker) square(data, width, height, p[0], p[1], 2, c);
      prev = p;
    });
  });
  drawRefs(data, width, height, refs, left, pw, Y);
  drawLegend(data, width, height, series, { left, top, pw, ph });
  // Title and y label on rows of their own: a long y label runs under the title, not through it.
  if (opts.title) drawText(data, width, height, left, 4, opts.title, black);
  if (opts.xLabel) {
    drawText(data, width, height, left + pw / 2 - textWidth(opts.xLabel) / 2, height - 14, opts.xLabel, black);
  }
  if (opts.yLabel) drawText(data, width, height, 4, top - CHAR_HEIGHT - 4, opts.yLabel, black);
  return { width, height, channels: 3, data };
}

/**
 * One labelled bar.
 *
 * @example
 * ```ts
 * import { type Bar, barChart } from "./plot.ts";
 * const bars: Bar[] = [{ label: "dsprites_loc", value: 54.1, group: 2 }, { label: "clevr_count", value: 24.9, group: 2, err: 1.5 }];
 * if (barChart(bars, { title: "VTAB", max: 100 }).channels !== 3) throw new Error();
 * ```
 */
export interface Bar {
  /** Label under the bar. */
  label: string;
  /** Height. */
  value: number;
  /** Colour group index (e.g. VTAB group). */
  group?: number;
  /** Half-length of an error bar drawn over the bar (e.g. a standard deviation over seeds). */
  err?: number;
}

/**
 * A labelled horizontal line across a bar chart: a reference the bars are
 * read against (raw pixels, a random init).
 *
 * @example
 * ```ts
 * import { barChart, type RefLine } from "./plot.ts";
 * const pixels: RefLine = { label: "raw pixels", value: 85.56 };
 * if (barChart([{ label: "a", value: 84.1 }], { refs: [pixels], min: 80 }).channels !== 3) throw new Error();
 * ```
 */
export interface RefLine {
  /** Written at the line's right end with its value. */
  label: string;
  /** Where the line sits on the value axis. */
  value: number;
}

/**
 * Renders a vertical bar chart with value labels. The value axis starts at
 * `opts.min` (default 0; always labelled): a higher start lets close values
 * be told apart. Reference lines (`opts.refs`) are dashed, labelled, and
 * stretch the axis to fit.
 *
 * @param bars The bars.
 * @param opts Title, size, the value axis's range and reference lines.
 * @returns An RGB image.
 * @example
 * ```ts
 * import { barChart } from "./plot.ts";
 * const img = barChart([{ label: "a", value: 0.5 }, { label: "b", value: 0.9 }], { title: "Acc" });
 * if (img.height < 100) throw new Error();
 * const zoomed = barChart([{ label: "a", value: 83.1 }, { label: "b", value: 83.9 }], { min: 80 });
 * if (zoomed.width !== img.width) throw new Error();
 * ```
 */
export function barChart(
  bars: Bar[],
  opts: { title?: string; width?: number; height?: number; min?: number; max?: number; refs?: RefLine[] } = {},
): RasterImage {
  const refs = placeRefs(opts.refs);
  const maxLabel = Math.max(1, ...bars.map((b) => b.label.length));
  // Reference labels sit in a margin right of the plot, clear of the bars.
  const right = refMargin(refs, 10);
  // Wide enough for the title too, so a long one is not cut at the edge.
  const width = opts.width ??
    Math.max(320, 50 + right + bars.length * 44, 60 + textWidth(opts.title ?? ""));
  const bottom = 16 + maxLabel * 8;
  const height = opts.height ?? 300 + bottom;
  const data = new Uint8Array(width * height * 3).fill(255);
  const left = 50, top = 40, ph = height - top - bottom, pw = width - left - right;
  const vmin = opts.min ?? 0;
  const vmax = opts.max ??
    Math.max(vmin + 1e-9, ...bars.map((b) => b.value + (b.err ?? 0)), ...refs.map((r) => r.value));
  const frac = (v: number) => (Math.max(vmin, Math.min(vmax, v)) - vmin) / (vmax - vmin);
  const black: [number, number, number] = [0, 0, 0];
  // An axis that does not start at 0 says where it starts, clear of the nearest tick's label.
  const ticks = [vmin, ...niceTicks(vmin, vmax, 5).filter((t) => frac(t) * ph >= 20)];
  for (const t of ticks) {
    const y = Math.round(top + ph - frac(t) * ph);
    line(data, width, height, left, y, left + pw, y, [225, 225, 225]);
    drawText(data, width, height, left - 6 - textWidth(fmt(t)), y - 3, fmt(t), black);
  }
  const bw = pw / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const c = PALETTE[(b.group ?? 0) % PALETTE.length]!;
    const x0 = Math.round(left + i * bw + bw * 0.15), x1 = Math.round(left + (i + 1) * bw - bw * 0.15);
    const h = Math.round(frac(b.value) * ph);
    for (let y = top + ph - h; y < top + ph; y++) for (let x = x0; x < x1; x++) data.set(c, (y * width + x) * 3);
    let labelY = top + ph - h - 10;
    if (b.err !== undefined && Number.isFinite(b.err) && b.err > 0) {
      const at = (v: number) => Math.round(top + ph - frac(v) * ph);
      const xm = Math.round((x0 + x1) / 2), yHi = at(b.value + b.err), yLo = at(b.value - b.err);
      line(data, width, height, xm, yHi, xm, yLo, black);
      for (const y of [yHi, yLo]) line(data, width, height, xm - 4, y, xm + 4, y, black);
      labelY = Math.min(labelY, yHi - 10);
    }
    const v = valueText(b.value);
    drawText(data, width, height, Math.round((x0 + x1) / 2 - textWidth(v) / 2), labelY, v, black);
    // Labels are written vertically, one character per line.
    [...b.label].forEach((ch, k) =>
      drawText(data, width, height, Math.round((x0 + x1) / 2 - 3), top + ph + 6 + k * 8, ch, black)
    );
  });
  drawRefs(data, width, height, refs, left, pw, (v) => top + ph - frac(v) * ph);
  line(data, width, height, left, top + ph, left + pw, top + ph, black);
  if (opts.title) drawText(data, width, height, left, 12, opts.title, black);
  return { width, height, channels: 3, data };
}
