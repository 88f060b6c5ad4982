/**
 * The training loop shared by pretraining and fine-tuning: deterministic
 * batches, warm-up + cosine learning rate, a loss read back every N steps
 * (not every step), a NaN/Inf guard, JSONL metrics and a loss-curve picture,
 * atomic checkpoints with the last K kept, and exact resume.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { check, DarlError } from "../errors.ts";
import { createSampler } from "../data/batches.ts";
import { namedLeaves, type ParamTree } from "../nn/tree.ts";
import { linePlot } from "../viz/plot.ts";
import { writePng } from "../viz/grid.ts";
import {
  assignParams,
  type Checkpoint,
  type CheckpointMeta,
  checkpointPath,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
import { appendJsonl, type MetricRecord, progressLine, truncateJsonl } from "./metrics.ts";
import type { AdamWState } from "./optim.ts";

/** What one optimiser step returns (scalars stay on the device). */
export interface StepResult {
  /** The training loss. */
  loss: tf.Scalar;
  /** The gradient norm before clipping. */
  gradNorm: tf.Scalar;
}

/** Everything the loop needs to know about a run. */
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
  /** Optimiser state aligned with the parameter leaves. */
  opt: AdamWState;
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
  /** Called after every step that is a multiple of `every` (e.g. pictures). */
  periodic?: { every: number; run(step: number): Promise<void> };
}

/** Options of {@linkcode runTrainingLoop}. */
export interface LoopOptions {
  /** Continue from the newest checkpoint in `out`. */
  resume?: boolean;
  /** Stop after this many steps in this call. */
  stopAfter?: number;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
}

/** The outcome of {@linkcode runTrainingLoop}. */
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
 */
export async function runTrainingLoop(spec: LoopSpec, opts: LoopOptions = {}): Promise<LoopResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  for (const k of ["steps", "batchSize", "logEvery", "ckptEvery", "keep"] as const) {
    check(
      Number.isInteger(spec[k]) && spec[k] > 0,
      `--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}: expected a positive integer, got ${spec[k]}`,
    );
  }
  const existing = await listCheckpoints(spec.out);
  let step = 0;
  if (opts.resume) {
    if (existing.length === 0) {
      throw new DarlError(`${spec.out}: --resume given but there is no checkpoint to resume from`);
    }
    const ck = await loadCheckpoint(existing[existing.length - 1]!.path);
    if (ck.meta.method !== spec.meta.method) {
      throw new DarlError(`${ck.path}: is a "${ck.meta.method}" checkpoint, this run is "${spec.meta.method}"`);
    }
    for (const note of spec.checkResume(ck)) log(`note: ${note}`);
    assignParams(spec.params, ck.params, ck.path);
    if (!ck.opt) throw new DarlError(`${ck.path}: has no optimiser state, so training cannot resume from it`);
    const names = namedLeaves(spec.params).map(([n]) => n);
    const moments = (which: "m" | "v") => Object.fromEntries(names.map((n, i) => [n, spec.opt[which][i]!]));
    assignParams(moments("m"), ck.opt.m, ck.path);
    assignParams(moments("v"), ck.opt.v, ck.path);
    step = ck.meta.step;
    spec.opt.step = (ck.meta as unknown as { optStep?: number }).optStep ?? step;
    log(`resumed from ${ck.path} at step ${step}`);
  } else if (existing.length > 0) {
    throw new DarlError(
      `${spec.out}: already holds checkpoints (newest step ${
        existing[existing.length - 1]!.step
      }); pass --resume to continue or choose another --out`,
    );
  }
  await Deno.mkdir(spec.out, { recursive: true });
  const metricsPath = `${spec.out}/metrics.jsonl`;
  const history = await truncateJsonl(metricsPath, step);
  const sampler = createSampler(spec.trainCount, spec.batchSize, spec.seed);
  const losses: number[] = [];
  const pending: { step: number; lr: number; r: StepResult }[] = [];
  let lastCkpt = existing.length ? existing[existing.length - 1]!.path : "";
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
    pending.forEach((p) => tf.dispose([p.r.loss, p.r.gradNorm]));
    pending.length = 0;
    const bad = records.find((r) => !Number.isFinite(r.loss as number));
    if (bad) {
      await appendJsonl(metricsPath, records.filter((r) => r.step < bad.step));
      throw new DarlError(
        `loss became ${bad.loss} at step ${bad.step}; stopped without saving (last good checkpoint: ${
          lastCkpt || "none"
        })`,
      );
    }
    for (const r of records) losses.push(r.loss as number);
    history.push(...records);
    await appendJsonl(metricsPath, records);
    const last = records[records.length - 1]!;
    log(progressLine({
      step: last.step,
      steps: spec.steps,
      values: { loss: last.loss as number, lr: last.lr as number },
      rate,
      unit: "img/s",
    }, stepsSinceLast / secs));
    await writePng(
      `${spec.out}/loss.png`,
      linePlot([{ name: "train loss", xs: history.map((r) => r.step), ys: history.map((r) => r.loss as number) }], {
        title: spec.plotTitle,
        xLabel: "step",
        yLabel: "loss",
        logY: true,
      }),
    );
    tLast = performance.now();
    stepsSinceLast = 0;
  };

  while (step < endStep) {
    const lr = spec.lrAt(step);
    const r = spec.step(sampler(step), step, lr);
    pending.push({ step, lr, r });
    step++;
    stepsSinceLast++;
    const atCkpt = step % spec.ckptEvery === 0 || step === endStep;
    if (step % spec.logEvery === 0 || atCkpt) await flush();
    if (spec.periodic && step % spec.periodic.every === 0) {
      await spec.periodic.run(step);
      tLast = performance.now(); // pictures are not training throughput
    }
    if (atCkpt) {
      lastCkpt = checkpointPath(spec.out, step);
      await saveCheckpoint(lastCkpt, spec.params, spec.opt, { ...spec.meta, step });
      await pruneCheckpoints(spec.out, spec.keep);
      tLast = performance.now(); // nor is checkpoint I/O
    }
  }
  return { step, losses, checkpoint: lastCkpt };
}
