/**
 * The order in which an autoregressive model visits the patch grid. DARL's
 * ablations (spec §6, reported without numbers) found raster order
 * near-optimal and a "nested raster" order slightly better. Its block size
 * is not given, so "nested" here is the smallest hierarchy: 2×2 blocks of
 * patches visited in raster order, each block's patches in raster order (a
 * Z-curve on a 4×4 grid). Blocks cut by an odd grid side are smaller.
 *
 * An order is a permutation `perm` with `perm[t]` the raster index of the
 * t-th patch of the sequence.
 *
 * @module
 */

/**
 * Patch visiting orders.
 *
 * @example
 * ```ts
 * import { type PatchOrder, patchOrder } from "./patch_order.ts";
 * const order: PatchOrder = "nested";
 * if (patchOrder(order, 2, 2).join() !== "0,1,2,3") throw new Error();
 * ```
 */
export type PatchOrder = "raster" | "nested";

/**
 * The names of {@linkcode PatchOrder}, for config schemas.
 *
 * @example
 * ```ts
 * import { PATCH_ORDERS } from "./patch_order.ts";
 * if (!PATCH_ORDERS.includes("raster")) throw new Error();
 * ```
 */
export const PATCH_ORDERS: readonly PatchOrder[] = ["raster", "nested"];

/**
 * Sequence position → raster index of the patch visited there.
 *
 * @param order The order.
 * @param gridH Patches per column.
 * @param gridW Patches per row.
 * @returns The permutation (length gridH·gridW).
 * @example
 * ```ts
 * import { patchOrder } from "./patch_order.ts";
 * // 4×4: the top-left 2×2 block first, then the top-right one.
 * if (patchOrder("nested", 4, 4).slice(0, 8).join() !== "0,1,4,5,2,3,6,7") throw new Error();
 * ```
 */
export function patchOrder(order: PatchOrder, gridH: number, gridW: number): Int32Array {
  const perm = new Int32Array(gridH * gridW);
  if (order === "raster") {
    perm.forEach((_, i) => (perm[i] = i));
    return perm;
  }
  if (order !== "nested") throw new RangeError(`patchOrder: unknown order "${order}"`);
  let t = 0;
  for (let by = 0; by < gridH; by += 2) {
    for (let bx = 0; bx < gridW; bx += 2) {
      for (let y = by; y < Math.min(by + 2, gridH); y++) {
        for (let x = bx; x < Math.min(bx + 2, gridW); x++) perm[t++] = y * gridW + x;
      }
    }
  }
  return perm;
}

/**
 * The inverse permutation: raster index → sequence position.
 *
 * @param perm A permutation from {@linkcode patchOrder}.
 * @returns Its inverse.
 * @example
 * ```ts
 * import { inverseOrder, patchOrder } from "./patch_order.ts";
 * const inv = inverseOrder(patchOrder("nested", 4, 4));
 * if (inv[4] !== 2 || inv[2] !== 4) throw new Error();
 * ```
 */
export function inverseOrder(perm: Int32Array): Int32Array {
  const inv = new Int32Array(perm.length);
  perm.forEach((r, t) => (inv[r] = t));
  return inv;
}
