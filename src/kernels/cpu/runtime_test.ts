import assert from "node:assert/strict";

// A worker that reported ready but had not yet read the task generation
// counted a task published in between as already seen, and the host waited
// for it forever. The delay holds every worker in that window, so the task
// below is always published there; the check runs in its own process because
// the regression is a hang of the (synchronous) host.
Deno.test("a task published as soon as the workers report ready still runs on every thread", async () => {
  const [runtime, backend] = ["./runtime.ts", "./backend.ts"].map((f) => new URL(f, import.meta.url).href);
  const code = `
    import { createRuntime } from ${JSON.stringify(runtime)};
    import { DarlCpuBackend } from ${JSON.stringify(backend)};
    const rt = await createRuntime(3, { workerStartDelayMs: 300 });
    console.log(JSON.stringify(Array.from(new DarlCpuBackend(rt).fmaPeak(10, 1, 1))));
    rt.close();`;
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(child.stderr);
  assert.ok(child.success, `the runtime hung or failed (signal ${child.signal}): ${stderr}`);
  // One sum per thread: 48 lanes, each x ← x·1 + 1 ten times from 1, so 48 × 11 (fmaPeak's doc example).
  assert.deepEqual(JSON.parse(new TextDecoder().decode(child.stdout)), [528, 528, 528]);
});
