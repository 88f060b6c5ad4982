/**
 * ADDP's model (Tian et al., ICLR 2024; spec §1.6–1.8): a pixel encoder, a
 * ViT that sees only the noisy image x_t, and a token decoder over two
 * sequences: A, the encoder's tokens with unreliable positions (m_t) replaced
 * by a learned [MASK]; and B, the embeddings of the reliable tokens z_t, in
 * raster order. Three learned position tables tell the decoder which is
 * which. An MLM head, tied to a detached copy of the token embedding, gives
 * logits over the K codes at every position of A. Read top to bottom: config,
 * parameters, encoder, decoder, logits.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { createRng, type Rng } from "../rng.ts";
import { check } from "../errors.ts";
import { type ConfigSchema, validateConfig } from "../config.ts";
import { embed, initEmbedding } from "../nn/embedding.ts";
import { truncNormal } from "../nn/init.ts";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../nn/layer_norm.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { gelu } from "../nn/mlp.ts";
import { patchify } from "../nn/patchify.ts";
import { stopGradient } from "../nn/stop_gradient.ts";
import { blockForward, type BlockParams, initBlock } from "../nn/transformer.ts";
import { constant } from "../nn/init.ts";

/**
 * ADDP's architecture. The patch grid must equal the tokenizer's token grid
 * (patch 4 over factor-4 tokens, spec §8.1); `codebookSize` is the tokenizer's K.
 *
 * @example
 * ```ts
 * import { ADDP_DEFAULTS, type AddpConfig } from "./model.ts";
 * const cfg: AddpConfig = { ...ADDP_DEFAULTS, imageSize: 32, channels: 3, codebookSize: 512 };
 * if (cfg.imageSize / cfg.patchSize !== 8) throw new Error();
 * ```
 */
export interface AddpConfig {
  /** Image side in pixels. */
  imageSize: number;
  /** Image channels. */
  channels: number;
  /** Patch side P (the tokenizer's downsampling factor). */
  patchSize: number;
  /** Encoder and decoder width. */
  dim: number;
  /** Encoder blocks. */
  depth: number;
  /** Decoder blocks. */
  decoderDepth: number;
  /** Attention heads. */
  heads: number;
  /** MLP width / width. */
  mlpRatio: number;
  /** K, the tokenizer's codebook size. */
  codebookSize: number;
  /** How the predictor's distribution over an unreliable token becomes a latent (f in the paper). */
  mapping: "weighted" | "argmax" | "sampled";
  /** Label smoothing of the soft-target cross-entropy. */
  smoothing: number;
  /** T, the resolution of the timestep grid r_k = cos(π/2·k/T). */
  timesteps: number;
  /** Largest gap δ between t and t + 1 on the grid. */
  maxDelta: number;
}

/**
 * Defaults: DARL-tiny's width and depth (so the two compare at equal size), a 2-block decoder.
 *
 * @example
 * ```ts
 * import { ADDP_DEFAULTS } from "./model.ts";
 * if (ADDP_DEFAULTS.dim !== 128 || ADDP_DEFAULTS.depth !== 4) throw new Error();
 * ```
 */
export const ADDP_DEFAULTS: AddpConfig = {
  imageSize: 28,
  channels: 1,
  patchSize: 4,
  dim: 128,
  depth: 4,
  decoderDepth: 2,
  heads: 4,
  mlpRatio: 4,
  codebookSize: 256,
  mapping: "weighted",
  smoothing: 0.1,
  timesteps: 100,
  maxDelta: 5,
};

/**
 * Flag documentation and bounds of {@linkcode AddpConfig}.
 *
 * @example
 * ```ts
 * import { validateConfig } from "../config.ts";
 * import { ADDP_DEFAULTS, ADDP_SCHEMA } from "./model.ts";
 * validateConfig(ADDP_DEFAULTS, ADDP_SCHEMA);
 * ```
 */
export const ADDP_SCHEMA: ConfigSchema<AddpConfig> = {
  imageSize: { doc: "image side in pixels (taken from the dataset)", integer: true, min: 1, max: 4096 },
  channels: { doc: "image channels (taken from the dataset)", integer: true, min: 1, max: 4 },
  patchSize: { doc: "patch side P (the tokenizer's downsampling factor)", integer: true, min: 1, max: 1024 },
  dim: { doc: "encoder and decoder width", integer: true, min: 1, max: 16384 },
  depth: { doc: "pixel-encoder blocks", integer: true, min: 1, max: 256 },
  decoderDepth: { doc: "token-decoder blocks", integer: true, min: 1, max: 256 },
  heads: { doc: "attention heads", integer: true, min: 1, max: 1024 },
  mlpRatio: { doc: "MLP width / width", above: 0, max: 64 },
  codebookSize: { doc: "codebook size K (taken from the tokenizer)", integer: true, min: 2, max: 65536 },
  mapping: {
    doc: "unreliable tokens → latent: P·C, argmax code or sampled code",
    choices: ["weighted", "argmax", "sampled"],
  },
  smoothing: { doc: "label smoothing of the soft-target cross-entropy", min: 0, below: 1 },
  timesteps: { doc: "T of the timestep grid cos(π/2·k/T)", integer: true, min: 2, max: 100000 },
  maxDelta: { doc: "largest grid gap δ between t and t + 1", integer: true, min: 1, max: 1000 },
};

