import assert from "node:assert/strict";
import { tf } from "../../tf.ts";
import { selectBackend } from "../../backend.ts";
import { sha256Hex } from "../../data/files.ts";
import "../mod.ts";
import type { DarlCpuBackend } from "./backend.ts";
import { assertClose, type CaseResults, kernelCases, runCase, wave } from "../kernel_test_util.ts";
import { KERNELS_SOURCE_SHA256 } from "./kernels_wasm.ts";

Deno.test("darl-cpu kernels match stock tfjs CPU, forward and gradient", async () => {
  const cases = kernelCases();
  await selectBackend("cpu", "stock");
  const want: CaseResults[] = [];
  for (const c of cases) want.push(await runCase(c));
  const info = await selectBackend("cpu", "fast");
  assert.equal(info.backend, "darl-cpu");
  const before = tf.memory().numTensors;
  for (const [i, c] of cases.entries()) assertClose(c.name, await runCase(c), want[i]!, 2e-5);
  assert.equal(tf.memory().numTensors, before, "kernels must not leak tensors");
  await selectBackend("cpu", "stock");
});

Deno.test("darl-cpu results are deterministic from run to run", async () => {
  await selectBackend("cpu", "fast");
  const x = wave([300, 130], 1), w = wave([130, 70], 2);
  const a = tf.matMul(x, w).dataSync();
  const b = tf.matMul(x, w).dataSync();
  assert.deepEqual(a, b, "results must not depend on thread timing");
  tf.dispose([x, w]);
  await selectBackend("cpu", "stock");
});

Deno.test("darl-cpu hands out copies, never views of its memory", async () => {
  await selectBackend("cpu", "fast");
  const y = tf.matMul(wave([64, 64], 3), wave([64, 64], 4));
  const data = y.dataSync() as Float32Array;
  assert.ok(!(data.buffer instanceof SharedArrayBuffer));
  const copy = data.slice();
  y.dispose();
  const z = tf.matMul(wave([64, 64], 5), wave([64, 64], 6)); // reuses the freed block
  assert.deepEqual(data, copy);
  z.dispose();
  await selectBackend("cpu", "stock");
});

Deno.test("the FMA ceiling task runs its chains on every thread", async () => {
  await selectBackend("cpu", "fast");
  const be = tf.backend() as DarlCpuBackend;
  // x ← x + 1 from 1, ten times: 11 in each of 48 lanes, on each thread.
  assert.deepEqual([...be.fmaPeak(10, 1, 1)], new Array(be.rt.threads).fill(48 * 11));
  // x ← x/2 + 1 converges to 2 whatever the rounding of a fused or split multiply-add.
  for (const s of be.fmaPeak(200, 0.5, 1)) assert.equal(s, 96);
  await selectBackend("cpu", "stock");
});

Deno.test("the committed kernels binary was built from kernels.c (run `deno task build:wasm`)", async () => {
  const source = await Deno.readTextFile(new URL("./kernels.c", import.meta.url));
  assert.equal(await sha256Hex(new TextEncoder().encode(source)), KERNELS_SOURCE_SHA256);
});
