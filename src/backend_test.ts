import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { describeBackend, gpuDeviceNodes, probeGpuAdapter, selectBackend } from "./backend.ts";
import { darlConfig } from "./darl/config.ts";
import { darlMseLoss } from "./darl/loss.ts";
import { initDarl } from "./darl/model.ts";
import { namedLeaves } from "./nn/tree.ts";
import { inOwnProcess } from "./test_util.ts";

// Checks that use WebGPU are exported and run by inOwnProcess, never in the
// test process itself (see inOwnProcess for why).

/** Loss and gradients of a small DARL model on the active backend. */
async function lossAndGrads(): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const cfg = darlConfig("tiny", { imageSize: 8, channels: 1, patchSize: 2, dim: 32, depth: 2, heads: 2 });
  const params = initDarl(cfg, 11);
  const leaves = namedLeaves(params as never);
  const x = tf.tensor4d(Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.37)), [3, 8, 8, 1]);
  const { value, grads } = tf.variableGrads(
    () => darlMseLoss(params, cfg, x).loss,
    leaves.map(([, t]) => t as tf.Variable),
  );
  const out = new Map<string, Float32Array>();
  for (const [name, t] of leaves) out.set(name, (await grads[(t as tf.Variable).name]!.data()) as Float32Array);
  const loss = (await value.data())[0]!;
  tf.dispose([value, ...Object.values(grads), x]);
  leaves.forEach(([, t]) => t.dispose());
  return { loss, grads: out };
}

Deno.test("selectBackend() starts what is asked for and rejects bad flags", async () => {
  const info = await selectBackend("cpu", "stock");
  assert.equal(info.backend, "cpu");
  assert.match(describeBackend(info), /^backend: cpu \(cpu, stock kernels\) on /);
  const wasm = await selectBackend("wasm", "stock");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(wasm.kernels, "stock");
  await assert.rejects(selectBackend("tpu" as never), /--backend: expected auto, webgpu, wasm or cpu, got "tpu"/);
  await assert.rejects(selectBackend("wasm", "fast"), /--kernels fast/);
  await selectBackend("cpu", "stock");
});

Deno.test("gpuDeviceNodes() lists DRM, NVIDIA, WSL and embedded GPU nodes, and nothing else", async () => {
  if (Deno.build.os !== "linux") return assert.equal(gpuDeviceNodes(), null);
  const dev = await Deno.makeTempDir();
  for (const f of ["null", "tty0", "nvme0", "kvm", "nvidia0", "nvidiactl", "dxg", "mali0", "kgsl-3d0"]) {
    await Deno.writeTextFile(`${dev}/${f}`, "");
  }
  assert.deepEqual(
    gpuDeviceNodes(dev),
    ["nvidia0", "nvidiactl", "dxg", "mali0", "kgsl-3d0"].map((f) => `${dev}/${f}`).sort(),
  );
  await Deno.mkdir(`${dev}/dri`);
  await Deno.writeTextFile(`${dev}/dri/renderD128`, "");
  assert.ok(gpuDeviceNodes(dev)!.includes(`${dev}/dri/renderD128`));
  for (const f of ["nvidia0", "nvidiactl", "dxg", "mali0", "kgsl-3d0", "dri/renderD128"]) {
    await Deno.remove(`${dev}/${f}`);
  }
  assert.deepEqual(gpuDeviceNodes(dev), [], "an empty dri/ is no device");
  assert.equal(gpuDeviceNodes(`${dev}/missing`), null, "an unreadable folder cannot tell");
  await Deno.remove(dev, { recursive: true });
});

/** `auto` takes WebGPU exactly when a hardware adapter answers, and never asks without a device node. */
export async function autoFollowsTheAdapter(): Promise<void> {
  const gpu = navigator.gpu, request = gpu.requestAdapter.bind(gpu);
  let asked = 0;
  gpu.requestAdapter = (options) => (asked++, request(options));
  const auto = await selectBackend("auto", "stock");
  assert.ok(auto.reason);
  const nodes = gpuDeviceNodes();
  assert.equal(asked, nodes?.length === 0 ? 0 : 1, `device nodes: ${nodes}`);
  if (nodes?.length === 0) assert.match(auto.reason, /no GPU device node/);
  const adapter = await probeGpuAdapter();
  assert.equal(auto.device, adapter && !adapter.software ? "webgpu" : "wasm");
}

