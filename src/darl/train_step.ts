/**
 * DARL's training step: the model with its AdamW trainer, one optimiser step
 * on a batch under either objective, and the estimate of a step's memory
 * that a run is checked against before it starts.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { RunConfig } from "../train/run_config.ts";
import { adamwTrainer, type Trainer, trainStep } from "../train/trainer.ts";
import { type DarlConfig, gridSize } from "./config.ts";
import { darlDiffusionLoss, type DiffusionNoise } from "./diffusion.ts";
import { darlMseLoss } from "./loss.ts";
import type { DarlParams } from "./model.ts";

/**
 * Everything a training step needs: the model and its trainer.
 *
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { PRETRAIN_DEFAULTS } from "./pretrain.ts";
 * import { createTrainState, type TrainState } from "./train_step.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const state: TrainState = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
 * if (state.trainer.optimizer.kind !== "adamw" || state.trainer.clip !== 1) throw new Error();
 * ```
 */
export interface TrainState {
  /** Model parameters. */
  params: DarlParams;
  /** Model config. */
  cfg: DarlConfig;
  /** The trainer over all of the model's parameters. */
  trainer: Trainer;
}

/**
 * Builds a training state around a model: AdamW over every parameter.
 *
 * @param params The model.
 * @param cfg Its config.
 * @param train Optimiser settings.
 * @returns The state.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { PRETRAIN_DEFAULTS } from "./pretrain.ts";
 * import { createTrainState } from "./train_step.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
 * if (state.trainer.names[0] !== "patchEmbed.w") throw new Error();
 * ```
 */
export function createTrainState(
  params: DarlParams,
  cfg: DarlConfig,
  train: Pick<RunConfig, "beta1" | "beta2" | "weightDecay" | "clip">,
): TrainState {
  return {
    params,
    cfg,
    trainer: adamwTrainer(params as never, train),
  };
}

/**
 * One optimiser step on a batch: loss, gradients, clipping, AdamW. Nothing
 * is read back; the returned scalars stay on the device.
 *
 * @param state The training state (updated in place).
 * @param images [B, H, W, C] in [−1, 1].
 * @param lr The learning rate for this step.
 * @param noise Diffusion noise for this step (diffusion objective only).
 * @param prefix The step's attention prefix (`attention: "prefix"` models; 1: plain causal).
 * @returns Loss and gradient norm before clipping (caller disposes).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { PRETRAIN_DEFAULTS } from "./pretrain.ts";
 * import { createTrainState, darlTrainStep } from "./train_step.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
 * const { loss, gradNorm } = darlTrainStep(state, tf.randomUniform([2, 28, 28, 1], -1, 1), 1e-3);
 * if (!((await loss.data())[0]! > 0)) throw new Error();
 * tf.dispose([loss, gradNorm]);
 * ```
 */
export function darlTrainStep(
  state: TrainState,
  images: tf.Tensor,
  lr: number,
  noise?: DiffusionNoise,
  prefix = 1,
): { loss: tf.Scalar; gradNorm: tf.Scalar } {
  if (state.cfg.objective === "diffusion" && !noise) {
    throw new Error("darlTrainStep: the diffusion objective needs noise (drawDiffusionNoise)");
  }
  return trainStep(state.trainer, () => darlObjective(state.params, state.cfg, images, noise, prefix), lr);
}

/**
 * The training objective on a batch: next-patch MSE, or the diffusion loss
 * under the given noise. One definition for the training step and the
 * held-out measurement, so both always measure the same thing.
 *
 * @param params The model.
 * @param cfg Its config (`objective` chooses).
 * @param images [B, H, W, C] in [−1, 1].
 * @param noise Diffusion noise (diffusion objective only).
 * @param prefix Attention prefix (MSE only; 1, the default: plain causal).
 * @returns The scalar loss (caller disposes).
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { darlConfig } from "./config.ts";
 * import { initDarl } from "./model.ts";
 * import { darlObjective } from "./train_step.ts";
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 });
 * const loss = darlObjective(initDarl(cfg, 0), cfg, tf.zeros([2, 28, 28, 1]));
 * if (!Number.isFinite((await loss.data())[0]!)) throw new Error();
 * loss.dispose();
 * ```
 */
export function darlObjective(
  params: DarlParams,
  cfg: DarlConfig,
  images: tf.Tensor,
  noise?: DiffusionNoise,
  prefix = 1,
): tf.Scalar {
  return cfg.objective === "diffusion"
    ? darlDiffusionLoss(params, cfg, images, noise!).loss
    : darlMseLoss(params, cfg, images, prefix).loss;
}

/**
 * A generous estimate of one training step's peak memory: parameters with
 * gradients and AdamW moments, and the activations kept for the backward
 * pass (every block's intermediate tensors and attention probabilities,
 * the head or the patch decoder over k noise draws), doubled for temporaries.
 *
 * @param cfg The model config.
 * @param batch Images per step.
 * @returns Bytes.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * import { estimateStepBytes } from "./train_step.ts";
 * const tiny = estimateStepBytes(darlConfig("tiny"), 64);
 * if (!(tiny > 1e8 && tiny < 2e9)) throw new Error(String(tiny));
 * ```
 */
export function estimateStepBytes(cfg: DarlConfig, batch: number): number {
  const T = gridSize(cfg) ** 2,
    d = cfg.dim,
    h = Math.round(cfg.dim * cfg.mlpRatio),
    D = cfg.patchSize ** 2 * cfg.channels;
  const params = (T + 1) * d + D * d + cfg.depth * (4 * d * d + 2 * d * h) + d * D;
  const perBlock = batch * T * (10 * d + 2 * h + cfg.heads * T);
  const decoderWidth = cfg.decoderWidth || d;
  const head = cfg.objective === "diffusion"
    ? cfg.noiseDraws * batch * T * (cfg.decoderDepth * 8 * decoderWidth + 2 * D + 2 * d)
    : batch * T * (2 * d + 2 * D);
  return 4 * (4 * params + 2 * (cfg.depth * perBlock + head + batch * T * D * 2));
}
