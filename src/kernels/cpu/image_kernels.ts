/**
 * darl-cpu's kernels for convolutional networks over NHWC images: im2col and
 * its adjoint col2im (a stride-1 "same" convolution becomes one GEMM), group
 * normalisation with an optional fused swish, and the 2×2 average-pool
 * gradient. Stock tfjs builds im2col from k² pads, slices and a concat whose
 * gradient is k² more pads summed; these are single passes.
 *
 * They are plain TypeScript loops over the operands' memory: each is a few
 * streaming passes, cheap beside the GEMMs they feed, and summing in a fixed
 * order keeps results independent of threads.
 *
 * @module
 */
import type { tf } from "../../tf.ts";
import type { DarlCpuBackend, KernelArgs } from "./backend.ts";

type Info = tf.TensorInfo;

const values = (be: DarlCpuBackend, t: Info) => be.data.get(t.dataId).values as Float32Array;

/** "same" padding before the window: TensorFlow puts the extra pixel of an even kernel after. */
const before = (k: number) => Math.floor((k - 1) / 2);

/**
 * `DarlIm2col`: x [N, H, W, C] → [N·H·W, kh·kw·C], row (n, y, x) holding the
 * kh×kw window centred on (y, x), zero outside the image, taps in (dy, dx)
 * order (the layout of an HWIO kernel reshaped to [kh·kw·C, out]).
 */
export function im2col(args: KernelArgs): Info {
  const be = args.backend, { x } = args.inputs as { x: Info };
  const { kh, kw } = args.attrs as { kh: number; kw: number };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const src = values(be, x), out = be.alloc([n * h * w, kh * kw * c]), dst = out.view;
  const pt = before(kh), pl = before(kw), row = kh * kw * c;
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let o = ((b * h + y) * w + xx) * row;
        for (let dy = 0; dy < kh; dy++) {
          const sy = y + dy - pt;
          for (let dx = 0; dx < kw; dx++, o += c) {
            const sx = xx + dx - pl;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
            const s = ((b * h + sy) * w + sx) * c;
            dst.set(src.subarray(s, s + c), o);
          }
        }
      }
    }
  }
  return out.info;
}

/**
 * `DarlCol2im`: the adjoint of {@linkcode im2col}, the gradient with respect
 * to its input. Each input pixel gathers its k² taps in a fixed order.
 */
export function col2im(args: KernelArgs): Info {
  const be = args.backend, { dy: dcols } = args.inputs as { dy: Info };
  const { kh, kw, shape } = args.attrs as { kh: number; kw: number; shape: number[] };
  const [n, h, w, c] = shape as [number, number, number, number];
  const src = values(be, dcols), out = be.alloc(shape), dst = out.view;
  const pt = before(kh), pl = before(kw), row = kh * kw * c;
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const o = ((b * h + y) * w + xx) * c;
        for (let dy = 0; dy < kh; dy++) {
          const ty = y - dy + pt; // the output row whose window holds (y, xx) at tap (dy, dx)
          if (ty < 0 || ty >= h) continue;
          for (let dx = 0; dx < kw; dx++) {
            const tx = xx - dx + pl;
            if (tx < 0 || tx >= w) continue;
            const s = ((b * h + ty) * w + tx) * row + (dy * kw + dx) * c;
            for (let k = 0; k < c; k++) dst[o + k]! += src[s + k]!;
          }
        }
      }
    }
  }
  return out.info;
}

/** The group of each of c channels. */
function groupOf(c: number, groups: number): Int32Array {
  const cg = c / groups;
  return Int32Array.from({ length: c }, (_, k) => (k / cg) | 0);
}

/** Per-(sample, group) mean and 1/std of x [N, H·W, C] in `groups` groups, two-pass in float64. */
function moments(src: Float32Array, n: number, hw: number, c: number, groups: number, eps: number): Float64Array {
  const cg = c / groups, m = hw * cg, stats = new Float64Array(2 * n * groups);
  const sum = new Float64Array(groups), gk = groupOf(c, groups);
  for (let b = 0; b < n; b++) {
    sum.fill(0);
    for (let p = 0, o = b * hw * c; p < hw; p++) for (let k = 0; k < c; k++, o++) sum[gk[k]!]! += src[o]!;
    for (let gi = 0; gi < groups; gi++) stats[b * groups + gi] = sum[gi]! / m;
    sum.fill(0);
    for (let p = 0, o = b * hw * c; p < hw; p++) {
      for (let k = 0; k < c; k++, o++) {
        const gi = gk[k]!, d = src[o]! - stats[b * groups + gi]!;
        sum[gi]! += d * d;
      }
    }
    for (let gi = 0; gi < groups; gi++) stats[n * groups + b * groups + gi] = 1 / Math.sqrt(sum[gi]! / m + eps);
  }
  return stats;
}

/**
 * `DarlGroupNorm`: x [N, H, W, C] normalised per (sample, group of C/groups
 * channels) over (H, W, group), then γ·x̂ + β per channel, then swish
 * a·σ(a) when `swish`. Outputs y and the statistics [2, N·groups] (means,
 * then 1/std) the gradient reuses.
 */
