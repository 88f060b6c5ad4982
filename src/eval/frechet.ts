/**
 * Sample-quality metrics without Inception weights: a feature network
 * (feature_net.ts) is trained and cached per dataset as a small classifier
 * on its labels, and its penultimate features give the Fréchet distance (FD, as FID) and the
 * kernel distance (KID, unbiased MMD² with the cubic polynomial kernel),
 * while its class probabilities give an Inception-Score analogue.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import { drawSubset, takeSplit } from "../data/subset.ts";
import { createRng, shuffle } from "../rng.ts";
import { symmetricEigen } from "./linalg.ts";

import { FEATURE_NET_DEFAULTS, type FeatureNet, featureNet, type FeatureNetConfig, netOutputs } from "./feature_net.ts";
function meanCov(x: Float32Array, d: number): { mu: Float64Array; cov: Float64Array } {
  const n = x.length / d, mu = new Float64Array(d), cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mu[j]! /= n;
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = x[i * d + j]! - mu[j]!;
    for (let a = 0; a < d; a++) {
      const ca = c[a]!;
      if (ca === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b]! += ca * c[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      cov[a * d + b]! /= Math.max(1, n - 1);
      cov[b * d + a] = cov[a * d + b]!;
    }
  }
  return { mu, cov };
}

/**
 * Fréchet distance between Gaussians fitted to two feature sets:
 * ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½).
 *
 * @param a Features [n, d].
 * @param b Features [m, d].
 * @param d Width.
 * @returns The distance (≥ 0 up to rounding).
 * @example
 * ```ts
 * import { frechetDistance } from "./frechet.ts";
 * const x = Float32Array.from({ length: 200 }, (_, i) => Math.sin(i));
 * if (Math.abs(frechetDistance(x, x, 2)) > 1e-6) throw new Error();
 * ```
 */
export function frechetDistance(a: Float32Array, b: Float32Array, d: number): number {
  const A = meanCov(a, d), B = meanCov(b, d);
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (A.mu[j]! - B.mu[j]!) ** 2;
  // S = Σ₁^½ via eigendecomposition; then the eigenvalues of S Σ₂ S.
  const e1 = symmetricEigen(A.cov, d);
  const S = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        s += e1.vectors[i * d + k]! * Math.sqrt(Math.max(e1.values[k]!, 0)) * e1.vectors[j * d + k]!;
      }
      S[i * d + j] = s;
    }
  }
  const T = new Float64Array(d * d), M = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += S[i * d + k]! * B.cov[k * d + j]!;
      T[i * d + j] = s;
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += T[i * d + k]! * S[k * d + j]!;
      M[i * d + j] = M[j * d + i] = s;
    }
  }
  const e2 = symmetricEigen(M, d);
  let traceSqrt = 0, tr = 0;
  for (let k = 0; k < d; k++) traceSqrt += Math.sqrt(Math.max(e2.values[k]!, 0));
  for (let j = 0; j < d; j++) tr += A.cov[j * d + j]! + B.cov[j * d + j]!;
  return meanTerm + tr - 2 * traceSqrt;
}

/**
 * Kernel distance (KID): the unbiased MMD² estimate with k(x, y) =
 * (xᵀy/d + 1)³, averaged over random subsets.
 *
 * @param a Features [n, d].
 * @param b Features [m, d].
 * @param d Width.
 * @param opts Subsets and their size.
 * @returns Mean and standard deviation over subsets.
 * @example
 * ```ts
 * import { kernelDistance } from "./frechet.ts";
 * const x = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i * 1.7));
 * const y = Float32Array.from({ length: 400 }, (_, i) => Math.cos(i * 1.3));
 * if (!Number.isFinite((await kernelDistance(x, y, 2)).mean)) throw new Error();
 * ```
 */
