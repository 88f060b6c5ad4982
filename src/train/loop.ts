/**
 * The training loop shared by pretraining and fine-tuning: deterministic
 * batches, warm-up + cosine learning rate, a loss read back every N steps
 * (not every step), a NaN/Inf guard on the loss, the gradient norm and the
 * parameters (a non-finite checkpoint is never written), JSONL metrics and a
 * loss-curve picture, atomic checkpoints with the last K kept, exact resume
 * (from the newest checkpoint, or a named one), an optional moving average
 * of the weights (saved as the model), a lock so one run owns its
 * directory, and clean-up of temporary files a killed run left behind.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check, DarlError } from "../errors.ts";
import { createSampler } from "../data/batches.ts";
import { ensureDir, removeStaleTemps } from "../data/files.ts";
import { namedLeaves, type ParamTree } from "../nn/tree.ts";
import { writePng } from "../viz/grid.ts";
import {
  assignParams,
  type Checkpoint,
  type CheckpointMeta,
  checkpointPath,
  listCheckpoints,
  loadCheckpoint,
  NonFiniteCheckpointError,
  pruneCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
import { acquireLock } from "./lock.ts";
import { lossCurve } from "./loss_curve.ts";
import { writeRunConfig } from "./run_config.ts";
import { appendJsonl, type MetricRecord, progressLine, truncateJsonl } from "./metrics.ts";
import type { AdamWState } from "./optim.ts";
import { createWeightEma, disposeWeightEma, liveWeights, updateWeightEma, type WeightEma } from "./ema.ts";

/**
 * What one optimiser step returns (scalars stay on the device).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { StepResult } from "./loop.ts";
 * const r: StepResult = { loss: tf.scalar(0.5), gradNorm: tf.scalar(1.2) };
 * if ((await r.loss.data())[0] !== 0.5) throw new Error();
 * ```
 */
export interface StepResult {
  /** The training loss. */
  loss: tf.Scalar;
  /** The gradient norm before clipping. */
  gradNorm: tf.Scalar;
}

/**
 * Everything the loop needs to know about a run.
 *
 * @example
 * ```ts
 * import type { LoopSpec } from "./loop.ts";
 * const describe = (s: LoopSpec) => `${s.steps} steps of ${s.batchSize} into ${s.out}, checkpoint every ${s.ckptEvery}`;
 * if (typeof describe !== "function") throw new Error();
 * ```
 */
export interface LoopSpec {
  /** Run directory. */
  out: string;
  /** Total steps. */
  steps: number;
  /** Items per step. */
  batchSize: number;
  /** Read back and log every N steps. */
  logEvery: number;
  /** Checkpoint every N steps. */
  ckptEvery: number;
  /** Checkpoints kept. */
  keep: number;
  /** Seed of the batch order. */
  seed: number;
  /** Number of training items. */
  trainCount: number;
  /** Parameters (saved in checkpoints). */
  params: ParamTree;
  /** Optimiser state aligned with the parameter leaves (or with `optNames`). */
  opt: AdamWState;
  /** The parameters the optimiser updates, when not all (`Trainer.names`); the rest are assigned otherwise (EMA). */
  optNames?: string[];
  /**
   * Decay of an exponential moving average of the optimised weights, updated
   * after every step and saved as the checkpoints' model weights (0 or
   * absent: none; `ema.ts`).
   */
  emaDecay?: number;
  /** Checkpoint metadata (its `step` is filled in). */
  meta: Omit<CheckpointMeta, "step">;
  /** Learning rate at a step. */
  lrAt(step: number): number;
  /** One optimiser step on the items at `indices`. */
  step(indices: Int32Array, step: number, lr: number): StepResult;
  /** Checks a checkpoint before resuming from it; returns notes to print. */
  checkResume(ck: Checkpoint): string[];
  /** Title of the loss-curve picture. */
  plotTitle: string;
  /** The run's readable config, written to `<out>/config.json` when the run starts. */
  config?: Record<string, unknown>;
  /** Called after every step that is a multiple of `every` (e.g. pictures). */
  periodic?: { every: number; run(step: number): Promise<void> };
  /**
   * Losses measured off the training batches (e.g. `heldOutLoss`) after
   * every step that is a multiple of `every` and after the run's last step:
   * logged with that step's metrics, printed and drawn beside the training loss.
   */
  evaluate?: { every: number; run(step: number): Promise<Record<string, number>> };
}

