/**
 * The feature network behind darl's sample-quality metrics, since no
 * Inception weights exist offline: a small GELU MLP classifier trained (and
 * cached) per dataset on its labels. Its penultimate features feed the
 * Fréchet and kernel distances, its class probabilities the Inception-Score
 * analogue (frechet.ts).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import { createSampler, gatherImages, gatherLabels, toUnitRange } from "../data/batches.ts";
import { exists } from "../data/files.ts";
import { type Dataset, getSplit, type SplitData } from "../data/store.ts";
import { initLinear, linear, type LinearParams } from "../nn/linear.ts";
import { biasGelu } from "../nn/mlp.ts";
import { createRng } from "../rng.ts";
import { assignParams, loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { warmupCosine } from "../train/optim.ts";
import { createTrainer, disposeTrainer, trainStep } from "../train/trainer.ts";

/**
 * The feature network: pixels → GELU MLP → penultimate features → classes.
 *
 * @example
 * ```ts
 * import type { FeatureNet } from "./feature_net.ts";
 * const describe = (net: FeatureNet) => `${net.shape.join("×")} → ${net.params.fc2.w.shape[1]}-d features, ${(100 * net.testAccuracy).toFixed(1)}%`;
 * if (typeof describe !== "function") throw new Error();
 * ```
 */
export interface FeatureNet {
  /** Layers: two hidden, one output. */
  params: { fc1: LinearParams; fc2: LinearParams; out: LinearParams };
  /** [H, W, C] it reads. */
  shape: [number, number, number];
  /** Test accuracy when trained (how informative its features are). */
  testAccuracy: number;
}

/**
 * Widths and schedule of the feature network.
 *
 * @example
 * ```ts
 * import { FEATURE_NET_DEFAULTS, type FeatureNetConfig } from "./feature_net.ts";
 * const small: FeatureNetConfig = { ...FEATURE_NET_DEFAULTS, hidden: 64, features: 16 };
 * if (small.epochs !== 4) throw new Error();
 * ```
 */
export interface FeatureNetConfig {
  /** First hidden width. */
  hidden: number;
  /** Penultimate (feature) width. */
  features: number;
  /** Training epochs. */
  epochs: number;
  /** Batch size. */
  batchSize: number;
  /** Learning rate. */
  lr: number;
}

/**
 * Defaults: 784 → 512 → 256 → classes, 4 epochs.
 *
 * @example
 * ```ts
 * import { FEATURE_NET_DEFAULTS } from "./feature_net.ts";
 * if (FEATURE_NET_DEFAULTS.features !== 256) throw new Error();
 * ```
 */
export const FEATURE_NET_DEFAULTS: FeatureNetConfig = {
  hidden: 512,
  features: 256,
  epochs: 4,
  batchSize: 128,
  lr: 2e-3,
};

function netForward(p: FeatureNet["params"], x: tf.Tensor): { feats: tf.Tensor2D; logits: tf.Tensor2D } {
  const flat = x.reshape([x.shape[0]!, -1]);
  const h = biasGelu(linear({ w: p.fc1.w }, flat), p.fc1.b!);
  const feats = biasGelu(linear({ w: p.fc2.w }, h), p.fc2.b!) as tf.Tensor2D;
  return { feats, logits: linear(p.out, feats) as tf.Tensor2D };
}

/**
 * Trains the feature network on a labelled dataset, or loads it from the
 * cache (keyed by the dataset checksum and widths).
 *
 * @param ds The dataset.
 * @param cfg Widths and schedule.
 * @param cacheDir Cache directory ("" disables).
 * @param log Progress messages.
 * @returns The network.
 *
 * @example
 * ```ts
 * import { openDataset, writeDataset } from "../data/store.ts";
 * import { featureNet } from "./feature_net.ts";
 * const dir = (await Deno.makeTempDir()) + "/d";
 * const split = { count: 40, images: Uint8Array.from({ length: 40 * 4 }, (_, i) => (Math.floor(i / 4) % 2) * 255), labels: Uint16Array.from({ length: 40 }, (_, i) => i % 2) };
 * await writeDataset(dir, { name: "d", source: "x", shape: [2, 2, 1], classes: ["a", "b"], splits: { train: split, test: split } });
 * const net = await featureNet(await openDataset(dir), { hidden: 8, features: 4, epochs: 20, batchSize: 8, lr: 1e-2 }, "");
 * if (net.testAccuracy !== 1) throw new Error(String(net.testAccuracy));
 * ```
 */
