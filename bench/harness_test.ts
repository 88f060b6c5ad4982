import assert from "node:assert/strict";
import { tf } from "../src/tf.ts";
import { matMulFlops } from "./_harness.ts";

Deno.test("matMulFlops() reads 2·M·N·K from the profiled shapes of every transpose variant and a broadcast batch", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  // The shapes tf.profile records for one product, its inputs and output released.
  const profiled = async (a: number[], b: number[], ta = false, tb = false) => {
    const info = await tf.profile(() => tf.tidy(() => tf.matMul(tf.ones(a), tf.ones(b), ta, tb)));
    tf.dispose(info.result as tf.Tensor);
    return info.kernels.find((x) => x.name.includes("MatMul"))!;
  };
  const [M, K, N] = [3, 5, 7];
  const cases: [string, number[], number[], boolean, boolean][] = [
    ["A·B", [M, K], [K, N], false, false],
    ["Aᵀ·B", [K, M], [K, N], true, false],
    ["A·Bᵀ", [M, K], [N, K], false, true],
    ["Aᵀ·Bᵀ", [K, M], [N, K], true, true],
    ["square, Aᵀ", [M, M], [M, N], true, false],
  ];
  for (const [name, a, b, ta, tb] of cases) {
    const k = await profiled(a, b, ta, tb);
    const want = 2 * (name.startsWith("square") ? M * N * M : M * N * K);
    assert.equal(matMulFlops(k.inputShapes[0]!, k.outputShapes[0]!), want, name);
  }
  // A shared across a batch of 4 B's: the work is 4 products, though A holds one (A's size times N would count one).
  const k = await profiled([1, M, K], [4, K, N]);
  assert.equal(matMulFlops(k.inputShapes[0]!, k.outputShapes[0]!), 4 * 2 * M * N * K);
  assert.equal(tf.memory().numTensors, before);
});
