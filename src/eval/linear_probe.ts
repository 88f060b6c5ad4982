/**
 * The MAE linear probe, scaled to small data: BatchNorm(affine = False)
 * (here: exact training-set standardisation) + a linear classifier trained
 * with LARS (momentum 0.9, trust 0.001, no weight decay), base lr 0.1 ×
 * batch/256, linear warm-up then cosine, cross-entropy. The same head with
 * SGD (momentum 0.9, L2 weight decay on the matrix) is VTAB's linear head.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check, DarlError } from "../errors.ts";
import { createRng, shuffle } from "../rng.ts";
import { warmupCosine } from "../train/optim.ts";
import { createTrainer, disposeTrainer, trainStep } from "../train/trainer.ts";
import { applyStandardizer, fitStandardizer } from "./standardize.ts";

/**
 * Probe hyper-parameters.
 *
 * @example
 * ```ts
 * import { LINEAR_PROBE_DEFAULTS, type LinearProbeConfig } from "./linear_probe.ts";
 * const vtabHead: LinearProbeConfig = { ...LINEAR_PROBE_DEFAULTS, optimizer: "sgd", weightDecay: 1e-4, batchSize: 64 };
 * if (vtabHead.epochs !== 90) throw new Error();
 * ```
 */
export interface LinearProbeConfig {
  /** LARS (MAE's probe, the default) or SGD with momentum and weight decay (VTAB sweeps). */
  optimizer?: "lars" | "sgd";
  /** SGD: L2 weight decay on the matrix, added to its gradient (PyTorch's SGD semantics); LARS uses none. */
  weightDecay?: number;
  /** Epochs (MAE: 90). */
  epochs: number;
  /** Batch size (MAE: 16384; scaled down to the data). */
  batchSize: number;
  /** Base learning rate per 256 examples (MAE: 0.1). */
  blr: number;
  /** Warm-up epochs (MAE: 10). */
  warmupEpochs: number;
  /** Seed of the example order and initialisation. */
  seed: number;
}

/**
 * MAE's recipe with a batch that suits 1k–60k examples.
 *
 * @example
 * ```ts
 * import { LINEAR_PROBE_DEFAULTS } from "./linear_probe.ts";
 * if (LINEAR_PROBE_DEFAULTS.blr !== 0.1 || LINEAR_PROBE_DEFAULTS.warmupEpochs !== 10) throw new Error();
 * ```
 */
export const LINEAR_PROBE_DEFAULTS: LinearProbeConfig = {
  epochs: 90,
  batchSize: 1024,
  blr: 0.1,
  warmupEpochs: 10,
  seed: 0,
};

/**
 * Labelled features.
 *
 * @example
 * ```ts
 * import type { LabelledFeatures } from "./linear_probe.ts";
 * const f: LabelledFeatures = { x: new Float32Array([0, 1, 1, 0]), y: new Int32Array([0, 1]) }; // 2 rows of 2 features
 * if (f.x.length / f.y.length !== 2) throw new Error();
 * ```
 */
export interface LabelledFeatures {
  /** [n, d] row-major. */
  x: Float32Array;
  /** Class per row. */
  y: Int32Array;
}

/**
 * A trained probe's results.
 *
 * @example
 * ```ts
 * import type { ProbeResult } from "./linear_probe.ts";
 * const r: ProbeResult = { accuracy: 0.86, trainAccuracy: 0.9 };
 * if (r.trainAccuracy - r.accuracy < 0) throw new Error();
 * ```
 */
export interface ProbeResult {
  /** Top-1 accuracy on the test features. */
  accuracy: number;
  /** Top-1 accuracy on the training features. */
  trainAccuracy: number;
}

/**
 * The linear probe's result with its fitted head (in the standardised feature space).
 *
 * @example
 * ```ts
 * import { linearProbe, type LinearProbeResult } from "./linear_probe.ts";
 * const x = new Float32Array([0, 1, 1, 0]), y = new Int32Array([0, 1]);
 * const r: LinearProbeResult = await linearProbe({ x, y }, { x, y }, 2, 2, { epochs: 2, batchSize: 2, blr: 1, warmupEpochs: 0, seed: 0 });
 * if (r.weights.length !== 4 || r.bias.length !== 2) throw new Error();
 * ```
 */
export interface LinearProbeResult extends ProbeResult {
  /** Weights [d, classes], row-major. */
  weights: Float32Array;
  /** Bias [classes]. */
  bias: Float32Array;
}

