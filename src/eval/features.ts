/**
 * Frozen features of an {@linkcode Encoder} for probes: any layer's tokens,
 * pooled over the patch tokens (their mean by default, the last token, or
 * means over a k×k partition of the patch grid), with the encoder's own
 * attention or the other kind. Features are computed once and cached on
 * disk, keyed by the encoder's identity, layer, pooling, attention and the
 * dataset split.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import { gatherImages, toUnitRange } from "../data/batches.ts";
import { exists, sha256Hex, writeFileAtomic } from "../data/files.ts";
import { adaptImages } from "../data/resize.ts";
import type { SplitData } from "../data/store.ts";
import type { Encoder } from "../nn/encoder.ts";

/**
 * Pooling of the patch tokens: their mean, the last token, or `grid<k>`:
 * means over a k×k partition of the patch grid, concatenated (k²·d values,
 * keeping the coarse spatial layout that mean pooling discards).
 *
 * @example
 * ```ts
 * import { type Pooling, poolTokens } from "./features.ts";
 * import { tf } from "../tf.ts";
 * const pool: Pooling = "grid2";
 * if (poolTokens(tf.ones([1, 1 + 4, 3]), 1, pool).shape.join() !== "1,12") throw new Error();
 * ```
 */
export type Pooling = "mean" | "last" | `grid${number}`;

/**
 * How features are taken from an encoder.
 *
 * @example
 * ```ts
 * import type { FeatureSpec } from "./features.ts";
 * const spec: FeatureSpec = { layer: "block2", pool: "last", causal: false };
 * if (spec.pool !== "last") throw new Error();
 * ```
 */
export interface FeatureSpec {
  /** A layer of the encoder: "final", "embed", or "block<i>" (0-based). */
  layer: string;
  /** How patch tokens are pooled. */
  pool: Pooling;
  /** Causal attention (as DARL pretrains) or bidirectional. */
  causal: boolean;
}

/**
 * Checks the form of a pooling name (its grid size is checked against an
 * encoder by {@linkcode featureDim}).
 *
 * @param pool The name given.
 * @returns It, typed.
 * @example
 * ```ts
 * import { parsePooling } from "./features.ts";
 * if (parsePooling("grid2") !== "grid2") throw new Error();
 * try { parsePooling("max"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--pool: expected mean, last or grid<k>")) throw e; }
 * ```
 */
export function parsePooling(pool: string): Pooling {
  if (!/^(mean|last|grid[1-9]\d*)$/.test(pool)) {
    throw new DarlError(`--pool: expected mean, last or grid<k>, got "${pool}"`);
  }
  return pool as Pooling;
}

/**
 * The default: final layer, mean-pooled, causal.
 *
 * @example
 * ```ts
 * import { DEFAULT_FEATURES } from "./features.ts";
 * if (DEFAULT_FEATURES.layer !== "final" || DEFAULT_FEATURES.pool !== "mean" || !DEFAULT_FEATURES.causal) throw new Error();
 * ```
 */
export const DEFAULT_FEATURES: FeatureSpec = { layer: "final", pool: "mean", causal: true };

/**
 * Checks a feature spec against an encoder and returns the feature width.
 *
 * @param spec Layer and pooling.
 * @param encoder The encoder.
 * @returns Values per image.
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import { featureDim } from "./features.ts";
 * const encoder = { layers: ["embed", "final"], width: 128, grid: 7 } as unknown as Encoder; // e.g. tiny DARL
 * if (featureDim({ layer: "final", pool: "grid2" }, encoder) !== 512) throw new Error();
 * ```
 */
export function featureDim(spec: Omit<FeatureSpec, "causal">, encoder: Encoder): number {
  if (!encoder.layers.includes(spec.layer)) {
    throw new DarlError(`--layer: unknown layer "${spec.layer}" (expected ${encoder.layers.join(", ")})`);
  }
  const g = encoder.grid;
  if (spec.pool === "mean" || spec.pool === "last") return encoder.width;
  const m = /^grid(\d+)$/.exec(spec.pool);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= g) return Number(m[1]) ** 2 * encoder.width;
  throw new DarlError(`--pool: expected mean, last or grid<k> with 1 ≤ k ≤ ${g}, got "${spec.pool}"`);
}

/**
 * Pools tokens [B, prefix + T, d] into features [B, dim].
 *
 * @param tokens The encoder's tokens.
 * @param prefix Tokens before the patch tokens.
 * @param pool The pooling.
 * @returns Features.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { poolTokens } from "./features.ts";
 * const f = poolTokens(tf.ones([2, 1 + 16, 8]), 1, "grid2");
 * if (f.shape.join() !== "2,32") throw new Error();
 * ```
 */
export function poolTokens(tokens: tf.Tensor3D, prefix: number, pool: Pooling): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, L, d] = tokens.shape;
    if (pool === "last") return tokens.slice([0, L - 1, 0], [B, 1, d]).reshape([B, d]) as tf.Tensor2D;
    const patches = tokens.slice([0, prefix, 0], [B, L - prefix, d]);
    if (pool === "mean") return tf.mean(patches, 1) as tf.Tensor2D;
    const k = Number(pool.slice(4)), g = Math.round(Math.sqrt(L - prefix));
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

