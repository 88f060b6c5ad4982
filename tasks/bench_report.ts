/**
 * `deno task bench:report`: runs every benchmark in `bench/` (one `deno
 * bench` run, so all figures share the machine's state), then writes
 * `bench/results/<date>-<host>.md` and `.json`: median time per case, the
 * derived rate (GFLOP/s, img/s), the speed-ups that matter (darl's kernels vs
 * the best stock tfjs backend and vs jax-js on the reference step), WebGPU
 * dispatches per training step, and the backends, adapters and machine.
 *
 *   deno task bench:report [--filter <deno bench filter>]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseFlags, runTask } from "../src/cli.ts";
import { tf } from "../src/tf.ts";
import { describeBackend, probeGpuAdapter, selectBackend } from "../src/backend.ts";
import { darlConfig } from "../src/config.ts";
import { initDarl } from "../src/darl/model.ts";
import { createTrainState, darlTrainStep, PRETRAIN_DEFAULTS } from "../src/darl/pretrain.ts";
import { countDispatches } from "../src/kernels/mod.ts";

interface Sample {
  group: string;
  runner: string;
  ms: number;
  flops?: number;
  images?: number;
  patches?: number;
}

/** One row of the report. */
export interface ResultRow {
  /** Comparison group. */
  group: string;
  /** Backend or peer. */
  runner: string;
  /** Measured iterations. */
  n: number;
  /** Median milliseconds per iteration. */
  medianMs: number;
  /** Derived rate and its unit, if any. */
  rate?: number;
  /** "GFLOP/s", "img/s" or "patches/s". */
  unit?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Groups samples into rows with medians and rates. */
export function summarise(samples: Sample[]): ResultRow[] {
  const by = new Map<string, Sample[]>();
  for (const s of samples) by.set(`${s.group}\u0000${s.runner}`, [...(by.get(`${s.group}\u0000${s.runner}`) ?? []), s]);
  return [...by.values()].map((list) => {
    const s = list[0]!, ms = median(list.map((x) => x.ms));
    const row: ResultRow = { group: s.group, runner: s.runner, n: list.length, medianMs: ms };
    if (s.flops) Object.assign(row, { rate: s.flops / (ms / 1000) / 1e9, unit: "GFLOP/s" });
    else if (s.images) Object.assign(row, { rate: s.images / (ms / 1000), unit: "img/s" });
    else if (s.patches) Object.assign(row, { rate: s.patches / (ms / 1000), unit: "patches/s" });
    return row;
  });
}

async function webgpuDispatches(): Promise<Record<string, number> | null> {
  if (!(await probeGpuAdapter())) return null;
  const out: Record<string, number> = {};
  const cfg = darlConfig("tiny");
  for (const kernels of ["stock", "fast"] as const) {
    const info = await selectBackend("webgpu", kernels);
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
    tf.dispose([x, ...state.vars, ...state.opt.m, ...state.opt.v]);
  }
  return out;
}

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, { filter: { type: "string" } });
    const samplesPath = await Deno.makeTempFile({ suffix: ".jsonl" });
    const args = ["bench", "-A", "--no-check", ...(f.filter ? ["--filter", f.filter as string] : []), "bench/"];
    console.log(`running: deno ${args.join(" ")}`);
    const proc = new Deno.Command(Deno.execPath(), {
      args,
      env: { DARL_BENCH_SAMPLES: samplesPath },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const status = await proc.status;
    if (!status.success) throw new Error(`deno bench failed with code ${status.code}`);
    const samples: Sample[] = (await Deno.readTextFile(samplesPath)).split("\n").filter((l) => l).map((l) =>
      JSON.parse(l)
    );
    const rows = summarise(samples);

    const backends: string[] = [];
    for (
      const [b, k] of [["cpu", "fast"], ["wasm", "stock"], ["cpu", "stock"], ["webgpu", "fast"], [
        "webgpu",
        "stock",
      ]] as const
    ) {
      if (b === "webgpu" && !(await probeGpuAdapter())) continue;
      backends.push(describeBackend(await selectBackend(b, k)));
    }
    const dispatches = await webgpuDispatches();
    const machine = {
      host: Deno.hostname(),
      os: `${Deno.build.os} ${Deno.build.arch}`,
      deno: Deno.version.deno,
      tfjs: tf.version_core,
      threads: navigator.hardwareConcurrency,
      date: new Date().toISOString(),
    };

    // Ratios on the reference step: darl vs the best stock backend and vs jax-js.
    const step = rows.filter((r) => r.group === "train step tiny b32");
    const ms = (runner: string) => step.find((r) => r.runner === runner)?.medianMs;
    const stock = ["wasm", "cpu", "webgpu"].map((r) => [r, ms(r)] as const).filter(([, v]) => v !== undefined);
    const bestStock = stock.sort((a, b) => a[1]! - b[1]!)[0];
    const ratios: Record<string, string> = {};
    for (const fast of ["darl-cpu", "darl-webgpu"]) {
      const m = ms(fast);
      if (!m) continue;
      if (bestStock) ratios[`${fast} vs best stock (${bestStock[0]})`] = `${(bestStock[1]! / m).toFixed(1)}×`;
      if (ms("jax-js")) ratios[`${fast} vs jax-js`] = `${(ms("jax-js")! / m).toFixed(2)}×`;
    }

    const lines = [
      `# darl benchmark report`,
      ``,
      `${machine.date} · ${machine.host} · ${machine.os} · ${machine.threads} hardware threads · Deno ${machine.deno} · tfjs ${machine.tfjs}`,
      ``,
      ...backends.map((b) => `- ${b}`),
      ``,
      `Medians over the measured iterations of one \`deno bench\` run; rates are computed from the medians.`,
      ``,
      `## Speed-ups on the reference step (tiny DARL, batch 32, AdamW)`,
      ``,
      ...Object.entries(ratios).map(([k, v]) => `- ${k}: **${v}**`),
      ``,
      ...(dispatches
        ? [
          `## WebGPU dispatches per training step (tiny, batch 32)`,
          ``,
          ...Object.entries(dispatches).map(([k, v]) => `- ${k}: ${v}`),
          ``,
        ]
        : []),
      `## All cases`,
      ``,
      `| group | runner | n | median ms | rate |`,
      `| --- | --- | ---: | ---: | ---: |`,
      ...rows.map((r) =>
        `| ${r.group} | ${r.runner} | ${r.n} | ${r.medianMs.toFixed(r.medianMs < 10 ? 2 : 1)} | ${
          r.rate === undefined ? "" : `${r.rate.toFixed(r.rate < 10 ? 2 : 1)} ${r.unit}`
        } |`
      ),
      ``,
    ];
    await Deno.mkdir("bench/results", { recursive: true });
    const stamp = machine.date.slice(0, 16).replace(/[:T]/g, "-");
    const base = `bench/results/${stamp}-${machine.host}`;
    await Deno.writeTextFile(`${base}.md`, lines.join("\n"));
    await Deno.writeTextFile(
      `${base}.json`,
      JSON.stringify({ machine, backends, ratios, dispatches, rows }, null, 2) + "\n",
    );
    await Deno.copyFile(`${base}.md`, "bench/results/latest.md");
    await Deno.copyFile(`${base}.json`, "bench/results/latest.json");
    console.log(lines.join("\n"));
    console.log(`wrote ${base}.md and .json (and bench/results/latest.*)`);
  });
}
