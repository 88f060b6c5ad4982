/**
 * The seam between a method and everything that evaluates its
 * representation: an Encoder turns images into tokens. Probes, VTAB and
 * fine-tuning take an Encoder and know nothing else about the method (DARL's
 * causal ViT, ADDP's pixel encoder, …).
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import type { ParamTree } from "./tree.ts";

/**
 * Options of {@linkcode Encoder.tokens}.
 *
 * @example
 * ```ts
 * import type { TokenOptions } from "./encoder.ts";
 * const opts: TokenOptions = { causal: false, layer: "block3" };
 * if (opts.layer !== "block3") throw new Error();
 * ```
 */
export interface TokenOptions {
  /**
   * Causal attention (as DARL pretrains) or bidirectional; encoders that are
   * bidirectional by construction ignore it. Default: the encoder's own.
   */
  causal?: boolean;
  /** One of {@linkcode Encoder.layers} (default "final"). */
  layer?: string;
}

/**
 * A frozen or trainable image encoder with a stable identity.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { type Encoder, encoderLayers } from "./encoder.ts";
 * // The smallest encoder: each 2×2 image is one token holding its pixels.
 * const pixels: Encoder = {
 *   key: "pixels-2x2", name: "pixels", width: 4, depth: 0, imageShape: [2, 2, 1], prefixTokens: 0, grid: 1,
 *   layers: encoderLayers(0), causalByDefault: false,
 *   tokens: (x) => x.reshape([x.shape[0]!, 1, 4]) as tf.Tensor3D, params: () => ({}), blockIndex: () => 0,
 *   randomInit: () => pixels, dispose: () => {},
 * };
 * if (pixels.tokens(tf.zeros([3, 2, 2, 1])).shape.join() !== "3,1,4") throw new Error();
 * ```
 */
export interface Encoder {
  /** Stable identity for feature caches (e.g. the checkpoint's hash, or "random:<seed>:<config>"). */
  readonly key: string;
  /** A short human-readable name for reports. */
  readonly name: string;
  /** Token width. */
  readonly width: number;
  /** Transformer blocks. */
  readonly depth: number;
  /** [H, W, C] of the images it reads. */
  readonly imageShape: readonly [number, number, number];
  /** Tokens before the patch tokens (DARL: 1, the start token). */
  readonly prefixTokens: number;
  /** Patches per side of the square patch grid (T = grid²). */
  readonly grid: number;
  /** Layer names {@linkcode Encoder.tokens} accepts: "embed", "block0" … "block<depth−1>", "final". */
  readonly layers: readonly string[];
  /** The attention {@linkcode Encoder.tokens} uses when `causal` is not given. */
  readonly causalByDefault: boolean;
  /**
   * Tokens of images at a layer: [B, prefixTokens + T, width], T patch
   * tokens in raster order of a square grid.
   *
   * @param images [B, H, W, C] in [−1, 1].
   * @param opts Attention and layer.
   */
  tokens(images: tf.Tensor, opts?: TokenOptions): tf.Tensor3D;
  /**
   * The parameters {@linkcode Encoder.tokens} reads at `layer` (the trainable
   * tree for fine-tuning from that layer), as variables shared with this encoder.
   *
   * @param layer A layer name (default "final").
   */
  params(layer?: string): ParamTree;
  /**
   * The block a parameter belongs to, for layer-wise learning-rate decay:
   * 0 for the embedding (and anything before block 0), i + 1 for block i,
   * depth + 1 for anything after the last block.
   *
   * @param name A parameter path as in {@linkcode Encoder.params}.
   */
  blockIndex(name: string): number;
  /**
   * A randomly initialised encoder of the same architecture (a baseline).
   *
   * @param seed Initialisation seed.
   */
  randomInit(seed: number): Encoder;
  /** Releases the encoder's variables. */
  dispose(): void;
}

