/**
 * DARL's diffusion objective (spec §3): per patch, γ ~ Beta(a, b) and ε ~
 * N(0, I), x̃ = √γ·x + √(1−γ)·ε; the patch decoder sees x̃_t and the
 * backbone's h_t (which depends on x_<t only) and predicts x_t; the loss is
 * the unweighted MSE on x0 (or on ε with `prediction: "eps"`), with k noise
 * draws per patch. Noise comes from a seeded generator, so training resumes
 * exactly.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type DarlConfig, gridSize } from "./config.ts";
import type { Rng } from "../rng.ts";
import type { DarlLoss } from "./loss.ts";
import { darlForward, type DarlParams } from "./model.ts";
import { betaNoiseLevel, logSnr } from "./noise.ts";
import { patchDecoder } from "./patch_decoder.ts";
import { patchify } from "../nn/patchify.ts";

/**
 * Noise for one batch: levels and Gaussian draws for k·B·T patches.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { darlConfig } from "./config.ts";
 * import { type DiffusionNoise, drawDiffusionNoise } from "./diffusion.ts";
 * const noise: DiffusionNoise = drawDiffusionNoise(createRng(0), darlConfig("tiny", { objective: "diffusion" }), 2);
 * if (noise.gamma.length !== 2 * 49 || noise.eps.length !== 2 * 49 * 16) throw new Error();
 * ```
 */
export interface DiffusionNoise {
  /** γ per noised patch [k·B·T]. */
  gamma: Float32Array;
  /** ε [k·B·T, P²C]. */
  eps: Float32Array;
}

/**
 * Draws the noise of one training step.
 *
 * @param rng The step's generator.
 * @param cfg Model config (noise parameters, draws, patch size).
 * @param batch Images in the batch.
 * @returns γ and ε.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { darlConfig } from "./config.ts";
 * import { drawDiffusionNoise } from "./diffusion.ts";
 * const cfg = darlConfig("tiny", { objective: "diffusion", noiseDraws: 2 });
 * const { gamma } = drawDiffusionNoise(createRng(0), cfg, 4);
 * if (gamma.length !== 2 * 4 * 49 || gamma.some((g) => !(g >= 0 && g <= 1))) throw new Error();
 * ```
 */
export function drawDiffusionNoise(rng: Rng, cfg: DarlConfig, batch: number): DiffusionNoise {
  const rows = cfg.noiseDraws * batch * gridSize(cfg) ** 2, D = cfg.patchSize ** 2 * cfg.channels;
  const gamma = betaNoiseLevel(rng, cfg.noiseA, cfg.noiseB, rows);
  const eps = new Float32Array(rows * D);
  for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
  return { gamma, eps };
}

/**
 * The diffusion loss on a batch of images.
 *
 * @param params The model (with a decoder).
 * @param cfg Its config.
 * @param images [B, H, W, C] in [−1, 1].
 * @param noise From {@linkcode drawDiffusionNoise}.
 * @returns Loss, forward pass and clean-patch target.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { createRng } from "../rng.ts";
 * import { darlConfig } from "./config.ts";
 * import { darlDiffusionLoss, drawDiffusionNoise } from "./diffusion.ts";
 * import { initDarl } from "./model.ts";
 * const cfg = darlConfig("tiny", { objective: "diffusion", depth: 1, dim: 32, heads: 2 });
 * const noise = drawDiffusionNoise(createRng(0), cfg, 2);
 * const { loss } = darlDiffusionLoss(initDarl(cfg, 0), cfg, tf.randomUniform([2, 28, 28, 1], -1, 1), noise);
 * if (!((await loss.data())[0]! > 0)) throw new Error();
 * ```
 */
export function darlDiffusionLoss(
  params: DarlParams,
  cfg: DarlConfig,
  images: tf.Tensor,
  noise: DiffusionNoise,
): DarlLoss {
  const patches = patchify(images, cfg.patchSize, cfg.patchOrder); // global normalisation: the target is the pixels
  const forward = darlForward(params, cfg, patches, { causal: true, shift: true, head: false });
  const [B, T, D] = patches.shape as [number, number, number];
  const k = cfg.noiseDraws, rows = k * B * T;
  const x0 = tf.tile(patches.reshape([B * T, D]), [k, 1]);
  const h = tf.tile(forward.normed!.reshape([B * T, cfg.dim]), [k, 1]);
  const gamma = tf.tensor2d(noise.gamma, [rows, 1]);
  const eps = tf.tensor2d(noise.eps, [rows, D]);
  const noisy = tf.add(tf.mul(x0, tf.sqrt(gamma)), tf.mul(eps, tf.sqrt(tf.sub(1, gamma))));
  const lsnr = tf.tensor1d(Float32Array.from(noise.gamma, logSnr));
  const pred = patchDecoder(params.decoder!, noisy, h, lsnr);
  const target = cfg.prediction === "eps" ? eps : x0;
  const loss = tf.mean(tf.squaredDifference(pred, target)) as tf.Scalar;
  return { loss, forward, target: patches };
}
