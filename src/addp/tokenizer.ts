/**
 * The VQ tokenizer ADDP alternates through, trained by darl itself (no
 * pretrained VQGAN exists offline): a MaskGIT-style convolutional encoder and
 * decoder (GroupNorm/swish residual blocks, average-pool down, nearest-
 * neighbour up, no attention) around an EMA codebook. Downsampling by 4 makes
 * the token grid equal the ViT patch grid (28×28 → 7×7, 32×32 → 8×8; spec
 * §8.1). Read top to bottom: config, parameters, encoder, decoder, tokens (the loss is in `tokenizer_loss.ts`).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { createRng, type Rng } from "../rng.ts";
import { check } from "../errors.ts";
import { type ConfigSchema, validateConfig } from "../config.ts";
import { conv2d, type Conv2dParams, initConv2d } from "../nn/conv2d.ts";
import type { ParamTree } from "../nn/tree.ts";
import { groupNorm, type GroupNormParams, initGroupNorm } from "../nn/group_norm.ts";
import { type Codebook, initCodebook, lookupCodes, quantize } from "./vector_quantizer.ts";

/**
 * The tokenizer's architecture and codebook.
 *
 * @example
 * ```ts
 * import { TOKENIZER_DEFAULTS, tokenGrid, type TokenizerConfig } from "./tokenizer.ts";
 * const cfg: TokenizerConfig = { ...TOKENIZER_DEFAULTS, imageSize: 32, channels: 3, codebookSize: 512 };
 * if (tokenGrid(cfg) !== 8) throw new Error();
 * ```
 */
export interface TokenizerConfig {
  /** Image side in pixels. */
  imageSize: number;
  /** Image channels. */
  channels: number;
  /** Channels of the first level; level i has width·widthMult[i]. */
  width: number;
  /** Width multipliers per resolution level; a 2× downsample separates levels (3 levels: factor 4). */
  widthMult: number[];
  /** Residual blocks per level (and in the middle). */
  resBlocks: number;
  /** GroupNorm groups (must divide every level's width). */
  groups: number;
  /** Codebook size K (256 for MNIST-like data, 512 for CIFAR-like). */
  codebookSize: number;
  /** Code width D. */
  codeDim: number;
  /** Commitment weight β. */
  beta: number;
  /** EMA decay γ of the codebook. */
  decay: number;
  /** A code is dead, and re-seeded from the batch, when its EMA assignment count per step falls below this. */
  deadThreshold: number;
}

/**
 * Defaults for 28×28 grey images (spec §8.2, sized for a 2-core CPU).
 *
 * @example
 * ```ts
 * import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * if (TOKENIZER_DEFAULTS.codebookSize !== 256 || TOKENIZER_DEFAULTS.decay !== 0.99) throw new Error();
 * ```
 */
export const TOKENIZER_DEFAULTS: TokenizerConfig = {
  imageSize: 28,
  channels: 1,
  width: 16,
  widthMult: [1, 2, 2],
  resBlocks: 1,
  groups: 8,
  codebookSize: 256,
  codeDim: 32,
  beta: 0.25,
  decay: 0.99,
  deadThreshold: 0.5,
};

/**
 * Flag documentation and bounds of {@linkcode TokenizerConfig}.
 *
 * @example
 * ```ts
 * import { validateConfig } from "../config.ts";
 * import { TOKENIZER_DEFAULTS, TOKENIZER_SCHEMA } from "./tokenizer.ts";
 * validateConfig(TOKENIZER_DEFAULTS, TOKENIZER_SCHEMA);
 * ```
 */