/**
 * Trains a linear probe and scores it.
 *
 * @param train Training features and labels.
 * @param test Test features and labels.
 * @param d Feature width.
 * @param classes Number of classes.
 * @param cfg Hyper-parameters.
 * @param log Progress: a line every 10 epochs with the mean training loss.
 * @returns Accuracies and the fitted head.
 * @example
 * ```ts
 * import { linearProbe } from "./linear_probe.ts";
 * const x = new Float32Array([0, 1, 1, 0, 0, 2, 2, 0]), y = new Int32Array([0, 1, 0, 1]);
 * const r = await linearProbe({ x, y }, { x, y }, 2, 2, { epochs: 30, batchSize: 4, blr: 0.1, warmupEpochs: 1, seed: 0 });
 * if (r.accuracy !== 1) throw new Error(String(r.accuracy));
 * ```
 */
export async function linearProbe(
  train: LabelledFeatures,
  test: LabelledFeatures,
  d: number,
  classes: number,
  cfg: LinearProbeConfig = LINEAR_PROBE_DEFAULTS,
  log?: (msg: string) => void,
): Promise<LinearProbeResult> {
  const stats = fitStandardizer(train.x, d);
  const xs = applyStandardizer(train.x, d, stats), xt = applyStandardizer(test.x, d, stats);
  const n = train.y.length, B = Math.min(cfg.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / B), steps = cfg.epochs * stepsPerEpoch;
  const lr = (cfg.blr * B) / 256;
  const sgd = cfg.optimizer === "sgd", wd = cfg.weightDecay ?? 0;
  if (!sgd && wd !== 0) {
    throw new DarlError("linearProbe: weight decay is for the SGD head (MAE's LARS probe uses none)");
  }
  check(Number.isInteger(cfg.epochs) && cfg.epochs >= 1, `--epochs: expected a positive integer, got ${cfg.epochs}`);
  check(
    Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1,
    `--batch-size: expected a positive integer, got ${cfg.batchSize}`,
  );
  check(n > 0, "linearProbe: no training examples");
  const rng = createRng(cfg.seed);
  const w0 = new Float32Array(d * classes);
  for (let i = 0; i < w0.length; i++) w0[i] = rng.normal() * 0.01;
  const W = tf.variable(tf.tensor2d(w0, [d, classes])), b = tf.variable(tf.zeros([classes]));
  const trainer = createTrainer({ W, b }, {
    optimizer: sgd ? { kind: "sgd", momentum: 0.9, weightDecay: wd } : { kind: "lars", momentum: 0.9, trust: 0.001 },
  });
  const xTrain = tf.tensor2d(xs, [n, d]);
  const yTrain = tf.oneHot(tf.tensor1d(train.y, "int32"), classes).toFloat();
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let step = 0; step < steps; step++) {
    const e = step % stepsPerEpoch;
    if (e === 0) shuffle(order, rng);
    const rate = warmupCosine(step, { lr, minLr: 0, warmupSteps: cfg.warmupEpochs * stepsPerEpoch, steps });
    const idx = tf.tensor1d(order.subarray(e * B, Math.min(n, (e + 1) * B)), "int32");
    const { loss, gradNorm } = trainStep(trainer, () => {
      const xb = tf.gather(xTrain, idx), yb = tf.gather(yTrain, idx);
      return tf.losses.softmaxCrossEntropy(yb, tf.add(tf.matMul(xb, W), b)) as tf.Scalar;
    }, rate);
    idx.dispose();
    if (log && (step + 1) % (10 * stepsPerEpoch) === 0) {
      const value = (await loss.data())[0]!;
      log(`  linear probe: epoch ${(step + 1) / stepsPerEpoch}/${cfg.epochs}, batch loss ${value.toFixed(4)}`);
    }
    tf.dispose([loss, gradNorm]);
    if (step % 200 === 199) await W.data(); // keep the queue short on asynchronous backends
  }
  const accuracy = await accuracyOf(xt, test.y, d, W, b);
  const trainAccuracy = await accuracyOf(xs, train.y, d, W, b);
  const weights = (await W.data()) as Float32Array, bias = (await b.data()) as Float32Array;
  disposeTrainer(trainer);
  tf.dispose([W, b, xTrain, yTrain]);
  return { accuracy, trainAccuracy, weights, bias };
}

async function accuracyOf(x: Float32Array, y: Int32Array, d: number, W: tf.Tensor, b: tf.Tensor): Promise<number> {
  const pred = tf.tidy(() => tf.argMax(tf.add(tf.matMul(tf.tensor2d(x, [y.length, d]), W), b), 1));
  const p = await pred.data();
  pred.dispose();
  let correct = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) correct++;
  return correct / y.length;
}
