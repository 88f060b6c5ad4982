/**
 * ADDP's pixel encoder as an {@linkcode Encoder}: what probes, VTAB and
 * fine-tuning read. It is bidirectional by construction, has one prefix token
 * ([CLS]) and a patch grid equal to the tokenizer's token grid.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { Encoder, TokenOptions } from "../nn/encoder.ts";
import { encoderLayers, layerBlocks, randomInitKey, vitBlockIndex } from "../nn/encoder.ts";
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { type AddpConfig, addpEncode, type AddpParams, initAddp } from "./model.ts";

/**
 * Wraps ADDP's pixel encoder.
 *
 * @param params ADDP's parameters (only the encoder is read).
 * @param cfg Its config.
 * @param key A stable identity for feature caches.
 * @param name A name for reports.
 * @returns The encoder.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { ADDP_DEFAULTS, initAddp } from "./model.ts";
 * import { addpEncoder } from "./encoder.ts";
 * const cfg = { ...ADDP_DEFAULTS, dim: 32, depth: 2, heads: 2 };
 * const enc = addpEncoder(initAddp(cfg, 0), cfg, "demo");
 * if (enc.tokens(tf.zeros([1, 28, 28, 1]), { layer: "block0" }).shape.join() !== "1,50,32") throw new Error();
 * if (enc.blockIndex("encoder.blocks.1.qkv.w") !== 2) throw new Error();
 * ```
 */
export function addpEncoder(params: AddpParams, cfg: AddpConfig, key: string, name = "ADDP"): Encoder {
  const e = params.encoder;
  return {
    key,
    name,
    width: cfg.dim,
    depth: cfg.depth,
    imageShape: [cfg.imageSize, cfg.imageSize, cfg.channels],
    prefixTokens: 1,
    grid: cfg.imageSize / cfg.patchSize,
    layers: encoderLayers(cfg.depth),
    causalByDefault: false,
    tokens(images: tf.Tensor, opts: TokenOptions = {}): tf.Tensor3D {
      return addpEncode(params, cfg, images, layerBlocks(opts.layer ?? "final", cfg.depth));
    },
    params(layer = "final"): ParamTree {
      const blocks = layerBlocks(layer, cfg.depth);
      // Paths as in the full model ("encoder.…"), so checkpoints of fine-tuned encoders line up.
      return {
        encoder: {
          patchEmbed: e.patchEmbed as unknown as ParamTree,
          cls: e.cls,
          pos: e.pos,
          inputNorm: e.inputNorm as unknown as ParamTree,
          blocks: e.blocks.slice(0, blocks ?? cfg.depth) as unknown as ParamTree,
          ...(blocks === undefined ? { norm: e.norm as unknown as ParamTree } : {}),
        },
      };
    },
    blockIndex: vitBlockIndex("encoder.", ["patchEmbed", "cls", "pos", "inputNorm"], cfg.depth),
    randomInit(seed: number): Encoder {
      return addpEncoder(
        initAddp(cfg, seed),
        cfg,
        randomInitKey(seed, cfg, ADDP_OUTSIDE_ENCODER),
        `random init (seed ${seed})`,
      );
    },
    dispose(): void {
      disposeTree(params as never);
    },
  };
}

/**
 * ADDP config fields that shape only the token decoder, the mapping function
 * or the diffusion schedule: `initAddp` draws the pixel encoder first, so
 * runs that differ only here share one random-init baseline
 * ({@linkcode randomInitKey}).
 *
 * @example
 * ```ts
 * import { randomInitKey } from "../nn/encoder.ts";
 * import { ADDP_DEFAULTS } from "./model.ts";
 * import { ADDP_OUTSIDE_ENCODER } from "./encoder.ts";
 * const key = (c: object) => randomInitKey(1, c, ADDP_OUTSIDE_ENCODER);
 * if (key(ADDP_DEFAULTS) !== key({ ...ADDP_DEFAULTS, mapping: "argmax" })) throw new Error();
 * if (key(ADDP_DEFAULTS) === key({ ...ADDP_DEFAULTS, dim: 64 })) throw new Error();
 * ```
 */
export const ADDP_OUTSIDE_ENCODER = [
  "decoderDepth",
  "codebookSize",
  "mapping",
  "smoothing",
  "timesteps",
  "maxDelta",
] as const satisfies readonly (keyof AddpConfig)[];
