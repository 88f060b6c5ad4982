import assert from "node:assert/strict";
import type { RasterImage } from "../data/png.ts";
import { textWidth } from "./font.ts";
import { barChart, linePlot, PALETTE } from "./plot.ts";

// Reference lines and their labels are drawn in this one grey, used nowhere else.
const isRefGrey = (img: RasterImage, x: number, y: number) =>
  [0, 1, 2].every((c) => img.data[(y * img.width + x) * 3 + c] === 90);

Deno.test("linePlot() draws curves far longer than the call-stack limit of Math.min(...xs)", () => {
  const n = 300_000;
  const xs = Array.from({ length: n }, (_, i) => i), ys = xs.map((i) => 1 / (1 + i));
  const img = linePlot([{ name: "loss", xs, ys }], { logY: true });
  assert.equal(img.width, 640);
  // Something was drawn: some pixels are neither white nor grid grey.
  let ink = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data[i]! < 200) ink++;
  assert.ok(ink > 100);
});

Deno.test("linePlot(): a long y label and the title never share a pixel row", () => {
  // The rows holding black ink, drawn with only the title and with only the y label.
  const inkRows = (opts: { title?: string; yLabel?: string }) => {
    const img = linePlot([], opts), rows = new Set<number>();
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < img.width; x++) if (img.data[(y * img.width + x) * 3] === 0) rows.add(y);
    }
    return rows;
  };
  const title = inkRows({ title: "Fine-tuning loss, pretrained vs from scratch" });
  const label = inkRows({ yLabel: "loss (window mean of 100 steps)" });
  assert.ok(title.size > 0 && label.size > 0);
  assert.deepEqual([...title].filter((y) => label.has(y)), []);
});

Deno.test("barChart(): bars grow from opts.min, so a 1-point gap between 83% arms is visible", () => {
  const bars = [{ label: "a", value: 83 }, { label: "b", value: 84 }];
  // Height of each bar in pixels: the bar colour counted down its centre column.
  const heights = (min?: number) => {
    const img = barChart(bars, { max: 85, ...(min === undefined ? {} : { min }) });
    const [r, g, b] = PALETTE[0]!, left = 50, bw = (img.width - left - 10) / 2;
    return [0, 1].map((i) => {
      const x = Math.round(left + (i + 0.5) * bw);
      let n = 0;
      for (let y = 0; y < img.height; y++) {
        const o = (y * img.width + x) * 3;
        if (img.data[o] === r && img.data[o + 1] === g && img.data[o + 2] === b) n++;
      }
      return n;
    });
  };
  const [a0, b0] = heights();
  assert.ok(b0! - a0! <= 4, `from 0: ${a0} vs ${b0}`);
  const [a80, b80] = heights(80);
  assert.ok(Math.abs(a80! / b80! - 3 / 4) < 0.02, `from 80: ${a80} vs ${b80}`);
  assert.ok(b80! - a80! > 40);
});

Deno.test("barChart(): a reference line above every bar stretches the axis, is dashed across the plot, and its label clears the bars", () => {
  const bars = [{ label: "a", value: 83 }, { label: "b", value: 84 }];
  const plain = barChart(bars, { min: 80 });
  const img = barChart(bars, { min: 80, refs: [{ label: "raw pixels", value: 85.56 }] });
  assert.deepEqual([img.width, img.height], [plain.width, plain.height]);
  // The axis now ends at the reference (top of the plot at y = 40), not at the taller bar; the line is dashed.
  const dashes = (y: number) => [...Array(img.width).keys()].filter((x) => isRefGrey(img, x, y));
  const lineY = [...Array(img.height).keys()].sort((p, q) => dashes(q).length - dashes(p).length)[0]!;
  assert.equal(lineY, 40);
  // The dashes run until the first gap wider than a dash's (the label follows, 6 pixels on).
  const all = dashes(40), xs = all.filter((_, i) => all.slice(1, i + 1).every((v, j) => v - all[j]! <= 4));
  const end = Math.max(...xs), span = end - xs[0]! + 1;
  assert.ok(xs.length > span * 0.5 && xs.length < span * 0.7, `dashed: ${xs.length} of ${span}`);
  // The label, right of the plot's end, clear of the bars.
  let labelInk = 0;
  for (let y = 30; y < 50; y++) for (let x = end + 2; x < img.width; x++) if (isRefGrey(img, x, y)) labelInk++;
  assert.ok(labelInk > 20, `label ink ${labelInk}`);
  assert.ok(end < img.width - 60, `plot ends at ${end}`);
  // Non-finite references (a baseline without this metric) are skipped.
  assert.deepEqual(barChart(bars, { min: 80, refs: [{ label: "x", value: NaN }] }).data, plain.data);
});

