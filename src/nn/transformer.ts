/**
 * One pre-LN transformer block, as a pure function over its parameters:
 *
 *   x ← x + proj(MHSA(LN₁(x)))      (RoPE on q and k, optional causal mask)
 *   x ← x + MLP(LN₂(x))
 *
 * {@linkcode blockForward} runs a whole sequence; {@linkcode blockStep} runs
 * one new token against a key/value cache (autoregressive decoding). Both
 * compute the same function, so cached decoding equals the full pass.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { attention, type RopeTensors } from "./attention.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "./layer_norm.ts";
import { initLinear, linear, type LinearParams } from "./linear.ts";
import { initMlp, mlp, type MlpParams } from "./mlp.ts";
import { applyRope } from "./rope.ts";

/**
 * One pre-LN transformer block.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { type BlockParams, blockForward, initBlock } from "./transformer.ts";
 * const blk: BlockParams = initBlock(createRng(0), 16, 64);
 * if (blockForward(blk, tf.zeros([1, 3, 16]), 4, null, false).shape.join() !== "1,3,16") throw new Error();
 * ```
 */
export interface BlockParams {
  /** LayerNorm before attention. */
  ln1: LayerNormParams;
  /** Packed q, k, v projection d → 3d. */
  qkv: LinearParams;
  /** Attention output projection d → d. */
  proj: LinearParams;
  /** LayerNorm before the MLP. */
  ln2: LayerNormParams;
  /** The MLP d → hidden → d. */
  mlp: MlpParams;
}

/**
 * Initialises a block (draw order: qkv, proj, MLP).
 *
 * @param rng The generator.
 * @param dim Token width d.
 * @param hidden MLP hidden width.
 * @returns The block's parameters.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initBlock } from "./transformer.ts";
 * const b = initBlock(createRng(0), 16, 64);
 * if (b.qkv.w.shape.join() !== "16,48") throw new Error();
 * ```
 */
export function initBlock(rng: Rng, dim: number, hidden: number): BlockParams {
  return {
    ln1: initLayerNorm(dim),
    qkv: initLinear(rng, dim, 3 * dim),
    proj: initLinear(rng, dim, dim),
    ln2: initLayerNorm(dim),
    mlp: initMlp(rng, dim, hidden),
  };
}

/**
 * Runs a block on a whole sequence.
 *
 * @param p The block.
 * @param x Tokens [B, L, d].
 * @param heads Attention heads.
 * @param rope RoPE tables for the L positions, or null.
 * @param causal Whether token i attends only to j ≤ i.
 * @param prefix Under the causal mask, tokens every token attends to (1: plain causal).
 * @returns The block's output [B, L, d].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { blockForward, initBlock } from "./transformer.ts";
 * const y = blockForward(initBlock(createRng(0), 16, 64), tf.zeros([2, 5, 16]), 2, null, true);
 * if (y.shape.join() !== "2,5,16") throw new Error();
 * ```
 */
export function blockForward(
  p: BlockParams,
  x: tf.Tensor,
  heads: number,
  rope: RopeTensors | null,
  causal: boolean,
  prefix = 1,
): tf.Tensor3D {
  const a = attention(linear(p.qkv, layerNorm(p.ln1, x)), heads, rope, causal, prefix);
  const h = tf.add(x, linear(p.proj, a));
  return tf.add(h, mlp(p.mlp, layerNorm(p.ln2, h))) as tf.Tensor3D;
}

/**
 * One layer's cached keys and values, [B, heads, t, d_h] (RoPE already applied to keys).
 *
 * @example
 * ```ts
 * import type { LayerCache } from "./transformer.ts";
 * const empty: LayerCache = { k: null, v: null };
 * if (empty.k !== null) throw new Error();
 * ```
 */
export interface LayerCache {
  /** Keys. */
  k: tf.Tensor | null;
  /** Values. */
  v: tf.Tensor | null;
}

/**
 * Runs a block on one new token attending to itself and the cached tokens,
 * appending its key and value to the cache (the old cache tensors are
 * disposed; the new ones are kept out of any enclosing tidy scope).
 *
 * @param p The block.
 * @param x The new token [B, d].
 * @param heads Attention heads.
 * @param rope cos/sin rows [1, d_h] of the token's position, or null.
 * @param cache This layer's cache (updated).
 * @returns The block's output for the token [B, d].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { blockStep, initBlock, type LayerCache } from "./transformer.ts";
 * const blk = initBlock(createRng(0), 16, 64), cache: LayerCache = { k: null, v: null };
 * blockStep(blk, tf.zeros([2, 16]), 2, null, cache);
 * blockStep(blk, tf.ones([2, 16]), 2, null, cache);
 * if (cache.k!.shape.join() !== "2,2,2,8") throw new Error();
 * ```
 */
export function blockStep(
  p: BlockParams,
  x: tf.Tensor,
  heads: number,
  rope: { cos: tf.Tensor; sin: tf.Tensor; segment: number } | null,
  cache: LayerCache,
): tf.Tensor2D {
  const [B, d] = x.shape as [number, number];
  const dh = d / heads;
  const old = [cache.k, cache.v];
  const out = tf.tidy(() => {
    const qkv = linear(p.qkv, layerNorm(p.ln1, x)).reshape([B, 3, heads, 1, dh]);
    let [q, k, v] = tf.unstack(qkv, 1) as [tf.Tensor, tf.Tensor, tf.Tensor]; // [B, H, 1, dh]
    if (rope) {
      q = applyRope(q, rope.cos, rope.sin, rope.segment);
      k = applyRope(k, rope.cos, rope.sin, rope.segment);
    }
    const K = cache.k ? tf.concat([cache.k, k], 2) : k, V = cache.v ? tf.concat([cache.v, v], 2) : v;
    cache.k = tf.keep(K);
    cache.v = tf.keep(V);
    const probs = tf.softmax(tf.mul(tf.matMul(q, K, false, true), 1 / Math.sqrt(dh)), -1); // [B, H, 1, t+1]
    const o = tf.matMul(probs, V).reshape([B, d]);
    const h = tf.add(x, linear(p.proj, o));
    return tf.add(h, mlp(p.mlp, layerNorm(p.ln2, h))) as tf.Tensor2D;
  });
  tf.dispose(old.filter((t): t is tf.Tensor => t !== null));
  return out;
}
