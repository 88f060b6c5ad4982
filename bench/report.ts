/**
 * The library behind `deno task bench:report`: every runner (darl-cpu,
 * stock wasm, stock cpu, darl-webgpu, stock webgpu, jax-js) of every bench
 * file runs in a `deno bench` process of its own, one after another, so no
 * runner measures another's memory or JIT state. While each runs, the
 * machine's load is recorded: the CPU cores that other processes used (from
 * `/proc/stat`, minus the bench process's own time from `/proc/<pid>/stat`),
 * as a mean per process and the peak over 2-second windows. A report whose
 * mean exceeds 0.2 cores is marked LOADED: measure again on a quiet machine.
 *
 * @module
 */
import { benchBackends } from "./_harness.ts";
import { DarlError } from "../src/errors.ts";

/** One measured iteration, as `bench/_harness.ts` records it. */
export interface Sample {
  /** Comparison group. */
  group: string;
  /** Backend or peer. */
  runner: string;
  /** Milliseconds. */
  ms: number;
  /** FLOPs per iteration. */
  flops?: number;
  /** Images per iteration. */
  images?: number;
  /** Patches per iteration. */
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

/** Other processes' CPU use while one bench process ran. */
export interface LoadRecord {
  /** The bench file and runner. */
  what: string;
  /** Wall seconds. */
  seconds: number;
  /** Mean cores used by other processes. */
  othersMean: number;
  /** Peak over 2-second windows. */
  othersPeak: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Groups samples into rows with medians and rates.
 *
 * @param samples Measured iterations.
 * @returns One row per group and runner.
 * @example
 * ```ts
 * import { summarise } from "./report.ts";
 * const rows = summarise([{ group: "g", runner: "r", ms: 10, images: 32 }, { group: "g", runner: "r", ms: 30, images: 32 }]);
 * if (rows[0]!.medianMs !== 20 || rows[0]!.rate !== 1600) throw new Error();
 * ```
 */
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

/** Busy jiffies of the whole machine (user + nice + system + irq + softirq + steal). */
function machineBusy(): number {
  const cpu = Deno.readTextFileSync("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return cpu[0]! + cpu[1]! + cpu[2]! + (cpu[5] ?? 0) + (cpu[6] ?? 0) + (cpu[7] ?? 0);
}

/** user + system jiffies of a process (all its threads). */
function processBusy(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, the unit of /proc/stat: 100 on every mainstream architecture. */
const HZ = 100;

/** user + system jiffies of this process's reaped children (a finished bench process lands here). */
function childrenBusy(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[13]) + Number(f[14]);
}

/**
 * Runs one bench process and records the load that other processes put on
 * the machine meanwhile.
 *
 * @param args `deno bench` arguments.
 * @param env Extra environment.
 * @param what A label for the load record.
 * @returns Exit success, whether it aborted (SIGABRT), and the load record
 *   (null when /proc is not readable).
 */
export async function runMeasured(
  args: string[],
  env: Record<string, string>,
  what: string,
): Promise<{ ok: boolean; aborted: boolean; load: LoadRecord | null }> {
  let canRead = true;
  try {
    machineBusy();
    childrenBusy();
  } catch {
    canRead = false;
  }
  const all0 = canRead ? machineBusy() : 0, children0 = canRead ? childrenBusy() : 0, t0 = performance.now();
  const proc = new Deno.Command(Deno.execPath(), { args, env, stdout: "inherit", stderr: "inherit" }).spawn();
  let peak = 0, lastT = t0, lastAll = all0, lastOwn = 0;
  const timer = canRead
    ? setInterval(() => {
      const now = performance.now(), all = machineBusy(), own = processBusy(proc.pid), secs = (now - lastT) / 1000;
      if (own >= lastOwn) peak = Math.max(peak, Math.max(0, all - lastAll - (own - lastOwn)) / HZ / secs);
      [lastT, lastAll, lastOwn] = [now, all, own];
    }, 2000)
    : undefined;
  const status = await proc.status;
  clearInterval(timer);
  const aborted = status.signal === "SIGABRT";
  if (!canRead) return { ok: status.success, aborted, load: null };
  const seconds = (performance.now() - t0) / 1000, own = childrenBusy() - children0;
  const othersMean = Math.max(0, machineBusy() - all0 - own) / HZ / seconds;
  return { ok: status.success, aborted, load: { what, seconds, othersMean, othersPeak: Math.max(peak, othersMean) } };
}

/**
 * Runs one bench file for one runner ({@linkcode runMeasured}) and appends
 * its samples to `samplesPath`. A process that aborts (SIGABRT) is run again,
 * up to `retries` times, its samples dropped: a `deno bench` process that
 * used WebGPU sometimes aborts at exit with glibc heap corruption after its
 * work is done (see `mayAskGpu` in `_harness.ts`). Any other failure throws.
 *
 * @param file The bench file.
 * @param runner The runner (`DARL_BENCH_RUNNER`).
 * @param filter `--filter` ("" for none).
 * @param samplesPath The JSONL file that collects every run's samples.
 * @param retries Reruns allowed after an abort.
 * @returns The load record of the run that counted.
 */
export async function runBenchFile(
  file: string,
  runner: string,
  filter: string,
  samplesPath: string,
  retries = 2,
): Promise<LoadRecord | null> {
  const args = ["bench", "-A", "--no-check", ...(filter ? ["--filter", filter] : []), file];
  const own = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    for (let attempt = 0;; attempt++) {
      console.log(`running [${runner}]: deno ${args.join(" ")}`);
      await Deno.writeTextFile(own, "");
      const r = await runMeasured(args, { DARL_BENCH_SAMPLES: own, DARL_BENCH_RUNNER: runner }, `${file} [${runner}]`);
      if (r.ok) {
        await Deno.writeTextFile(samplesPath, await Deno.readTextFile(own), { append: true });
        return r.load;
      }
      if (!r.aborted || attempt >= retries) throw new Error(`deno bench failed for ${file} [${runner}]`);
      console.log(`${file} [${runner}]: deno bench aborted (SIGABRT); running it again, its samples dropped`);
    }
  } finally {
    await Deno.remove(own);
  }
}

/**
 * Runners in the benchmarks: darl's backends, stock tfjs (WebGPU where an
 * adapter answers, llvmpipe included), and the jax-js peer. It asks
 * `navigator.gpu` whatever the machine: bench:report's own process is a plain
 * `deno run`, where that is safe, unlike a bench module's isolate.
 */
export async function benchRunners(): Promise<string[]> {
  return [...await benchBackends(true), "jax-js"];
}

/**
 * The runners a report measures: all available ones, or the comma-separated
 * subset named by `--runners`, in the order of `available`.
 *
 * @param flag The `--runners` value ("" for all).
 * @param available The runners this machine has ({@linkcode benchRunners}).
 * @returns The runners to measure.
 * @example
 * ```ts
 * import { chooseRunners } from "./report.ts";
 * if (chooseRunners("cpu,darl-cpu", ["darl-cpu", "wasm", "cpu"]).join() !== "darl-cpu,cpu") throw new Error();
 * ```
 */
export function chooseRunners(flag: string, available: string[]): string[] {
  if (!flag.trim()) return available;
  const wanted = flag.split(",").map((r) => r.trim()).filter((r) => r);
  const unknown = wanted.filter((r) => !available.includes(r));
  if (unknown.length || !wanted.length) {
    throw new DarlError(
      `--runners: expected a comma-separated subset of ${available.join(", ")} (this machine's), got "${flag}"`,
    );
  }
  return available.filter((r) => wanted.includes(r));
}