/**
 * Checks bounds, that the patch size divides the image, and that the heads divide the width.
 *
 * @param cfg The config.
 * @example
 * ```ts
 * import { ADDP_DEFAULTS, checkAddpConfig } from "./model.ts";
 * try { checkAddpConfig({ ...ADDP_DEFAULTS, patchSize: 3 }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--patch-size: 3 does not divide")) throw e; }
 * ```
 */
export function checkAddpConfig(cfg: AddpConfig): void {
  validateConfig(cfg, ADDP_SCHEMA, ADDP_DEFAULTS);
  check(
    cfg.imageSize % cfg.patchSize === 0,
    `--patch-size: ${cfg.patchSize} does not divide the ${cfg.imageSize}-pixel image`,
  );
  check(cfg.dim % cfg.heads === 0, `--heads: ${cfg.heads} does not divide --dim ${cfg.dim}`);
}

/**
 * ADDP's parameters: the pixel encoder and the token decoder.
 *
 * @example
 * ```ts
 * import { ADDP_DEFAULTS, type AddpParams, initAddp } from "./model.ts";
 * const p: AddpParams = initAddp({ ...ADDP_DEFAULTS, dim: 32, depth: 1, decoderDepth: 1, heads: 2 }, 0);
 * if (p.decoder.tokenEmb.shape.join() !== "257,32") throw new Error(); // K codes + [MASK]
 * ```
 */
export interface AddpParams {
  /** The pixel encoder: patch embedding, [CLS], learned positions, input norm, blocks, final norm. */
  encoder: {
    patchEmbed: LinearParams;
    cls: tf.Variable;
    pos: tf.Variable;
    inputNorm: LayerNormParams;
    blocks: BlockParams[];
    norm: LayerNormParams;
  };
  /** The token decoder: projection, [MASK], token embedding, three position tables, blocks, norm, MLM head. */
  decoder: {
    proj: LinearParams;
    maskToken: tf.Variable;
    tokenEmb: tf.Variable;
    posReliable: tf.Variable;
    posMasked: tf.Variable;
    posToken: tf.Variable;
    blocks: BlockParams[];
    norm: LayerNormParams;
    head: { dense: LinearParams; norm: LayerNormParams; bias: tf.Variable };
  };
}

/**
 * Initialises ADDP.
 *
 * @param cfg The config.
 * @param seed The seed.
 * @returns The parameters.
 * @example
 * ```ts
 * import { ADDP_DEFAULTS, initAddp } from "./model.ts";
 * const p = initAddp(ADDP_DEFAULTS, 0);
 * if (p.encoder.pos.shape.join() !== "50,128") throw new Error(); // [CLS] + 7×7
 * ```
 */
export function initAddp(cfg: AddpConfig, seed: number): AddpParams {
  checkAddpConfig(cfg);
  const rng: Rng = createRng(seed);
  const d = cfg.dim, hidden = Math.round(d * cfg.mlpRatio), l = (cfg.imageSize / cfg.patchSize) ** 2;
  const table = () => truncNormal(rng, [1 + l, d], 0.02);
  return {
    encoder: {
      patchEmbed: initLinear(rng, cfg.patchSize ** 2 * cfg.channels, d),
      cls: truncNormal(rng, [d], 0.02),
      pos: table(),
      inputNorm: initLayerNorm(d),
      blocks: Array.from({ length: cfg.depth }, () => initBlock(rng, d, hidden)),
      norm: initLayerNorm(d),
    },
    decoder: {
      proj: initLinear(rng, d, d),
      maskToken: truncNormal(rng, [d], 0.02),
      tokenEmb: initEmbedding(rng, cfg.codebookSize + 1, d),
      posReliable: table(),
      posMasked: table(),
      posToken: table(),
      blocks: Array.from({ length: cfg.decoderDepth }, () => initBlock(rng, d, hidden)),
      norm: initLayerNorm(d),
      head: { dense: initLinear(rng, d, d), norm: initLayerNorm(d), bias: constant([cfg.codebookSize], 0) },
    },
  };
}

/**
 * The pixel encoder: [CLS] + patch tokens of x_t, [B, 1 + L, dim]. It sees
 * only the image (ADDP never shows it the tokens).
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param images [B, H, W, C] in [−1, 1].
 * @param blocks Run only the first `blocks` blocks, without the final norm (features of an inner layer).
 * @returns Tokens.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { ADDP_DEFAULTS, addpEncode, initAddp } from "./model.ts";
 * const cfg = { ...ADDP_DEFAULTS, dim: 32, depth: 1, heads: 2 };
 * if (addpEncode(initAddp(cfg, 0), cfg, tf.zeros([2, 28, 28, 1])).shape.join() !== "2,50,32") throw new Error();
 * ```
 */
