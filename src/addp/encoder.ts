/**
 * ADDP's pixel encoder as an {@linkcode Encoder}: what probes, VTAB and
 * fine-tuning read. It is bidirectional by construction, has one prefix token
 * ([CLS]) and a patch grid equal to the tokenizer's token grid.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { type Encoder, encoderLayers, layerBlocks, type TokenOptions } from "../nn/encoder.ts";
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
    blockIndex(paramName: string): number {
      const m = /^encoder\.blocks\.(\d+)\./.exec(paramName);
      if (m) return Number(m[1]) + 1;
      return /^encoder\.(patchEmbed|cls|pos|inputNorm)\b/.test(paramName) ? 0 : cfg.depth + 1;
    },
    randomInit(seed: number): Encoder {
      return addpEncoder(
        initAddp(cfg, seed),
        cfg,
        `random:${seed}:${JSON.stringify(addpEncoderFields(cfg))}`,
        `random init (seed ${seed})`,
      );
    },
    dispose(): void {
      disposeTree(params as never);
    },
  };
}

/**
 * The config fields an ADDP pixel encoder's random init and forward pass
 * depend on (`initAddp` draws the encoder first). The random-init baseline's
 * feature cache is keyed by them alone, so arms that differ only in the token
 * decoder, the mapping function or the diffusion schedule share one baseline.
 *
 * @param cfg An ADDP config.
 * @returns The encoder's fields, in a fixed order.
 * @example
 * ```ts
 * import { ADDP_DEFAULTS } from "./model.ts";
 * import { addpEncoderFields } from "./encoder.ts";
 * const a = addpEncoderFields(ADDP_DEFAULTS), b = addpEncoderFields({ ...ADDP_DEFAULTS, mapping: "argmax" });
 * if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error();
 * ```
 */
export function addpEncoderFields(cfg: AddpConfig): Partial<AddpConfig> {
  const { imageSize, channels, patchSize, dim, depth, heads, mlpRatio } = cfg;
  return { imageSize, channels, patchSize, dim, depth, heads, mlpRatio };
}
