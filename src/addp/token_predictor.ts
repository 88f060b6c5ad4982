/**
 * The token predictor ADDP's training consults (spec §5, §8.3): a MAGE-style
 * bidirectional encoder-decoder transformer over VQ token ids. In training, a
 * truncated-normal share of the tokens is masked and half the sequence (taken
 * from the masked ones) is dropped from the encoder; the decoder refills the
 * dropped slots with the encoder's [CLS] output and predicts every masked id
 * through an MLM head tied to the token embedding. Frozen, it gives ADDP the
 * distribution over codes at masked positions (no dropping).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { createRng, type Rng } from "../rng.ts";
import { type ConfigSchema, validateConfig } from "../config.ts";
import { embed, initEmbedding } from "../nn/embedding.ts";
import { constant, truncNormal } from "../nn/init.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../nn/layer_norm.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { gelu } from "../nn/mlp.ts";
import { softCrossEntropy } from "../nn/soft_cross_entropy.ts";
import { stopGradient } from "../nn/stop_gradient.ts";
import { blockForward, type BlockParams, initBlock } from "../nn/transformer.ts";
import type { ParamTree } from "../nn/tree.ts";
import { nestedMasks, sampleMaskRatio } from "./mask_schedule.ts";

/**
 * The predictor's architecture and masking. `tokens` and `codebookSize` come
 * from the tokenizer it reads.
 *
 * @example
 * ```ts
 * import { PREDICTOR_DEFAULTS, type PredictorConfig } from "./token_predictor.ts";
 * const cfg: PredictorConfig = { ...PREDICTOR_DEFAULTS, tokens: 64, codebookSize: 512 };
 * if (cfg.width !== 128) throw new Error();
 * ```
 */
export interface PredictorConfig {
  /** L, tokens per image (the tokenizer's grid squared). */
  tokens: number;
  /** K, the tokenizer's codebook size; ids K and K + 1 are [MASK] and [CLS]. */
  codebookSize: number;
  /** Transformer width. */
  width: number;
  /** Encoder blocks. */
  depth: number;
  /** Decoder blocks. */
  decoderDepth: number;
  /** Attention heads. */
  heads: number;
  /** MLP width / transformer width. */
  mlpRatio: number;
  /** Mask ratio ~ N(maskMu, maskSigma) truncated to [maskMin, 1]. */
  maskMu: number;
  /** Its standard deviation. */
  maskSigma: number;
  /** Its lower bound. */
  maskMin: number;
  /** Share of the L tokens dropped from the encoder (taken from the masked ones). */
  dropRatio: number;
  /** Label smoothing of the cross-entropy. */
  smoothing: number;
}

/**
 * Defaults (MAGE-tiny at small scale, spec §8.3).
 *
 * @example
 * ```ts
 * import { PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * if (PREDICTOR_DEFAULTS.maskMu !== 0.55 || PREDICTOR_DEFAULTS.dropRatio !== 0.5) throw new Error();
 * ```
 */
export const PREDICTOR_DEFAULTS: PredictorConfig = {
  tokens: 49,
  codebookSize: 256,
  width: 128,
  depth: 6,
  decoderDepth: 2,
  heads: 4,
  mlpRatio: 4,
  maskMu: 0.55,
  maskSigma: 0.25,
  maskMin: 0.5,
  dropRatio: 0.5,
  smoothing: 0.1,
};

/**
 * Flag documentation and bounds of {@linkcode PredictorConfig}.
 *
 * @example
 * ```ts
 * import { validateConfig } from "../config.ts";
 * import { PREDICTOR_DEFAULTS, PREDICTOR_SCHEMA } from "./token_predictor.ts";
 * validateConfig(PREDICTOR_DEFAULTS, PREDICTOR_SCHEMA);
 * ```
 */
