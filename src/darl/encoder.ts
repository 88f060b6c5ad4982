/**
 * DARL's backbone as an {@linkcode Encoder}: images → patches → [SOS,
 * x₁ … x_T] through the blocks, causal by default (as pretrained; a prefix-
 * attention model reads bidirectionally, as AIM does). Its
 * layers are "embed", "block<i>" and "final" (after the last LayerNorm).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Encoder, TokenOptions } from "../nn/encoder.ts";
import { encoderLayers, layerBlocks, randomInitKey, vitBlockIndex } from "../nn/encoder.ts";
import { inverseOrder, patchOrder } from "../nn/patch_order.ts";
import { patchify } from "../nn/patchify.ts";
import { disposeTree, type ParamTree } from "../nn/tree.ts";
import { type DarlConfig, gridSize } from "./config.ts";
import { darlForward, type DarlParams, initDarl } from "./model.ts";

/**
 * Wraps a DARL model as an encoder.
 *
 * @param params The model (its variables are shared, not copied).
 * @param cfg Its config.
 * @param key A stable identity for feature caches.
 * @param name A short name for reports.
 * @returns The encoder.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { darlEncoder } from "./encoder.ts";
 * import { initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { depth: 2, dim: 32, heads: 2 });
 * const enc = darlEncoder(initDarl(cfg, 0), cfg, "demo");
 * const t = enc.tokens(tf.zeros([2, 28, 28, 1]), { layer: "block1" });
 * if (t.shape.join() !== "2,50,32" || enc.blockIndex("blocks.1.qkv.w") !== 2) throw new Error();
 * ```
 */
export function darlEncoder(params: DarlParams, cfg: DarlConfig, key: string, name = "DARL"): Encoder {
  return {
    key,
    name,
    width: cfg.dim,
    depth: cfg.depth,
    imageShape: [cfg.imageSize, cfg.imageSize, cfg.channels],
    prefixTokens: 1,
    grid: gridSize(cfg),
    layers: encoderLayers(cfg.depth),
    // A prefix-attention model learned to read whole prefixes bidirectionally (AIM).
    causalByDefault: cfg.attention === "causal",
    tokens(images: tf.Tensor, opts: TokenOptions = {}): tf.Tensor3D {
      const layer = opts.layer ?? "final", blocks = layerBlocks(layer, cfg.depth);
      return tf.tidy(() => {
        const out = darlForward(params, cfg, patchify(images, cfg.patchSize, cfg.patchOrder), {
          causal: opts.causal ?? cfg.attention === "causal",
          shift: false,
          head: false,
          ...(blocks === undefined ? {} : { blocks }),
        });
        const x = layer === "final" ? out.normed! : layer === "embed" ? out.embed : out.blocks[blocks! - 1]!;
        return rasterTokens(x, cfg);
      });
    },
    params(layer = "final"): ParamTree {
      const blocks = layerBlocks(layer, cfg.depth);
      // Key order follows initDarl, so leaf order (and checkpoint names) match a full model's.
      return {
        patchEmbed: params.patchEmbed as unknown as ParamTree,
        sos: params.sos,
        blocks: params.blocks.slice(0, blocks ?? cfg.depth) as unknown as ParamTree,
        ...(blocks === undefined ? { norm: params.norm as unknown as ParamTree } : {}),
        ...(params.pos ? { pos: params.pos } : {}),
      };
    },
    blockIndex: vitBlockIndex("", ["patchEmbed", "sos", "pos"], cfg.depth),
    randomInit(seed: number): Encoder {
      return darlEncoder(
        initDarl(cfg, seed),
        cfg,
        randomInitKey(seed, cfg, DARL_OUTSIDE_ENCODER),
        `random init (seed ${seed})`,
      );
    },
    dispose(): void {
      disposeTree(params as never);
    },
  };
}

/**
 * Puts a model's tokens [SOS, patches in `cfg.patchOrder`] back into raster
 * order, as every reader of an {@linkcode Encoder}'s tokens (grid pooling,
 * attention maps) expects.
 *
 * @param tokens [B, 1 + T, d] in sequence order.
 * @param cfg The model config.
 * @returns [B, 1 + T, d]: SOS, then the patches in raster order.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { rasterTokens } from "./encoder.ts";
 * const seq = tf.tensor3d([0, 1, 2, 3, 4], [1, 5, 1]); // SOS, then a 2×2 grid
 * const same = rasterTokens(seq, darlConfig("tiny", { imageSize: 8, patchSize: 4, patchOrder: "nested" }));
 * if ((await same.data()).join() !== "0,1,2,3,4") throw new Error();
 * ```
 */
export function rasterTokens(tokens: tf.Tensor3D, cfg: DarlConfig): tf.Tensor3D {
  if (cfg.patchOrder === "raster") return tokens;
  const g = gridSize(cfg), inv = inverseOrder(patchOrder(cfg.patchOrder, g, g));
  return tf.gather(tokens, [0, ...Array.from(inv, (t) => t + 1)], 1) as tf.Tensor3D;
}

/**
 * DARL config fields that shape only the next-patch head, the patch decoder
 * or the objective: `initDarl` draws the trunk before (or beside) them, so
 * runs that differ only here share one random-init baseline
 * ({@linkcode randomInitKey}).
 *
 * @example
 * ```ts
 * import { randomInitKey } from "../nn/encoder.ts";
 * import { darlConfig } from "./config.ts";
 * import { DARL_OUTSIDE_ENCODER } from "./encoder.ts";
 * const key = (c: object) => randomInitKey(1, c, DARL_OUTSIDE_ENCODER);
 * if (key(darlConfig("tiny")) !== key(darlConfig("tiny", { headDepth: 2 }))) throw new Error();
 * if (key(darlConfig("tiny")) === key(darlConfig("tiny", { dim: 64 }))) throw new Error();
 * ```
 */
export const DARL_OUTSIDE_ENCODER = [
  "target",
  "objective",
  "noiseA",
  "noiseB",
  "decoderDepth",
  "decoderWidth",
  "decoderCondition",
  "prediction",
  "noiseDraws",
  "headDepth",
] as const satisfies readonly (keyof DarlConfig)[];
