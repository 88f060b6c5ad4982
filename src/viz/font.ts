/**
 * A 5×7 bitmap font for labelling plots (ASCII letters, digits, common
 * punctuation; lower case is drawn as upper case).
 *
 * @module
 */

// Each glyph: 7 rows of 5 bits, most significant bit on the left.
const GLYPHS: Record<string, number[]> = {
  "0": [14, 17, 19, 21, 25, 17, 14],
  "1": [4, 12, 4, 4, 4, 4, 14],
  "2": [14, 17, 1, 2, 4, 8, 31],
  "3": [31, 2, 4, 2, 1, 17, 14],
  "4": [2, 6, 10, 18, 31, 2, 2],
  "5": [31, 16, 30, 1, 1, 17, 14],
  "6": [6, 8, 16, 30, 17, 17, 14],
  "7": [31, 1, 2, 4, 8, 8, 8],
  "8": [14, 17, 17, 14, 17, 17, 14],
  "9": [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17],
  B: [30, 17, 17, 30, 17, 17, 30],
  C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31],
  F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15],
  H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17],
  L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17],
  N: [17, 17, 25, 21, 19, 17, 17],
  O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13],
  R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30],
  T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4],
  W: [17, 17, 17, 21, 21, 21, 10],
  X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4],
  Z: [31, 1, 2, 4, 8, 16, 31],
  ".": [0, 0, 0, 0, 0, 12, 12],
  ",": [0, 0, 0, 0, 12, 4, 8],
  ":": [0, 12, 12, 0, 12, 12, 0],
  "-": [0, 0, 0, 31, 0, 0, 0],
  "+": [0, 4, 4, 31, 4, 4, 0],
  "=": [0, 0, 31, 0, 31, 0, 0],
  "/": [1, 1, 2, 4, 8, 16, 16],
  "(": [2, 4, 8, 8, 8, 4, 2],
  ")": [8, 4, 2, 2, 2, 4, 8],
  "%": [24, 25, 2, 4, 8, 19, 3],
  "_": [0, 0, 0, 0, 0, 0, 31],
  "|": [4, 4, 4, 4, 4, 4, 4],
  "'": [4, 4, 8, 0, 0, 0, 0],
  "<": [2, 4, 8, 16, 8, 4, 2],
  ">": [8, 4, 2, 1, 2, 4, 8],
  "×": [0, 17, 10, 4, 10, 17, 0],
  " ": [0, 0, 0, 0, 0, 0, 0],
};

/** Width of one character cell in pixels (glyph + spacing). */
export const CHAR_WIDTH = 6;
/** Height of one character cell in pixels. */
export const CHAR_HEIGHT = 8;

/**
 * Draws text onto an RGB canvas.
 *
 * @param canvas RGB pixels, row-major.
 * @param width Canvas width.
 * @param height Canvas height.
 * @param x Left edge.
 * @param y Top edge.
 * @param text The text (unknown characters are drawn as "?"-less blanks).
 * @param rgb The colour.
 * @param scale Integer magnification.
 * @example
 * ```ts
 * import { drawText } from "./font.ts";
 * const c = new Uint8Array(20 * 10 * 3);
 * drawText(c, 20, 10, 0, 0, "1", [255, 0, 0]);
 * if (!c.some((v) => v === 255)) throw new Error();
 * ```
 */
export function drawText(
  canvas: Uint8Array,
  width: number,
  height: number,
  x: number,
  y: number,
  text: string,
  rgb: [number, number, number],
  scale = 1,
): void {
  let cx = x;
  for (const ch of text) {
    const g = GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? GLYPHS[" "]!;
    for (let r = 0; r < 7; r++) {
      for (let c = 0; c < 5; c++) {
        if (!((g[r]! >> (4 - c)) & 1)) continue;
        for (let sy = 0; sy < scale; sy++) {
          for (let sx = 0; sx < scale; sx++) {
            const px = cx + c * scale + sx, py = y + r * scale + sy;
            if (px < 0 || py < 0 || px >= width || py >= height) continue;
            canvas.set(rgb, (py * width + px) * 3);
          }
        }
      }
    }
    cx += CHAR_WIDTH * scale;
  }
}

/**
 * Width of a text in pixels.
 *
 * @param text The text.
 * @param scale Magnification.
 * @returns Pixels.
 */
export function textWidth(text: string, scale = 1): number {
  return [...text].length * CHAR_WIDTH * scale;
}
