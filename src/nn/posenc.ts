/**
 * Absolute position encodings: fixed 2D sin-cos (as in MAE) for patch grids.
 *
 * @module
 */

/**
 * MAE's 2D sin-cos table for a g×g grid: half the channels encode the row,
 * half the column; each half is [sin(pos·ω), cos(pos·ω)], ω_i =
 * 10000^(−i/(d/4)).
 *
 * @param grid Patches per side g.
 * @param dim Width d (divisible by 4).
 * @returns A [g·g, d] table in raster order.
 * @example
 * ```ts
 * import { sincos2d } from "./posenc.ts";
 * const t = sincos2d(2, 8);
 * if (t.length !== 32 || t[0] !== 0) throw new Error();
 * ```
 */
export function sincos2d(grid: number, dim: number): Float32Array {
  const quarter = dim / 4;
  const out = new Float32Array(grid * grid * dim);
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      const base = (r * grid + c) * dim;
      for (let i = 0; i < quarter; i++) {
        const omega = Math.pow(10000, -i / quarter);
        out[base + i] = Math.sin(r * omega);
        out[base + quarter + i] = Math.cos(r * omega);
        out[base + 2 * quarter + i] = Math.sin(c * omega);
        out[base + 3 * quarter + i] = Math.cos(c * omega);
      }
    }
  }
  return out;
}
