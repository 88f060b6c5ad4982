/**
 * A procedural dSprites (evaluation spec §A6): the full factor grid of
 * 1 colour × 3 shapes (square, ellipse, heart) × 6 scales (0.5…1.0) × 40
 * orientations (linspace(0, 2π, 40)) × 32 × 32 positions (linspace(0, 1,
 * 32)) = 737,280 binary 64×64 images, in dSprites' row-major factor order
 * (posY fastest). Images are rendered on demand from their index.
 *
 * Pixel geometry (undocumented upstream) follows the spec's reference:
 * centres in [0.25W, 0.75W], shapes spanning 0.45·W·scale, so every sprite
 * stays inside the frame.
 *
 * VTAB tasks (§A2): `dsprites_loc` bins posX and `dsprites_ori` bins the
 * orientation, each into 16 classes (÷2 and ÷2.5). Splits are 80/10/10 of a
 * seeded shuffle of the grid.
 *
 * @module
 */
import { createRng, shuffle } from "../rng.ts";

/** Image side. */
export const DSPRITES_SIZE = 64;
/** Factor sizes: shape, scale, orientation, posX, posY. */
export const DSPRITES_FACTORS = [3, 6, 40, 32, 32] as const;
/** Number of images in the grid. */
export const DSPRITES_COUNT = 3 * 6 * 40 * 32 * 32;

/**
 * The factor indices of one image.
 *
 * @example
 * ```ts
 * import { type SpriteFactors, spriteFactors } from "./dsprites.ts";
 * const f: SpriteFactors = spriteFactors(1); // the second grid image: posY moves fastest
 * if (f.posY !== 1 || f.posX !== 0 || f.shape !== 0) throw new Error();
 * ```
 */
export interface SpriteFactors {
  /** 0 square, 1 ellipse, 2 heart. */
  shape: number;
  /** 0…5 (scale 0.5 + 0.1·i). */
  scale: number;
  /** 0…39 (angle 2π·i/39). */
  orientation: number;
  /** 0…31. */
  posX: number;
  /** 0…31. */
  posY: number;
}

/**
 * Factor indices of grid image `i` (posY fastest).
 *
 * @param i Index in [0, 737280).
 * @returns Its factors.
 * @example
 * ```ts
 * import { spriteFactors } from "./dsprites.ts";
 * const f = spriteFactors(32 * 32 * 40 * 6 + 33);
 * if (f.shape !== 1 || f.posX !== 1 || f.posY !== 1) throw new Error(JSON.stringify(f));
 * ```
 */
export function spriteFactors(i: number): SpriteFactors {
  const posY = i % 32;
  const posX = Math.floor(i / 32) % 32;
  const orientation = Math.floor(i / 1024) % 40;
  const scale = Math.floor(i / 40960) % 6;
  const shape = Math.floor(i / 245760);
  return { shape, scale, orientation, posX, posY };
}

// A heart inside the unit disc: (x² + y² − 1)³ − x²y³ ≤ 0, pointing down.
function inHeart(u: number, v: number): boolean {
  const x = u * 1.25, y = -(v * 1.25) + 0.25;
  const a = x * x + y * y - 1;
  return a * a * a - x * x * y * y * y <= 0;
}

/**
 * Renders one sprite as 64×64 uint8 (0 or 255).
 *
 * @param f Its factors.
 * @returns The image.
 * @example
 * ```ts
 * import { renderSprite } from "./dsprites.ts";
 * const img = renderSprite({ shape: 0, scale: 5, orientation: 0, posX: 16, posY: 16 });
 * if (img[32 * 64 + 32] !== 255 || img[0] !== 0) throw new Error();
 * ```
 */
export function renderSprite(f: SpriteFactors): Uint8Array {
  const W = DSPRITES_SIZE, out = new Uint8Array(W * W);
  const scale = 0.5 + 0.1 * f.scale;
  const theta = (2 * Math.PI * f.orientation) / 39;
  const cx = (0.25 + 0.5 * (f.posX / 31)) * W, cy = (0.25 + 0.5 * (f.posY / 31)) * W;
  const r = (0.45 * W * scale) / 2; // pixels per unit of the shape templates
  const c = Math.cos(theta), s = Math.sin(theta);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const dx = (x + 0.5 - cx) / r, dy = (y + 0.5 - cy) / r;
      const u = c * dx + s * dy, v = -s * dx + c * dy; // rotate the pixel back by θ
      const inside = f.shape === 0
        ? Math.abs(u) <= 0.75 && Math.abs(v) <= 0.75
        : f.shape === 1
        ? u * u + (v / 0.55) ** 2 <= 1
        : inHeart(u, v);
      if (inside) out[y * W + x] = 255;
    }
  }
  return out;
}

/** VTAB's 16-bin labels. */
export function dspritesLabel(task: "dsprites_loc" | "dsprites_ori", f: SpriteFactors): number {
  return task === "dsprites_loc" ? Math.floor(f.posX / 2) : Math.floor(f.orientation / 2.5);
}

let order: Uint32Array | null = null;

/**
 * The grid indices of a split: 80/10/10 of a seeded permutation.
 *
 * @param split "train", "val" or "test".
 * @returns Grid indices, in split order.
 */
export function dspritesSplitIndices(split: "train" | "val" | "test"): Uint32Array {
  order ??= shuffle(Uint32Array.from({ length: DSPRITES_COUNT }, (_, i) => i), createRng(0xd5b1));
  const a = Math.floor(0.8 * DSPRITES_COUNT), b = Math.floor(0.9 * DSPRITES_COUNT);
  return split === "train" ? order.subarray(0, a) : split === "val" ? order.subarray(a, b) : order.subarray(b);
}

/**
 * Renders images of the grid with a task's labels.
 *
 * @param task Which VTAB labels.
 * @param indices Grid indices.
 * @returns Images [n, 64, 64, 1] and labels.
 *
 * @example
 * ```ts
 * import { renderDsprites } from "./dsprites.ts";
 * const { images, labels } = renderDsprites("dsprites_loc", [0, 1023]);
 * if (images.length !== 2 * 64 * 64 || labels.join() !== "0,15") throw new Error();
 * ```
 */
export function renderDsprites(
  task: "dsprites_loc" | "dsprites_ori",
  indices: ArrayLike<number>,
): { images: Uint8Array; labels: Uint16Array } {
  const n = indices.length, size = DSPRITES_SIZE * DSPRITES_SIZE;
  const images = new Uint8Array(n * size), labels = new Uint16Array(n);
  for (let k = 0; k < n; k++) {
    const f = spriteFactors(indices[k]!);
    images.set(renderSprite(f), k * size);
    labels[k] = dspritesLabel(task, f);
  }
  return { images, labels };
}