/**
 * Options of {@linkcode runTrainingLoop}.
 *
 * @example
 * ```ts
 * import type { LoopOptions } from "./loop.ts";
 * const opts: LoopOptions = { resumeFrom: "runs/x/ckpt-0000500.safetensors", log: () => {} };
 * if (!opts.resumeFrom) throw new Error();
 * ```
 */
export interface LoopOptions {
  /** Continue from the newest checkpoint in `out`. */
  resume?: boolean;
  /**
   * Continue from this checkpoint of `out` (e.g. the one before a corrupt
   * newest); newer checkpoints are renamed `*.superseded`, not deleted.
   */
  resumeFrom?: string;
  /** Stop after this many steps in this call. */
  stopAfter?: number;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
}

/**
 * The outcome of {@linkcode runTrainingLoop}.
 *
 * @example
 * ```ts
 * import type { LoopResult } from "./loop.ts";
 * const r: LoopResult = { step: 10, losses: [0.9, 0.8], checkpoint: "runs/x/ckpt-0000010.safetensors" };
 * if (r.losses.length !== 2) throw new Error();
 * ```
 */
export interface LoopResult {
  /** The step reached. */
  step: number;
  /** Loss of each step run in this call. */
  losses: number[];
  /** The newest checkpoint. */
  checkpoint: string;
}

/**
 * Runs (or resumes) a training loop.
 *
 * @param spec The run.
 * @param opts Resume and logging.
 * @returns Where it stopped, the losses and the newest checkpoint.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { warmupCosine } from "./optim.ts";
 * import { runTrainingLoop } from "./loop.ts";
 * import { createTrainer, trainStep } from "./trainer.ts";
 * // Fit w to 3 by SGD on (w − 3)², with checkpoints, metrics and a loss curve.
 * const w = tf.variable(tf.zeros([1]));
 * const trainer = createTrainer({ w }, { optimizer: { kind: "sgd", momentum: 0, weightDecay: 0 } });
 * const out = (await Deno.makeTempDir()) + "/run";
 * const r = await runTrainingLoop({
 *   out, steps: 20, batchSize: 1, logEvery: 10, ckptEvery: 20, keep: 1, seed: 0, trainCount: 1,
 *   params: { w }, opt: trainer.opt, meta: { format: "darl-checkpoint", method: "demo", model: {}, train: {}, state: {} },
 *   lrAt: (s) => warmupCosine(s, { lr: 0.2, minLr: 0.2, warmupSteps: 0, steps: 20 }),
 *   step: (_idx, _s, lr) => trainStep(trainer, () => tf.sum(tf.square(tf.sub(w, 3))), lr),
 *   checkResume: () => [], plotTitle: "demo",
 * }, { log: () => {} });
 * if (Math.abs((await w.data())[0]! - 3) > 1e-3 || r.step !== 20) throw new Error();
 * ```
 */