Deno.test("selectBackend('auto') takes WebGPU only on a hardware adapter", () =>
  inOwnProcess(import.meta.url, autoFollowsTheAdapter.name));

/** The DARL loss and every gradient agree between stock webgpu and stock cpu. */
export async function webgpuMatchesCpuGradients(): Promise<void> {
  const gpu = await probeGpuAdapter();
  assert.ok(gpu, "navigator.gpu gave no adapter: this test needs WebGPU (Mesa llvmpipe is enough)");
  await selectBackend("cpu", "stock");
  const cpu = await lossAndGrads();
  const info = await selectBackend("webgpu", "stock");
  assert.equal(tf.getBackend(), "webgpu");
  assert.ok(info.adapter.length > 0);
  const web = await lossAndGrads();
  // float32 on both; reductions run in a different order, so agreement is to ~1e-5 relative.
  const tol = 2e-4;
  assert.ok(Math.abs(cpu.loss - web.loss) <= tol * Math.abs(cpu.loss), `loss ${cpu.loss} vs ${web.loss}`);
  for (const [name, g] of cpu.grads) {
    const h = web.grads.get(name)!;
    let maxDiff = 0, scale = 1e-6;
    for (let i = 0; i < g.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(g[i]! - h[i]!));
      scale = Math.max(scale, Math.abs(g[i]!));
    }
    assert.ok(maxDiff <= tol * scale, `${name}: max |Δ| ${maxDiff} vs max |g| ${scale}`);
  }
}

Deno.test(
  "WebGPU (llvmpipe here) and CPU agree on the DARL loss and every gradient",
  () => inOwnProcess(import.meta.url, webgpuMatchesCpuGradients.name),
);

/** Four training steps give the same losses on cpu, darl-cpu, webgpu and darl-webgpu. */
export async function backendsTrainAlike(): Promise<void> {
  const { createTrainState, darlTrainStep } = await import("./darl/train_step.ts");
  await import("./kernels/mod.ts");
  const cfg = darlConfig("tiny", { imageSize: 8, channels: 1, patchSize: 2, dim: 32, depth: 2, heads: 2 });
  const run = async (backend: "cpu" | "webgpu", kernels: "stock" | "fast") => {
    await selectBackend(backend, kernels);
    const state = createTrainState(initDarl(cfg, 3), cfg, { beta1: 0.9, beta2: 0.95, weightDecay: 0.05, clip: 1 });
    const x = tf.tensor4d(Float32Array.from({ length: 4 * 64 }, (_, i) => Math.cos(i * 0.21)), [4, 8, 8, 1]);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { loss, gradNorm } = darlTrainStep(state, x, 3e-3);
      losses.push((await loss.data())[0]!);
      tf.dispose([loss, gradNorm]);
    }
    tf.dispose([x, ...state.trainer.vars, ...state.trainer.opt.m, ...state.trainer.opt.v]);
    return losses;
  };
  const ref = await run("cpu", "stock");
  assert.ok(ref[3]! < ref[0]!, `loss should fall: ${ref}`);
  const others = [await run("cpu", "fast")];
  if (await probeGpuAdapter()) others.push(await run("webgpu", "stock"), await run("webgpu", "fast"));
  for (const o of others) {
    o.forEach((l, i) => assert.ok(Math.abs(l - ref[i]!) <= 1e-4 * Math.abs(ref[i]!), `step ${i}: ${o} vs ${ref}`));
  }
}

Deno.test(
  "every backend trains alike: losses of four steps agree (cpu, darl-cpu, webgpu, darl-webgpu)",
  () => inOwnProcess(import.meta.url, backendsTrainAlike.name),
);
