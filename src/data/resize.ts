/**
 * Adapting images to a model's input: resizing (area averaging when
 * shrinking, bilinear when enlarging) and channel conversion (RGB → grey by
 * ITU-R 601 luma, grey → RGB by replication). VTAB resizes every task to the
 * model's resolution in the same way.
 *
 * @module
 */

/**
 * Resizes and converts a batch of uint8 images.
 *
 * @param images [N, H, W, C] uint8.
 * @param from [H, W, C].
 * @param to [h, w, c] with c ∈ {1, 3}.
 * @returns [N, h, w, c] uint8.
 * @example
 * ```ts
 * import { adaptImages } from "./resize.ts";
 * const out = adaptImages(new Uint8Array([0, 0, 255, 255]), [2, 2, 1], [1, 1, 3]);
 * if (out.join() !== "128,128,128") throw new Error(out.join());
 * ```
 */
export function adaptImages(
  images: Uint8Array,
  from: [number, number, number],
  to: [number, number, number],
): Uint8Array {
  const [H, W, C] = from, [h, w, c] = to;
  const n = images.length / (H * W * C);
  const out = new Uint8Array(n * h * w * c);
  const grey = new Float32Array(H * W * Math.max(C, c));
  const plane = new Float32Array(h * w);
  for (let k = 0; k < n; k++) {
    const src = images.subarray(k * H * W * C, (k + 1) * H * W * C);
    const channels = c === 1 ? 1 : 3;
    for (let ch = 0; ch < channels; ch++) {
      // The source plane for this output channel.
      for (let i = 0; i < H * W; i++) {
        grey[i] = C === 1
          ? src[i]!
          : c === 1
          ? 0.299 * src[3 * i]! + 0.587 * src[3 * i + 1]! + 0.114 * src[3 * i + 2]!
          : src[3 * i + ch]!;
      }
      resizePlane(grey, H, W, plane, h, w);
      for (let i = 0; i < h * w; i++) out[(k * h * w + i) * c + ch] = Math.max(0, Math.min(255, Math.round(plane[i]!)));
    }
  }
  return out;
}

function resizePlane(src: Float32Array, H: number, W: number, dst: Float32Array, h: number, w: number): void {
  if (H === h && W === w) {
    dst.set(src.subarray(0, h * w));
    return;
  }
  const sy = H / h, sx = W / w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (sy >= 1 && sx >= 1) {
        // Area average over the source box [y·sy, (y+1)·sy) × [x·sx, (x+1)·sx).
        const y0 = y * sy, y1 = y0 + sy, x0 = x * sx, x1 = x0 + sx;
        let acc = 0, wsum = 0;
        for (let yy = Math.floor(y0); yy < Math.ceil(y1); yy++) {
          const wy = Math.min(yy + 1, y1) - Math.max(yy, y0);
          for (let xx = Math.floor(x0); xx < Math.ceil(x1); xx++) {
            const wx = Math.min(xx + 1, x1) - Math.max(xx, x0);
            acc += src[yy * W + xx]! * wy * wx;
            wsum += wy * wx;
          }
        }
        dst[y * w + x] = acc / wsum;
      } else {
        const fy = Math.max(0, Math.min(H - 1, (y + 0.5) * sy - 0.5));
        const fx = Math.max(0, Math.min(W - 1, (x + 0.5) * sx - 0.5));
        const y0 = Math.floor(fy), x0 = Math.floor(fx), y1 = Math.min(H - 1, y0 + 1), x1 = Math.min(W - 1, x0 + 1);
        const ty = fy - y0, tx = fx - x0;
        dst[y * w + x] = (1 - ty) * ((1 - tx) * src[y0 * W + x0]! + tx * src[y0 * W + x1]!) +
          ty * ((1 - tx) * src[y1 * W + x0]! + tx * src[y1 * W + x1]!);
      }
    }
  }
}
