/**
 * Image grids as PNG: sample sheets, inputs beside predictions.
 *
 * @module
 */
import { encodePngImage, type RasterImage } from "../data/png.ts";
import { writeFileAtomic } from "../data/files.ts";

/**
 * Converts floats in [−1, 1] to uint8 pixels (clamped).
 *
 * @param x Values in [−1, 1].
 * @returns round((x + 1)·127.5).
 * @example
 * ```ts
 * import { unitToU8 } from "./grid.ts";
 * if (unitToU8(new Float32Array([-1, 1, 3])).join() !== "0,255,255") throw new Error();
 * ```
 */
export function unitToU8(x: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(0, Math.min(255, Math.round((x[i]! + 1) * 127.5)));
  return out;
}

/**
 * Layout of {@linkcode imageGrid}.
 *
 * @example
 * ```ts
 * import { type GridOptions, imageGrid } from "./grid.ts";
 * const layout: GridOptions = { cols: 4, pad: 1, scale: 2 };
 * if (imageGrid(new Uint8Array(4), [1, 1, 1], layout).width !== 1 + 4 * 3) throw new Error();
 * ```
 */
export interface GridOptions {
  /** Images per row. */
  cols: number;
  /** Pixels between cells. */
  pad?: number;
  /** Integer magnification. */
  scale?: number;
  /** Background grey level. */
  background?: number;
}

/**
 * Lays out N images of [H, W, C] (C = 1 or 3) as an RGB grid.
 *
 * @param images N·H·W·C uint8 values.
 * @param shape [H, W, C].
 * @param opts Columns, padding, scale.
 * @returns The grid image.
 * @example
 * ```ts
 * import { imageGrid } from "./grid.ts";
 * const g = imageGrid(new Uint8Array(4 * 2 * 2), [2, 2, 1], { cols: 2, pad: 1 });
 * if (g.width !== 7 || g.height !== 7) throw new Error();
 * ```
 */
export function imageGrid(images: Uint8Array, shape: [number, number, number], opts: GridOptions): RasterImage {
  const [H, W, C] = shape;
  const { cols, pad = 2, scale = 1, background = 40 } = opts;
  const n = images.length / (H * W * C);
  const rows = Math.ceil(n / cols);
  const cw = W * scale, ch = H * scale;
  const width = pad + cols * (cw + pad), height = pad + rows * (ch + pad);
  const data = new Uint8Array(width * height * 3).fill(background);
  for (let k = 0; k < n; k++) {
    const ox = pad + (k % cols) * (cw + pad), oy = pad + Math.floor(k / cols) * (ch + pad);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const src = (k * H * W + Math.floor(y / scale) * W + Math.floor(x / scale)) * C;
        const dst = ((oy + y) * width + ox + x) * 3;
        for (let c = 0; c < 3; c++) data[dst + c] = images[src + (C === 3 ? c : 0)]!;
      }
    }
  }
  return { width, height, channels: 3, data };
}

/**
 * The layout every sample and reconstruction grid in darl uses: up to 8
 * images per row, each magnified 3× with 2-pixel gaps, so that grids from
 * DARL and ADDP training, `deno task sample` and the sweep read alike.
 *
 * @param images N·H·W·C uint8 values.
 * @param shape [H, W, C].
 * @returns The grid image.
 * @example
 * ```ts
 * import { sampleGrid } from "./grid.ts";
 * const g = sampleGrid(new Uint8Array(10 * 4), [2, 2, 1]); // 10 images: rows of 8 and 2
 * if (g.width !== 2 + 8 * (6 + 2) || g.height !== 2 + 2 * (6 + 2)) throw new Error();
 * ```
 */
export function sampleGrid(images: Uint8Array, shape: [number, number, number]): RasterImage {
  const n = images.length / (shape[0] * shape[1] * shape[2]);
  return imageGrid(images, shape, { cols: Math.min(8, n), pad: 2, scale: 3 });
}

/**
 * Interleaves image sets of equal size, item by item (a₀ b₀ a₁ b₁ …), so a
 * grid shows each original beside its reconstruction, prediction or edit.
 *
 * @param sets Image sets of N·H·W·C uint8 values each.
 * @param size H·W·C.
 * @returns The interleaved N·|sets| images.
 * @example
 * ```ts
 * import { interleave } from "./grid.ts";
 * if (interleave([new Uint8Array([1, 2]), new Uint8Array([8, 9])], 1).join() !== "1,8,2,9") throw new Error();
 * ```
 */
export function interleave(sets: Uint8Array[], size: number): Uint8Array {
  const n = sets[0]!.length / size, out = new Uint8Array(n * size * sets.length);
  for (let i = 0; i < n; i++) {
    sets.forEach((s, j) => out.set(s.subarray(i * size, (i + 1) * size), (i * sets.length + j) * size));
  }
  return out;
}

/**
 * Writes an image as PNG, atomically.
 *
 * @param path The destination.
 * @param img The image.
 *
 * @example
 * ```ts
 * import { writePng } from "./grid.ts";
 * const path = (await Deno.makeTempDir()) + "/dot.png";
 * await writePng(path, { width: 1, height: 1, channels: 3, data: new Uint8Array([255, 0, 0]) });
 * if ((await Deno.stat(path)).size < 60) throw new Error();
 * ```
 */
export async function writePng(path: string, img: RasterImage): Promise<void> {
  await writeFileAtomic(path, encodePngImage(img));
}
