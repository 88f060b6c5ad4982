/**
 * darl: self-supervised vision models that both recognise and generate, in
 * TypeScript on TensorFlow.js (WebGPU, WebAssembly or CPU).
 *
 * This module implements DARL (Denoising Autoregressive Representation
 * Learning): a decoder-only ViT with 2D RoPE that predicts the next image
 * patch in raster order, trained with next-patch MSE or with a diffusion
 * objective through a denoising patch decoder, and generating images patch
 * by patch. The evaluations (logistic regression, linear probe, ridge, kNN,
 * fine-tuning, VTAB-1k, FD/KID/IS) take any method's {@linkcode Encoder};
 * checkpoints load through a registry from method to model. Everything is a
 * plain function over typed parameter trees; configs are plain data.
 * Importing this module registers darl's fast kernels and its methods.
 *
 * ```ts
 * import { darlConfig, darlMseLoss, initDarl, selectBackend, tf } from "./mod.ts";
 *
 * await selectBackend("cpu", "stock");
 * const cfg = darlConfig("tiny", { depth: 1, dim: 32, heads: 2 }); // 28×28 grey, P = 4
 * const params = initDarl(cfg, 0);
 * const images = tf.randomUniform([2, 28, 28, 1], -1, 1);
 * const { loss, forward } = darlMseLoss(params, cfg, images);
 * console.log((await loss.data())[0], forward.normed!.shape); // ≈1–3, [2, 49, 32]
 * ```
 *
 * @module
 */
// Registers darl's fast kernels with the backend chooser: importing this
// module is all it takes for selectBackend("auto") to pick darl-cpu or
// darl-webgpu.
import "./src/kernels/mod.ts";
import "./src/methods.ts";

export {
  type Rank,
  type Scalar,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
  type Tensor4D,
  tf,
  type Variable,
} from "./src/tf.ts";
export { check, DarlError } from "./src/errors.ts";
export { createRng, mixSeed, type Rng, type RngState, shuffle } from "./src/rng.ts";
export {
  applyFlags,
  applyObject,
  checkField,
  type ConfigSchema,
  type FieldSpec,
  kebab,
  schemaHelp,
  validateConfig,
} from "./src/config.ts";
export {
  type BackendChoice,
  type BackendInfo,
  describeBackend,
  type GpuAdapterSummary,
  gpuDeviceNodes,
  type KernelChoice,
  probeGpuAdapter,
  selectBackend,
} from "./src/backend.ts";

// DARL: config, model, objectives, generation, pretraining
export {
  canGenerate,
  DARL_SAMPLE_DEFAULTS,
  DARL_SAMPLE_SCHEMA,
  darlGenerator,
  type DarlSampleOptions,
  loadDarl,
} from "./src/darl/method.ts";
export {
  DARL_DEFAULTS,
  DARL_PRESETS,
  DARL_SCHEMA,
  type DarlConfig,
  darlConfig,
  type DarlOverrides,
  type DarlPreset,
  DEFAULT_PRESET,
  gridSize,
  NOISE_SCHEDULES,
  type Objective,
  type PosEncoding,
  storedDarlConfig,
  type TargetNorm,
  validateDarlConfig,
} from "./src/darl/config.ts";
export {
  type DarlForward,
  darlForward,
  type DarlForwardOptions,
  type DarlParams,
  type HeadParams,
  initDarl,
  nextPatchHead,
} from "./src/darl/model.ts";
export { darlEncoder } from "./src/darl/encoder.ts";
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
  type X0Predictor,
} from "./src/darl/sample.ts";
export {
  createTrainState,
  darlObjective,
  darlTrainStep,
  estimateStepBytes,
  type TrainState,
} from "./src/darl/train_step.ts";
export {
  DARL_RUN_SCHEMA,
  type DarlRunConfig,
  PRETRAIN_DEFAULTS,
  pretrainDarl,
  type PretrainOptions,
  type PretrainRequest,
  type PretrainResult,
  resolvePretrainConfigs,
  stepPrefix,
} from "./src/darl/pretrain.ts";