Deno.test("linePlot(): a reference line above the curve stretches the y axis, is dashed across the plot, and is labelled right of it", () => {
  const curve = [{ name: "logreg", xs: [250, 1000, 4000], ys: [81.4, 83.3, 85.5] }];
  const plain = linePlot(curve);
  const img = linePlot(curve, { refs: [{ label: "raw pixels", value: 86 }] });
  assert.equal(plain.data.filter((v) => v === 90).length, 0, "no reference grey without references");
  const dashes = (y: number) => [...Array(img.width).keys()].filter((x) => isRefGrey(img, x, y));
  const lineY = [...Array(img.height).keys()].sort((p, q) => dashes(q).length - dashes(p).length)[0]!;
  // The reference is the top of the data range now: 5% padding below the plot's top (y = 30, height 325).
  assert.ok(Math.abs(lineY - (30 + 325 * 0.05 / 1.1)) <= 1.5, `line at row ${lineY}`);
  const xs = dashes(lineY).filter((x) => x < img.width - 100);
  const span = Math.max(...xs) - xs[0]! + 1;
  assert.ok(xs[0]! <= 72 && span > 400, `dashes from ${xs[0]} over ${span}`);
  assert.ok(xs.length > span * 0.5 && xs.length < span * 0.7, `dashed: ${xs.length} of ${span}`);
  // Its label sits in the right margin, which the plot gives up for it.
  let labelInk = 0;
  for (let y = lineY - 8; y < lineY + 8; y++) {
    for (let x = Math.max(...xs) + 4; x < img.width; x++) if (isRefGrey(img, x, y)) labelInk++;
  }
  assert.ok(labelInk > 20, `label ink ${labelInk}`);
  // A reference below a log axis's range (≤ 0) is skipped, as non-finite ones are.
  const log = linePlot(curve, { logY: true });
  assert.deepEqual(
    linePlot(curve, { logY: true, refs: [{ label: "x", value: 0 }, { label: "y", value: NaN }] }).data,
    log.data,
  );
});

Deno.test("linePlot(): the legend takes the plot corner the curves and reference lines leave free, and covers none of them", () => {
  // Where the legend's black text lies inside the plot (axes excluded): left 70, top 30, 550 × 325 without refs.
  const legendAt = (img: RasterImage, pw: number) => {
    const xs: number[] = [], ys: number[] = [];
    for (let y = 31; y < 30 + 325 - 1; y++) {
      for (let x = 71; x < 70 + pw - 1; x++) {
        const i = (y * img.width + x) * 3;
        if (img.data[i] === 0 && img.data[i + 1] === 0 && img.data[i + 2] === 0) [xs.push(x), ys.push(y)];
      }
    }
    assert.ok(xs.length > 20, `legend ink ${xs.length}`);
    return { right: Math.min(...xs) > 70 + pw / 2, bottom: Math.min(...ys) > 30 + 325 / 2 };
  };
  // A rising accuracy curve ends top-right, where the legend used to sit: it moves top-left, and the curve's end
  // pixel keeps its colour.
  const rising = linePlot([{ name: "logreg", xs: [0, 1, 2, 3], ys: [80, 84, 86, 87] }]);
  assert.deepEqual(legendAt(rising, 550), { right: false, bottom: false });
  const end = (Math.round(30 + 325 * 0.05 / 1.1) * 640 + 70 + 550) * 3;
  assert.deepEqual([...rising.data.subarray(end, end + 3)], PALETTE[0]);
  // A falling loss curve with a baseline at the top fills three corners; the legend takes the fourth, bottom-left,
  // clear of the baseline, whose dashes still run the plot's width.
  const curve = [{ name: "loss", xs: [0, 1, 2, 3], ys: [1, 0.4, 0.2, 0.1] }], refs = [{ label: "init", value: 1.1 }];
  const falling = linePlot(curve, { refs });
  const pw = 640 - 70 - (12 + textWidth("init 1.1"));
  assert.deepEqual(legendAt(falling, pw), { right: false, bottom: true });
  const refRow = [...Array(falling.height).keys()].find((y) => isRefGrey(falling, 71, y))!;
  const dashes = [...Array(70 + pw).keys()].filter((x) => isRefGrey(falling, x, refRow)).length;
  assert.ok(dashes > pw * 0.5, `dashes ${dashes} of ${pw}`);
});
