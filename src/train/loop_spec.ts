/**
 * Builders for the parts of a training loop's spec that every method's run
 * fills the same way: the fields taken straight from the run config, the
 * hook that writes progress pictures, and what a run records about itself
 * (checkpoint metadata and `config.json`).
 *
 * @module
 */
import type { RasterImage } from "../data/png.ts";
import { writePng } from "../viz/grid.ts";
import type { LoopSpec } from "./loop.ts";
import { warmupCosine } from "./optim.ts";
import type { RunConfig } from "./run_config.ts";

/**
 * The parts of a `LoopSpec` every run takes straight from its run
 * config: directory, steps, batch, logging, checkpoints, seed, the
 * warm-up + cosine learning rate, and a pretraining run's weight average.
 *
 * @param train The run config.
 * @returns Those fields.
 * @example
 * ```ts
 * import { loopFields } from "./loop_spec.ts";
 * const f = loopFields({ data: "d", out: "runs/x", steps: 100, batchSize: 8, lr: 1e-3, minLr: 1e-5, warmupSteps: 10,
 *   weightDecay: 0, beta1: 0.9, beta2: 0.95, clip: 1, seed: 0, augment: "none", logEvery: 10, ckptEvery: 50, keep: 2 });
 * if (f.lrAt(10) !== 1e-3 || f.out !== "runs/x") throw new Error();
 * ```
 */
export function loopFields(
  train: RunConfig & { emaDecay?: number },
): Pick<LoopSpec, "out" | "steps" | "batchSize" | "logEvery" | "ckptEvery" | "keep" | "seed" | "lrAt" | "emaDecay"> {
  const sched = { lr: train.lr, minLr: train.minLr, warmupSteps: train.warmupSteps, steps: train.steps };
  return {
    out: train.out,
    steps: train.steps,
    batchSize: train.batchSize,
    logEvery: train.logEvery,
    ckptEvery: train.ckptEvery,
    keep: train.keep,
    seed: train.seed,
    lrAt: (step) => warmupCosine(step, sched),
    emaDecay: train.emaDecay ?? 0,
  };
}

/**
 * The loop's `periodic` hook for a run's progress pictures: every `every`
 * steps (never when 0), `<dir>/step-0000100.png` from `picture(step)`.
 *
 * @param dir The pictures' folder (created on first use).
 * @param every Steps between pictures; 0 for none.
 * @param picture Draws the picture of a step.
 * @returns `{ periodic }` to spread into a `LoopSpec`, or nothing.
 * @example
 * ```ts
 * import { periodicPictures } from "./loop_spec.ts";
 * const blank = () => Promise.resolve({ width: 1, height: 1, channels: 1 as const, data: new Uint8Array(1) });
 * if (periodicPictures("runs/x/samples", 0, blank).periodic || !periodicPictures("runs/x/samples", 50, blank).periodic) {
 *   throw new Error();
 * }
 * ```
 */
export function periodicPictures(
  dir: string,
  every: number,
  picture: (step: number) => Promise<RasterImage>,
): Pick<LoopSpec, "periodic"> {
  if (every <= 0) return {};
  return {
    periodic: {
      every,
      run: async (step) => {
        const img = await picture(step);
        await Deno.mkdir(dir, { recursive: true });
        await writePng(`${dir}/step-${String(step).padStart(7, "0")}.png`, img);
      },
    },
  };
}

/**
 * What a run records about itself: the checkpoint metadata (method, model and
 * run configs, and a state holding the dataset's name and checksum, which
 * resume checks) and the readable `config.json`.
 *
 * @param method The method name checkpoints record.
 * @param model The model config.
 * @param train The run config.
 * @param dataset The dataset's header (name and checksum).
 * @param state More state to record (seed, the paths of frozen components, …).
 * @param storedModel The model config as checkpoints store it, when it carries more than `model` (default `model`).
 * @returns `meta` and `config` for `runTrainingLoop`.
 * @example
 * ```ts
 * import { runRecords } from "./loop_spec.ts";
 * const r = runRecords("toy", { width: 8 }, { steps: 10 }, { name: "fmnist", checksum: "abc" }, { seed: 0 });
 * if (r.meta.state.datasetChecksum !== "abc" || r.config?.method !== "toy") throw new Error();
 * ```
 */
export function runRecords(
  method: string,
  model: object,
  train: object,
  dataset: { name: string; checksum: string },
  state: Record<string, unknown> = {},
  storedModel: object = model,
): Pick<LoopSpec, "meta" | "config"> & { config: Record<string, unknown> } {
  return {
    meta: {
      format: "darl-checkpoint",
      method,
      model: storedModel as Record<string, unknown>,
      train: train as Record<string, unknown>,
      state: { datasetChecksum: dataset.checksum, dataset: dataset.name, ...state },
    },
    config: { method, model, train, dataset: { name: dataset.name, checksum: dataset.checksum } },
  };
}
