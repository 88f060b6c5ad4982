import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { describeBackend, probeGpuAdapter, selectBackend } from "./backend.ts";
import { darlConfig } from "./darl/config.ts";
import { darlMseLoss } from "./darl/loss.ts";
import { initDarl } from "./darl/model.ts";
import { namedLeaves } from "./nn/tree.ts";

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
  const auto = await selectBackend("auto", "stock");
  const gpu = await probeGpuAdapter();
  assert.equal(auto.device, gpu && !gpu.software ? "webgpu" : "wasm");
  assert.ok(auto.reason);
});

Deno.test("WebGPU (llvmpipe here) and CPU agree on the DARL loss and every gradient", async () => {
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
  await selectBackend("cpu", "stock");
});

Deno.test("every backend trains alike: losses of four steps agree (cpu, darl-cpu, webgpu, darl-webgpu)", async () => {
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
  await selectBackend("cpu", "stock");
});