export async function runTrainingLoop(spec: LoopSpec, opts: LoopOptions = {}): Promise<LoopResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  for (const k of ["steps", "batchSize", "logEvery", "ckptEvery", "keep"] as const) {
    check(
      Number.isInteger(spec[k]) && spec[k] > 0,
      `--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}: expected a positive integer, got ${spec[k]}`,
    );
  }
  await removeStaleTemps(spec.out);
  const existing = await listCheckpoints(spec.out);
  let step = 0;
  let resumed: Checkpoint | null = null;
  if (opts.resume || opts.resumeFrom) {
    if (existing.length === 0) {
      throw new DarlError(`${spec.out}: --resume given but there is no checkpoint to resume from`);
    }
    resumed = opts.resumeFrom
      ? await loadCheckpoint(checkResumeFrom(opts.resumeFrom, existing, spec.out))
      : await loadNewest(existing);
    if (resumed.meta.method !== spec.meta.method) {
      throw new DarlError(
        `${resumed.path}: is a "${resumed.meta.method}" checkpoint, this run is "${spec.meta.method}"`,
      );
    }
    for (const note of spec.checkResume(resumed)) log(`note: ${note}`);
    if (!resumed.opt) {
      throw new DarlError(`${resumed.path}: has no optimiser state, so training cannot resume from it`);
    }
  } else if (existing.length > 0) {
    throw new DarlError(
      `${spec.out}: already holds checkpoints (newest step ${
        existing[existing.length - 1]!.step
      }); pass --resume to continue or choose another --out`,
    );
  }
  await ensureDir(spec.out, "--out");
  const lock = await acquireLock(spec.out, "--out", log);
  const names = spec.optNames ?? namedLeaves(spec.params).map(([n]) => n);
  let ema: WeightEma | undefined;
  try {
    if (spec.emaDecay) ema = createWeightEma(spec.params, spec.emaDecay, names);
    if (spec.config) await writeRunConfig(spec.out, spec.config);
    if (resumed) {
      const ck = resumed;
      if (ema && !ck.live) {
        throw new DarlError(`${ck.path}: has no moving average of the weights to continue (--ema-decay)`);
      }
      assignParams(spec.params, liveWeights(ck.params, ck.live), ck.path);
      if (ema) {
        const shadow = ema.shadow;
        assignParams(
          Object.fromEntries(names.map((n, i) => [n, shadow[i]!])),
          new Map(names.map((n) => [n, ck.params.get(n)!])),
          ck.path,
        );
      }
      const moments = (which: "m" | "v") => Object.fromEntries(names.map((n, i) => [n, spec.opt[which][i]!]));
      assignParams(moments("m"), ck.opt!.m, ck.path);
      assignParams(moments("v"), ck.opt!.v, ck.path);
      step = ck.meta.step;
      spec.opt.step = (ck.meta as unknown as { optStep?: number }).optStep ?? step;
      for (const later of existing.filter((c) => c.step > step)) {
        await Deno.rename(later.path, `${later.path}.superseded`);
        log(`note: ${later.path} is newer than the resume point; kept as ${later.path}.superseded`);
      }
      log(`resumed from ${ck.path} at step ${step}`);
    }
    return await loop(spec, opts, step, log, resumed ? resumed.path : "", ema);
  } finally {
    if (ema) disposeWeightEma(ema);
    await lock.release();
  }
}

/** The newest checkpoint that loads; a corrupt newest names the previous good one. */
async function loadNewest(existing: { path: string; step: number }[]): Promise<Checkpoint> {
  const newest = existing[existing.length - 1]!;
  try {
    return await loadCheckpoint(newest.path);
  } catch (e) {
    if (!(e instanceof DarlError)) throw e;
    for (let i = existing.length - 2; i >= 0; i--) {
      const prev = existing[i]!.path;
      if (await loadCheckpoint(prev).then(() => true, () => false)) {
        throw new DarlError(
          `${newest.path}: cannot resume from it (${e.message.replace(`${newest.path}: `, "")}); ` +
            `the previous good checkpoint is ${prev}: pass --resume-from ${prev}`,
        );
      }
    }
    throw new DarlError(`${newest.path}: cannot resume from it (${e.message}); no earlier checkpoint loads either`);
  }
}

function checkResumeFrom(file: string, existing: { path: string; step: number }[], out: string): string {
  const name = file.slice(file.lastIndexOf("/") + 1);
  const hit = existing.find((c) => c.path.slice(c.path.lastIndexOf("/") + 1) === name);
  if (!hit) throw new DarlError(`--resume-from ${file}: not a checkpoint of ${out} (it has ${existing.length})`);
  return hit.path;
}