export const TOKENIZER_SCHEMA: ConfigSchema<TokenizerConfig> = {
  imageSize: { doc: "image side in pixels (taken from the dataset)", integer: true, min: 4, max: 4096 },
  channels: { doc: "image channels (taken from the dataset)", integer: true, min: 1, max: 4 },
  width: { doc: "channels of the first conv level", integer: true, min: 1, max: 4096 },
  widthMult: { doc: "width multiplier per level (a 2× downsample between levels)", integer: true, min: 1, max: 64 },
  resBlocks: { doc: "residual blocks per level", integer: true, min: 1, max: 16 },
  groups: { doc: "GroupNorm groups", integer: true, min: 1, max: 1024 },
  codebookSize: { doc: "codebook size K", integer: true, min: 2, max: 65536 },
  codeDim: { doc: "code width D", integer: true, min: 1, max: 4096 },
  beta: { doc: "commitment weight β", min: 0, max: 100 },
  decay: { doc: "codebook EMA decay", min: 0, below: 1 },
  deadThreshold: { doc: "restart codes whose EMA assignments per step fall below this (0: never)", min: 0 },
};

/**
 * Side of the token grid: imageSize / 2^(levels − 1).
 *
 * @param cfg The config.
 * @returns Tokens per row.
 * @example
 * ```ts
 * import { TOKENIZER_DEFAULTS, tokenGrid } from "./tokenizer.ts";
 * if (tokenGrid(TOKENIZER_DEFAULTS) !== 7) throw new Error();
 * ```
 */
export function tokenGrid(cfg: TokenizerConfig): number {
  return cfg.imageSize / 2 ** (cfg.widthMult.length - 1);
}

/**
 * Checks a config: bounds, a whole token grid, and groups dividing every width.
 *
 * @param cfg The config.
 * @example
 * ```ts
 * import { checkTokenizerConfig, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * try { checkTokenizerConfig({ ...TOKENIZER_DEFAULTS, imageSize: 30 }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("divisible by 4")) throw e; }
 * ```
 */
export function checkTokenizerConfig(cfg: TokenizerConfig): void {
  validateConfig(cfg, TOKENIZER_SCHEMA, TOKENIZER_DEFAULTS);
  const f = 2 ** (cfg.widthMult.length - 1);
  check(cfg.widthMult.length >= 1, "--width-mult: expected at least one level");
  check(cfg.imageSize % f === 0, `--image-size: ${cfg.imageSize} must be divisible by ${f} (the downsampling factor)`);
  for (const m of cfg.widthMult) {
    check((cfg.width * m) % cfg.groups === 0, `--groups: ${cfg.groups} does not divide level width ${cfg.width * m}`);
  }
}

/**
 * A residual block's parameters: GN → swish → conv → GN → swish → conv, plus a 1×1 skip when the width changes.
 *
 * @example
 * ```ts
 * import { initTokenizer, TOKENIZER_DEFAULTS, type ResBlock } from "./tokenizer.ts";
 * const first: ResBlock = initTokenizer(TOKENIZER_DEFAULTS, 0).encoder.levels[1]![0]!;
 * if (!first.skip) throw new Error(); // level 1 widens 32 → 64
 * ```
 */
export interface ResBlock {
  /** GroupNorm before the first conv. */
  norm1: GroupNormParams;
  /** First 3×3 conv (bias-free). */
  conv1: Conv2dParams;
  /** GroupNorm before the second conv. */
  norm2: GroupNormParams;
  /** Second 3×3 conv (bias-free). */
  conv2: Conv2dParams;
  /** 1×1 projection of the input when the width changes. */
  skip?: Conv2dParams;
}

/**
 * Every parameter of the tokenizer: trainable convolutions and norms, and the
 * EMA codebook (assigned, never trained by gradients).
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS, type TokenizerParams } from "./tokenizer.ts";
 * const p: TokenizerParams = initTokenizer(TOKENIZER_DEFAULTS, 0);
 * if (p.codebook.embed.shape.join() !== "256,32") throw new Error();
 * ```
 */
