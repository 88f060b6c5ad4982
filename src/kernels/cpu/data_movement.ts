/**
 * darl-cpu's data-movement kernels: slice, split, zero padding, row gather
 * and transpose of float32 tensors, each a few contiguous copies where stock
 * tfjs-cpu converts every element's index to coordinates and back. Each
 * returns null where it does not apply (other dtypes, non-zero padding, an
 * index out of range), and the backend then runs the stock kernel.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { KernelArgs } from "./backend.ts";

type Info = tf.TensorInfo;

/**
 * Copies the box [begin, begin + size) of a row-major tensor into `dst`,
 * one `set` per contiguous run (stock tfjs walks it element by element).
 */
function copyBox(src: Float32Array, shape: number[], begin: number[], size: number[], dst: Float32Array): void {
  const r = shape.length;
  let d = r - 1; // innermost dimension that is not taken whole
  while (d > 0 && begin[d] === 0 && size[d] === shape[d]) d--;
  let run = size[d]!;
  for (let i = d + 1; i < r; i++) run *= shape[i]!;
  const strides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1]!;
  const outer = size.slice(0, d).reduce((a, b) => a * b, 1);
  const idx = new Array(d).fill(0);
  let o = 0;
  for (let n = 0; n < outer; n++) {
    let off = begin[d]! * strides[d]!;
    for (let i = 0; i < d; i++) off += (begin[i]! + idx[i]) * strides[i]!;
    dst.set(src.subarray(off, off + run), o);
    o += run;
    for (let i = d - 1; i >= 0; i--) {
      if (++idx[i] < size[i]!) break;
      idx[i] = 0;
    }
  }
}

/** `Slice` of a float32 tensor: one `set` per contiguous run. */
export function slice(args: KernelArgs): Info | Info[] | null {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== "float32" || x.shape.length === 0) return null;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    args.attrs.begin as number[],
    args.attrs.size as number[],
  ) as [number[], number[]];
  const out = args.backend.alloc(size);
  if (out.view.length) {
    copyBox(args.backend.data.get(x.dataId).values as Float32Array, x.shape, begin, size, out.view);
  }
  return out.info;
}

/**
 * Zero padding (the im2col convolutions' `tf.pad`): a zeroed output and one
 * `set` per contiguous row of the input, where stock tfjs maps every element
 * through coordinates.
 */
export function padV2(args: KernelArgs): Info | Info[] | null {
  const { x } = args.inputs as { x: Info };
  const paddings = args.attrs.paddings as [number, number][];
  if (x.dtype !== "float32" || (args.attrs.constantValue as number) !== 0 || x.shape.length === 0) {
    return null;
  }
  const shape = x.shape, r = shape.length;
  const outShape = shape.map((s, i) => s + paddings[i]![0] + paddings[i]![1]);
  const out = args.backend.alloc(outShape);
  out.view.fill(0);
  const src = args.backend.data.get(x.dataId).values as Float32Array;
  if (src.length === 0) return out.info;
  const outStrides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) outStrides[i] = outStrides[i + 1] * outShape[i + 1]!;
  const run = shape[r - 1]!, rows = src.length / run, idx = new Array(r - 1).fill(0);
  for (let n = 0; n < rows; n++) {
    let off = paddings[r - 1]![0];
    for (let i = 0; i < r - 1; i++) off += (idx[i] + paddings[i]![0]) * outStrides[i]!;
    out.view.set(src.subarray(n * run, (n + 1) * run), off);
    for (let i = r - 2; i >= 0; i--) {
      if (++idx[i] < shape[i]!) break;
      idx[i] = 0;
    }
  }
  return out.info;
}

/** `SplitV` of a float32 tensor: each part copied as a box, as in `Slice`. */
export function splitV(args: KernelArgs): Info | Info[] | null {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== "float32") return null;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(
    x as unknown as tf.Tensor,
    args.attrs.numOrSizeSplits as number[] | number,
    axis,
  );
  const src = args.backend.data.get(x.dataId).values as Float32Array;
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = args.backend.alloc(size);
    if (out.view.length) copyBox(src, x.shape, begin, size, out.view);
    begin[axis] += s;
    return out.info;
  });
}

/**
 * Rows of a float32 tensor by index (`tf.gather(x, idx)` on axis 0: minibatches
 * of cached features), one `set` per row; stock tfjs converts every element's
 * index to coordinates and back.
 */
export function gather(args: KernelArgs): Info | Info[] | null {
  const { x, indices } = args.inputs as { x: Info; indices: Info };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
  if (x.dtype !== "float32" || indices.dtype !== "int32" || batchDims || axis !== 0 || x.shape.length < 1) {
    return null;
  }
  const be = args.backend;
  const idx = be.data.get(indices.dataId).values as Int32Array;
  const rows = x.shape[0]!, row = tf.util.sizeFromShape(x.shape.slice(1));
  for (const i of idx) {
    if (i < 0 || i >= rows) return null; // stock tfjs reports the bad index
  }
  const out = be.alloc([...indices.shape, ...x.shape.slice(1)]);
  const src = be.data.get(x.dataId).values as Float32Array, y = out.view;
  for (let k = 0; k < idx.length; k++) y.set(src.subarray(idx[k]! * row, (idx[k]! + 1) * row), k * row);
  return out.info;
}

/**
 * Any permutation of a float32 tensor: an odometer over the outer output
 * axes and a strided inner loop (stock tfjs converts every index to and from
 * coordinates, ~100× slower on patchify's rank-6 transpose).
 */
export function transpose(args: KernelArgs): Info | Info[] | null {
  const { x } = args.inputs as { x: Info };
  const perm = args.attrs.perm as number[];
  const r = x.shape.length;
  if (x.dtype !== "float32" || r < 2) return null;
  const inStrides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * x.shape[i + 1]!;
  const outShape = perm.map((p) => x.shape[p]!);
  const strides = perm.map((p) => inStrides[p]!);
  const out = args.backend.alloc(outShape);
  const src = args.backend.data.get(x.dataId).values as Float32Array, y = out.view;
  const inner = outShape[r - 1]!, s = strides[r - 1]!;
  const outer = y.length / Math.max(1, inner);
  const idx = new Array(r - 1).fill(0);
  let off = 0, o = 0;
  for (let n = 0; n < outer; n++) {
    for (let c = 0, q = off; c < inner; c++, q += s) y[o++] = src[q]!;
    for (let i = r - 2; i >= 0; i--) {
      off += strides[i]!;
      if (++idx[i] < outShape[i]!) break;
      off -= strides[i]! * outShape[i]!;
      idx[i] = 0;
    }
  }
  return out.info;
}
