/**
 * Held-out loss during training (nanoGPT's `estimate_loss`): the method's own
 * objective, without gradients, on fixed seeded draws of the training split
 * and of the test split. The training loss the loop logs is one augmented
 * minibatch's, noisy and never on unseen images; these two numbers answer
 * whether a run is fitting its images (the test loss rising away from the
 * training one) or still learning them (the two together), which decides
 * whether more regularisation or more training is the next thing to try.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { ConfigSchema } from "../config.ts";
import { gatherImages, toUnitRange } from "../data/batches.ts";
import type { SplitData } from "../data/store.ts";
import { drawSubset } from "../data/subset.ts";
import type { LoopSpec } from "./loop.ts";

/**
 * How often, and on how many images, a run measures its held-out loss.
 *
 * @example
 * ```ts
 * import type { HeldOutConfig } from "./held_out.ts";
 * const evals = (c: HeldOutConfig, steps: number) => (c.evalEvery > 0 ? Math.floor(steps / c.evalEvery) : 0);
 * if (evals({ evalEvery: 1000, evalImages: 1000 }, 8000) !== 8) throw new Error();
 * ```
 */
export interface HeldOutConfig {
  /** Measure the loss on the held-out draws every N steps and at the run's last step (0: never). */
  evalEvery: number;
  /** Images drawn from each split (a seeded stratified draw, the same at every measurement). */
  evalImages: number;
}

/**
 * Documentation and bounds of {@linkcode HeldOutConfig}, to spread into a
 * method's run schema (its CLI flags).
 *
 * @example
 * ```ts
 * import { HELD_OUT_SCHEMA } from "./held_out.ts";
 * if (HELD_OUT_SCHEMA.evalEvery.min !== 0 || HELD_OUT_SCHEMA.evalImages.min !== 1) throw new Error();
 * ```
 */
export const HELD_OUT_SCHEMA: ConfigSchema<HeldOutConfig> = {
  evalEvery: {
    doc: "loss on fixed draws of the train and test splits every N steps and at the end (0: never)",
    integer: true,
    min: 0,
    max: 1e8,
  },
  evalImages: {
    doc: "images per split in each held-out loss (a seeded stratified draw)",
    integer: true,
    min: 1,
    max: 1e6,
  },
};

/** Seed of the held-out draws: fixed, so runs with different seeds are measured on the same images. */
const DRAW_SEED = 0x4e1d;

/**
 * Builds the measurement: `evalImages` images of each split, drawn once, and
 * a function that returns the mean loss over each draw
 * (`eval_<split>_loss`).
 * The loss runs on chunks of at most `chunk` images, given as [n, H, W, C]
 * in [−1, 1] with the chunk's index (for a method whose objective draws
 * noise: seed it from the index, so every measurement sees the same noise).
 * A chunk's loss is taken to be a mean over its images, so chunks are
 * weighted by their size.
 *
 * @param splits The splits by name (e.g. `{ train, test }`).
 * @param cfg How many images per split.
 * @param imageShape [H, W, C].
 * @param lossOf The objective on one chunk (a scalar; its tensors are disposed here).
 * @param chunk Images per forward pass.
 * @returns The measurement.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { heldOutLoss } from "./held_out.ts";
 * const split = (v: number) => ({ count: 6, images: new Uint8Array(6).fill(v), labels: null });
 * // The loss of an image is its mean value in [−1, 1]: all 0 → −1, all 255 → 1.
 * const measure = heldOutLoss({ train: split(0), test: split(255) }, { evalImages: 4 }, [1, 1, 1], (x) => tf.mean(x), 3);
 * const r = await measure();
 * if (r.eval_train_loss !== -1 || r.eval_test_loss !== 1) throw new Error(JSON.stringify(r));
 * ```
 */
export function heldOutLoss(
  splits: Record<string, SplitData>,
  cfg: Pick<HeldOutConfig, "evalImages">,
  imageShape: readonly [number, number, number],
  lossOf: (images: tf.Tensor4D, chunkIndex: number) => tf.Scalar,
  chunk = 250,
): () => Promise<Record<string, number>> {
  const [H, W, C] = imageShape, size = H * W * C;
  const draws = Object.entries(splits).map(([name, split]) =>
    [name, gatherImages(split, drawSubset(split, cfg.evalImages, DRAW_SEED), size)] as const
  );
  return async () => {
    const out: Record<string, number> = {};
    for (const [name, images] of draws) {
      const n = images.length / size;
      let sum = 0;
      for (let i = 0, c = 0; i < n; i += chunk, c++) {
        const m = Math.min(chunk, n - i);
        const loss = tf.tidy(() =>
          lossOf(tf.tensor4d(toUnitRange(images.subarray(i * size, (i + m) * size)), [m, H, W, C]), c)
        );
        sum += (await loss.data())[0]! * m;
        loss.dispose();
      }
      out[`eval_${name}_loss`] = sum / n;
    }
    return out;
  };
}

/**
 * The training loop's `evaluate` field for a run's held-out loss: nothing when
 * `evalEvery` is 0, else {@linkcode heldOutLoss} on the splits present (a
 * dataset without a test split measures the training draw only).
 *
 * @param cfg The run's held-out settings.
 * @param splits The splits by name; undefined ones are skipped.
 * @param imageShape [H, W, C].
 * @param lossOf The method's objective on one chunk of images in [−1, 1].
 * @param chunk Images per forward pass.
 * @returns `{ evaluate }`, or `{}`, to spread into a {@linkcode LoopSpec}.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { heldOutEvaluation } from "./held_out.ts";
 * const split = { count: 4, images: new Uint8Array(4).fill(255), labels: null };
 * const never = heldOutEvaluation({ evalEvery: 0, evalImages: 4 }, { train: split }, [1, 1, 1], (x) => tf.mean(x));
 * if ("evaluate" in never) throw new Error();
 * const every = heldOutEvaluation({ evalEvery: 5, evalImages: 4 }, { train: split, test: undefined }, [1, 1, 1], (x) => tf.mean(x));
 * const r = await every.evaluate!.run(5);
 * if (every.evaluate!.every !== 5 || r.eval_train_loss !== 1 || "eval_test_loss" in r) throw new Error(JSON.stringify(r));
 * ```
 */
export function heldOutEvaluation(
  cfg: HeldOutConfig,
  splits: Record<string, SplitData | undefined>,
  imageShape: readonly [number, number, number],
  lossOf: (images: tf.Tensor4D, chunkIndex: number) => tf.Scalar,
  chunk = 250,
): Pick<LoopSpec, "evaluate"> {
  if (cfg.evalEvery <= 0) return {};
  const present = Object.fromEntries(
    Object.entries(splits).filter((e): e is [string, SplitData] => e[1] !== undefined),
  );
  return { evaluate: { every: cfg.evalEvery, run: heldOutLoss(present, cfg, imageShape, lossOf, chunk) } };
}
