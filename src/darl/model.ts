/**
 * The DARL backbone: a decoder-only ViT that reads image patches in raster
 * order and predicts the next patch (spec §1).
 *
 *   patches x1..xT ──▶ [SOS, x1 … x_{T−1}] ──▶ linear embed (+ abs. pos)
 *     ──▶ depth × pre-LN block (causal MHSA with 2D RoPE, MLP)
 *     ──▶ final LayerNorm ("normed") ──▶ head: LN → Linear → P²·C ("pred")
 *
 * Output t predicts x_t, so every patch gets a loss. The model is a pure
 * function over a typed parameter tree; the forward pass returns named
 * intermediates so probes can tap any layer.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { createRng } from "../rng.ts";
import type { RopeTensors } from "../nn/attention.ts";
import { truncNormal } from "../nn/init.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../nn/layer_norm.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { initMlp, mlp, type MlpParams } from "../nn/mlp.ts";
import { type PatchOrder, patchOrder } from "../nn/patch_order.ts";
import { sincos2d } from "../nn/posenc.ts";
import { blockForward, type BlockParams, initBlock } from "../nn/transformer.ts";
import { disposeTree } from "../nn/tree.ts";
import { type RopeTables, ropeTables, type TokenPosition } from "../nn/rope.ts";
import { type DarlConfig, gridSize } from "./config.ts";
import { initPatchDecoder, type PatchDecoderParams } from "./patch_decoder.ts";

export type { BlockParams };

/**
 * All parameters of a DARL model.
 *
 * @example
 * ```ts
 * import { namedLeaves } from "../nn/tree.ts";
 * import { darlConfig } from "./config.ts";
 * import { type DarlParams, initDarl } from "./model.ts";
 * const p: DarlParams = initDarl(darlConfig("tiny", { depth: 1, dim: 32, heads: 2 }), 0);
 * if (!namedLeaves(p as never).some(([n]) => n === "blocks.0.qkv.w")) throw new Error();
 * ```
 */
export interface DarlParams {
  /** Patch embedding P²C → d. */
  patchEmbed: LinearParams;
  /** The learned start-of-sequence token [d]. */
  sos: tf.Tensor;
  /** Learned absolute positions [T + 1, d] (only with `posEncoding: "learned"`). */
  pos?: tf.Tensor;
  /** The transformer blocks. */
  blocks: BlockParams[];
  /** Final LayerNorm; its output is the representation. */
  norm: LayerNormParams;
  /** Next-patch head (MSE objective). */
  head?: HeadParams;
  /** Denoising patch decoder (diffusion objective). */
  decoder?: PatchDecoderParams;
}

/**
 * The MSE objective's next-patch head: `headDepth` pre-LN residual MLP
 * blocks (AIM's MLP head), then LN → Linear(d → P²C).
 *
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { type HeadParams, initDarl } from "./model.ts";
 * const head: HeadParams = initDarl(darlConfig("tiny", { depth: 1, dim: 32, heads: 2, headDepth: 2 }), 0).head!;
 * if (head.blocks.length !== 2 || head.out.w.shape.join() !== "32,16") throw new Error();
 * ```
 */
export interface HeadParams {
  /** Residual MLP blocks, each x + MLP(LN(x)) (none by default). */
  blocks: { norm: LayerNormParams; mlp: MlpParams }[];
  /** LayerNorm before the output projection. */
  norm: LayerNormParams;
  /** d → P²C. */
  out: LinearParams;
}

/**
 * Applies the next-patch head to representations.
 *
 * @param head The head.
 * @param h Representations [..., d] (the final LayerNorm's output).
 * @returns Predicted patches [..., P²C].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { initDarl, nextPatchHead } from "./model.ts";
 * const p = initDarl(darlConfig("tiny", { depth: 1, dim: 32, heads: 2, headDepth: 1 }), 0);
 * if (nextPatchHead(p.head!, tf.zeros([2, 5, 32])).shape.join() !== "2,5,16") throw new Error();
 * ```
 */
export function nextPatchHead(head: HeadParams, h: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let x = h;
    for (const b of head.blocks) x = tf.add(x, mlp(b.mlp, layerNorm(b.norm, x)));
    return linear(head.out, layerNorm(head.norm, x));
  });
}

/**
 * Initialises a DARL model deterministically from its config and a seed.
 *
 * @param cfg The model config.
 * @param seed Integer seed.
 * @returns A parameter tree of trainable variables.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * const params = initDarl(darlConfig("tiny", { depth: 1, dim: 32, heads: 2 }), 0);
 * if (params.blocks.length !== 1) throw new Error();
 * ```
 */