export interface TokenizerParams {
  /** Encoder: stem, residual blocks per level, output norm and projection to D. */
  encoder: { stem: Conv2dParams; levels: ResBlock[][]; mid: ResBlock[]; norm: GroupNormParams; out: Conv2dParams };
  /** Decoder: projection from D, middle blocks, per level (coarse to fine), output norm and conv to pixels. */
  decoder: {
    stem: Conv2dParams;
    mid: ResBlock[];
    levels: { blocks: ResBlock[]; up?: Conv2dParams }[];
    norm: GroupNormParams;
    out: Conv2dParams;
  };
  /** The codebook. */
  codebook: Codebook;
}

function initResBlock(rng: Rng, inCh: number, outCh: number): ResBlock {
  const b: ResBlock = {
    norm1: initGroupNorm(inCh),
    conv1: initConv2d(rng, inCh, outCh, 3, false),
    norm2: initGroupNorm(outCh),
    conv2: initConv2d(rng, outCh, outCh, 3, false),
  };
  if (inCh !== outCh) b.skip = initConv2d(rng, inCh, outCh, 1);
  return b;
}

/**
 * Initialises the tokenizer from its config and seed.
 *
 * @param cfg The config.
 * @param seed The seed.
 * @returns The parameters.
 * @example
 * ```ts
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * const p = initTokenizer(TOKENIZER_DEFAULTS, 1);
 * if (p.encoder.levels.length !== 3) throw new Error();
 * ```
 */
export function initTokenizer(cfg: TokenizerConfig, seed: number): TokenizerParams {
  checkTokenizerConfig(cfg);
  const rng = createRng(seed);
  const widths = cfg.widthMult.map((m) => cfg.width * m);
  const top = widths.at(-1)!;
  const blocks = (inCh: number, outCh: number) =>
    Array.from({ length: cfg.resBlocks }, (_, i) => initResBlock(rng, i === 0 ? inCh : outCh, outCh));
  const encoder = {
    stem: initConv2d(rng, cfg.channels, widths[0]!, 3),
    levels: widths.map((w, i) => blocks(i === 0 ? widths[0]! : widths[i - 1]!, w)),
    mid: blocks(top, top),
    norm: initGroupNorm(top),
    out: initConv2d(rng, top, cfg.codeDim, 1),
  };
  const rev = [...widths].reverse();
  const decoder = {
    stem: initConv2d(rng, cfg.codeDim, top, 3),
    mid: blocks(top, top),
    levels: rev.map((w, i) => ({
      blocks: blocks(i === 0 ? top : rev[i - 1]!, w),
      ...(i < rev.length - 1 ? { up: initConv2d(rng, w, w, 3) } : {}),
    })),
    norm: initGroupNorm(widths[0]!),
    out: initConv2d(rng, widths[0]!, cfg.channels, 3),
  };
  return { encoder, decoder, codebook: initCodebook(rng, cfg.codebookSize, cfg.codeDim) };
}

/**
 * The gradient-trained part of the tokenizer (everything but the EMA codebook), for the trainer.
 *
 * @param p The parameters.
 * @returns Encoder and decoder as a parameter tree.
 * @example
 * ```ts
 * import { namedLeaves } from "../nn/tree.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS, tokenizerTrainable } from "./tokenizer.ts";
 * const names = namedLeaves(tokenizerTrainable(initTokenizer(TOKENIZER_DEFAULTS, 0))).map(([n]) => n);
 * if (names.some((n) => n.includes("codebook"))) throw new Error();
 * ```
 */
export function tokenizerTrainable(p: TokenizerParams): ParamTree {
  return { encoder: p.encoder, decoder: p.decoder } as unknown as ParamTree;
}

function resBlock(b: ResBlock, x: tf.Tensor, groups: number): tf.Tensor {
  const h = conv2d(b.conv1, groupNorm(b.norm1, x, groups, 1e-6, true));
  const h2 = conv2d(b.conv2, groupNorm(b.norm2, h, groups, 1e-6, true));
  return (b.skip ? conv2d(b.skip, x) : x).add(h2);
}

const runBlocks = (bs: ResBlock[], x: tf.Tensor, groups: number) => bs.reduce((h, b) => resBlock(b, h, groups), x);