async function loop(
  spec: LoopSpec,
  opts: LoopOptions,
  startStep: number,
  log: (line: string) => void,
  resumedFrom: string,
  ema: WeightEma | undefined,
): Promise<LoopResult> {
  let step = startStep;
  const metricsPath = `${spec.out}/metrics.jsonl`;
  const history = await truncateJsonl(metricsPath, step);
  const sampler = createSampler(spec.trainCount, spec.batchSize, spec.seed);
  const losses: number[] = [];
  const pending: { step: number; lr: number; r: StepResult }[] = [];
  // The held-out losses of the step just taken; measuring forces a flush, so they belong to its last record.
  let measured: Record<string, number> | undefined;
  let lastCkpt = resumedFrom;
  let tLast = performance.now(), stepsSinceLast = 0;
  const endStep = Math.min(spec.steps, opts.stopAfter !== undefined ? step + opts.stopAfter : spec.steps);

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    // One read per scalar: tfjs-webgpu's Stack is unreliable with many inputs.
    const vals: number[] = [];
    for (const p of pending) vals.push((await p.r.loss.data())[0]!, (await p.r.gradNorm.data())[0]!);
    const secs = (performance.now() - tLast) / 1000;
    const rate = (stepsSinceLast * spec.batchSize) / secs;
    const records: MetricRecord[] = pending.map((p, i) => ({
      step: p.step + 1,
      loss: vals[2 * i]!,
      grad_norm: vals[2 * i + 1]!,
      lr: p.lr,
      img_per_s: rate,
      time: Date.now() / 1000,
    }));
    if (measured) Object.assign(records[records.length - 1]!, measured);
    pending.forEach((p) => tf.dispose([p.r.loss, p.r.gradNorm]));
    pending.length = 0;
    // A finite loss with a non-finite gradient still poisons the update, so both are checked.
    const bad = records.find((r) => !Number.isFinite(r.loss as number) || !Number.isFinite(r.grad_norm as number));
    if (bad) {
      await appendJsonl(metricsPath, records.filter((r) => r.step < bad.step));
      const what = Number.isFinite(bad.loss as number)
        ? `the gradient norm became ${bad.grad_norm} at step ${bad.step} (loss ${bad.loss})`
        : `loss became ${bad.loss} at step ${bad.step}`;
      throw new DarlError(`${what}; stopped without saving (last good checkpoint: ${lastCkpt || "none"})`);
    }
    for (const r of records) losses.push(r.loss as number);
    history.push(...records);
    await appendJsonl(metricsPath, records);
    const last = records[records.length - 1]!;
    log(progressLine({
      step: last.step,
      steps: spec.steps,
      values: { loss: last.loss as number, lr: last.lr as number, ...measured },
      rate,
      unit: "img/s",
    }, stepsSinceLast / secs));
    await writePng(`${spec.out}/loss.png`, lossCurve(history, spec.plotTitle));
    measured = undefined;
    tLast = performance.now();
    stepsSinceLast = 0;
  };

  while (step < endStep) {
    const lr = spec.lrAt(step);
    const r = spec.step(sampler(step), step, lr);
    pending.push({ step, lr, r });
    step++;
    if (ema) updateWeightEma(ema, step);
    stepsSinceLast++;
    const atCkpt = step % spec.ckptEvery === 0 || step === endStep;
    const atEval = !!spec.evaluate && (step % spec.evaluate.every === 0 || step === spec.steps);
    if (atEval) {
      const t = performance.now();
      measured = await spec.evaluate!.run(step);
      tLast += performance.now() - t; // nor is measuring held-out losses
    }
    if (step % spec.logEvery === 0 || atCkpt || atEval) await flush();
    if (spec.periodic && step % spec.periodic.every === 0) {
      await spec.periodic.run(step);
      tLast = performance.now(); // pictures are not training throughput
    }
    if (atCkpt) {
      const path = checkpointPath(spec.out, step);
      try {
        await saveCheckpoint(path, spec.params, spec.opt, { ...spec.meta, step }, spec.optNames, ema);
      } catch (e) {
        if (!(e instanceof NonFiniteCheckpointError)) throw e;
        throw new DarlError(
          `the parameters became non-finite by step ${step} (${e.tensors.length} tensors, e.g. ${e.tensors[0]}); ` +
            `stopped without saving (last good checkpoint: ${lastCkpt || "none"})`,
        );
      }
      lastCkpt = path;
      await pruneCheckpoints(spec.out, spec.keep);
      tLast = performance.now(); // nor is checkpoint I/O
    }
  }
  return { step, losses, checkpoint: lastCkpt };
}
