/**
 * DARL's backbone as an {@linkcode Encoder}: images → patches → [SOS,
 * x₁ … x_T] through the blocks, causal by default (as pretrained; a prefix-
 * attention model reads bidirectionally, as AIM does). Its
 * layers are "embed", "block<i>" and "final" (after the last LayerNorm).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Encoder, encoderLayers, layerBlocks, randomInitKey, type TokenOptions } from "../nn/encoder.ts";
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
        const out = darlForward(params, cfg, patchify(images, cfg.patchSize), {
          causal: opts.causal ?? cfg.attention === "causal",
          shift: false,
          head: false,
          ...(blocks === undefined ? {} : { blocks }),
        });
        return layer === "final" ? out.normed! : layer === "embed" ? out.embed : out.blocks[blocks! - 1]!;
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
    blockIndex(paramName: string): number {
      const m = /^blocks\.(\d+)\./.exec(paramName);
      if (m) return Number(m[1]) + 1;
      return /^(patchEmbed|sos|pos)\b/.test(paramName) ? 0 : cfg.depth + 1;
    },
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
