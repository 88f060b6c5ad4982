/**
 * Which tokens inpainting or outpainting generates: a pixel box or a mask
 * PNG, mapped onto the token grid (a token is in the region when any of its
 * pixels is). Bad boxes and masks are one-line errors naming the flag.
 *
 * @module
 */
import { check, DarlError } from "../errors.ts";
import { readInput } from "../data/files.ts";
import { decodePngImage } from "../data/png.ts";

/**
 * Parses "x0,y0,x1,y1" (pixels, x1 and y1 exclusive) and checks it lies inside the image and is not empty.
 *
 * @param text The flag's value.
 * @param size Image side in pixels.
 * @param flag The flag (for messages).
 * @returns [x0, y0, x1, y1].
 * @example
 * ```ts
 * import { parseBox } from "./region.ts";
 * if (parseBox("0,14,28,28", 28, "--inpaint").join() !== "0,14,28,28") throw new Error();
 * try { parseBox("0,0,40,10", 28, "--inpaint"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--inpaint: the box 0,0,40,10 is not inside")) throw e; }
 * ```
 */
export function parseBox(text: string, size: number, flag: string): [number, number, number, number] {
  const v = text.split(",").map((s) => Number(s.trim()));
  check(v.length === 4 && v.every(Number.isInteger), `${flag}: expected x0,y0,x1,y1 in whole pixels, got "${text}"`);
  const [x0, y0, x1, y1] = v as [number, number, number, number];
  check(
    x0 >= 0 && y0 >= 0 && x1 <= size && y1 <= size && x0 < x1 && y0 < y1,
    `${flag}: the box ${text} is not inside the ${size}×${size} image with x0 < x1 and y0 < y1`,
  );
  return [x0, y0, x1, y1];
}

/**
 * Tokens of a g×g grid (each covering P×P pixels) that a box touches.
 *
 * @param box [x0, y0, x1, y1] in pixels.
 * @param grid g.
 * @param patch P.
 * @returns [g·g], 1 = touched.
 * @example
 * ```ts
 * import { boxTokens } from "./region.ts";
 * const t = boxTokens([0, 0, 5, 4], 7, 4); // two tokens of the first row
 * if (t.reduce((a, b) => a + b, 0) !== 2 || t[0] !== 1 || t[1] !== 1) throw new Error();
 * ```
 */
export function boxTokens(box: [number, number, number, number], grid: number, patch: number): Uint8Array {
  const [x0, y0, x1, y1] = box, out = new Uint8Array(grid * grid);
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      const touches = c * patch < x1 && (c + 1) * patch > x0 && r * patch < y1 && (r + 1) * patch > y0;
      out[r * grid + c] = touches ? 1 : 0;
    }
  }
  return out;
}

/**
 * Tokens a mask PNG marks (white, > 127, in any channel) on a g×g grid.
 *
 * @param path The PNG (image-sized, grey or RGB).
 * @param size Image side in pixels.
 * @param grid g.
 * @param flag The flag (for messages).
 * @returns [g·g], 1 = marked.
 * @example
 * ```ts
 * import { encodePngImage } from "../data/png.ts";
 * import { maskTokens } from "./region.ts";
 * const path = (await Deno.makeTempDir()) + "/m.png";
 * const data = new Uint8Array(28 * 28).map((_, i) => (i < 28 * 4 ? 255 : 0)); // the top 4 rows
 * await Deno.writeFile(path, encodePngImage({ width: 28, height: 28, channels: 1, data }));
 * if ((await maskTokens(path, 28, 7, "--mask-png")).reduce((a, b) => a + b, 0) !== 7) throw new Error();
 * ```
 */
export async function maskTokens(path: string, size: number, grid: number, flag: string): Promise<Uint8Array> {
  const img = decodePngImage(await readInput(path, "a mask PNG"), path);
  if (img.width !== size || img.height !== size) {
    throw new DarlError(`${flag} ${path}: the mask is ${img.width}×${img.height}, the images are ${size}×${size}`);
  }
  const p = size / grid, out = new Uint8Array(grid * grid);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < img.channels; c++) {
        if (img.data[(y * size + x) * img.channels + c]! > 127) out[Math.floor(y / p) * grid + Math.floor(x / p)] = 1;
      }
    }
  }
  check(out.some((v) => v === 1), `${flag} ${path}: the mask marks no pixel (white marks what to generate)`);
  return out;
}
