/**
 * `deno task bench:report`: runs every benchmark in `bench/`, each runner of
 * each file in a `deno bench` process of its own, recording the load other
 * processes put on the machine meanwhile, then writes
 * `bench/results/<date>-<host>.md` and `.json`: median time per case, the
 * derived rate (GFLOP/s, img/s), the speed-ups on the reference step (darl's
 * kernels vs the best stock tfjs backend and vs jax-js), WebGPU dispatches
 * per training step, the backends, the machine, and its load (a report
 * measured beside other work is marked LOADED).
 *
 *   deno task bench:report [--filter "/train step/"] [--runners darl-cpu]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseTask, runTask, section, sectionValues } from "../src/cli.ts";
import { tf } from "../src/tf.ts";
import { describeBackend, probeGpuAdapter, selectBackend } from "../src/backend.ts";
import { darlConfig } from "../src/darl/config.ts";
import { initDarl } from "../src/darl/model.ts";
import { PRETRAIN_DEFAULTS } from "../src/darl/pretrain.ts";
import { createTrainState, darlTrainStep } from "../src/darl/train_step.ts";
import { countDispatches } from "../src/kernels/mod.ts";
import { benchRunners, chooseRunners, type LoadRecord, runBenchFile, type Sample, summarise } from "../bench/report.ts";
import { reportMarkdown } from "../bench/report_markdown.ts";
import { type BenchBackend, benchBackends, useBackend } from "../bench/_harness.ts";

const REPORT = section("Benchmark report", { filter: "", runners: "" }, {
  filter: { doc: "deno bench --filter (a name substring, or /regex/) [every case]" },
  runners: {
    doc: "comma-separated runners, e.g. darl-cpu,wasm (darl-cpu, wasm, cpu, darl-webgpu, webgpu, jax-js) [all]",
  },
});
const SPEC = {
  usage: "deno task bench:report [flags]: run bench/ runner by runner and write bench/results/",
  sections: [REPORT],
};

async function webgpuDispatches(): Promise<Record<string, number> | null> {
  if (!(await probeGpuAdapter())) return null;
  const out: Record<string, number> = {};
  const cfg = darlConfig("tiny");
  for (const kernels of ["stock", "fast"] as const) {
    const info = await selectBackend("webgpu", kernels);
    console.log(`counting WebGPU dispatches of one training step on ${info.backend} (minutes on a software adapter)`);
    const state = createTrainState(initDarl(cfg, 0), cfg, PRETRAIN_DEFAULTS);
    const x = tf.tensor4d(Float32Array.from({ length: 32 * 784 }, (_, i) => Math.sin(i * 0.01)), [32, 28, 28, 1]);
    const step = async () => {
      const { loss, gradNorm } = darlTrainStep(state, x, 1e-4);
      await loss.data();
      tf.dispose([loss, gradNorm]);
    };
    await step();
    const count = countDispatches(tf.backend());
    await step();
    out[info.backend] = count();
    console.log(`  ${info.backend}: ${out[info.backend]} dispatches`);
    tf.dispose([x, ...state.trainer.vars, ...state.trainer.opt.m, ...state.trainer.opt.v]);
  }
  return out;
}

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const { filter, runners: runnersFlag } = sectionValues(f, REPORT);
    const runners = chooseRunners(runnersFlag, await benchRunners());
    const samplesPath = await Deno.makeTempFile({ suffix: ".jsonl" });
    const files = [...Deno.readDirSync("bench")].filter((e) => e.name.endsWith("_bench.ts")).map((e) =>
      `bench/${e.name}`
    )
      .sort();
    const loads: LoadRecord[] = [];
    for (const runner of runners) {
      for (const file of files) {
        const load = await runBenchFile(file, runner, filter, samplesPath);
        if (load) loads.push(load);
      }
    }
    const samples: Sample[] = (await Deno.readTextFile(samplesPath)).split("\n").filter((l) => l).map((l) =>
      JSON.parse(l)
    );
    const rows = summarise(samples);
    // The tfjs backends among the runners (jax-js is a peer, not a backend), as the benchmarks selected them.
    const tfjsBackends: string[] = await benchBackends(true);
    const backends: string[] = [];
    for (const runner of runners.filter((r) => tfjsBackends.includes(r))) {
      backends.push(describeBackend(await useBackend(runner as BenchBackend)));
    }
    const dispatches = runners.some((r) => r.endsWith("webgpu")) ? await webgpuDispatches() : null;
    const machine = {
      host: Deno.hostname(),
      os: `${Deno.build.os} ${Deno.build.arch}`,
      deno: Deno.version.deno,
      tfjs: tf.version_core,
      threads: navigator.hardwareConcurrency,
      date: new Date().toISOString(),
    };
    const { markdown, json } = reportMarkdown({ machine, backends, rows, dispatches, loads });
    await Deno.mkdir("bench/results", { recursive: true });
    const base = `bench/results/${machine.date.slice(0, 16).replace(/[:T]/g, "-")}-${machine.host}`;
    await Deno.writeTextFile(`${base}.md`, markdown);
    await Deno.writeTextFile(`${base}.json`, JSON.stringify(json, null, 2) + "\n");
    await Deno.copyFile(`${base}.md`, "bench/results/latest.md");
    await Deno.copyFile(`${base}.json`, "bench/results/latest.json");
    console.log(markdown);
    console.log(`wrote ${base}.md and .json (and bench/results/latest.*)`);
  });
}
