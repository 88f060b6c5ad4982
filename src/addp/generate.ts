/**
 * ADDP's generation (spec §3): MaskGIT decoding driven by ADDP itself. Each
 * step predicts every unreliable token from the current image and the reliable
 * tokens, samples, keeps the most confident, and decodes a new image from the
 * committed codes and, at still-unreliable positions, the predicted
 * distribution's weighted codebook vector; the final image keeps one soft
 * token, as the official sampler does. With known tokens (inpainting,
 * outpainting) only the unknown region is generated and the known region
 * starts, and stays, as the real image's codes.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import type { LoadedTokenizer } from "./load.ts";
import { maskgitGenerate, type MaskGitOptions } from "./maskgit.ts";
import { type AddpConfig, addpLogits, type AddpParams } from "./model.ts";
import { tokenizerDecode } from "./tokenizer.ts";
import { lookupCodes } from "./vector_quantizer.ts";

/**
 * ADDP's sampling defaults at small L (spec §8.9: cosine, 12–20 steps; the
 * official temperature 6.0 was tuned for L = 256).
 *
 * @example
 * ```ts
 * import { ADDP_SAMPLING } from "./generate.ts";
 * if (ADDP_SAMPLING.variant !== "addp" || ADDP_SAMPLING.schedule !== "cosine") throw new Error();
 * ```
 */
export const ADDP_SAMPLING: MaskGitOptions = {
  steps: 12,
  temperature: 4.5,
  schedule: "cosine",
  topP: 1,
  variant: "addp",
};

/**
 * The image of a token state: committed codes where `mask` is 0, the
 * probability-weighted codebook vector where it is 1.
 *
 * @param tok The tokenizer.
 * @param ids [B·L] ids.
 * @param mask [B·L], 1 = still unreliable.
 * @param probs [B·L·K] distributions (read at unreliable positions), or null for uniform.
 * @param batch B.
 * @returns Images [B, H, W, C] clipped to [−1, 1].
 * @example
 * ```ts
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { decodeTokenState } from "./generate.ts";
 * const cfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const tok = { params: initTokenizer(cfg, 0), cfg, checkpoint: {} } as never;
 * const x = decodeTokenState(tok, new Int32Array(49), new Uint8Array(49).fill(1), null, 1);
 * if (x.shape.join() !== "1,28,28,1") throw new Error();
 * ```
 */
export function decodeTokenState(
  tok: LoadedTokenizer,
  ids: Int32Array,
  mask: Uint8Array,
  probs: Float32Array | null,
  batch: number,
): tf.Tensor {
  const { cfg } = tok, k = cfg.codebookSize, n = ids.length, l = n / batch, g = Math.round(Math.sqrt(l));
  return tf.tidy(() => {
    const embed = tok.params.codebook.embed;
    const p = probs ? tf.tensor2d(probs, [n, k]) : tf.fill([n, k], 1 / k);
    const m = tf.tensor2d(mask, [n, 1]).toFloat();
    const latent = tf.matMul(p, embed as tf.Tensor2D).mul(m)
      .add(lookupCodes(embed, tf.tensor1d(ids, "int32")).mul(m.neg().add(1)));
    return tokenizerDecode(tok.params, cfg, latent.reshape([batch, g, g, cfg.codeDim])).clipByValue(-1, 1);
  });
}

/**
 * Generates (or completes) images with ADDP.
 *
 * @param p ADDP's parameters.
 * @param cfg Its config.
 * @param tok The tokenizer it was trained with.
 * @param count Images.
 * @param rng The generator.
 * @param opts Decoding settings.
 * @param known Known tokens for inpainting/outpainting ([count·L] ids and flags), or omitted.
 * @param onStep Progress: steps done and total.
 * @returns Images [count, H, W, C] in [−1, 1] (the caller disposes).
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { ADDP_DEFAULTS, initAddp } from "./model.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { ADDP_SAMPLING, addpGenerate } from "./generate.ts";
 * const tcfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const cfg = { ...ADDP_DEFAULTS, dim: 16, depth: 1, decoderDepth: 1, heads: 2, codebookSize: 8 };
 * const tok = { params: initTokenizer(tcfg, 0), cfg: tcfg, checkpoint: {} } as never;
 * const x = await addpGenerate(initAddp(cfg, 0), cfg, tok, 2, createRng(0), { ...ADDP_SAMPLING, steps: 3 });
 * if (x.shape.join() !== "2,28,28,1") throw new Error();
 * ```
 */
export async function addpGenerate(
  p: AddpParams,
  cfg: AddpConfig,
  tok: LoadedTokenizer,
  count: number,
  rng: Rng,
  opts: MaskGitOptions,
  known?: { ids: Int32Array; known: Uint8Array },
  onStep?: (done: number, total: number) => void,
): Promise<tf.Tensor> {
  const l = (cfg.imageSize / cfg.patchSize) ** 2;
  const startMask = known ? Uint8Array.from(known.known, (v) => 1 - v) : new Uint8Array(count * l).fill(1);
  let x = decodeTokenState(tok, known ? known.ids : new Int32Array(count * l), startMask, null, count);
  await maskgitGenerate(
    (ids, mask) => addpLogits(p, cfg, x, ids, mask),
    count,
    l,
    rng,
    opts,
    known,
    (s) => {
      x.dispose();
      x = decodeTokenState(tok, s.ids, s.mask, s.probs, count);
      onStep?.(s.step + 1, opts.steps);
    },
  );
  return x;
}