export const PREDICTOR_SCHEMA: ConfigSchema<PredictorConfig> = {
  tokens: { doc: "tokens per image (taken from the tokenizer)", integer: true, min: 1, max: 65536 },
  codebookSize: { doc: "codebook size K (taken from the tokenizer)", integer: true, min: 2, max: 65536 },
  width: { doc: "transformer width", integer: true, min: 1, max: 16384 },
  depth: { doc: "encoder blocks", integer: true, min: 1, max: 256 },
  decoderDepth: { doc: "decoder blocks", integer: true, min: 1, max: 256 },
  heads: { doc: "attention heads", integer: true, min: 1, max: 1024 },
  mlpRatio: { doc: "MLP width / transformer width", above: 0, max: 64 },
  maskMu: { doc: "mask ratio: truncated-normal mean", min: 0, max: 1 },
  maskSigma: { doc: "mask ratio: truncated-normal standard deviation", above: 0, max: 10 },
  maskMin: { doc: "mask ratio: lower bound", min: 0, below: 1 },
  dropRatio: { doc: "share of tokens dropped from the encoder (≤ mask-min)", min: 0, below: 1 },
  smoothing: { doc: "label smoothing", min: 0, below: 1 },
};

/**
 * An MLM head: Linear → GELU → LayerNorm, then logits against the (detached) token embedding plus a bias.
 *
 * @example
 * ```ts
 * import { initPredictor, type MlmHead, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * const head: MlmHead = initPredictor({ ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1 }, 0).head;
 * if (head.bias.shape[0] !== 258) throw new Error();
 * ```
 */
export interface MlmHead {
  /** Linear width → width. */
  dense: LinearParams;
  /** LayerNorm after the GELU. */
  norm: LayerNormParams;
  /** Per-id logit bias [vocab]. */
  bias: tf.Variable;
}

/**
 * The predictor's parameters.
 *
 * @example
 * ```ts
 * import { initPredictor, PREDICTOR_DEFAULTS, type PredictorParams } from "./token_predictor.ts";
 * const p: PredictorParams = initPredictor({ ...PREDICTOR_DEFAULTS, width: 32, depth: 1, decoderDepth: 1 }, 0);
 * if (p.tokEmb.shape.join() !== "258,32") throw new Error(); // K codes + [MASK] + [CLS]
 * ```
 */
export interface PredictorParams {
  /** Token embedding [K + 2, width], shared with the MLM head. */
  tokEmb: tf.Variable;
  /** Learned encoder positions [1 + L, width]. */
  pos: tf.Variable;
  /** LayerNorm of the embedded input. */
  embNorm: LayerNormParams;
  /** Encoder blocks. */
  blocks: BlockParams[];
  /** Final encoder LayerNorm. */
  norm: LayerNormParams;
  /** Encoder → decoder projection. */
  decProj: LinearParams;
  /** Learned decoder positions [1 + L, width]. */
  decPos: tf.Variable;
  /** Decoder blocks. */
  decBlocks: BlockParams[];
  /** Final decoder LayerNorm. */
  decNorm: LayerNormParams;
  /** The MLM head. */
  head: MlmHead;
}

/**
 * Initialises the predictor.
 *
 * @param cfg The config.
 * @param seed The seed.
 * @returns The parameters.
 * @example
 * ```ts
 * import { initPredictor, PREDICTOR_DEFAULTS } from "./token_predictor.ts";
 * const p = initPredictor({ ...PREDICTOR_DEFAULTS, width: 32 }, 0);
 * if (p.blocks.length !== 6 || p.decBlocks.length !== 2) throw new Error();
 * ```
 */