export function initDarl(cfg: DarlConfig, seed: number): DarlParams {
  const rng = createRng(seed);
  const patchDim = cfg.patchSize * cfg.patchSize * cfg.channels;
  const T = gridSize(cfg) ** 2;
  const hidden = Math.round(cfg.dim * cfg.mlpRatio);
  const params: DarlParams = {
    patchEmbed: initLinear(rng, patchDim, cfg.dim),
    sos: truncNormal(rng, [cfg.dim], 0.02),
    blocks: [],
    norm: initLayerNorm(cfg.dim),
  };
  // The head is drawn before the blocks so MSE models keep their seed-for-seed initialisation.
  const head: HeadParams = { blocks: [], norm: initLayerNorm(cfg.dim), out: initLinear(rng, cfg.dim, patchDim) };
  if ((cfg.objective ?? "mse") === "mse") params.head = head;
  else disposeTree(head as never);
  if (cfg.posEncoding === "learned") params.pos = truncNormal(rng, [T + 1, cfg.dim], 0.02);
  for (let i = 0; i < cfg.depth; i++) params.blocks.push(initBlock(rng, cfg.dim, hidden));
  if (cfg.objective === "diffusion") params.decoder = initPatchDecoder(rng, cfg);
  // Drawn last, so models without an MLP head keep their seed-for-seed initialisation.
  for (let i = 0; i < (cfg.headDepth ?? 0) && params.head; i++) {
    params.head.blocks.push({ norm: initLayerNorm(cfg.dim), mlp: initMlp(rng, cfg.dim, hidden) });
  }
  return params;
}

/**
 * Options of {@linkcode darlForward}.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { darlForward, type DarlForwardOptions, initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { depth: 2, dim: 32, heads: 2 });
 * const opts: DarlForwardOptions = { causal: false, shift: false, blocks: 1 };
 * const out = darlForward(initDarl(cfg, 0), cfg, tf.zeros([1, 49, 16]), opts);
 * if (out.blocks.length !== 1 || out.normed !== undefined) throw new Error();
 * ```
 */
export interface DarlForwardOptions {
  /** Causal attention (pretraining, default) or bidirectional (fine-tuning). */
  causal?: boolean;
  /**
   * Under the causal mask, the first `prefix` tokens are seen by every token
   * (AIM's prefix attention, `attention: "prefix"` models; default 1: plain causal).
   */
  prefix?: number;
  /**
   * true (default, pretraining): the input is [SOS, x1 … x_{T−1}] and token t
   * predicts x_t. false (features): the input is [SOS, x1 … x_T], T + 1 tokens.
   */
  shift?: boolean;
  /** Compute the next-patch head (default: when the model has one). */
  head?: boolean;
  /**
   * Run only this many blocks and return their outputs, without the final
   * LayerNorm and head (default: everything). Features from a block need
   * nothing after it.
   */
  blocks?: number;
}

/**
 * Named intermediates of {@linkcode darlForward}, all [B, L, ·].
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { type DarlForward, darlForward, initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const out: DarlForward = darlForward(initDarl(cfg, 0), cfg, tf.zeros([1, 49, 16]));
 * if (out.embed.shape.join() !== "1,49,32" || out.pred!.shape.join() !== "1,49,16") throw new Error();
 * ```
 */
export interface DarlForward {
  /** Token embeddings entering block 0 (after SOS and absolute positions). */
  embed: tf.Tensor3D;
  /** The output of every block. */
  blocks: tf.Tensor3D[];
  /** The final LayerNorm of the last block: the representation (absent when `blocks` is given). */
  normed?: tf.Tensor3D;
  /** Next-patch predictions [B, L, P²C] (when `head` is set). */
  pred?: tf.Tensor3D;
}

/**
 * Runs the backbone on patches.
 *
 * @param params The model.
 * @param cfg Its config.
 * @param patches Globally normalised patches [B, T, P²C] in raster order.
 * @param opts Causality, shift and head.
 * @returns Named intermediates.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { darlForward, initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const out = darlForward(initDarl(cfg, 0), cfg, tf.zeros([2, 49, 16]));
 * if (out.pred!.shape.join() !== "2,49,16") throw new Error();
 * ```
 */
