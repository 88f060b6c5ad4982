/**
 * A small, seeded, serialisable random number generator (xoshiro128**).
 *
 * All randomness in darl (initialisation, data order, augmentation, noise)
 * comes from these generators, so a run is reproducible from its seed and
 * a checkpoint can store the exact generator state.
 *
 * @module
 */

/**
 * The state of an {@linkcode Rng}: four unsigned 32-bit words.
 *
 * @example
 * ```ts
 * import { createRng, type RngState } from "./rng.ts";
 * const saved: RngState = createRng(5).state(); // four u32 words, stored in checkpoints
 * if (createRng(saved).nextU32() !== createRng(5).nextU32()) throw new Error();
 * ```
 */
export type RngState = [number, number, number, number];

/**
 * A seeded generator; see {@linkcode createRng}.
 *
 * @example
 * ```ts
 * import { createRng, type Rng } from "./rng.ts";
 * const rng: Rng = createRng(0);
 * const u = rng.uniform(), k = rng.int(10);
 * if (!(u >= 0 && u < 1) || !(k >= 0 && k < 10)) throw new Error();
 * ```
 */
export interface Rng {
  /** A uniform unsigned 32-bit integer. */
  nextU32(): number;
  /** A uniform float in [0, 1). */
  uniform(): number;
  /** A standard normal draw (Box–Muller). */
  normal(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** A Gamma(shape, 1) draw; `shape` may be below 1. */
  gamma(shape: number): number;
  /** The current state, to store in a checkpoint. */
  state(): RngState;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Derives a 32-bit seed from several integers (e.g. seed, epoch, step), so
 * independent streams can be made without storing state.
 *
 * @param parts Integers to mix.
 * @returns A 32-bit unsigned seed.
 * @example
 * ```ts
 * import { mixSeed } from "./rng.ts";
 * if (mixSeed(1, 2) === mixSeed(2, 1)) throw new Error("order must matter");
 * ```
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = splitmix32(h ^ (p >>> 0))();
    h = splitmix32(h ^ (Math.floor(p / 4294967296) >>> 0))();
  }
  return h >>> 0;
}

/**
 * Creates a generator from a seed, or restores one from a saved state.
 *
 * @param seedOrState An integer seed, or a state from {@linkcode Rng.state}.
 * @returns The generator.
 * @example
 * ```ts
 * import { createRng } from "./rng.ts";
 * const a = createRng(42);
 * a.uniform();
 * const b = createRng(a.state());
 * if (a.uniform() !== b.uniform()) throw new Error("state must restore");
 * ```
 */
export function createRng(seedOrState: number | RngState): Rng {
  let s0: number, s1: number, s2: number, s3: number;
  if (typeof seedOrState === "number") {
    const sm = splitmix32(seedOrState);
    s0 = sm();
    s1 = sm();
    s2 = sm();
    s3 = sm();
  } else {
    [s0, s1, s2, s3] = seedOrState.map((v) => v >>> 0) as RngState;
  }
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    s0 >>>= 0;
    s1 >>>= 0;
    s2 >>>= 0;
    s3 >>>= 0;
    return result;
  };
  // 53 random bits, so u is never exactly 1 and rarely 0.
  const uniform = (): number => {
    const hi = nextU32() >>> 5, lo = nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
  // No cached second draw: the state alone must determine the stream.
  const normal = (): number => {
    let u = uniform();
    while (u <= 0) u = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  // Marsaglia–Tsang; for shape < 1, G(a) = G(a + 1) · U^(1/a).
  const gamma = (shape: number): number => {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      let u = uniform();
      while (u <= 0) u = uniform();
      return gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  };
  return {
    nextU32,
    uniform,
    normal,
    int: (n: number) => Math.floor(uniform() * n),
    gamma,
    state: () => [s0, s1, s2, s3],
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Shuffles `items` in place (Fisher–Yates) with `rng`.
 *
 * @param items The array to permute.
 * @param rng The generator.
 * @returns The same array.
 * @example
 * ```ts
 * import { createRng, shuffle } from "./rng.ts";
 * const p = shuffle([0, 1, 2, 3, 4], createRng(0));
 * if ([...p].sort().join() !== "0,1,2,3,4") throw new Error("not a permutation");
 * ```
 */
export function shuffle<T extends { length: number; [i: number]: unknown }>(
  items: T,
  rng: Rng,
): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}
