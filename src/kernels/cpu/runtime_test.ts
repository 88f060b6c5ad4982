import assert from "node:assert/strict";

// A worker that reported ready but had not yet read the task generation
// counted a task published in between as already seen, and the host waited
// for it forever. The delay holds every worker in that window, so the task
// below is always published there; the check runs in its own process because
// the regression is a hang of the (synchronous) host.
Deno.test("a task published as soon as the workers report ready still runs on every thread", async () => {
  const runtime = new URL("./runtime.ts", import.meta.url).href;
  const code = `
    import { createRuntime, FN } from ${JSON.stringify(runtime)};
    const rt = await createRuntime(3, { workerStartDelayMs: 300 });
    const out = rt.heap.alloc(12);
    new Float32Array(rt.memory.buffer, out, 3).fill(-1);
    const a = rt.args(4);
    a.i32[0] = 10; a.f32[1] = 1; a.f32[2] = 1; a.i32[3] = out;
    rt.run(FN.FMA_PEAK, a.ptr, true);
    console.log(JSON.stringify(Array.from(new Float32Array(rt.memory.buffer, out, 3))));
    rt.close();`;
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(child.stderr);
  assert.ok(child.success, `the runtime hung or failed (signal ${child.signal}): ${stderr}`);
  // Per thread 12 four-lane chains, each lane x ← x·1 + 1 ten times from 1, summed: 48 × 11 (fmaPeak's doc example).
  assert.deepEqual(JSON.parse(new TextDecoder().decode(child.stdout)), [528, 528, 528]);
});