export async function kernelDistance(
  a: Float32Array,
  b: Float32Array,
  d: number,
  opts: { subsets?: number; subsetSize?: number; seed?: number } = {},
): Promise<{ mean: number; std: number }> {
  const n = a.length / d, m = b.length / d;
  const size = Math.min(opts.subsetSize ?? 1000, n, m), subsets = opts.subsets ?? 10;
  const rng = createRng(opts.seed ?? 3);
  const pick = (x: Float32Array, count: number) => {
    const idx = shuffle(Array.from({ length: count }, (_, i) => i), rng).slice(0, size);
    const out = new Float32Array(size * d);
    idx.forEach((i, k) => out.set(x.subarray(i * d, (i + 1) * d), k * d));
    return out;
  };
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const xa = pick(a, n), xb = pick(b, m);
    // Kernel sums via Gram matrices; the unbiased estimate drops the diagonals of Kxx and Kyy.
    const sums = tf.tidy(() => {
      const ta = tf.tensor2d(xa, [size, d]), tb = tf.tensor2d(xb, [size, d]);
      const kern = (p: tf.Tensor2D, q: tf.Tensor2D) => tf.pow(tf.add(tf.div(tf.matMul(p, q, false, true), d), 1), 3);
      const kxx = kern(ta, ta), kyy = kern(tb, tb), kxy = kern(ta, tb);
      return [
        tf.sub(tf.sum(kxx), tf.sum(tf.pow(tf.add(tf.div(tf.sum(tf.square(ta), 1), d), 1), 3))),
        tf.sub(tf.sum(kyy), tf.sum(tf.pow(tf.add(tf.div(tf.sum(tf.square(tb), 1), d), 1), 3))),
        tf.sum(kxy),
      ];
    });
    const [sxx, syy, sxy] = await Promise.all(sums.map(async (t) => (await t.data())[0]!));
    tf.dispose(sums);
    values.push(sxx! / (size * (size - 1)) + syy! / (size * (size - 1)) - (2 * sxy!) / (size * size));
  }
  const mean = values.reduce((x, y) => x + y, 0) / values.length;
  const std = Math.sqrt(values.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return { mean, std };
}

/**
 * Inception-Score analogue: exp(E_x KL(p(y|x) ‖ p(y))), mean over splits.
 *
 * @param probs Class probabilities [n, classes].
 * @param classes Number of classes.
 * @param splits Splits (10, as the original; at most one per image).
 * @returns The score (1 … classes; NaN for no images).
 * @example
 * ```ts
 * import { inceptionScore } from "./frechet.ts";
 * const confident = new Float32Array([1, 0, 0, 1, 1, 0, 0, 1]);
 * if (Math.abs(inceptionScore(confident, 2, 1) - 2) > 1e-6) throw new Error();
 * ```
 */
export function inceptionScore(probs: Float32Array, classes: number, splits = 10): number {
  const n = probs.length / classes;
  if (n === 0) return NaN;
  // Fewer images than splits: one image per split, not empty splits (whose mean is NaN).
  splits = Math.min(splits, n);
  const per = Math.floor(n / splits);
  let total = 0;
  for (let s = 0; s < splits; s++) {
    const lo = s * per, hi = s === splits - 1 ? n : lo + per;
    const py = new Float64Array(classes);
    for (let i = lo; i < hi; i++) for (let c = 0; c < classes; c++) py[c]! += probs[i * classes + c]! / (hi - lo);
    let kl = 0;
    for (let i = lo; i < hi; i++) {
      for (let c = 0; c < classes; c++) {
        const p = probs[i * classes + c]!;
        if (p > 1e-12) kl += p * (Math.log(p) - Math.log(Math.max(py[c]!, 1e-12)));
      }
    }
    total += Math.exp(kl / (hi - lo));
  }
  return total / splits;
}

/**
 * All three metrics of samples against a reference.
 *
 * @example
 * ```ts
 * import type { SampleQuality } from "./frechet.ts";
 * const q: SampleQuality = { fd: 2.9, kid: { mean: 1e-3, std: 2e-4 }, is: 7.6, counts: { samples: 1000, reference: 10000 } };
 * if (q.kid.mean * 1000 !== 1) throw new Error(); // reported ×10⁻³
 * ```
 */
export interface SampleQuality {
  /** Fréchet distance on the feature network's penultimate features. */
  fd: number;
  /** KID mean and std (×1 — not ×1000). */
  kid: { mean: number; std: number };
  /** Inception-Score analogue of the samples. */
  is: number;
  /** Samples and reference images used. */
  counts: { samples: number; reference: number };
}