/**
 * Encodes images to continuous latents, before quantisation.
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param images [N, H, W, C] in [−1, 1].
 * @returns z [N, g, g, D] with g = {@linkcode tokenGrid}.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS, tokenizerEncode } from "./tokenizer.ts";
 * const z = tokenizerEncode(initTokenizer(TOKENIZER_DEFAULTS, 0), TOKENIZER_DEFAULTS, tf.zeros([2, 28, 28, 1]));
 * if (z.shape.join() !== "2,7,7,32") throw new Error();
 * ```
 */
export function tokenizerEncode(p: TokenizerParams, cfg: TokenizerConfig, images: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let h: tf.Tensor = conv2d(p.encoder.stem, images);
    p.encoder.levels.forEach((level, i) => {
      h = runBlocks(level, h, cfg.groups);
      if (i < p.encoder.levels.length - 1) h = tf.avgPool(h as tf.Tensor4D, 2, 2, "valid");
    });
    h = runBlocks(p.encoder.mid, h, cfg.groups);
    return conv2d(p.encoder.out, groupNorm(p.encoder.norm, h, cfg.groups, 1e-6, true));
  });
}

/**
 * Decodes (quantised, or probability-weighted mixtures of) code vectors to images.
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param zq [N, g, g, D].
 * @returns Images [N, H, W, C], unclipped (training targets are in [−1, 1]).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS, tokenizerDecode } from "./tokenizer.ts";
 * const x = tokenizerDecode(initTokenizer(TOKENIZER_DEFAULTS, 0), TOKENIZER_DEFAULTS, tf.zeros([1, 7, 7, 32]));
 * if (x.shape.join() !== "1,28,28,1") throw new Error();
 * ```
 */
export function tokenizerDecode(p: TokenizerParams, cfg: TokenizerConfig, zq: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let h: tf.Tensor = runBlocks(p.decoder.mid, conv2d(p.decoder.stem, zq), cfg.groups);
    for (const level of p.decoder.levels) {
      h = runBlocks(level.blocks, h, cfg.groups);
      if (level.up) {
        const [, hh, ww] = h.shape as number[];
        h = conv2d(level.up, tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [hh! * 2, ww! * 2]));
      }
    }
    return conv2d(p.decoder.out, groupNorm(p.decoder.norm, h, cfg.groups, 1e-6, true));
  });
}

/**
 * Token ids of images (the frozen tokenizer's job in ADDP).
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param images [N, H, W, C] in [−1, 1].
 * @returns int32 ids [N, g·g] in raster order.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS, tokenize } from "./tokenizer.ts";
 * const ids = tokenize(initTokenizer(TOKENIZER_DEFAULTS, 0), TOKENIZER_DEFAULTS, tf.zeros([3, 28, 28, 1]));
 * if (ids.shape.join() !== "3,49") throw new Error();
 * ```
 */
export function tokenize(p: TokenizerParams, cfg: TokenizerConfig, images: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { ids } = quantize(p.codebook, tokenizerEncode(p, cfg, images), cfg.beta);
    return ids.reshape([images.shape[0]!, -1]);
  });
}

/**
 * Images from token ids: C[ids] through the decoder.
 *
 * @param p The parameters.
 * @param cfg The config.
 * @param ids int32 [N, g·g].
 * @returns Images [N, H, W, C].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { detokenize, initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * const x = detokenize(initTokenizer(TOKENIZER_DEFAULTS, 0), TOKENIZER_DEFAULTS, tf.zeros([2, 49], "int32"));
 * if (x.shape.join() !== "2,28,28,1") throw new Error();
 * ```
 */
export function detokenize(p: TokenizerParams, cfg: TokenizerConfig, ids: tf.Tensor): tf.Tensor {
  const g = tokenGrid(cfg);
  return tf.tidy(() =>
    tokenizerDecode(p, cfg, lookupCodes(p.codebook.embed, ids).reshape([ids.shape[0]!, g, g, cfg.codeDim]))
  );
}