export function addpEncode(p: AddpParams, cfg: AddpConfig, images: tf.Tensor, blocks?: number): tf.Tensor3D {
  const e = p.encoder, b = images.shape[0]!;
  return tf.tidy(() => {
    const patches = linear(e.patchEmbed, patchify(images, cfg.patchSize));
    const cls = e.cls.reshape([1, 1, cfg.dim]).tile([b, 1, 1]);
    let x = layerNorm(e.inputNorm, tf.concat([cls, patches], 1).add(e.pos), 1e-6);
    for (const blk of e.blocks.slice(0, blocks ?? cfg.depth)) x = blockForward(blk, x, cfg.heads, null, false);
    return (blocks === undefined ? layerNorm(e.norm, x, 1e-6) : x) as tf.Tensor3D;
  });
}

/**
 * Logits over the K codes at every token position, from the noisy image and
 * the reliable tokens (spec §1.7).
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param images x_t [B, H, W, C] in [−1, 1].
 * @param ids z [B, L] int32; only positions outside `mask` are read.
 * @param mask m_t [B·L], 1 = unreliable; every sample has the same count.
 * @returns Logits [B, L, K].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { ADDP_DEFAULTS, addpLogits, initAddp } from "./model.ts";
 * const cfg = { ...ADDP_DEFAULTS, dim: 32, depth: 1, decoderDepth: 1, heads: 2 };
 * const m = new Uint8Array(98).map((_, i) => (i % 49 < 30 ? 1 : 0));
 * const y = addpLogits(initAddp(cfg, 0), cfg, tf.zeros([2, 28, 28, 1]), tf.zeros([2, 49], "int32"), m);
 * if (y.shape.join() !== "2,49,256") throw new Error();
 * ```
 */
export function addpLogits(
  p: AddpParams,
  cfg: AddpConfig,
  images: tf.Tensor,
  ids: tf.Tensor,
  mask: Uint8Array,
): tf.Tensor {
  const dec = p.decoder, [b, l] = ids.shape as [number, number], d = cfg.dim;
  const masked = mask.subarray(0, l).reduce((a, v) => a + v, 0);
  for (let s = 1; s < b; s++) {
    check(
      mask.subarray(s * l, (s + 1) * l).reduce((a, v) => a + v, 0) === masked,
      "addpLogits: every sample needs the same masked count",
    );
  }
  return tf.tidy(() => {
    const h = linear(dec.proj, addpEncode(p, cfg, images));
    // Sequence A: [CLS] and unreliable slots become [MASK]; unreliable slots take the "masked" positions.
    const slot = new Float32Array(b * (1 + l)), pos = new Float32Array(b * (1 + l));
    for (let s = 0; s < b; s++) {
      slot[s * (1 + l)] = 1;
      for (let i = 0; i < l; i++) slot[s * (1 + l) + 1 + i] = pos[s * (1 + l) + 1 + i] = mask[s * l + i]!;
    }
    const toMask = tf.tensor3d(slot, [b, 1 + l, 1]), posM = tf.tensor3d(pos, [b, 1 + l, 1]);
    const seqA = h.mul(toMask.neg().add(1)).add(toMask.mul(dec.maskToken))
      .add(posM.mul(dec.posMasked).add(posM.neg().add(1).mul(dec.posReliable)));
    let seq: tf.Tensor = seqA;
    if (masked < l) {
      // Sequence B: embeddings of the reliable tokens in raster order, each with its position.
      const pick = new Float32Array(b * (l - masked) * l);
      for (let s = 0; s < b; s++) {
        let r = 0;
        for (let i = 0; i < l; i++) if (!mask[s * l + i]) pick[(s * (l - masked) + r++) * l + i] = 1;
      }
      const tokens = embed(dec.tokenEmb, ids).add(dec.posToken.slice([1, 0], [l, d]));
      seq = tf.concat([seqA, tf.matMul(tf.tensor3d(pick, [b, l - masked, l]), tokens)], 1);
    }
    for (const blk of dec.blocks) seq = blockForward(blk, seq, cfg.heads, null, false);
    const out = layerNorm(dec.norm, seq, 1e-6).slice([0, 1, 0], [b, l, d]);
    const g = layerNorm(dec.head.norm, gelu(linear(dec.head.dense, out)), 1e-6);
    const codes = stopGradient(dec.tokenEmb).slice([0, 0], [cfg.codebookSize, d]);
    return tf.matMul(g.reshape([b * l, d]) as tf.Tensor2D, codes as tf.Tensor2D, false, true)
      .add(dec.head.bias).reshape([b, l, cfg.codebookSize]);
  });
}
