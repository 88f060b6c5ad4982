import assert from "node:assert/strict";
import { tf } from "../../tf.ts";
import { probeGpuAdapter, selectBackend } from "../../backend.ts";
import "../mod.ts";
import { assertClose, type CaseResults, kernelCases, runCase } from "../kernel_test_util.ts";
import { inOwnProcess } from "../../test_util.ts";

/** Every darl-webgpu kernel case against stock tfjs CPU (run by inOwnProcess, which says why). */
export async function webgpuKernelsMatchCpu(): Promise<void> {
  assert.ok(await probeGpuAdapter(), "navigator.gpu gave no adapter: this test needs WebGPU (Mesa llvmpipe is enough)");
  const cases = kernelCases();
  await selectBackend("cpu", "stock");
  const want: CaseResults[] = [];
  for (const c of cases) want.push(await runCase(c));
  const info = await selectBackend("webgpu", "fast");
  assert.equal(info.backend, "darl-webgpu");
  const before = tf.memory().numTensors;
  // Differences come from float32 summation order.
  for (const [i, c] of cases.entries()) {
    const t0 = performance.now();
    assertClose(c.name, await runCase(c), want[i]!, 2e-4);
    if (Deno.env.get("DARL_TEST_TIMES")) console.log(c.name, (performance.now() - t0).toFixed(0), "ms");
  }
  assert.equal(tf.memory().numTensors, before, "kernels must not leak tensors");
}

Deno.test(
  "darl-webgpu kernels match stock tfjs CPU, forward and gradient (llvmpipe here)",
  () => inOwnProcess(import.meta.url, webgpuKernelsMatchCpu.name),
);