/**
 * Scores samples against a reference split.
 *
 * @param net The feature network.
 * @param samples Generated images (network's shape).
 * @param reference Real images (network's shape).
 * @returns FD, KID and IS.
 *
 * @example
 * ```ts
 * import { openDataset, writeDataset } from "../data/store.ts";
 * import { featureNet } from "./feature_net.ts";
 * import { sampleQuality } from "./frechet.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 40, images: Uint8Array.from({ length: 160 }, (_, i) => ((i * 7) % 255)), labels: Uint16Array.from({ length: 40 }, (_, i) => i % 2) };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: ["a", "b"], splits: { train: split, test: split } });
 * const ds = await openDataset(dir);
 * const net = await featureNet(ds, { hidden: 8, features: 4, epochs: 2, batchSize: 8, lr: 1e-2 }, "");
 * const q = await sampleQuality(net, ds.splits.train!, ds.splits.test!);
 * if (Math.abs(q.fd) > 1e-6) throw new Error(); // the same images: distance 0
 * ```
 */
export async function sampleQuality(net: FeatureNet, samples: SplitData, reference: SplitData): Promise<SampleQuality> {
  const s = await netOutputs(net, samples), r = await netOutputs(net, reference);
  return {
    fd: frechetDistance(s.feats, r.feats, s.dim),
    kid: await kernelDistance(s.feats, r.feats, s.dim),
    is: inceptionScore(s.probs, s.classes),
    counts: { samples: samples.count, reference: reference.count },
  };
}

/**
 * The full report of `deno task fid`.
 *
 * @example
 * ```ts
 * import type { SampleQualityReport } from "./frechet.ts";
 * const worse = (r: SampleQualityReport) => r.samplesVsReference.fd / r.realTrainVsReference.fd;
 * if (typeof worse !== "function") throw new Error();
 * ```
 */
export interface SampleQualityReport {
  /** Test accuracy of the feature network (how informative its features are). */
  featureNetTestAccuracy: number;
  /** Samples against the reference split. */
  samplesVsReference: SampleQuality;
  /** A seeded, class-stratified draw of real training images against the same reference: the yardstick. */
  realTrainVsReference: SampleQuality;
}

/**
 * Scores samples against a dataset's reference split, beside the same
 * scores for real training images (as many as the samples, at least 1,000,
 * drawn at random stratified by class: never the first N, which in a
 * class-ordered source is one class).
 *
 * @param ds The dataset the samples imitate (labelled).
 * @param samples Generated images in the dataset's shape.
 * @param opts Reference split, feature-network cache and widths, seed of the real draw, progress.
 * @returns FD, KID and IS of the samples and of the real yardstick.
 *
 * @example
 * ```ts
 * import { openDataset, writeDataset } from "../data/store.ts";
 * import { sampleQualityReport } from "./frechet.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 60, images: Uint8Array.from({ length: 240 }, (_, i) => ((i * 13) % 255)), labels: Uint16Array.from({ length: 60 }, (_, i) => i % 3) };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: ["a", "b", "c"], splits: { train: split, test: split } });
 * const ds = await openDataset(dir);
 * const blank = { count: 20, images: new Uint8Array(80), labels: null };
 * const r = await sampleQualityReport(ds, blank, { cacheDir: "", net: { hidden: 8, features: 4, epochs: 2, batchSize: 8, lr: 1e-2 } });
 * if (!(r.samplesVsReference.fd > r.realTrainVsReference.fd)) throw new Error();
 * ```
 */
export async function sampleQualityReport(
  ds: Dataset,
  samples: SplitData,
  opts: {
    refSplit?: string;
    cacheDir?: string;
    seed?: number;
    net?: FeatureNetConfig;
    log?: (m: string) => void;
  } = {},
): Promise<SampleQualityReport> {
  const net = await featureNet(ds, opts.net ?? FEATURE_NET_DEFAULTS, opts.cacheDir ?? ".cache/fid", opts.log);
  const reference = getSplit(ds, opts.refSplit ?? "test");
  const train = getSplit(ds, "train");
  const size = ds.header.shape.reduce((a, b) => a * b);
  const real = takeSplit(train, drawSubset(train, Math.max(samples.count, 1000), opts.seed ?? 0), size);
  return {
    featureNetTestAccuracy: net.testAccuracy,
    samplesVsReference: await sampleQuality(net, samples, reference),
    realTrainVsReference: await sampleQuality(net, real, reference),
  };
}