export function initPredictor(cfg: PredictorConfig, seed: number): PredictorParams {
  validateConfig(cfg, PREDICTOR_SCHEMA, PREDICTOR_DEFAULTS);
  const rng: Rng = createRng(seed);
  const w = cfg.width, hidden = Math.round(w * cfg.mlpRatio), vocab = cfg.codebookSize + 2;
  return {
    tokEmb: initEmbedding(rng, vocab, w),
    pos: truncNormal(rng, [1 + cfg.tokens, w], 0.02),
    embNorm: initLayerNorm(w),
    blocks: Array.from({ length: cfg.depth }, () => initBlock(rng, w, hidden)),
    norm: initLayerNorm(w),
    decProj: initLinear(rng, w, w),
    decPos: truncNormal(rng, [1 + cfg.tokens, w], 0.02),
    decBlocks: Array.from({ length: cfg.decoderDepth }, () => initBlock(rng, w, hidden)),
    decNorm: initLayerNorm(w),
    head: { dense: initLinear(rng, w, w), norm: initLayerNorm(w), bias: constant([vocab], 0) },
  };
}

/**
 * The predictor's parameters as a tree for the trainer.
 *
 * @param p The parameters.
 * @returns The tree.
 * @example
 * ```ts
 * import { namedLeaves } from "../nn/tree.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS, predictorTree } from "./token_predictor.ts";
 * const leaves = namedLeaves(predictorTree(initPredictor({ ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1 }, 0)));
 * if (!leaves.some(([n]) => n === "tokEmb")) throw new Error();
 * ```
 */
export function predictorTree(p: PredictorParams): ParamTree {
  return p as unknown as ParamTree;
}

/**
 * [B, rows, cols] one-hot selection matrices: row r of sample b picks column
 * `picks[b][r]`. Selecting tokens by a batched product keeps the backward pass
 * on the GEMM (a gather's gradient is a slow segment sum on tfjs-cpu).
 */
function selection(picks: number[][], cols: number): tf.Tensor3D {
  const rows = picks[0]!.length, m = new Float32Array(picks.length * rows * cols);
  picks.forEach((row, b) => row.forEach((c, r) => (m[(b * rows + r) * cols + c] = 1)));
  return tf.tensor3d(m, [picks.length, rows, cols]);
}

/**
 * Logits over the K codes at every token position.
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param ids int32 [B, L] token ids (masked positions may hold anything).
 * @param mask [B·L], 1 where the token is replaced by [MASK].
 * @param drop [B·L] ⊆ mask with the same count in every sample: tokens left out of the encoder, or null.
 * @returns Logits [B, L, K].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS, predictorLogits } from "./token_predictor.ts";
 * const cfg = { ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1 };
 * const logits = predictorLogits(initPredictor(cfg, 0), cfg, tf.zeros([2, 49], "int32"), new Uint8Array(98).fill(1), null);
 * if (logits.shape.join() !== "2,49,256") throw new Error();
 * ```
 */
