/**
 * Scoring a VQ tokenizer: reconstruction MSE and PSNR and the codebook's
 * perplexity and codes used on a seeded, class-stratified draw of a split,
 * and a picture of originals beside their reconstructions. A tokenizer run
 * (`tokenizer_train.ts`) ends with both.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { gatherImages, toUnitRange } from "../data/batches.ts";
import type { RasterImage } from "../data/png.ts";
import type { SplitData } from "../data/store.ts";
import { drawSubset } from "../data/subset.ts";
import { interleave, sampleGrid, unitToU8 } from "../viz/grid.ts";
import { codebookUsage, quantize } from "./vector_quantizer.ts";
import { type TokenizerConfig, tokenizerDecode, tokenizerEncode, type TokenizerParams } from "./tokenizer.ts";

/**
 * Reconstruction quality and codebook use of a tokenizer on a split.
 *
 * @example
 * ```ts
 * import type { TokenizerEval } from "./tokenizer_eval.ts";
 * const e: TokenizerEval = { images: 10000, mse: 0.02, psnr: 23, perplexity: 180, used: 240, codebookSize: 256 };
 * if (e.used > e.codebookSize) throw new Error();
 * ```
 */
export interface TokenizerEval {
  /** Images scored. */
  images: number;
  /** Mean squared error in [0, 1] pixel units. */
  mse: number;
  /** Peak signal-to-noise ratio, 10·log10(1 / mse), in dB. */
  psnr: number;
  /** exp(entropy) of the codes' empirical distribution over the split. */
  perplexity: number;
  /** Distinct codes used. */
  used: number;
  /** K. */
  codebookSize: number;
}

/**
 * Scores the tokenizer on (a seeded, class-stratified draw of) a split.
 *
 * @param p The tokenizer.
 * @param cfg Its config.
 * @param split The split.
 * @param maxImages At most this many images (all when the split is smaller).
 * @param batch Images per forward pass.
 * @returns The scores.
 * @example
 * ```ts
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { evaluateTokenizer } from "./tokenizer_eval.ts";
 * const cfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const split = { count: 4, images: new Uint8Array(4 * 784).fill(128), labels: null };
 * const e = await evaluateTokenizer(initTokenizer(cfg, 0), cfg, split, 4);
 * if (e.images !== 4 || !(e.psnr > 0)) throw new Error();
 * ```
 */
export async function evaluateTokenizer(
  p: TokenizerParams,
  cfg: TokenizerConfig,
  split: SplitData,
  maxImages = 10000,
  batch = 250,
): Promise<TokenizerEval> {
  const size = cfg.imageSize * cfg.imageSize * cfg.channels;
  const order = drawSubset(split, Math.min(maxImages, split.count), 0);
  let se = 0;
  const allIds = new Int32Array(order.length * (cfg.imageSize / 2 ** (cfg.widthMult.length - 1)) ** 2);
  let at = 0;
  for (let i = 0; i < order.length; i += batch) {
    const idx = order.subarray(i, Math.min(order.length, i + batch));
    const [err, ids] = tf.tidy(() => {
      const x = tf.tensor4d(toUnitRange(gatherImages(split, idx, size)), [
        idx.length,
        cfg.imageSize,
        cfg.imageSize,
        cfg.channels,
      ]);
      const q = quantize(p.codebook, tokenizerEncode(p, cfg, x), cfg.beta);
      const recon = tokenizerDecode(p, cfg, q.zq).clipByValue(-1, 1);
      // [−1, 1] → [0, 1] halves the error, so the squared error is a quarter.
      return [tf.sum(tf.square(recon.sub(x))).div(4), q.ids];
    });
    se += (await err.data())[0]!;
    const got = await ids.data() as Int32Array;
    allIds.set(got, at);
    at += got.length;
    tf.dispose([err, ids]);
  }
  const mse = se / (order.length * size);
  const usage = codebookUsage(allIds, cfg.codebookSize);
  return { images: order.length, mse, psnr: 10 * Math.log10(1 / mse), ...usage, codebookSize: cfg.codebookSize };
}

/**
 * Originals beside their reconstructions, as a picture.
 *
 * @param p The tokenizer.
 * @param cfg Its config.
 * @param images [N, H, W, C] uint8.
 * @returns The grid (pairs, 8 per row).
 * @example
 * ```ts
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { reconstructionGrid } from "./tokenizer_eval.ts";
 * const cfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const g = await reconstructionGrid(initTokenizer(cfg, 0), cfg, new Uint8Array(2 * 784));
 * if (g.width <= 0) throw new Error();
 * ```
 */
export async function reconstructionGrid(
  p: TokenizerParams,
  cfg: TokenizerConfig,
  images: Uint8Array,
): Promise<RasterImage> {
  const shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const n = images.length / (shape[0] * shape[1] * shape[2]);
  const recon = tf.tidy(() => {
    const x = tf.tensor4d(toUnitRange(images), [n, ...shape]);
    return tokenizerDecode(p, cfg, quantize(p.codebook, tokenizerEncode(p, cfg, x), cfg.beta).zq);
  });
  const u8 = unitToU8(await recon.data());
  recon.dispose();
  return sampleGrid(interleave([images, u8], images.length / n), shape);
}