export async function featureNet(
  ds: Dataset,
  cfg: FeatureNetConfig = FEATURE_NET_DEFAULTS,
  cacheDir = ".cache/fid",
  log: (m: string) => void = () => {},
): Promise<FeatureNet> {
  const train = getSplit(ds, "train"), test = getSplit(ds, "test");
  if (!train.labels) throw new DarlError(`${ds.dir}: the feature network is a classifier and needs labels`);
  const [H, W, C] = ds.header.shape, size = H * W * C, classes = ds.header.classes.length;
  const rng = createRng(7);
  const params = {
    fc1: initLinear(rng, size, cfg.hidden),
    fc2: initLinear(rng, cfg.hidden, cfg.features),
    out: initLinear(rng, cfg.features, classes),
  };
  const file = `${cacheDir}/${ds.header.checksum.slice(0, 16)}-${cfg.hidden}-${cfg.features}-${cfg.epochs}.safetensors`;
  if (cacheDir && (await exists(file))) {
    try {
      const ck = await loadCheckpoint(file);
      assignParams(params as never, ck.params, file);
      return { params, shape: ds.header.shape, testAccuracy: (ck.meta.state as { testAccuracy: number }).testAccuracy };
    } catch (e) {
      if (!(e instanceof DarlError)) throw e;
      log(`feature network: cached ${file} is unreadable (${e.message}); training it again`);
    }
  }
  const trainer = createTrainer(params as never, {
    optimizer: { kind: "adamw", beta1: 0.9, beta2: 0.999, weightDecay: 1e-4 },
    decay: (_n, t) => t.rank >= 2,
  });
  const steps = Math.ceil((cfg.epochs * train.count) / cfg.batchSize);
  const sampler = createSampler(train.count, cfg.batchSize, 11);
  const sched = { lr: cfg.lr, minLr: 0, warmupSteps: Math.round(steps / 20), steps };
  for (let step = 0; step < steps; step++) {
    const idx = sampler(step);
    const x = tf.tensor4d(toUnitRange(gatherImages(train, idx, size)), [idx.length, H, W, C]);
    const y = tf.oneHot(tf.tensor1d(gatherLabels(train, idx), "int32"), classes);
    const { loss, gradNorm } = trainStep(
      trainer,
      () => tf.losses.softmaxCrossEntropy(y, netForward(params, x).logits) as tf.Scalar,
      warmupCosine(step, sched),
    );
    tf.dispose([x, y]);
    if (step % 100 === 99 || step === steps - 1) {
      log(`feature network: step ${step + 1}/${steps}, loss ${(await loss.data())[0]!.toFixed(4)}`);
    }
    tf.dispose([loss, gradNorm]);
  }
  disposeTrainer(trainer);
  const net: FeatureNet = { params, shape: ds.header.shape, testAccuracy: 0 };
  const { probs } = await netOutputs(net, test);
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    let arg = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + arg]!) arg = c;
    if (arg === test.labels![i]) correct++;
  }
  net.testAccuracy = correct / test.count;
  log(`feature network: test accuracy ${(100 * net.testAccuracy).toFixed(2)}%`);
  if (cacheDir) {
    await Deno.mkdir(cacheDir, { recursive: true });
    await saveCheckpoint(file, params as never, null, {
      format: "darl-checkpoint",
      method: "fid-feature-net",
      step: steps,
      model: { ...cfg, shape: ds.header.shape, classes },
      train: {},
      state: { testAccuracy: net.testAccuracy, dataset: ds.header.name, datasetChecksum: ds.header.checksum },
    });
  }
  return net;
}

/**
 * Penultimate features and class probabilities of images.
 *
 * @param net The feature network.
 * @param split Images of the network's shape.
 * @returns Features [n, F] and probabilities [n, classes].
 */
export async function netOutputs(
  net: FeatureNet,
  split: SplitData,
): Promise<{ feats: Float32Array; probs: Float32Array; dim: number; classes: number }> {
  const [H, W, C] = net.shape, size = H * W * C;
  const dim = net.params.fc2.w.shape[1]!, classes = net.params.out.w.shape[1]!;
  const feats = new Float32Array(split.count * dim), probs = new Float32Array(split.count * classes);
  for (let s = 0; s < split.count; s += 512) {
    const idx = Array.from({ length: Math.min(512, split.count - s) }, (_, i) => s + i);
    const [f, p] = tf.tidy(() => {
      const o = netForward(net.params, tf.tensor4d(toUnitRange(gatherImages(split, idx, size)), [idx.length, H, W, C]));
      return [o.feats, tf.softmax(o.logits)];
    });
    feats.set((await f!.data()) as Float32Array, s * dim);
    probs.set((await p!.data()) as Float32Array, s * classes);
    tf.dispose([f!, p!]);
  }
  return { feats, probs, dim, classes };
}
