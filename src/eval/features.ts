/**
 * Frozen features from a DARL model for probes: any layer's tokens, mean-
 * pooled over the patch tokens (default) or the last token, with causal or
 * bidirectional attention. Features are computed once and cached on disk,
 * keyed by the model, layer, pooling, attention and dataset split.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type DarlConfig, gridSize } from "../config.ts";
import { DarlError } from "../errors.ts";
import { gatherImages, toUnitRange } from "../data/batches.ts";
import { exists, sha256Hex, writeFileAtomic } from "../data/files.ts";
import { adaptImages } from "../data/resize.ts";
import type { SplitData } from "../data/store.ts";
import { darlForward, type DarlParams } from "../darl/model.ts";
import { patchify } from "../darl/patchify.ts";

/**
 * Pooling of the patch tokens: their mean, the last token, or `grid<k>`:
 * means over a k×k partition of the patch grid, concatenated (k²·d values,
 * keeping the coarse spatial layout that mean pooling discards).
 */
export type Pooling = "mean" | "last" | `grid${number}`;

/** How features are taken from the backbone. */
export interface FeatureSpec {
  /** "final" (after the last LayerNorm), "embed", or "block<i>" (0-based). */
  layer: string;
  /** How patch tokens are pooled. */
  pool: Pooling;
  /** Causal attention (as pretrained) or bidirectional. */
  causal: boolean;
}

/** The default: final layer, mean-pooled, causal. */
export const DEFAULT_FEATURES: FeatureSpec = { layer: "final", pool: "mean", causal: true };

/**
 * Checks a layer name against a config.
 *
 * @param layer The name.
 * @param cfg The model config.
 */
export function checkLayer(layer: string, cfg: DarlConfig): void {
  const m = /^block(\d+)$/.exec(layer);
  if (layer === "final" || layer === "embed" || (m && Number(m[1]) < cfg.depth)) return;
  throw new DarlError(
    `--layer: unknown layer "${layer}" (expected final, embed or block0…block${cfg.depth - 1})`,
  );
}

/**
 * Checks a pooling name against a config and returns the feature width.
 *
 * @param pool The pooling.
 * @param cfg The model config.
 * @returns Values per image.
 * @example
 * ```ts
 * import { darlConfig } from "../config.ts";
 * import { featureDim } from "./features.ts";
 * if (featureDim("grid2", darlConfig("tiny")) !== 512) throw new Error();
 * ```
 */
export function featureDim(pool: string, cfg: DarlConfig): number {
  if (pool === "mean" || pool === "last") return cfg.dim;
  const m = /^grid(\d+)$/.exec(pool);
  const g = gridSize(cfg);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= g) return Number(m[1]) ** 2 * cfg.dim;
  throw new DarlError(`--pool: expected mean, last or grid<k> with 1 ≤ k ≤ ${g}, got "${pool}"`);
}

/**
 * Features of a batch of images (already in the model's shape).
 *
 * @param params The model.
 * @param cfg Its config.
 * @param images [B, H, W, C] in [−1, 1].
 * @param spec Layer, pooling, attention.
 * @returns [B, d] features.
 */
export function darlFeatures(params: DarlParams, cfg: DarlConfig, images: tf.Tensor, spec: FeatureSpec): tf.Tensor2D {
  return tf.tidy(() => {
    const out = darlForward(params, cfg, patchify(images, cfg.patchSize), {
      causal: spec.causal,
      shift: false,
      head: false,
    });
    const tokens = spec.layer === "final"
      ? out.normed
      : spec.layer === "embed"
      ? out.embed
      : out.blocks[Number(spec.layer.slice(5))]!;
    const [B, L, d] = tokens.shape;
    // Token 0 is SOS; tokens 1..T are the patches (shift: false keeps the last one).
    if (spec.pool === "last") return tokens.slice([0, L - 1, 0], [B, 1, d]).reshape([B, d]) as tf.Tensor2D;
    const patches = tokens.slice([0, 1, 0], [B, L - 1, d]);
    if (spec.pool === "mean") return tf.mean(patches, 1) as tf.Tensor2D;
    const k = Math.round(Math.sqrt(featureDim(spec.pool, cfg) / d)), g = gridSize(cfg);
    const grid = patches.reshape([B, g, g, d]);
    const cut = (i: number) => Math.floor((i * g) / k);
    const regions: tf.Tensor[] = [];
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < k; c++) {
        regions.push(
          tf.mean(grid.slice([0, cut(r), cut(c), 0], [B, cut(r + 1) - cut(r), cut(c + 1) - cut(c), d]), [1, 2]),
        );
      }
    }
    return (regions.length === 1 ? regions[0]! : tf.concat(regions, 1)) as tf.Tensor2D;
  });
}

/** A source of features: a model, or the raw pixels themselves. */
export type FeatureSource =
  | { kind: "model"; params: DarlParams; cfg: DarlConfig; key: string; spec: FeatureSpec }
  | { kind: "pixels" };

/**
 * Features of a whole split, in batches; images are first adapted to the
 * model's size and channels.
 *
 * @param source Model or raw pixels.
 * @param split The images.
 * @param shape Their [H, W, C].
 * @param batchSize Images per forward pass.
 * @returns [n, d] row-major features and d.
 */
export async function splitFeatures(
  source: FeatureSource,
  split: SplitData,
  shape: [number, number, number],
  batchSize = 256,
): Promise<{ x: Float32Array; dim: number }> {
  const size = shape[0] * shape[1] * shape[2];
  if (source.kind === "pixels") {
    return { x: toUnitRange(split.images), dim: size };
  }
  const { params, cfg, spec } = source;
  const target: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const chunks: Float32Array[] = [];
  for (let start = 0; start < split.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.count - start) }, (_, i) => start + i);
    const imgs = adaptImages(gatherImages(split, idx, size), shape, target);
    const x = tf.tensor4d(toUnitRange(imgs), [idx.length, ...target]);
    const f = darlFeatures(params, cfg, x, spec);
    chunks.push((await f.data()) as Float32Array);
    tf.dispose([x, f]);
  }
  const dim = featureDim(spec.pool, cfg), out = new Float32Array(split.count * dim);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return { x: out, dim };
}

/**
 * {@linkcode splitFeatures} with an on-disk cache under `cacheDir`, keyed by
 * the source, the feature spec, and the split's checksum.
 *
 * @param source Model (with a stable key) or pixels.
 * @param split The images.
 * @param shape Their [H, W, C].
 * @param splitKey A stable identity of the split (dataset checksum + split name).
 * @param cacheDir Where to cache ("" disables).
 * @returns Features and their width.
 */
export async function cachedFeatures(
  source: FeatureSource,
  split: SplitData,
  shape: [number, number, number],
  splitKey: string,
  cacheDir = ".cache/features",
): Promise<{ x: Float32Array; dim: number; cached: boolean }> {
  if (source.kind === "pixels" || !cacheDir) return { ...(await splitFeatures(source, split, shape)), cached: false };
  const key = await sha256Hex(new TextEncoder().encode(JSON.stringify([source.key, source.spec, splitKey])));
  const file = `${cacheDir}/${key}.f32`;
  if (await exists(file)) {
    const bytes = await Deno.readFile(file);
    const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const dim = featureDim(source.spec.pool, source.cfg);
    if (x.length === split.count * dim) return { x, dim, cached: true };
  }
  const f = await splitFeatures(source, split, shape);
  await Deno.mkdir(cacheDir, { recursive: true });
  await writeFileAtomic(file, new Uint8Array(f.x.buffer, f.x.byteOffset, f.x.byteLength));
  return { ...f, cached: false };
}
