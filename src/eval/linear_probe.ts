/**
 * The MAE linear probe, scaled to small data: BatchNorm(affine = False)
 * (here: exact training-set standardisation) + a linear classifier trained
 * with LARS (momentum 0.9, trust 0.001, no weight decay), base lr 0.1 ×
 * batch/256, linear warm-up then cosine, cross-entropy.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { createRng, shuffle } from "../rng.ts";
import { warmupCosine } from "../train/optim.ts";
import { applyStandardizer, fitStandardizer } from "./standardize.ts";

/** Probe hyper-parameters. */
export interface LinearProbeConfig {
  /** LARS (MAE's probe) or SGD with momentum and weight decay (VTAB sweeps). */
  optimizer?: "lars" | "sgd";
  /** Weight decay on the matrix (SGD; MAE's LARS probe uses none). */
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

/** MAE's recipe with a batch that suits 1k–60k examples. */
export const LINEAR_PROBE_DEFAULTS: LinearProbeConfig = {
  epochs: 90,
  batchSize: 1024,
  blr: 0.1,
  warmupEpochs: 10,
  seed: 0,
};

/** Labelled features. */
export interface LabelledFeatures {
  /** [n, d] row-major. */
  x: Float32Array;
  /** Class per row. */
  y: Int32Array;
}

/** A trained probe's results. */
export interface ProbeResult {
  /** Top-1 accuracy on the test features. */
  accuracy: number;
  /** Top-1 accuracy on the training features. */
  trainAccuracy: number;
}

/**
 * Trains a linear probe and scores it.
 *
 * @param train Training features and labels.
 * @param test Test features and labels.
 * @param d Feature width.
 * @param classes Number of classes.
 * @param cfg Hyper-parameters.
 * @returns Accuracies.
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
): Promise<ProbeResult> {
  const stats = fitStandardizer(train.x, d);
  const xs = applyStandardizer(train.x, d, stats), xt = applyStandardizer(test.x, d, stats);
  const n = train.y.length, B = Math.min(cfg.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / B), steps = cfg.epochs * stepsPerEpoch;
  const lr = (cfg.blr * B) / 256;
  const rng = createRng(cfg.seed);
  const w0 = new Float32Array(d * classes);
  for (let i = 0; i < w0.length; i++) w0[i] = rng.normal() * 0.01;
  const W = tf.variable(tf.tensor2d(w0, [d, classes])), b = tf.variable(tf.zeros([classes]));
  const muW = tf.variable(tf.zeros([d, classes])), muB = tf.variable(tf.zeros([classes]));
  const xTrain = tf.tensor2d(xs, [n, d]);
  const yTrain = tf.oneHot(tf.tensor1d(train.y, "int32"), classes).toFloat();
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let step = 0; step < steps; step++) {
    const e = step % stepsPerEpoch;
    if (e === 0) shuffle(order, rng);
    const rate = warmupCosine(step, { lr, minLr: 0, warmupSteps: cfg.warmupEpochs * stepsPerEpoch, steps });
    tf.tidy(() => {
      const idx = tf.tensor1d(order.subarray(e * B, Math.min(n, (e + 1) * B)), "int32");
      const xb = tf.gather(xTrain, idx), yb = tf.gather(yTrain, idx);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yb, tf.add(tf.matMul(xb, W), b)), [W, b]);
      const gW = grads[W.name]!, gB = grads[b.name]!;
      // LARS on the matrix (trust ratio), plain momentum SGD on the bias.
      const wn = tf.norm(W), gn = tf.norm(gW);
      const trust = tf.where(
        tf.logicalAnd(tf.greater(wn, 0), tf.greater(gn, 0)),
        tf.div(tf.mul(wn, 0.001), gn),
        tf.onesLike(wn),
      );
      muW.assign(tf.add(tf.mul(muW, 0.9), tf.mul(gW, trust)));
      muB.assign(tf.add(tf.mul(muB, 0.9), gB));
      W.assign(tf.sub(W, tf.mul(muW, rate)));
      b.assign(tf.sub(b, tf.mul(muB, rate)));
    });
    if (step % 200 === 199) await W.data(); // keep the queue short on asynchronous backends
  }
  const accuracy = await accuracyOf(xt, test.y, d, W, b);
  const trainAccuracy = await accuracyOf(xs, train.y, d, W, b);
  tf.dispose([W, b, muW, muB, xTrain, yTrain]);
  return { accuracy, trainAccuracy };
}

async function accuracyOf(x: Float32Array, y: Int32Array, d: number, W: tf.Tensor, b: tf.Tensor): Promise<number> {
  const pred = tf.tidy(() => tf.argMax(tf.add(tf.matMul(tf.tensor2d(x, [y.length, d]), W), b), 1));
  const p = await pred.data();
  pred.dispose();
  let correct = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) correct++;
  return correct / y.length;
}
