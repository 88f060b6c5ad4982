/**
 * PNG decoding to uint8 grey or RGB pixels, and encoding, via fast-png.
 *
 * @module
 */
import { convertIndexedToRgb, decode, encode } from "fast-png";
import { DarlError } from "../errors.ts";

/**
 * A decoded image: channels-last uint8 pixels.
 *
 * @example
 * ```ts
 * import { encodePngImage, type RasterImage } from "./png.ts";
 * const img: RasterImage = { width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) };
 * if (encodePngImage(img)[1] !== 0x50) throw new Error(); // "\x89PNG"
 * ```
 */
export interface RasterImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** height·width·channels values. */
  data: Uint8Array;
}

/**
 * Decodes a PNG to grey or RGB uint8 (alpha dropped, 16-bit scaled, palettes
 * and low bit depths expanded).
 *
 * @param bytes The PNG file.
 * @param file The file name, for errors.
 * @returns The image.
 * @example
 * ```ts
 * import { decodePngImage, encodePngImage } from "./png.ts";
 * const png = encodePngImage({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) });
 * const img = decodePngImage(png, "x.png");
 * if (img.data[1] !== 255) throw new Error();
 * ```
 */
export function decodePngImage(bytes: Uint8Array, file: string): RasterImage {
  let png;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new DarlError(`${file}: not a readable PNG (${(e as Error).message})`);
  }
  const { width, height } = png;
  const n = width * height;
  let src: ArrayLike<number> = png.data;
  let ch = png.channels;
  let depth: number = png.depth;
  if (png.palette) {
    src = convertIndexedToRgb(png);
    ch = src.length / n;
    depth = 8;
  } else if (depth < 8) {
    const unpacked = new Uint8Array(n * ch);
    const perByte = 8 / depth, mask = (1 << depth) - 1, scale = 255 / mask;
    const rowBytes = Math.ceil((width * ch) / perByte);
    for (let y = 0; y < height; y++) {
      for (let i = 0; i < width * ch; i++) {
        const byte = png.data[y * rowBytes + Math.floor(i / perByte)]!;
        const shift = 8 - depth * (1 + (i % perByte));
        unpacked[y * width * ch + i] = Math.round(((byte >> shift) & mask) * scale);
      }
    }
    src = unpacked;
    depth = 8;
  }
  const colour = ch >= 3;
  const outCh = colour ? 3 : 1;
  const data = new Uint8Array(n * outCh);
  const div = depth === 16 ? 257 : 1;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < outCh; c++) data[i * outCh + c] = Math.round(src[i * ch + c]! / div);
  }
  return { width, height, channels: outCh, data };
}

/**
 * Encodes grey or RGB uint8 pixels as PNG.
 *
 * @param img The image.
 * @returns PNG bytes.
 *
 * @example
 * ```ts
 * import { decodePngImage, encodePngImage } from "./png.ts";
 * const img = { width: 2, height: 2, channels: 3 as const, data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) };
 * if (decodePngImage(encodePngImage(img), "x.png").data.join() !== img.data.join()) throw new Error();
 * ```
 */
export function encodePngImage(img: RasterImage): Uint8Array {
  return encode({ width: img.width, height: img.height, data: img.data, channels: img.channels, depth: 8 });
}
