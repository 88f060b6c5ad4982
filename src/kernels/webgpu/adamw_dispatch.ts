/**
 * darl-webgpu's multi-tensor AdamW, dispatched without tfjs's program
 * runner (three outputs per tensor).
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { AdamWKernelAttrs } from "../../train/optim.ts";
import { adamWShader } from "./programs.ts";
import { countDispatch, type Info, internals, type KernelArgs, prod, type Uniform } from "./internals.ts";

const adamPipelines = new Map<string, GPUComputePipeline>();

/**
 * The `DarlAdamW` kernel: updates every parameter with its own AdamW moments
 * in as few dispatches as the device's storage-buffer limit allows. tfjs's
 * program runner returns one output per dispatch, and each tensor here has
 * three (weights, m, v), so the dispatches are recorded by hand.
 *
 * @param args The kernel's inputs (`p<i>`, `g<i>`, `m<i>`, `v<i>`, `scale`) and attributes.
 * @returns The new weights, then the new first and second moments.
 */
export function adamW(args: KernelArgs): Info[] {
  const be = args.backend, w = internals(be);
  const at = args.attrs as unknown as AdamWKernelAttrs;
  const inputs = args.inputs as Record<string, Info>;
  const scale = inputs.scale!; // read in the shader: no GPU→CPU round trip
  w.uploadToGPU(scale.dataId);
  const perDispatch = Math.max(1, Math.floor(((w.device.limits.maxStorageBuffersPerShaderStage ?? 8) - 1) / 7));
  const outs: Info[][] = [[], [], []];
  for (let start = 0; start < at.n; start += perDispatch) {
    const idx = Array.from({ length: Math.min(perDispatch, at.n - start) }, (_, k) => start + k);
    const key = `${idx.length}`;
    let pipeline = adamPipelines.get(key);
    if (!pipeline) {
      pipeline = w.device.createComputePipeline({
        layout: "auto",
        compute: { module: w.device.createShaderModule({ code: adamWShader(idx.length) }), entryPoint: "main" },
      });
      adamPipelines.set(key, pipeline);
    }
    const buffers: GPUBuffer[] = [];
    let maxN = 0;
    const uniforms: Uniform[] = [at.lr, at.beta1, at.beta2, at.eps, at.bc1, at.bc2, 0, 0].map((v) => ({
      type: "float32",
      data: [v],
    }));
    for (const i of idx) {
      const p = inputs[`p${i}`]!;
      const ins = [p, inputs[`g${i}`]!, inputs[`m${i}`]!, inputs[`v${i}`]!];
      const made = [0, 1, 2].map(() => w.makeTensorInfo(p.shape, "float32"));
      for (const t of [...ins, ...made]) {
        w.uploadToGPU(t.dataId);
        buffers.push(w.tensorMap.get(t.dataId).resource!);
        w.commandQueueOwnedIds.add(t.dataId);
      }
      made.forEach((t, k) => outs[k]!.push(t));
      const n = prod(p.shape);
      maxN = Math.max(maxN, n);
      uniforms.push(
        { type: "uint32", data: [n] },
        { type: "float32", data: [at.decayMask[i] ? at.weightDecay : 0] },
        { type: "float32", data: [at.lrScale?.[i] ?? 1] },
      );
    }
    buffers.push(w.tensorMap.get(scale.dataId).resource!);
    w.commandQueueOwnedIds.add(scale.dataId);
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
    entries.push({ binding: buffers.length, resource: w.makeUniforms(uniforms) });
    const bindGroup = w.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    w.ensureCommandEncoderReady();
    if (!w.computePassEncoder) w.computePassEncoder = w.commandEncoder!.beginComputePass({});
    const groups = Math.ceil(maxN / 256);
    const gx = Math.min(groups, 65535);
    w.computePassEncoder.setPipeline(pipeline);
    w.computePassEncoder.setBindGroup(0, bindGroup);
    w.computePassEncoder.dispatchWorkgroups(gx, Math.ceil(groups / gx), 1);
    countDispatch(be);
    if (++w.dispatchCountInPass >= (tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number)) {
      w.endComputePassEncoder();
      w.submitQueue();
    }
  }
  return [...outs[0]!, ...outs[1]!, ...outs[2]!];
}