export function groupNormFwd(args: KernelArgs): Info[] {
  const be = args.backend, { x, g, b } = args.inputs as { x: Info; g: Info; b: Info };
  const { groups, eps, swish } = args.attrs as { groups: number; eps: number; swish: boolean };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const src = values(be, x), gam = values(be, g), bet = values(be, b), hw = h * w;
  const st = moments(src, n, hw, c, groups, eps);
  const out = be.alloc(x.shape), y = out.view, stats = be.alloc([2, n * groups]);
  stats.view.set(st);
  const gk = groupOf(c, groups), mean = new Float64Array(c), rstd = new Float64Array(c);
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < c; k++) mean[k] = st[s * groups + gk[k]!]!, rstd[k] = st[(n + s) * groups + gk[k]!]!;
    const end = (s + 1) * hw * c;
    // The same arithmetic as per element, with the per-channel lookups hoisted out of the pixel loop.
    if (swish) {
      for (let o = s * hw * c; o < end;) {
        for (let k = 0; k < c; k++, o++) {
          const a = (src[o]! - mean[k]!) * rstd[k]! * gam[k]! + bet[k]!;
          y[o] = a / (1 + Math.exp(-a));
        }
      }
    } else {
      for (let o = s * hw * c; o < end;) {
        for (let k = 0; k < c; k++, o++) y[o] = (src[o]! - mean[k]!) * rstd[k]! * gam[k]! + bet[k]!;
      }
    }
  }
  return [out.info, stats.info];
}

/**
 * `DarlGroupNormGrad`: gradients of {@linkcode groupNormFwd} with respect to
 * x, γ and β, from x, γ, β, the saved statistics and dy.
 */
export function groupNormBwd(args: KernelArgs): Info[] {
  const be = args.backend;
  const { x, g, b, stats, dy } = args.inputs as Record<string, Info>;
  const { groups, swish } = args.attrs as { groups: number; swish: boolean };
  const [n, h, w, c] = x!.shape as [number, number, number, number];
  const src = values(be, x!), gam = values(be, g!), bet = values(be, b!), st = values(be, stats!);
  const dys = values(be, dy!), cg = c / groups, hw = h * w, m = hw * cg;
  const dxOut = be.alloc(x!.shape), dx = dxOut.view;
  const dgOut = be.alloc([c]), dbOut = be.alloc([c]);
  const dg = new Float64Array(c), db = new Float64Array(c);
  const s1 = new Float64Array(groups), s2 = new Float64Array(groups);
  const gk = groupOf(c, groups), mean = new Float64Array(c), rstd = new Float64Array(c);
  for (let s = 0; s < n; s++) {
    s1.fill(0), s2.fill(0);
    for (let k = 0; k < c; k++) mean[k] = st[s * groups + gk[k]!]!, rstd[k] = st[(n + s) * groups + gk[k]!]!;
    const o0 = s * hw * c;
    // First pass: dx holds dx̂ = dz·γ, and the group sums Σdx̂ and Σdx̂·x̂ accumulate.
    for (let p = 0, o = o0; p < hw; p++) {
      for (let k = 0; k < c; k++, o++) {
        const gi = gk[k]!, xh = (src[o]! - mean[k]!) * rstd[k]!;
        let dz = dys[o]!;
        if (swish) {
          const a = xh * gam[k]! + bet[k]!, sg = 1 / (1 + Math.exp(-a));
          dz *= sg * (1 + a * (1 - sg));
        }
        dg[k]! += dz * xh, db[k]! += dz;
        const dxh = dz * gam[k]!;
        dx[o] = dxh;
        s1[gi]! += dxh, s2[gi]! += dxh * xh;
      }
    }
    for (let p = 0, o = o0; p < hw; p++) {
      for (let k = 0; k < c; k++, o++) {
        const gi = gk[k]!, xh = (src[o]! - mean[k]!) * rstd[k]!;
        dx[o] = (rstd[k]! / m) * (m * dx[o]! - s1[gi]! - xh * s2[gi]!);
      }
    }
  }
  dgOut.view.set(dg), dbOut.view.set(db);
  return [dxOut.info, dgOut.info, dbOut.info];
}

/**
 * `AvgPoolGrad` for the 2×2, stride-2, unpadded pooling the tokenizer
 * downsamples with: each input pixel receives a quarter of its window's
 * gradient. Returns null for any other pooling (the caller runs stock).
 */
export function avgPool2Grad(args: KernelArgs): Info | null {
  const be = args.backend, { dy, input } = args.inputs as { dy: Info; input: Info };
  const { filterSize, strides, pad } = args.attrs as {
    filterSize: number | number[];
    strides: number | number[];
    pad: unknown;
  };
  const two = (v: number | number[]) => (Array.isArray(v) ? v.every((e) => e === 2) : v === 2);
  const [n, h, w, c] = input.shape as [number, number, number, number];
  if (!two(filterSize) || !two(strides) || (pad !== "valid" && pad !== 0) || h % 2 || w % 2) return null;
  if (dy.dtype !== "float32") return null;
  const src = values(be, dy), out = be.alloc(input.shape), dst = out.view, h2 = h / 2, w2 = w / 2;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const s = ((b * h2 + (y >> 1)) * w2 + (xx >> 1)) * c, o = ((b * h + y) * w + xx) * c;
        for (let k = 0; k < c; k++) dst[o + k] = src[s + k]! * 0.25;
      }
    }
  }
  return out.info;
}
