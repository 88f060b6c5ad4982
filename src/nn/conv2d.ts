/**
 * A 2D convolution over NHWC images, as a pure function: the building block of
 * the VQ tokenizer's encoder and decoder.
 *
 * @module
 */
import { hasKernel, tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { constant, param } from "./init.ts";

/** Kernel name of the fused im2col (a backend without it builds the columns from pads, slices and a concat). */
export const IM2COL_KERNEL = "DarlIm2col";

/**
 * Parameters of {@linkcode conv2d}: kernel [kh, kw, in, out] (tfjs's HWIO
 * layout), bias [out] or absent.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { conv2d, type Conv2dParams } from "./conv2d.ts";
 * const p: Conv2dParams = { w: tf.ones([1, 1, 1, 2]), b: tf.tensor1d([0, 1]) };
 * const y = conv2d(p, tf.ones([1, 2, 2, 1]));
 * if ((await y.data()).join() !== "1,2,1,2,1,2,1,2") throw new Error();
 * ```
 */
export interface Conv2dParams {
  /** Kernel [kh, kw, in, out]. */
  w: tf.Tensor;
  /** Bias [out], or absent. */
  b?: tf.Tensor;
}

/**
 * Initialises a convolution with PyTorch's default scheme, U(±1/√fanIn) with
 * fanIn = kh·kw·in, so a stack of them keeps activations at unit scale
 * through the GroupNorm that follows.
 *
 * @param rng The generator.
 * @param inCh Input channels.
 * @param outCh Output channels.
 * @param k Kernel size (square).
 * @param bias Whether to include a bias.
 * @returns The parameters.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initConv2d } from "./conv2d.ts";
 * const p = initConv2d(createRng(0), 3, 8, 3);
 * if (p.w.shape.join() !== "3,3,3,8" || p.b?.shape[0] !== 8) throw new Error();
 * ```
 */
export function initConv2d(rng: Rng, inCh: number, outCh: number, k: number, bias = true): Conv2dParams {
  const fanIn = k * k * inCh;
  const limit = 1 / Math.sqrt(fanIn);
  const v = new Float32Array(k * k * inCh * outCh);
  for (let i = 0; i < v.length; i++) v[i] = (rng.uniform() * 2 - 1) * limit;
  const w = param(v, [k, k, inCh, outCh]);
  return bias ? { w, b: constant([outCh], 0) } : { w };
}

/**
 * Applies the convolution with "same" padding (output size = ceil(input /
 * stride)), as the tokenizer's 3×3 and 1×1 convolutions need.
 *
 * Stride 1 runs as im2col: the k² shifted views of the padded input are
 * concatenated along channels and multiplied by the [k²·in, out] kernel in
 * one matrix product, so the forward pass and both gradients run on the
 * backend's GEMM (darl's packed kernels on darl-cpu), where tfjs-cpu's own
 * `Conv2DBackpropFilter` is a scalar loop ~100× slower. darl-cpu builds the
 * columns (and their gradient) in one pass with its `DarlIm2col` kernel.
 *
 * @param p The parameters.
 * @param x Input [N, H, W, in].
 * @param stride The stride (1, or 2 to downsample).
 * @returns Output [N, ceil(H / stride), ceil(W / stride), out].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { conv2d } from "./conv2d.ts";
 * const y = conv2d({ w: tf.ones([3, 3, 1, 4]) }, tf.ones([2, 8, 8, 1]), 2);
 * if (y.shape.join() !== "2,4,4,4") throw new Error();
 * ```
 */
export function conv2d(p: Conv2dParams, x: tf.Tensor, stride = 1): tf.Tensor4D {
  const x4 = x as tf.Tensor4D;
  const w = p.w as tf.Tensor4D;
  if (stride !== 1) {
    if (p.b) return tf.fused.conv2d({ x: x4, filter: w, strides: stride, pad: "same", bias: p.b });
    return tf.conv2d(x4, w, stride, "same");
  }
  const [kh, kw, inCh, outCh] = w.shape;
  const [n, h, wd] = x4.shape;
  return tf.tidy(() => {
    let cols: tf.Tensor = x4;
    if ((kh > 1 || kw > 1) && hasKernel(IM2COL_KERNEL)) {
      cols = tf.engine().runKernel(IM2COL_KERNEL, { x: x4 }, { kh, kw }) as tf.Tensor;
    } else if (kh > 1 || kw > 1) {
      // "same" padding puts the extra pixel of an even kernel after, as TensorFlow does.
      const [pt, pl] = [Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2)];
      const padded = tf.pad(x4, [[0, 0], [pt, kh - 1 - pt], [pl, kw - 1 - pl], [0, 0]]);
      const views: tf.Tensor[] = [];
      for (let dy = 0; dy < kh; dy++) {
        for (let dx = 0; dx < kw; dx++) views.push(tf.slice(padded, [0, dy, dx, 0], [n, h, wd, inCh]));
      }
      cols = tf.concat(views, 3);
    }
    const a = cols.reshape([n * h * wd, kh * kw * inCh]) as tf.Tensor2D;
    const k = w.reshape([kh * kw * inCh, outCh]) as tf.Tensor2D;
    const y = p.b ? tf.fused.matMul({ a, b: k, bias: p.b }) : tf.matMul(a, k);
    return y.reshape([n, h, wd, outCh]) as tf.Tensor4D;
  });
}
