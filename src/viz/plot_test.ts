import assert from "node:assert/strict";
import { linePlot } from "./plot.ts";

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
