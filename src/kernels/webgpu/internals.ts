/**
 * The parts of tfjs-webgpu 4.22.0's backend that darl's raw dispatches
 * reach into (device, command encoder, tensor map), typed once, and the
 * dispatch counter that benchmarks read. Kept apart from the kernel table so
 * that a tfjs upgrade that moves these internals breaks one file.
 *
 * @module
 */
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import type { tf } from "../../tf.ts";
import type { Program } from "./programs.ts";

/** A tensor as tfjs kernels see it. */
export type Info = tf.TensorInfo;
/** One uniform value of a dispatch. */
export type Uniform = { type: "int32" | "float32" | "uint32"; data: number[] };
/** The parts of tfjs-webgpu's backend that custom dispatches use (pinned at 4.22.0). */
export interface WebGPUInternals {
  device: GPUDevice;
  tensorMap: { get(id: object): { resource: GPUBuffer | null } };
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  runWebGPUProgram(p: Program, inputs: Info[], dtype: tf.DataType, uniforms?: Uniform[]): Info;
  makeTensorInfo(shape: number[], dtype: tf.DataType): Info;
  uploadToGPU(id: object): void;
  makeUniforms(u: Uniform[]): GPUBufferBinding;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  incRef(id: object): void;
  recordAndSubmit(...args: unknown[]): void;
}
/** What tfjs passes a kernel function. */
export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: WebGPUBackend; attrs: tf.NamedAttrMap };

/** Product of a shape's dimensions. */
export const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);
/** The backend's internals (see {@linkcode WebGPUInternals}). */
export const internals = (b: WebGPUBackend): WebGPUInternals => b as unknown as WebGPUInternals;

const dispatchCounts = new WeakMap<object, { n: number }>();

/**
 * Counts one raw dispatch (recorded outside tfjs's `recordAndSubmit`) on a
 * backend whose dispatches are being counted.
 *
 * @param be The backend.
 */
export function countDispatch(be: object): void {
  const c = dispatchCounts.get(be);
  if (c) c.n++;
}

/**
 * Starts counting the compute dispatches a WebGPU backend (stock or darl)
 * records, and returns a function that reads the count.
 *
 * @param backend A tfjs WebGPU backend (e.g. `tf.backend()`).
 * @returns A function returning dispatches since the call.
 */
export function countDispatches(backend: object): () => number {
  let c = dispatchCounts.get(backend);
  if (!c) {
    c = { n: 0 };
    dispatchCounts.set(backend, c);
    const w = backend as WebGPUInternals;
    const original = w.recordAndSubmit.bind(w);
    const counter = c;
    w.recordAndSubmit = (...a: unknown[]) => {
      counter.n++;
      original(...a);
    };
  }
  const start = c.n;
  return () => c!.n - start;
}
