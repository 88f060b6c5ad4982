/**
 * Cutting images into non-overlapping P×P patches, in raster order or
 * another {@linkcode PatchOrder}, and back. Within a patch, values are
 * ordered (row, column, channel), as in MAE.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { inverseOrder, type PatchOrder, patchOrder } from "./patch_order.ts";

/**
 * [B, H, W, C] → [B, (H/P)·(W/P), P·P·C].
 *
 * @param images Images, channels last.
 * @param P Patch side.
 * @param order The order of the patches in the sequence.
 * @returns Patches in that order.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { patchify } from "./patchify.ts";
 * const p = patchify(tf.zeros([2, 8, 8, 3]), 4);
 * if (p.shape.join() !== "2,4,48") throw new Error();
 * ```
 */
export function patchify(images: tf.Tensor, P: number, order: PatchOrder = "raster"): tf.Tensor3D {
  const [B, H, W, C] = images.shape as [number, number, number, number];
  const h = H / P, w = W / P;
  if (!Number.isInteger(h) || !Number.isInteger(w)) {
    throw new RangeError(`patchify: patch size ${P} must divide the image size ${H}×${W}`);
  }
  return tf.tidy(() => {
    const raster = images.reshape([B, h, P, w, P, C]).transpose([0, 1, 3, 2, 4, 5]).reshape([B, h * w, P * P * C]);
    return order === "raster" ? raster as tf.Tensor3D : tf.gather(raster, patchOrder(order, h, w), 1) as tf.Tensor3D;
  });
}

/**
 * [B, T, P·P·C] → [B, H, W, C]: the inverse of {@linkcode patchify}.
 *
 * @param patches Patches in `order`.
 * @param P Patch side.
 * @param gridH Patches per column (H/P).
 * @param gridW Patches per row (W/P).
 * @param order The order of the patches in the sequence.
 * @returns Images, channels last.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { unpatchify } from "./patchify.ts";
 * const x = unpatchify(tf.zeros([2, 4, 48]), 4, 2, 2);
 * if (x.shape.join() !== "2,8,8,3") throw new Error();
 * ```
 */
export function unpatchify(
  patches: tf.Tensor,
  P: number,
  gridH: number,
  gridW: number,
  order: PatchOrder = "raster",
): tf.Tensor4D {
  const [B, T, D] = patches.shape as [number, number, number];
  const C = D / (P * P);
  if (T !== gridH * gridW || !Number.isInteger(C)) {
    throw new RangeError(`unpatchify: [${patches.shape}] is not ${gridH}×${gridW} patches of ${P}×${P}`);
  }
  return tf.tidy(() =>
    (order === "raster" ? patches : tf.gather(patches, inverseOrder(patchOrder(order, gridH, gridW)), 1))
      .reshape([B, gridH, gridW, P, P, C]).transpose([0, 1, 3, 2, 4, 5]).reshape([
        B,
        gridH * P,
        gridW * P,
        C,
      ])
  );
}
