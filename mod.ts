/**
 * darl: self-supervised vision models that both recognise and generate, in
 * TypeScript on TensorFlow.js (WebGPU, WebAssembly or CPU).
 *
 * This module implements DARL (Denoising Autoregressive Representation
 * Learning): a decoder-only ViT with 2D RoPE that predicts the next image
 * patch in raster order, trained with next-patch MSE or with a diffusion
 * objective through a denoising patch decoder, and generating images patch
 * by patch. It also carries the evaluations (linear probe, ridge, kNN,
 * fine-tuning, VTAB-1k, FD/KID/IS). Everything is a plain function over
 * typed parameter trees; configs are plain data.
 *
 * ```ts
 * import { darlConfig, darlMseLoss, initDarl, selectBackend, tf } from "./mod.ts";
 *
 * await selectBackend("cpu", "stock");
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 }); // 28×28 grey, P = 4
 * const params = initDarl(cfg, 0);
 * const images = tf.randomUniform([2, 28, 28, 1], -1, 1);
 * const { loss, forward } = darlMseLoss(params, cfg, images);
 * console.log((await loss.data())[0], forward.normed.shape); // ≈1–3, [2, 49, 32]
 * ```
 *
 * @module
 */
export { tf } from "./src/tf.ts";
export { DarlError } from "./src/errors.ts";
export { createRng, type Rng, type RngState } from "./src/rng.ts";
export {
  applyFlags,
  DARL_DEFAULTS,
  DARL_PRESETS,
  DARL_SCHEMA,
  type DarlConfig,
  darlConfig,
  type DarlPreset,
  gridSize,
  NOISE_SCHEDULES,
  type Objective,
  type PosEncoding,
  type TargetNorm,
  validateDarlConfig,
} from "./src/config.ts";
export {
  type BackendChoice,
  type BackendInfo,
  describeBackend,
  type KernelChoice,
  probeGpuAdapter,
  selectBackend,
} from "./src/backend.ts";

// Model
export { patchify, unpatchify } from "./src/darl/patchify.ts";
export {
  type BlockParams,
  countParams,
  type DarlForward,
  darlForward,
  type DarlForwardOptions,
  type DarlParams,
  initDarl,
} from "./src/darl/model.ts";
export { type DarlLoss, darlMseLoss, patchTarget } from "./src/darl/loss.ts";
export { darlDiffusionLoss, type DiffusionNoise, drawDiffusionNoise } from "./src/darl/diffusion.ts";
export { betaNoiseLevel, cosineGrid, logSnr } from "./src/darl/noise.ts";
export { initPatchDecoder, patchDecoder, type PatchDecoderParams } from "./src/darl/patch_decoder.ts";
export {
  createKvCache,
  decodeStep,
  disposeKvCache,
  type KvCache,
  nextPatch,
  SAMPLE_DEFAULTS,
  sampleDarl,
  type SampleOptions,
  samplePatches,
} from "./src/darl/sample.ts";
export { applyRope, type RopeTables, ropeTables, rotateHalf, type TokenPosition } from "./src/nn/rope.ts";
export { attention, causalMaskBias } from "./src/nn/attention.ts";
export { layerNorm } from "./src/nn/layer_norm.ts";
export { linear } from "./src/nn/linear.ts";
export { biasGelu, gelu, mlp } from "./src/nn/mlp.ts";
export { namedLeaves, type ParamTree } from "./src/nn/tree.ts";

// Training
export {
  createTrainState,
  darlTrainStep,
  loadDarl,
  PRETRAIN_DEFAULTS,
  type PretrainConfig,
  pretrainDarl,
  type TrainState,
} from "./src/darl/pretrain.ts";
export { adamwUpdate, clipByGlobalNorm, initAdamW, warmupCosine } from "./src/train/optim.ts";
export { type Checkpoint, loadCheckpoint, resolveCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export { decodeSafetensors, encodeSafetensors } from "./src/train/safetensors.ts";

// Data
export { type Dataset, type DatasetHeader, getSplit, openDataset, writeDataset } from "./src/data/store.ts";
export { prepareDataset, type PrepareOptions } from "./src/data/prepare.ts";
export { parseIdx, readIdx } from "./src/data/idx.ts";
export { parseCifarBatch, readCifarDir } from "./src/data/cifar.ts";
export { readImageFolder } from "./src/data/image_folder.ts";
export { augmentBatch, createSampler, gatherImages, gatherLabels, toUnitRange } from "./src/data/batches.ts";

// Evaluation
export { cachedFeatures, darlFeatures, DEFAULT_FEATURES, type FeatureSpec } from "./src/eval/features.ts";
export { LINEAR_PROBE_DEFAULTS, linearProbe, type LinearProbeConfig } from "./src/eval/linear_probe.ts";
export { fewShotRidge, RIDGE_DEFAULTS, ridgeAccuracy } from "./src/eval/ridge.ts";
export { KNN_DEFAULTS, knnAccuracy } from "./src/eval/knn.ts";
export { type ProbeReport, probeTable, runProbes } from "./src/eval/probe.ts";
export {
  classifierAccuracy,
  classifierLogits,
  FINETUNE_DEFAULTS,
  type FinetuneConfig,
  finetuneDarl,
  initClassifier,
} from "./src/eval/finetune.ts";
export { loadVtabTask, runVtabTask, summariseVtab, VTAB_DEFAULTS, VTAB_TASKS, vtabMarkdown } from "./src/eval/vtab.ts";
export { renderDsprites, renderSprite, spriteFactors } from "./src/eval/dsprites.ts";
export { renderClevr, renderScene, sampleScene } from "./src/eval/clevr.ts";
export { featureNet, frechetDistance, inceptionScore, kernelDistance, sampleQuality } from "./src/eval/frechet.ts";

// Pictures
export { imageGrid, unitToU8, writePng } from "./src/viz/grid.ts";
export { barChart, linePlot } from "./src/viz/plot.ts";