// ADDP: VQ tokenizer, token predictor, alternating denoising, MaskGIT generation
export {
  checkTokenizerConfig,
  detokenize,
  initTokenizer,
  type ResBlock,
  tokenGrid,
  tokenize,
  TOKENIZER_DEFAULTS,
  TOKENIZER_SCHEMA,
  type TokenizerConfig,
  tokenizerDecode,
  tokenizerEncode,
  type TokenizerParams,
  tokenizerTrainable,
} from "./src/addp/tokenizer.ts";
export { tokenizerLoss, type TokenizerLossOutput } from "./src/addp/tokenizer_loss.ts";
export {
  type Codebook,
  codebookUsage,
  emaUpdate,
  initCodebook,
  lookupCodes,
  nearestCode,
  quantize,
  type Quantized,
  restartDeadCodes,
} from "./src/addp/vector_quantizer.ts";
export {
  evaluateTokenizer,
  reconstructionGrid,
  resolveTokenizerConfigs,
  TOKENIZER_CONFIG_SPEC,
  TOKENIZER_RUN_DEFAULTS,
  TOKENIZER_RUN_SCHEMA,
  type TokenizerEval,
  type TokenizerRunConfig,
  type TokenizerRunResult,
  tokenizerTrainStep,
  trainTokenizer,
} from "./src/addp/tokenizer_train.ts";
export {
  initPredictor,
  type MlmHead,
  PREDICTOR_DEFAULTS,
  PREDICTOR_SCHEMA,
  type PredictorConfig,
  predictorLogits,
  predictorLoss,
  type PredictorLossOutput,
  type PredictorParams,
  predictorTree,
} from "./src/addp/token_predictor.ts";
export {
  evaluatePredictor,
  loadPredictor,
  PREDICTOR_CONFIG_SPEC,
  PREDICTOR_RUN_DEFAULTS,
  PREDICTOR_RUN_SCHEMA,
  type PredictorRunConfig,
  type PredictorRunResult,
  resolvePredictorConfigs,
  trainPredictor,
} from "./src/addp/predictor_train.ts";
export { MAGE_SAMPLING, predictorSample } from "./src/addp/predictor_sample.ts";
export {
  openTokenData,
  tokenBatch,
  type TokenCache,
  tokenCache,
  tokenizeSplit,
  tokenizingProgress,
} from "./src/addp/token_cache.ts";
export {
  maskCounts,
  maskRatio,
  type MaskSchedule,
  nestedMasks,
  sampleMaskRatio,
  sampleTimesteps,
  type TimestepDraw,
  type TimestepGrid,
  timestepGrid,
} from "./src/addp/mask_schedule.ts";
export { maskgitGenerate, type MaskGitOptions, type MaskGitStep, stepCounts } from "./src/addp/maskgit.ts";
export {
  ADDP_DEFAULTS,
  ADDP_SCHEMA,
  type AddpConfig,
  addpEncode,
  addpLogits,
  type AddpParams,
  checkAddpConfig,
  initAddp,
} from "./src/addp/model.ts";
export {
  addpLoss,
  type AlternatingTargets,
  alternatingTargets,
  type FrozenParts,
  type MappingFunction,
  mapToLatent,
} from "./src/addp/alternating_denoising.ts";
export { addpEncoder } from "./src/addp/encoder.ts";
export { ADDP_SAMPLING, addpGenerate, decodeTokenState } from "./src/addp/generate.ts";
export {
  ADDP_SAMPLE_DEFAULTS,
  ADDP_SAMPLE_SCHEMA,
  ADDP_SAMPLING_TITLE,
  addpGenerator,
  type AddpSampleOptions,
} from "./src/addp/method.ts";
export { predictorGenerator } from "./src/addp/predictor_method.ts";
export {
  ADDP_CONFIG_SPEC,
  ADDP_HELD_OUT_CHUNK,
  ADDP_RUN_DEFAULTS,
  ADDP_RUN_SCHEMA,
  addpHeldOutObjective,
  type AddpRunConfig,
  type AddpRunResult,
  ensureComponents,
  pretrainAddp,
  resolveAddpConfigs,
} from "./src/addp/pretrain.ts";
export { checkTokenizerFits, checkTokensMatch, type LoadedTokenizer, loadTokenizer } from "./src/addp/load.ts";
export { boxTokens, maskTokens, parseBox } from "./src/addp/region.ts";

