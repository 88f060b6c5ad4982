/**
 * DARL's key/value cache for autoregressive decoding: a new token costs one
 * position through the backbone rather than the whole prefix, with the RoPE
 * tables of the full sequence computed once. The samplers in `sample.ts`
 * drive it, one patch per {@linkcode decodeStep}.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { linear } from "../nn/linear.ts";
import { blockStep, type LayerCache } from "../nn/transformer.ts";
import { type DarlConfig, gridSize } from "./config.ts";
import { type DarlParams, ropeFor, sincosTokens } from "./model.ts";

/**
 * Per-layer keys and values of the tokens decoded so far.
 *
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { createKvCache, decodeStep, disposeKvCache, type KvCache } from "./kv_cache.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const cache: KvCache = createKvCache(cfg);
 * decodeStep(initDarl(cfg, 0), cfg, cache, null, 2).dispose();
 * if (cache.length !== 1 || cache.layers[0]!.k!.shape.join() !== "2,2,1,16") throw new Error();
 * disposeKvCache(cache);
 * ```
 */
export interface KvCache {
  /** One cache per block: keys and values [B, H, t, d_h] (RoPE applied to keys). */
  layers: LayerCache[];
  /** Tokens in the cache. */
  length: number;
  /** RoPE tables for the full sequence (rows are token positions). */
  rope: { cos: tf.Tensor; sin: tf.Tensor; segment: number } | null;
  /** Sin-cos position rows [T + 1, d] for the full sequence, when the model adds them. */
  sincos: Float32Array | null;
}

/**
 * An empty cache for sequences of up to T + 1 tokens.
 *
 * @param cfg The model config.
 * @returns The cache.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { createKvCache, disposeKvCache } from "./kv_cache.ts";
 * const cache = createKvCache(darlConfig("tiny"));
 * if (cache.length !== 0 || cache.layers.length !== 4) throw new Error();
 * disposeKvCache(cache);
 * ```
 */
export function createKvCache(cfg: DarlConfig): KvCache {
  const length = gridSize(cfg) ** 2 + 1, rope = ropeFor(cfg, length);
  if (rope) {
    tf.keep(rope.cos);
    tf.keep(rope.sin);
  }
  const sincos = cfg.posEncoding === "sincos" ? sincosTokens(cfg, length) : null;
  return { layers: Array.from({ length: cfg.depth }, () => ({ k: null, v: null })), length: 0, rope, sincos };
}

/**
 * Releases a cache's tensors.
 *
 * @param cache The cache.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { createKvCache, disposeKvCache } from "./kv_cache.ts";
 * disposeKvCache(createKvCache(darlConfig("tiny")));
 * ```
 */
export function disposeKvCache(cache: KvCache): void {
  for (const l of cache.layers) {
    tf.dispose([l.k, l.v].filter((t): t is tf.Tensor => t !== null));
    l.k = l.v = null;
  }
  if (cache.rope) tf.dispose([cache.rope.cos, cache.rope.sin]);
}

/**
 * Feeds one token (SOS when the cache is empty, else a patch) through the
 * backbone, appending its keys and values, and returns the final normed
 * state h, which predicts the next patch.
 *
 * @param params The model.
 * @param cfg Its config.
 * @param cache The cache (updated).
 * @param patch [B, P²C] globally normalised, or null for SOS.
 * @param batch B (needed for SOS).
 * @returns h [B, d].
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { createKvCache, decodeStep, disposeKvCache } from "./kv_cache.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 }), params = initDarl(cfg, 0);
 * const cache = createKvCache(cfg);
 * decodeStep(params, cfg, cache, null, 1).dispose(); // SOS
 * const h = decodeStep(params, cfg, cache, tf.zeros([1, 16]), 1); // patch 1: h predicts patch 2
 * if (h.shape.join() !== "1,32" || cache.length !== 2) throw new Error();
 * disposeKvCache(cache);
 * ```
 */
export function decodeStep(
  params: DarlParams,
  cfg: DarlConfig,
  cache: KvCache,
  patch: tf.Tensor | null,
  batch: number,
): tf.Tensor2D {
  const i = cache.length, d = cfg.dim, dh = d / cfg.heads;
  const out = tf.tidy(() => {
    let x = patch ? linear(params.patchEmbed, patch) : tf.broadcastTo(params.sos.reshape([1, d]), [batch, d]);
    if (cfg.posEncoding === "learned") x = tf.add(x, params.pos!.slice([i, 0], [1, d]));
    if (cache.sincos && i > 0) x = tf.add(x, tf.tensor2d(cache.sincos.subarray(i * d, (i + 1) * d), [1, d]));
    const rope = cache.rope && {
      cos: cache.rope.cos.slice([i, 0], [1, dh]),
      sin: cache.rope.sin.slice([i, 0], [1, dh]),
      segment: cache.rope.segment,
    };
    params.blocks.forEach((blk, l) => (x = blockStep(blk, x, cfg.heads, rope, cache.layers[l]!)));
    return layerNorm(params.norm, x) as tf.Tensor2D;
  });
  cache.length++;
  return out;
}
