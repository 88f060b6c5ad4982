import assert from "node:assert/strict";
import { lossCurve, runningMean } from "./loss_curve.ts";
import { PALETTE } from "../viz/plot.ts";
import type { RasterImage } from "../data/png.ts";
import type { MetricRecord } from "./metrics.ts";

Deno.test("runningMean: the mean of the window around each value, shorter at the ends", () => {
  const ys = Array.from({ length: 50 }, (_, i) => Math.sin(i * 1.7) + i / 10);
  for (const w of [1, 4, 7]) {
    const got = runningMean(ys, w), half = Math.floor(w / 2);
    assert.equal(got.length, ys.length);
    got.forEach((m, i) => {
      const win = ys.slice(Math.max(0, i - half), Math.min(ys.length, i - half + w));
      assert.ok(Math.abs(m - win.reduce((a, b) => a + b) / win.length) < 1e-12, `w ${w} at ${i}`);
    });
  }
});

// Pixels of exactly this colour, and the 5×5 blocks all of it (markers: one per point, one in the legend).
function colourStats(img: RasterImage, c: readonly number[]) {
  const is = (x: number, y: number) => {
    const i = (y * img.width + x) * 3;
    return img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2];
  };
  let pixels = 0, blocks = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!is(x, y)) continue;
      pixels++;
      if (x + 4 < img.width && y + 4 < img.height) {
        let all = true;
        for (let dy = 0; dy < 5 && all; dy++) for (let dx = 0; dx < 5 && all; dx++) all = is(x + dx, y + dy);
        if (all) blocks++;
      }
    }
  }
  return { pixels, blocks };
}

function history(steps: number): MetricRecord[] {
  return Array.from({ length: steps }, (_, i) => ({
    step: i + 1,
    loss: 0.3 + 1 / (i + 2) + 0.1 * Math.sin(i * 2.3),
    ...((i + 1) % 100 === 0 ? { eval_train_loss: 0.3 + 1 / (i + 2), eval_test_loss: 0.4 + 1 / (i + 2) } : {}),
  }));
}

Deno.test("lossCurve: faint batch losses under their running mean, measured losses with markers", () => {
  const tinted = PALETTE[0]!.map((v) => Math.round(v + (255 - v) * 0.6));
  const long = lossCurve(history(1000), "t");
  assert.ok(colourStats(long, tinted).pixels > 500, "per-step losses drawn faint");
  assert.ok(colourStats(long, PALETTE[0]!).pixels > 300, "their running mean drawn solid");
  // Ten measurements each; the legend's marker adds one block.
  assert.ok(colourStats(long, PALETTE[1]!).blocks >= 11, "eval train loss marked at each measurement");
  assert.ok(colourStats(long, PALETTE[2]!).blocks >= 11, "eval test loss marked at each measurement");
  // Too few steps to smooth: the batch loss is the one solid line, and nothing is faint.
  const short = lossCurve(history(200), "t");
  assert.equal(colourStats(short, tinted).pixels, 0);
  assert.ok(colourStats(short, PALETTE[0]!).pixels > 300);
  assert.equal(
    colourStats(lossCurve(history(1000).map(({ step, loss }) => ({ step, loss: loss! })), "t"), PALETTE[1]!).blocks,
    0,
  );
});
