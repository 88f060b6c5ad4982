/**
 * Weighted k-nearest-neighbour classification on cosine similarity (k = 20,
 * weights exp(s/τ) with τ = 0.07, as DINO's evaluator).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { LabelledFeatures } from "./linear_probe.ts";

/**
 * kNN options.
 *
 * @example
 * ```ts
 * import type { KnnConfig } from "./knn.ts";
 * const cfg: KnnConfig = { k: 200, temperature: 0.07 };
 * if (cfg.k !== 200) throw new Error();
 * ```
 */
export interface KnnConfig {
  /** Neighbours. */
  k: number;
  /** Temperature of the similarity weights. */
  temperature: number;
}

/**
 * DINO's settings.
 *
 * @example
 * ```ts
 * import { KNN_DEFAULTS } from "./knn.ts";
 * if (KNN_DEFAULTS.k !== 20 || KNN_DEFAULTS.temperature !== 0.07) throw new Error();
 * ```
 */
export const KNN_DEFAULTS: KnnConfig = { k: 20, temperature: 0.07 };

function l2normalise(x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length / d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j]! * inv;
  }
  return out;
}

/**
 * Classifies test features by weighted votes of their nearest training features.
 *
 * @param train Training features.
 * @param test Test features.
 * @param d Width.
 * @param classes Number of classes.
 * @param cfg k and temperature.
 * @param log Progress, about every 2,000 test examples.
 * @returns Top-1 accuracy.
 * @example
 * ```ts
 * import { knnAccuracy } from "./knn.ts";
 * const x = new Float32Array([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9]), y = new Int32Array([0, 0, 1, 1]);
 * if (await knnAccuracy({ x, y }, { x, y }, 2, 2, { k: 2, temperature: 0.07 }) !== 1) throw new Error();
 * ```
 */
export async function knnAccuracy(
  train: LabelledFeatures,
  test: LabelledFeatures,
  d: number,
  classes: number,
  cfg: KnnConfig = KNN_DEFAULTS,
  log?: (msg: string) => void,
): Promise<number> {
  const n = train.y.length, m = test.y.length, k = Math.min(cfg.k, n);
  const bank = tf.tensor2d(l2normalise(train.x, d), [n, d]);
  const queries = l2normalise(test.x, d);
  const chunk = Math.max(1, Math.floor(2 ** 24 / n));
  let correct = 0, lastLog = 0;
  const topIdx = new Int32Array(k), topSim = new Float32Array(k), votes = new Float64Array(classes);
  for (let start = 0; start < m; start += chunk) {
    const rows = Math.min(chunk, m - start);
    const sims = tf.tidy(() =>
      tf.matMul(tf.tensor2d(queries.subarray(start * d, (start + rows) * d), [rows, d]), bank, false, true)
    );
    const s = (await sims.data()) as Float32Array;
    sims.dispose();
    for (let r = 0; r < rows; r++) {
      // Keep the k largest similarities (insertion into a small sorted list).
      topSim.fill(-Infinity);
      for (let j = 0; j < n; j++) {
        const v = s[r * n + j]!;
        if (v <= topSim[k - 1]!) continue;
        let p = k - 1;
        while (p > 0 && topSim[p - 1]! < v) {
          topSim[p] = topSim[p - 1]!;
          topIdx[p] = topIdx[p - 1]!;
          p--;
        }
        topSim[p] = v;
        topIdx[p] = j;
      }
      votes.fill(0);
      for (let t = 0; t < k; t++) votes[train.y[topIdx[t]!]!]! += Math.exp(topSim[t]! / cfg.temperature);
      let arg = 0;
      for (let c = 1; c < classes; c++) if (votes[c]! > votes[arg]!) arg = c;
      if (arg === test.y[start + r]) correct++;
    }
    if (log && (start + rows - lastLog >= 2000 || start + rows === m)) {
      lastLog = start + rows;
      log(`  kNN: ${lastLog}/${m} test examples`);
    }
  }
  bank.dispose();
  return correct / m;
}