export function predictorLogits(
  p: PredictorParams,
  cfg: PredictorConfig,
  ids: tf.Tensor,
  mask: Uint8Array,
  drop: Uint8Array | null,
): tf.Tensor {
  const [b, l] = ids.shape as [number, number];
  const k = cfg.codebookSize;
  return tf.tidy(() => {
    const masked = tf.tensor2d(mask, [b, l], "bool");
    const input = tf.concat([tf.fill([b, 1], k + 1, "int32"), tf.where(masked, tf.fill([b, l], k, "int32"), ids)], 1);
    let x = layerNorm(p.embNorm, embed(p.tokEmb, input).add(p.pos), 1e-6);
    let pick: tf.Tensor3D | null = null, dropped: tf.Tensor | null = null;
    if (drop) {
      const keep = Array.from(
        { length: b },
        (_, s) => [0, ...range(l).filter((i) => !drop[s * l + i]).map((i) => i + 1)],
      );
      pick = selection(keep, 1 + l);
      dropped = tf.tensor3d(
        Float32Array.from([...range(b)].flatMap((s) => [0, ...range(l).map((i) => drop[s * l + i]!)])),
        [b, 1 + l, 1],
      );
      x = tf.matMul(pick, x);
    }
    for (const blk of p.blocks) x = blockForward(blk, x, cfg.heads, null, false);
    let h = linear(p.decProj, layerNorm(p.norm, x, 1e-6));
    if (pick && dropped) {
      // Dropped slots get the encoder's [CLS] output (MAGE); kept ones return to their positions.
      const cls = h.slice([0, 0, 0], [b, 1, cfg.width]);
      h = tf.matMul(pick, h, true, false).add(dropped.mul(cls));
    }
    h = h.add(p.decPos);
    for (const blk of p.decBlocks) h = blockForward(blk, h, cfg.heads, null, false);
    h = layerNorm(p.decNorm, h, 1e-6).slice([0, 1, 0], [b, l, cfg.width]);
    const g = layerNorm(p.head.norm, gelu(linear(p.head.dense, h)), 1e-6);
    const codes = stopGradient(p.tokEmb).slice([0, 0], [k, cfg.width]);
    const logits = tf.matMul(g.reshape([b * l, cfg.width]) as tf.Tensor2D, codes as tf.Tensor2D, false, true);
    return logits.add(p.head.bias.slice([0], [k])).reshape([b, l, k]);
  });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** What {@linkcode predictorLoss} returns.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS, predictorLoss, type PredictorLossOutput } from "./token_predictor.ts";
 * const cfg = { ...PREDICTOR_DEFAULTS, codebookSize: 8, width: 16, depth: 1, decoderDepth: 1 };
 * const out: PredictorLossOutput = predictorLoss(initPredictor(cfg, 0), cfg, tf.zeros([1, 49], "int32"), createRng(0));
 * if (!(out.masked >= 25 && out.masked <= 49)) throw new Error();
 * ```
 */
export interface PredictorLossOutput {
  /** Label-smoothed cross-entropy on the masked positions. */
  loss: tf.Scalar;
  /** Share of masked positions whose argmax is the true id. */
  accuracy: tf.Scalar;
  /** Masked tokens per sample this step. */
  masked: number;
}

/**
 * MAGE's training loss on a batch of token ids: draw a mask ratio, mask and
 * drop, predict, cross-entropy against the true ids on the masked positions.
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param ids int32 [B, L].
 * @param rng The generator (mask ratio and positions).
 * @param dropTokens Drop tokens from the encoder (training) or keep all (evaluation; ADDP's use).
 * @returns Loss, accuracy and the masked count.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { initPredictor, PREDICTOR_DEFAULTS, predictorLoss } from "./token_predictor.ts";
 * const cfg = { ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1 };
 * const out = predictorLoss(initPredictor(cfg, 0), cfg, tf.zeros([2, 49], "int32"), createRng(0));
 * if (!(out.masked >= 25)) throw new Error();
 * ```
 */
export function predictorLoss(
  p: PredictorParams,
  cfg: PredictorConfig,
  ids: tf.Tensor,
  rng: Rng,
  dropTokens = true,
): PredictorLossOutput {
  const [b, l] = ids.shape as [number, number];
  const ratio = sampleMaskRatio(rng, cfg.maskMu, cfg.maskSigma, cfg.maskMin, 1);
  const masked = Math.min(l, Math.ceil(l * ratio));
  const dropped = dropTokens ? Math.min(masked, Math.ceil(l * cfg.dropRatio)) : 0;
  const { mask: drop, maskNext: mask } = nestedMasks(rng, b, l, dropped, masked);
  const [loss, accuracy] = tf.tidy(() => {
    const logits = predictorLogits(p, cfg, ids, mask, dropTokens ? drop : null);
    const weights = tf.tensor2d(mask, [b, l]).toFloat();
    const loss = softCrossEntropy(logits, ids, cfg.smoothing, weights);
    const hit = tf.equal(tf.argMax(logits, -1), ids).toFloat().mul(weights).sum().div(weights.sum()) as tf.Scalar;
    return [loss, hit];
  });
  return { loss, accuracy, masked };
}