/**
 * Features of a batch of images (already in the encoder's shape).
 *
 * @param encoder The encoder.
 * @param images [B, H, W, C] in [−1, 1].
 * @param spec Layer, pooling, attention.
 * @returns [B, dim] features.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { encoderFeatures } from "./features.ts";
 * // Any encoder will do; this one returns a constant token per patch of a 2×2 grid after one prefix token.
 * const encoder = { prefixTokens: 1, tokens: (x: tf.Tensor) => tf.ones([x.shape[0]!, 5, 3]) } as unknown as Encoder;
 * const f = encoderFeatures(encoder, tf.zeros([2, 8, 8, 1]), { layer: "final", pool: "mean", causal: true });
 * if (f.shape.join() !== "2,3") throw new Error();
 * ```
 */
export function encoderFeatures(encoder: Encoder, images: tf.Tensor, spec: FeatureSpec): tf.Tensor2D {
  return tf.tidy(() =>
    poolTokens(encoder.tokens(images, { causal: spec.causal, layer: spec.layer }), encoder.prefixTokens, spec.pool)
  );
}

/**
 * A source of features: an encoder, or the raw pixels themselves.
 *
 * @example
 * ```ts
 * import type { FeatureSource } from "./features.ts";
 * const pixels: FeatureSource = { kind: "pixels" };
 * if (pixels.kind !== "pixels") throw new Error();
 * ```
 */
export type FeatureSource =
  | { kind: "encoder"; encoder: Encoder; spec: FeatureSpec }
  | { kind: "pixels" };

/**
 * Features of a whole split, in batches; images are first adapted to the
 * encoder's size and channels.
 *
 * @param source Encoder or raw pixels.
 * @param split The images.
 * @param shape Their [H, W, C].
 * @param batchSize Images per forward pass.
 * @param log Progress, about every 10,000 images.
 * @returns [n, d] row-major features and d.
 */
export async function splitFeatures(
  source: FeatureSource,
  split: SplitData,
  shape: readonly [number, number, number],
  batchSize = 256,
  log?: (msg: string) => void,
): Promise<{ x: Float32Array; dim: number }> {
  const size = shape[0] * shape[1] * shape[2];
  if (source.kind === "pixels") return { x: toUnitRange(split.images), dim: size };
  const { encoder, spec } = source;
  const dim = featureDim(spec, encoder), out = new Float32Array(split.count * dim);
  const target = encoder.imageShape;
  let lastLog = 0;
  for (let start = 0; start < split.count; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.count - start) }, (_, i) => start + i);
    const imgs = adaptImages(gatherImages(split, idx, size), [...shape], [...target]);
    const x = tf.tensor4d(toUnitRange(imgs), [idx.length, ...target]);
    const f = encoderFeatures(encoder, x, spec);
    out.set((await f.data()) as Float32Array, start * dim);
    tf.dispose([x, f]);
    const done = start + idx.length;
    if (log && (done - lastLog >= 10000 || done === split.count)) {
      lastLog = done;
      log(`  features: ${done}/${split.count} images`);
    }
  }
  return { x: out, dim };
}

/**
 * {@linkcode splitFeatures} with an on-disk cache under `cacheDir`, keyed by
 * the encoder's identity, the feature spec, and the split's identity.
 *
 * @param source Encoder (with a stable key) or pixels.
 * @param split The images.
 * @param shape Their [H, W, C].
 * @param splitKey A stable identity of the split (dataset checksum + split name).
 * @param cacheDir Where to cache ("" disables).
 * @param log Progress of feature extraction.
 * @returns Features, their width, and whether they came from the cache.
 *
 * @example
 * ```ts
 * import { cachedFeatures } from "./features.ts";
 * const split = { count: 2, images: new Uint8Array([0, 255, 255, 0]), labels: null };
 * const f = await cachedFeatures({ kind: "pixels" }, split, [1, 2, 1], "demo:train");
 * if (f.dim !== 2 || f.x[1] !== 1 || f.cached) throw new Error(); // pixels are never cached
 * ```
 */
export async function cachedFeatures(
  source: FeatureSource,
  split: SplitData,
  shape: readonly [number, number, number],
  splitKey: string,
  cacheDir = ".cache/features",
  log?: (msg: string) => void,
): Promise<{ x: Float32Array; dim: number; cached: boolean }> {
  if (source.kind === "pixels" || !cacheDir) {
    return { ...(await splitFeatures(source, split, shape, 256, log)), cached: false };
  }
  const key = await sha256Hex(new TextEncoder().encode(JSON.stringify([source.encoder.key, source.spec, splitKey])));
  const file = `${cacheDir}/${key}.f32`;
  const dim = featureDim(source.spec, source.encoder);
  if (await exists(file)) {
    const bytes = await Deno.readFile(file);
    const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (x.length === split.count * dim) return { x, dim, cached: true };
  }
  const f = await splitFeatures(source, split, shape, 256, log);
  await Deno.mkdir(cacheDir, { recursive: true });
  await writeFileAtomic(file, new Uint8Array(f.x.buffer, f.x.byteOffset, f.x.byteLength));
  return { ...f, cached: false };
}
