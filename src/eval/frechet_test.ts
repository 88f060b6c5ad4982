import assert from "node:assert/strict";
import { openDataset, type SplitData, writeDataset } from "../data/store.ts";
import { createRng, shuffle } from "../rng.ts";
import { useCpu } from "../test_util.ts";
import { patternImage } from "../../fixtures/make_fixtures.ts";
import { featureNet, netOutputs } from "./feature_net.ts";
import { frechetDistance, inceptionScore, kernelDistance, sampleQuality } from "./frechet.ts";

function patterns(n: number, offset: number): SplitData {
  const images = new Uint8Array(n * 64), labels = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    images.set(patternImage(i % 3, offset + i), i * 64);
  }
  return { count: n, images, labels };
}

Deno.test("Fréchet distance: train vs test is far lower than noise or shuffled pixels; a set vs itself is ~0", async () => {
  await useCpu();
  const dir = `${await Deno.makeTempDir()}/pat`;
  await writeDataset(dir, {
    name: "patterns",
    source: "test",
    shape: [8, 8, 1],
    classes: ["h", "v", "c"],
    splits: { train: patterns(600, 0), test: patterns(300, 10000) },
  });
  const ds = await openDataset(dir);
  const net = await featureNet(ds, { hidden: 32, features: 16, epochs: 3, batchSize: 32, lr: 3e-3 }, `${dir}-cache`);
  assert.ok(net.testAccuracy > 0.9, `feature network accuracy ${net.testAccuracy}`);
  const rng = createRng(1);
  const noise: SplitData = {
    count: 300,
    images: Uint8Array.from({ length: 300 * 64 }, () => rng.int(256)),
    labels: null,
  };
  const test = ds.splits.test!;
  const shuffled: SplitData = { count: 300, images: new Uint8Array(test.images), labels: null };
  for (let i = 0; i < 300; i++) shuffle(shuffled.images.subarray(i * 64, (i + 1) * 64), rng);
  const real = await sampleQuality(net, ds.splits.train!, test);
  const vsNoise = await sampleQuality(net, noise, test);
  const vsShuffled = await sampleQuality(net, shuffled, test);
  assert.ok(real.fd * 5 < vsNoise.fd, `FD real ${real.fd} vs noise ${vsNoise.fd}`);
  assert.ok(real.fd * 5 < vsShuffled.fd, `FD real ${real.fd} vs shuffled ${vsShuffled.fd}`);
  assert.ok(real.kid.mean < vsNoise.kid.mean && real.kid.mean < vsShuffled.kid.mean);
  assert.ok(real.is > vsNoise.is - 1e-9, "confident, class-balanced predictions on real images");
  const { feats, dim } = await netOutputs(net, test);
  assert.ok(Math.abs(frechetDistance(feats, feats, dim)) < 1e-6 * (1 + vsNoise.fd));
  // The cache returns the same network.
  const again = await featureNet(ds, { hidden: 32, features: 16, epochs: 3, batchSize: 32, lr: 3e-3 }, `${dir}-cache`);
  assert.equal(again.testAccuracy, net.testAccuracy);
});

Deno.test("kernelDistance() is the unbiased estimator: ~0 for one distribution, unlike the biased one", async () => {
  await useCpu();
  const rng = createRng(4), d = 8, n = 3000;
  const draw = (shift: number) => Float32Array.from({ length: n * d }, () => rng.normal() + shift);
  const x = draw(0), y = draw(0);
  const kid = await kernelDistance(x, y, d, { subsets: 20, subsetSize: 300 });
  // The biased (V-statistic) version keeps the diagonal k(x, x) terms.
  const k = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += a[i * d + t]! * b[j * d + t]!;
    return (s / d + 1) ** 3;
  };
  let kxx = 0, kyy = 0, kxy = 0;
  const m = 300;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      kxx += k(x, i, x, j);
      kyy += k(y, i, y, j);
      kxy += k(x, i, y, j);
    }
  }
  const biased = (kxx + kyy - 2 * kxy) / (m * m);
  assert.ok(biased > 0.01, `biased ${biased}`);
  assert.ok(Math.abs(kid.mean) < biased / 5, `unbiased ${kid.mean} vs biased ${biased}`);
  const far = await kernelDistance(x, draw(1), d, { subsets: 5, subsetSize: 300 });
  assert.ok(far.mean > 10 * biased);
});

Deno.test("inceptionScore() with fewer images than splits scores each image alone, not NaN", () => {
  // Three confident images of two classes: every one-image split has p(y) = p(y|x), so KL 0 and score 1.
  const probs = new Float32Array([1, 0, 0, 1, 1, 0]);
  assert.equal(inceptionScore(probs, 2, 10), 1);
  // One split over all three: p(y) = (2/3, 1/3), the mean KL is ln 3 − (2/3)·ln 2.
  assert.ok(Math.abs(inceptionScore(probs, 2, 1) - Math.exp(Math.log(3) - (2 / 3) * Math.log(2))) < 1e-9);
  assert.ok(Number.isNaN(inceptionScore(new Float32Array(0), 2)));
});