/**
 * The layer names of an encoder of a given depth.
 *
 * @param depth Transformer blocks.
 * @returns ["embed", "block0", …, "final"].
 * @example
 * ```ts
 * import { encoderLayers } from "./encoder.ts";
 * if (encoderLayers(2).join() !== "embed,block0,block1,final") throw new Error();
 * ```
 */
export function encoderLayers(depth: number): string[] {
  return ["embed", ...Array.from({ length: depth }, (_, i) => `block${i}`), "final"];
}

/**
 * How many blocks an encoder runs to produce a layer's tokens: undefined for
 * "final" (all blocks and the final norm), 0 for "embed", i + 1 for "block<i>".
 *
 * @param layer A layer name.
 * @param depth The encoder's blocks.
 * @returns Blocks to run, or undefined for the final layer.
 * @example
 * ```ts
 * import { layerBlocks } from "./encoder.ts";
 * if (layerBlocks("block1", 4) !== 2 || layerBlocks("final", 4) !== undefined) throw new Error();
 * ```
 */
export function layerBlocks(layer: string, depth: number): number | undefined {
  if (layer === "final") return undefined;
  if (layer === "embed") return 0;
  const m = /^block(\d+)$/.exec(layer);
  if (m && Number(m[1]) < depth) return Number(m[1]) + 1;
  throw new DarlError(`--layer: unknown layer "${layer}" (expected final, embed or block0…block${depth - 1})`);
}

/**
 * The feature-cache key of a method's random-init encoder: the seed and every
 * config field but those that shape only parts the encoder never runs (a
 * head, a decoder, the objective). Runs that differ only there share one
 * random-init baseline. Listing the exceptions, not the encoder's own fields,
 * keeps a field added later in the key: at worst a baseline is recomputed,
 * never shared by two encoders that differ.
 *
 * @param seed The random init's seed.
 * @param cfg The method's model config.
 * @param outsideEncoder Fields that leave the encoder's draws and forward pass unchanged.
 * @returns A stable key (field order does not matter).
 * @example
 * ```ts
 * import { randomInitKey } from "./encoder.ts";
 * const a = randomInitKey(1, { dim: 8, depth: 2, head: 1 }, ["head"]);
 * if (a !== randomInitKey(1, { depth: 2, dim: 8, head: 3 }, ["head"])) throw new Error();
 * if (a === randomInitKey(1, { dim: 16, depth: 2, head: 1 }, ["head"])) throw new Error();
 * ```
 */
export function randomInitKey(seed: number, cfg: object, outsideEncoder: readonly string[]): string {
  const kept = Object.entries(cfg).filter(([k]) => !outsideEncoder.includes(k)).sort(([a], [b]) => a < b ? -1 : 1);
  return `random:${seed}:${JSON.stringify(kept)}`;
}

/**
 * {@linkcode Encoder.blockIndex} for a ViT whose parameters are named
 * `<prefix>blocks.<i>.…` and `<prefix><embedding>…`: 0 for the embeddings,
 * i + 1 for block i, depth + 1 for everything after the blocks.
 *
 * @param prefix The encoder's path in the method's parameter tree ("" at the root).
 * @param embeddings Names of the parameters before the first block.
 * @param depth Transformer blocks.
 * @returns The indexer.
 * @example
 * ```ts
 * import { vitBlockIndex } from "./encoder.ts";
 * const index = vitBlockIndex("encoder.", ["patchEmbed", "cls"], 4);
 * if (index("encoder.blocks.2.qkv.w") !== 3 || index("encoder.cls") !== 0 || index("encoder.norm.g") !== 5) {
 *   throw new Error();
 * }
 * ```
 */
export function vitBlockIndex(prefix: string, embeddings: readonly string[], depth: number): (name: string) => number {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const block = new RegExp(`^${escape(prefix)}blocks\\.(\\d+)\\.`);
  const embedding = new RegExp(`^${escape(prefix)}(${embeddings.map(escape).join("|")})\\b`);
  return (name) => {
    const m = block.exec(name);
    if (m) return Number(m[1]) + 1;
    return embedding.test(name) ? 0 : depth + 1;
  };
}