// Studies
export { cellsOf, checkPlan, readPlan, type StudyCell, type StudyEval, type StudyPlan } from "./src/study/plan.ts";
export { readResults, runStudy, type StudyOptions } from "./src/study/runner.ts";
export { aggregate, type ArmRow, reportMarkdown, type StudyRecord, writeReport } from "./src/study/report.ts";

// Layers
export { type Encoder, encoderLayers, layerBlocks, type TokenOptions, vitBlockIndex } from "./src/nn/encoder.ts";
export { patchify, unpatchify } from "./src/nn/patchify.ts";
export { inverseOrder, PATCH_ORDERS, type PatchOrder, patchOrder } from "./src/nn/patch_order.ts";
export { blockForward, type BlockParams, blockStep, initBlock, type LayerCache } from "./src/nn/transformer.ts";
export { applyRope, type RopeTables, ropeTables, rotateHalf, type TokenPosition } from "./src/nn/rope.ts";
export { attention, causalMaskBias, type RopeTensors } from "./src/nn/attention.ts";
export { initLayerNorm, layerNorm, type LayerNormParams } from "./src/nn/layer_norm.ts";
export { initLinear, linear, type LinearParams } from "./src/nn/linear.ts";
export { biasGelu, gelu, initMlp, mlp, type MlpParams } from "./src/nn/mlp.ts";
export { countParams, disposeTree, namedLeaves, type ParamTree } from "./src/nn/tree.ts";
export { conv2d, type Conv2dParams, initConv2d } from "./src/nn/conv2d.ts";
export { groupNorm, type GroupNormParams, initGroupNorm } from "./src/nn/group_norm.ts";
export { embed, initEmbedding } from "./src/nn/embedding.ts";
export { softCrossEntropy } from "./src/nn/soft_cross_entropy.ts";
export { stopGradient } from "./src/nn/stop_gradient.ts";

// Training
export {
  type AdamWOptimizer,
  createTrainer,
  disposeTrainer,
  type LarsOptimizer,
  type OptimizerConfig,
  type SgdOptimizer,
  type Trainer,
  type TrainerOptions,
  trainStep,
} from "./src/train/trainer.ts";
export {
  type AdamWConfig,
  type AdamWState,
  adamwUpdate,
  clipByGlobalNorm,
  globalNorm,
  initAdamW,
  type ScheduleConfig,
  warmupCosine,
} from "./src/train/optim.ts";
export {
  checkBatch,
  checkMemory,
  PRETRAIN_SCHEMA,
  type PretrainConfig,
  readConfigFile,
  RUN_SCHEMA,
  type RunConfig,
  validateRunConfig,
} from "./src/train/run_config.ts";
export {
  type LoopOptions,
  type LoopResult,
  type LoopSpec,
  runTrainingLoop,
  type StepResult,
} from "./src/train/loop.ts";
export { loopFields, periodicPictures, runRecords } from "./src/train/loop_spec.ts";
export { lossCurve, runningMean } from "./src/train/loss_curve.ts";
export type { MetricRecord } from "./src/train/metrics.ts";
export { HELD_OUT_SCHEMA, type HeldOutConfig, heldOutEvaluation, heldOutLoss } from "./src/train/held_out.ts";
export {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  loadCheckpoint,
  loadMethodCheckpoint,
  resolveCheckpoint,
  saveCheckpoint,
} from "./src/train/checkpoint.ts";
export { type MethodConfigSpec, plainConfigSpec, resolveRunConfigs, type RunRequest } from "./src/train/resolve.ts";
export { decodeSafetensors, encodeSafetensors, type StoredTensor } from "./src/train/safetensors.ts";
export {
  type Generator,
  type LoadedModel,
  loadModel,
  type MethodLoader,
  type ModelWeights,
  type PretrainCall,
  randomInitModel,
  registeredMethods,
  registerMethod,
  type SampleRequest,
  type SampleResult,
} from "./src/train/registry.ts";
export { acquireLock, type RunLock } from "./src/train/lock.ts";
export {
  createWeightEma,
  disposeWeightEma,
  emaDecayAt,
  liveWeights,
  updateWeightEma,
  type WeightEma,
} from "./src/train/ema.ts";

