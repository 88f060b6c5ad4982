/**
 * Deterministic mini-batches: the sample order of epoch e is a permutation
 * drawn from (seed, e), and batch s takes the next B indices of the stream,
 * so the batch at any step is a function of (seed, step) alone and training
 * can resume exactly.
 *
 * @module
 */
import { createRng, mixSeed, type Rng, shuffle } from "../rng.ts";
import type { SplitData } from "./store.ts";

/**
 * Gives the dataset indices of the batch at a step.
 *
 * @example
 * ```ts
 * import { createSampler, type Sampler } from "./batches.ts";
 * const at: Sampler = createSampler(10, 5, 0);
 * const epoch = [...at(0), ...at(1)].sort((a, b) => a - b); // two steps cover one epoch
 * if (epoch.join() !== "0,1,2,3,4,5,6,7,8,9") throw new Error();
 * ```
 */
export type Sampler = (step: number) => Int32Array;

/**
 * Creates a sampler over n items.
 *
 * @param n Dataset size.
 * @param batchSize B.
 * @param seed The run seed.
 * @returns A function step → B indices.
 * @example
 * ```ts
 * import { createSampler } from "./batches.ts";
 * const a = createSampler(10, 4, 1), b = createSampler(10, 4, 1);
 * if (a(7).join() !== b(7).join()) throw new Error("must be deterministic");
 * ```
 */
export function createSampler(n: number, batchSize: number, seed: number): Sampler {
  const cache = new Map<number, Uint32Array>();
  const order = (epoch: number): Uint32Array => {
    let p = cache.get(epoch);
    if (!p) {
      p = shuffle(Uint32Array.from({ length: n }, (_, i) => i), createRng(mixSeed(seed, epoch, 0x5eed)));
      cache.set(epoch, p);
      if (cache.size > 2) cache.delete(cache.keys().next().value!);
    }
    return p;
  };
  return (step: number) => {
    const out = new Int32Array(batchSize);
    for (let k = 0; k < batchSize; k++) {
      const pos = step * batchSize + k;
      out[k] = order(Math.floor(pos / n))[pos % n]!;
    }
    return out;
  };
}

/**
 * Copies the images at `indices` into one [B, H, W, C] uint8 batch.
 *
 * @param split The split.
 * @param indices Which images.
 * @param imageSize H·W·C.
 * @returns The batch.
 *
 * @example
 * ```ts
 * import { gatherImages } from "./batches.ts";
 * const split = { count: 3, images: new Uint8Array([10, 11, 20, 21, 30, 31]), labels: null };
 * if (gatherImages(split, [2, 0], 2).join() !== "30,31,10,11") throw new Error();
 * ```
 */
export function gatherImages(split: SplitData, indices: ArrayLike<number>, imageSize: number): Uint8Array {
  const out = new Uint8Array(indices.length * imageSize);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    out.set(split.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize);
  }
  return out;
}

/**
 * Gathers labels.
 *
 * @param split The split (must be labelled).
 * @param indices Which items.
 * @returns Labels as int32.
 *
 * @example
 * ```ts
 * import { gatherLabels } from "./batches.ts";
 * const split = { count: 3, images: new Uint8Array(3), labels: new Uint16Array([4, 5, 6]) };
 * if (gatherLabels(split, [2, 0]).join() !== "6,4") throw new Error();
 * ```
 */
export function gatherLabels(split: SplitData, indices: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: indices.length }, (_, k) => split.labels![indices[k]!]!);
}

/**
 * Augmentations applied to uint8 batches.
 *
 * @example
 * ```ts
 * import { type Augment, augmentBatch } from "./batches.ts";
 * import { createRng } from "../rng.ts";
 * const how: Augment = "flip";
 * const img = new Uint8Array([1, 2, 3]);
 * augmentBatch(img, [1, 3, 1], how, createRng(3));
 * if (!["1,2,3", "3,2,1"].includes(img.join())) throw new Error();
 * ```
 */
export type Augment = "none" | "flip" | "crop" | "crop+flip";

/**
 * Random horizontal flip and/or random crop (zero padding of `pad` pixels,
 * then a crop back to size) on a uint8 batch, in place.
 *
 * @param batch [B, H, W, C] uint8.
 * @param shape [H, W, C].
 * @param augment Which augmentations.
 * @param rng The generator (derive it from the step for exact resume).
 * @param pad Crop padding in pixels.
 * @returns The same array.
 * @example
 * ```ts
 * import { augmentBatch } from "./batches.ts";
 * import { createRng } from "../rng.ts";
 * const b = new Uint8Array([1, 2, 3, 4]);
 * augmentBatch(b, [1, 4, 1], "none", createRng(0));
 * if (b.join() !== "1,2,3,4") throw new Error();
 * ```
 */
export function augmentBatch(
  batch: Uint8Array,
  shape: [number, number, number],
  augment: Augment,
  rng: Rng,
  pad = 2,
): Uint8Array {
  if (augment === "none") return batch;
  const [H, W, C] = shape, size = H * W * C;
  const tmp = new Uint8Array(size);
  const B = batch.length / size;
  for (let b = 0; b < B; b++) {
    const img = batch.subarray(b * size, (b + 1) * size);
    const flip = (augment === "flip" || augment === "crop+flip") && rng.uniform() < 0.5;
    const crop = augment === "crop" || augment === "crop+flip";
    const dy = crop ? rng.int(2 * pad + 1) - pad : 0;
    const dx = crop ? rng.int(2 * pad + 1) - pad : 0;
    if (!flip && dx === 0 && dy === 0) continue;
    tmp.fill(0);
    for (let y = 0; y < H; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= H) continue;
      for (let x = 0; x < W; x++) {
        const sx0 = x + dx;
        if (sx0 < 0 || sx0 >= W) continue;
        const sx = flip ? W - 1 - sx0 : sx0;
        for (let c = 0; c < C; c++) tmp[(y * W + x) * C + c] = img[(sy * W + sx) * C + c]!;
      }
    }
    img.set(tmp);
  }
  return batch;
}

/**
 * uint8 pixels → float32 in [−1, 1] (the model's global input normalisation).
 *
 * @param batch uint8 values.
 * @returns Float values x/127.5 − 1.
 * @example
 * ```ts
 * import { toUnitRange } from "./batches.ts";
 * const f = toUnitRange(new Uint8Array([0, 255]));
 * if (f[0] !== -1 || f[1] !== 1) throw new Error();
 * ```
 */
export function toUnitRange(batch: Uint8Array): Float32Array {
  const out = new Float32Array(batch.length);
  for (let i = 0; i < batch.length; i++) out[i] = batch[i]! / 127.5 - 1;
  return out;
}
