/**
 * DARL's denoising patch decoder (spec §3, §8.4): a per-position network, so
 * it can never see patch x_t except through its own noisy x̃_t.
 *
 *   u = W_x·x̃_t + W_h·h_t
 *   c = h_t (+ MLP(sinusoidal(log-SNR)))          conditioning
 *   depth × [u += gate(c) · MLP(LN(u)·(1 + scale(c)) + shift(c))]   (adaLN)
 *   out = Linear(LN(u)·(1 + scale(c)) + shift(c))  → x̂0 (or ε̂)
 *
 * This is MAR's SimpleMLPAdaLN with a clean-patch output; modulation and
 * output layers start at zero, so training starts from a predictor of 0.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { DarlConfig } from "./config.ts";
import type { Rng } from "../rng.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { biasGelu } from "../nn/mlp.ts";

/** Frequencies of the log-SNR embedding. */
const EMBED_DIM = 64;

/**
 * Parameters of the patch decoder.
 *
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import type { PatchDecoderParams } from "./patch_decoder.ts";
 * const dec: PatchDecoderParams = initDarl(darlConfig("tiny", { objective: "diffusion" }), 0).decoder!;
 * if (dec.blocks.length !== 2 || !dec.noiseEmbed) throw new Error();
 * ```
 */
export interface PatchDecoderParams {
  /** x̃ → width. */
  inX: LinearParams;
  /** h → width (no bias). */
  inH: LinearParams;
  /** h → width for the conditioning, when the decoder is narrower or wider than d. */
  condH?: LinearParams;
  /** Sinusoidal(log-SNR) → width → width, when conditioned on the noise level. */
  noiseEmbed?: { fc1: LinearParams; fc2: LinearParams };
  /** Residual adaLN blocks. */
  blocks: { ada: LinearParams; fc1: LinearParams; fc2: LinearParams }[];
  /** Final modulation and output layer. */
  final: { ada: LinearParams; out: LinearParams };
}

function zeroLinear(rng: Rng, i: number, o: number): LinearParams {
  const p = initLinear(rng, i, o);
  tf.tidy(() => (p.w as tf.Variable).assign(tf.zerosLike(p.w)));
  return p;
}

/**
 * Initialises the decoder for a config.
 *
 * @param rng The generator.
 * @param cfg The model config (width, depth, conditioning).
 * @returns The parameters.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { darlConfig } from "./config.ts";
 * import { initPatchDecoder } from "./patch_decoder.ts";
 * const dec = initPatchDecoder(createRng(0), darlConfig("tiny", { objective: "diffusion", decoderDepth: 3, decoderCondition: "none" }));
 * if (dec.blocks.length !== 3 || dec.noiseEmbed) throw new Error();
 * ```
 */
export function initPatchDecoder(rng: Rng, cfg: DarlConfig): PatchDecoderParams {
  const d = cfg.dim, w = cfg.decoderWidth || d, D = cfg.patchSize * cfg.patchSize * cfg.channels;
  const p: PatchDecoderParams = {
    inX: initLinear(rng, D, w),
    inH: initLinear(rng, d, w, false),
    blocks: Array.from({ length: cfg.decoderDepth }, () => ({
      ada: zeroLinear(rng, w, 3 * w),
      fc1: initLinear(rng, w, w),
      fc2: initLinear(rng, w, w),
    })),
    final: { ada: zeroLinear(rng, w, 2 * w), out: zeroLinear(rng, w, D) },
  };
  if (w !== d) p.condH = initLinear(rng, d, w);
  if (cfg.decoderCondition === "logsnr") {
    p.noiseEmbed = { fc1: initLinear(rng, EMBED_DIM, w), fc2: initLinear(rng, w, w) };
  }
  return p;
}

/**
 * Sinusoidal features of log-SNR values: [sin(λ·ω_i), cos(λ·ω_i)], ω_i =
 * 10000^(−i/32).
 *
 * @param logSnr [N] values.
 * @returns [N, 64].
 */
export function noiseFeatures(logSnr: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const half = EMBED_DIM / 2;
    const freqs = tf.tensor1d(Float32Array.from({ length: half }, (_, i) => Math.pow(10000, -i / half)));
    const args = tf.mul(logSnr.reshape([-1, 1]), freqs.reshape([1, half]));
    return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
  });
}

const silu = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));

/**
 * Runs the decoder on N independent rows (patch positions).
 *
 * @param p The parameters.
 * @param noisy x̃ [N, P²C].
 * @param h Backbone outputs [N, d] for the same positions.
 * @param logSnr [N] log-SNR of each row's noise level (ignored without conditioning).
 * @returns [N, P²C]: x̂0 (or ε̂ for `prediction: "eps"`).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { darlConfig } from "./config.ts";
 * import { initPatchDecoder, patchDecoder } from "./patch_decoder.ts";
 * const dec = initPatchDecoder(createRng(0), darlConfig("tiny", { objective: "diffusion" }));
 * const x0 = patchDecoder(dec, tf.randomNormal([5, 16]), tf.randomNormal([5, 128]), tf.fill([5], -2));
 * // Modulation and output layers start at zero: a fresh decoder predicts 0.
 * if ((await tf.max(tf.abs(x0)).data())[0] !== 0) throw new Error();
 * ```
 */
export function patchDecoder(p: PatchDecoderParams, noisy: tf.Tensor, h: tf.Tensor, logSnr: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    let u = tf.add(linear(p.inX, noisy), linear(p.inH, h));
    let c = p.condH ? linear(p.condH, h) : h;
    if (p.noiseEmbed) {
      const e = noiseFeatures(logSnr);
      c = tf.add(c, linear(p.noiseEmbed.fc2, silu(linear(p.noiseEmbed.fc1, e))));
    }
    const sc = silu(c);
    for (const blk of p.blocks) {
      const [shift, scale, gate] = tf.split(linear(blk.ada, sc), 3, -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const hn = tf.add(tf.mul(layerNorm(null, u, 1e-6), tf.add(scale, 1)), shift);
      const m = linear(blk.fc2, biasGelu(linear({ w: blk.fc1.w }, hn), blk.fc1.b!));
      u = tf.add(u, tf.mul(gate, m));
    }
    const [shift, scale] = tf.split(linear(p.final.ada, sc), 2, -1) as [tf.Tensor, tf.Tensor];
    return linear(p.final.out, tf.add(tf.mul(layerNorm(null, u, 1e-6), tf.add(scale, 1)), shift)) as tf.Tensor2D;
  });
}