export function darlForward(
  params: DarlParams,
  cfg: DarlConfig,
  patches: tf.Tensor,
  opts: DarlForwardOptions = {},
): DarlForward {
  const { causal = true, prefix = 1, shift = true, head = !!params.head } = opts;
  const depth = opts.blocks ?? params.blocks.length;
  const [B, T] = patches.shape as [number, number, number];
  const L = shift ? T : T + 1; // tokens: SOS + (T − 1) or T patches

  // Embed: [SOS, x1 … x_{L−1}] -> (B, L, d)
  const inputs = shift ? patches.slice([0, 0, 0], [B, T - 1, -1]) : patches;
  const sos = tf.broadcastTo(params.sos.reshape([1, 1, cfg.dim]), [B, 1, cfg.dim]);
  let x = tf.concat([sos, linear(params.patchEmbed, inputs)], 1) as tf.Tensor3D;
  if (cfg.posEncoding === "learned") {
    x = tf.add(x, params.pos!.slice([0, 0], [L, cfg.dim]));
  } else if (cfg.posEncoding === "sincos") {
    x = tf.add(x, tf.tensor2d(sincosTokens(cfg, L), [L, cfg.dim]));
  }
  const embed = x;

  const rope = ropeFor(cfg, L);
  const blocks: tf.Tensor3D[] = [];
  for (const blk of params.blocks.slice(0, depth)) {
    x = blockForward(blk, x, cfg.heads, rope, causal, prefix);
    blocks.push(x);
  }
  if (opts.blocks !== undefined) return { embed, blocks };
  const normed = layerNorm(params.norm, x) as tf.Tensor3D;
  const out: DarlForward = { embed, blocks, normed };
  if (head && params.head) out.pred = nextPatchHead(params.head, normed) as tf.Tensor3D;
  return out;
}

/**
 * Grid coordinates of the tokens [SOS, patch 0, patch 1, …], the patches
 * visited in `order`; `index` is the place in the sequence (1D RoPE's
 * position), so it follows the order too.
 *
 * @param grid Patches per side.
 * @param length Tokens, SOS included.
 * @param order The patch order.
 * @returns One position per token (null for SOS).
 * @example
 * ```ts
 * import { tokenPositions } from "./model.ts";
 * const p = tokenPositions(4, 4, "nested"); // SOS, (0,0), (0,1), (1,0)
 * if (p[3]?.row !== 1 || p[3]?.col !== 0 || p[3]?.index !== 3) throw new Error();
 * ```
 */
export function tokenPositions(grid: number, length: number, order: PatchOrder = "raster"): TokenPosition[] {
  const perm = patchOrder(order, grid, grid);
  const pos: TokenPosition[] = [null];
  for (let i = 1; i < length; i++) {
    const r = perm[i - 1]!;
    pos.push({ row: Math.floor(r / grid), col: r % grid, index: i });
  }
  return pos;
}

const ropeCache = new Map<string, RopeTables>();

/**
 * RoPE tables for a config and sequence length, as tensors (or null when the
 * config uses no RoPE). The float tables are cached; the tensors are not, so
 * they live in the caller's tidy scope on the active backend.
 *
 * @param cfg The model config.
 * @param length Number of tokens L.
 * @returns Tensors for {@linkcode attention}, or null.
 */
export function ropeFor(cfg: DarlConfig, length: number): RopeTensors | null {
  if (cfg.posEncoding !== "rope2d" && cfg.posEncoding !== "rope1d") return null;
  const dh = cfg.dim / cfg.heads;
  const key = `${cfg.posEncoding}:${gridSize(cfg)}:${length}:${dh}:${cfg.ropeBase}:${cfg.patchOrder}`;
  let t = ropeCache.get(key);
  if (!t) {
    t = ropeTables(tokenPositions(gridSize(cfg), length, cfg.patchOrder), dh, cfg.posEncoding, cfg.ropeBase);
    ropeCache.set(key, t);
  }
  return {
    cos: tf.tensor2d(t.cos, [length, dh]),
    sin: tf.tensor2d(t.sin, [length, dh]),
    segment: t.segment,
  };
}

/**
 * Absolute 2D sin-cos embeddings of the tokens [SOS, patch 0, …], each
 * patch's row of the table at its grid place in the config's patch order.
 *
 * @param cfg The model config.
 * @param length Tokens, SOS included.
 * @returns [length, d] values; SOS's row is zero.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { sincosTokens } from "./model.ts";
 * const cfg = darlConfig("tiny", { posEncoding: "sincos" });
 * if (sincosTokens(cfg, 3).length !== 3 * cfg.dim || sincosTokens(cfg, 3)[0] !== 0) throw new Error();
 * ```
 */
export function sincosTokens(cfg: DarlConfig, length: number): Float32Array {
  const g = gridSize(cfg), d = cfg.dim, table = sincos2d(g, d), perm = patchOrder(cfg.patchOrder, g, g);
  const out = new Float32Array(length * d); // SOS row stays zero
  for (let t = 1; t < length; t++) out.set(table.subarray(perm[t - 1]! * d, (perm[t - 1]! + 1) * d), t * d);
  return out;
}

export { countParams } from "../nn/tree.ts";
