import assert from "node:assert/strict";
import { chooseRunners, runBenchFile, runMeasured } from "./report.ts";
import { DarlError } from "../src/errors.ts";
import { reportMarkdown } from "./report_markdown.ts";

Deno.test("runMeasured() runs a process and records how many cores other processes used meanwhile", async () => {
  const r = await runMeasured(["eval", "let s = 0; for (let i = 0; i < 3e7; i++) s += i;"], {}, "busy loop");
  assert.ok(r.ok);
  assert.ok(r.load, "/proc is readable on Linux");
  assert.equal(r.load.what, "busy loop");
  assert.ok(r.load.seconds > 0);
  // The loop's own CPU time is not counted as other processes' load.
  assert.ok(r.load.othersMean >= 0 && r.load.othersMean < 2.5, String(r.load.othersMean));
});

Deno.test("runBenchFile() reruns a bench process that aborts, keeping only the samples of the run that counts", async () => {
  const dir = await Deno.makeTempDir(), samples = `${dir}/samples.jsonl`, runs = `${dir}/runs`;
  // A bench file that records a sample per run and aborts on the runs named in ABORT_ON (1-based).
  const file = `${dir}/fake_bench.ts`;
  await Deno.writeTextFile(
    file,
    `const n = (() => { try { return Deno.readTextFileSync(${
      JSON.stringify(runs)
    }).length; } catch { return 0; } })() + 1;
Deno.writeTextFileSync(${JSON.stringify(runs)}, "x", { append: true });
Deno.writeTextFileSync(Deno.env.get("DARL_BENCH_SAMPLES")!, JSON.stringify({ run: n, runner: Deno.env.get("DARL_BENCH_RUNNER") }) + "\\n", { append: true });
if ((Deno.env.get("ABORT_ON") ?? "").split(",").includes(String(n))) Deno.kill(Deno.pid, "SIGABRT");
if (Deno.env.get("FAIL")) Deno.exit(1);
Deno.bench("nothing", () => {});
`,
  );
  const lines = async () => (await Deno.readTextFile(samples)).trim().split("\n").map((l) => JSON.parse(l));
  const withEnv = async (env: Record<string, string>, f: () => Promise<unknown>) => {
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    try {
      return await f();
    } finally {
      for (const k of Object.keys(env)) Deno.env.delete(k);
    }
  };
  await Deno.writeTextFile(samples, "");
  await withEnv({ ABORT_ON: "1,2" }, () => runBenchFile(file, "darl-cpu", "", samples));
  assert.deepEqual(await lines(), [{ run: 3, runner: "darl-cpu" }], "the two aborted runs' samples are dropped");
  await withEnv(
    { ABORT_ON: "4,5,6" },
    () => assert.rejects(runBenchFile(file, "wasm", "", samples), /deno bench failed/),
  );
  await withEnv({ FAIL: "1" }, () => assert.rejects(runBenchFile(file, "cpu", "", samples), /deno bench failed/));
  assert.equal((await Deno.readTextFile(runs)).length, 7, "three runs, three aborts, and a plain failure not rerun");
  assert.deepEqual(await lines(), [{ run: 3, runner: "darl-cpu" }]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reportMarkdown() marks a report LOADED when any process ran beside more than 0.2 other cores", () => {
  const machine = { host: "h", os: "linux", deno: "2", tfjs: "4", threads: 2, date: "2026-01-01T00:00:00Z" };
  const row = { group: "train step tiny b32", runner: "darl-cpu", n: 5, medianMs: 100, rate: 320, unit: "img/s" };
  const quiet = { what: "a [darl-cpu]", seconds: 10, othersMean: 0.05, othersPeak: 0.3 };
  const r1 = reportMarkdown({
    machine,
    backends: [],
    rows: [row, { ...row, runner: "wasm", medianMs: 1600 }],
    dispatches: null,
    loads: [quiet],
  });
  assert.equal(r1.json.loaded, false);
  assert.match(r1.markdown, /darl-cpu vs best stock \(wasm\): \*\*16\.0×\*\*/);
  assert.doesNotMatch(r1.markdown, /LOADED:/);
  const r2 = reportMarkdown({
    machine,
    backends: [],
    rows: [row],
    dispatches: null,
    loads: [quiet, { ...quiet, othersMean: 0.6 }],
  });
  assert.equal(r2.json.loaded, true);
  assert.match(r2.markdown, /^# darl benchmark report — LOADED/);
  // darl-cpu alone (`--runners darl-cpu`): nothing to compare with, and the report says so.
  assert.match(r2.markdown, /## Speed-ups[^\n]*\n\nNone: the report needs/);
  assert.doesNotMatch(r1.markdown, /None: the report needs/);
});

Deno.test("chooseRunners(): every runner by default, a named subset in the machine's order, an unknown name refused", () => {
  const available = ["darl-cpu", "wasm", "cpu", "jax-js"];
  assert.deepEqual(chooseRunners("", available), available);
  assert.deepEqual(chooseRunners("jax-js, darl-cpu", available), ["darl-cpu", "jax-js"]);
  assert.throws(
    () => chooseRunners("darl-cpu,darl-webgpu", available),
    (e: unknown) => e instanceof DarlError && e.message.startsWith("--runners:") && e.message.includes("darl-webgpu"),
  );
  assert.throws(() => chooseRunners(",", available), DarlError);
});