// Data
export {
  type Dataset,
  DATASET_FORMAT,
  DATASET_VERSION,
  type DatasetContent,
  type DatasetHeader,
  type DatasetOrder,
  getSplit,
  openDataset,
  type SplitData,
  type SplitHeader,
  writeDataset,
  type WriteDatasetOptions,
} from "./src/data/store.ts";
export { prepareDataset, type PrepareOptions, type Source, SOURCES } from "./src/data/prepare.ts";
export {
  drawSubset,
  perClassSubset,
  randomSubset,
  stratifiedSplit,
  stratifiedSubset,
  takeSplit,
} from "./src/data/subset.ts";
export { type IdxArray, parseIdx, readIdx } from "./src/data/idx.ts";
export { type CifarBatch, type CifarVariant, parseCifarBatch, readCifarDir } from "./src/data/cifar.ts";
export { type FolderImages, readImageFolder } from "./src/data/image_folder.ts";
export {
  type Augment,
  augmentBatch,
  createSampler,
  gatherImages,
  gatherLabels,
  type Sampler,
  toUnitRange,
} from "./src/data/batches.ts";

// Evaluation
export {
  cachedFeatures,
  DEFAULT_FEATURES,
  encoderFeatures,
  featureDim,
  type FeatureSource,
  type FeatureSpec,
  type Pooling,
  poolTokens,
} from "./src/eval/features.ts";
export {
  fitLogreg,
  logisticRegression,
  LOGREG_DEFAULTS,
  type LogregConfig,
  type LogregFit,
  type LogregResult,
} from "./src/eval/logreg.ts";
export {
  type LabelledFeatures,
  LINEAR_PROBE_DEFAULTS,
  linearProbe,
  type LinearProbeConfig,
  type LinearProbeResult,
  type ProbeResult,
} from "./src/eval/linear_probe.ts";
export { fewShotRidge, RIDGE_DEFAULTS, ridgeAccuracy, type RidgeConfig } from "./src/eval/ridge.ts";
export { KNN_DEFAULTS, knnAccuracy, type KnnConfig } from "./src/eval/knn.ts";
export {
  PROBE_HEADS,
  type ProbeHead,
  type ProbeOptions,
  type ProbeReport,
  type ProbeRow,
  probeTable,
  runProbes,
} from "./src/eval/probe.ts";
export {
  type Classifier,
  classifierAccuracy,
  type ClassifierHyper,
  classifierLogits,
  disposeClassifier,
  initClassifier,
  trainClassifier,
} from "./src/eval/classifier.ts";
export {
  finetune,
  FINETUNE_DEFAULTS,
  FINETUNE_SCHEMA,
  type FinetuneConfig,
  type FinetuneOptions,
  type FinetuneResult,
  resolveFinetuneConfig,
} from "./src/eval/finetune.ts";
export {
  runVtabTask,
  summariseVtab,
  VTAB_DEFAULTS,
  vtabMarkdown,
  type VtabOptions,
  type VtabSummary,
  type VtabTaskResult,
} from "./src/eval/vtab.ts";
export { loadVtabTask, type TaskSource, VTAB_TASKS, type VtabGroup, type VtabTaskData } from "./src/eval/vtab_tasks.ts";
export { renderDsprites, renderSprite, type SpriteFactors, spriteFactors } from "./src/eval/dsprites.ts";
export { renderClevr, renderScene, sampleScene, type Scene, type SceneObject } from "./src/eval/clevr.ts";
export {
  frechetDistance,
  inceptionScore,
  kernelDistance,
  type SampleQuality,
  sampleQuality,
  type SampleQualityReport,
  sampleQualityReport,
} from "./src/eval/frechet.ts";
export { FEATURE_NET_DEFAULTS, type FeatureNet, featureNet, type FeatureNetConfig } from "./src/eval/feature_net.ts";

// Pictures
export { type GridOptions, imageGrid, interleave, sampleGrid, unitToU8, writePng } from "./src/viz/grid.ts";
export { encodePngImage, type RasterImage } from "./src/data/png.ts";
export { type Bar, barChart, linePlot, type PlotOptions, type RefLine, type Series } from "./src/viz/plot.ts";
