/**
 * Shared set-up of darl's benchmarks: which backends exist here, switching
 * between them, and recording every measured iteration so `deno task
 * bench:report` can report medians and derived rates (GFLOP/s, img/s).
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { tf } from "../src/tf.ts";
import {
  type BackendInfo,
  type GpuAdapterSummary,
  gpuDeviceNodes,
  probeGpuAdapter,
  selectBackend,
} from "../src/backend.ts";

/** A backend as benchmarks name it. */
export type BenchBackend = "cpu" | "wasm" | "webgpu" | "darl-cpu" | "darl-webgpu";

// bench:report runs each runner in a process of its own: the others' cases are ignored there.
const onlyRunner = Deno.env.get("DARL_BENCH_RUNNER");

let probed: Promise<GpuAdapterSummary | null> | undefined;

/**
 * Whether this process may ask `navigator.gpu`. Asking loads the driver
 * (Mesa's llvmpipe where there is no GPU) into the bench module's isolate, and
 * a `deno bench` process that has done so sometimes aborts at exit with glibc
 * heap corruption (exit code 134; see `inOwnProcess` in `src/test_util.ts`).
 * So only a process that runs a WebGPU runner asks, and plain `deno bench`
 * asks only where a GPU device node exists (a software adapter there is
 * measured with `DARL_BENCH_RUNNER=darl-webgpu` or `deno task bench:report`).
 */
function mayAskGpu(): boolean {
  return onlyRunner ? onlyRunner.endsWith("webgpu") : gpuDeviceNodes()?.length !== 0;
}

/** The WebGPU adapter, asked for at most once per module, or null when `ask` is false. */
function benchGpu(ask = mayAskGpu()): Promise<GpuAdapterSummary | null> {
  return ask ? (probed ??= probeGpuAdapter()) : Promise.resolve(null);
}

/**
 * Backends the benchmarks run: WebGPU only when an adapter answers.
 *
 * @param askGpu Whether to ask `navigator.gpu` ({@linkcode mayAskGpu} by
 *   default; bench:report's own process, a plain `deno run`, always may).
 */
export async function benchBackends(askGpu = mayAskGpu()): Promise<BenchBackend[]> {
  const list: BenchBackend[] = ["darl-cpu", "wasm", "cpu"];
  if (await benchGpu(askGpu)) list.push("darl-webgpu", "webgpu");
  return list;
}

/**
 * Whether WebGPU here is a software rasteriser (llvmpipe), where the largest
 * cases take minutes each and are skipped.
 */
export async function softwareGpu(): Promise<boolean> {
  return (await benchGpu())?.software ?? false;
}

const infos = new Map<BenchBackend, BackendInfo>();

/** Activates a backend (stock or darl kernels). */
export async function useBackend(b: BenchBackend): Promise<BackendInfo> {
  const device = b === "darl-cpu" ? "cpu" : b === "darl-webgpu" ? "webgpu" : b;
  const kernels = b.startsWith("darl-") ? "fast" : "stock";
  if (infos.has(b) && tf.getBackend() === (b === "cpu" || b === "wasm" || b === "webgpu" ? b : b)) return infos.get(b)!;
  const info = await selectBackend(device, kernels);
  infos.set(b, info);
  return info;
}

/** Metadata that turns a time into a rate. */
export interface Rate {
  /** Floating-point operations per iteration (for GFLOP/s). */
  flops?: number;
  /** Images per iteration (for img/s). */
  images?: number;
  /** Patches (tokens) per iteration (for patches/s). */
  patches?: number;
}

/** One benchmark: a group, a backend, and a set-up returning the measured work. */
export interface BenchCase extends Rate {
  /** The comparison group (e.g. "matmul 1024²"). */
  group: string;
  /** Who runs it (a backend or a peer such as "jax-js"). */
  runner: string;
  /** Iterations measured (explicit for slow cases). */
  n?: number;
  /** Warm-up iterations. */
  warmup?: number;
  /** Why it is skipped, if it is. */
  skip?: string;
  /** Prepares inputs (cached) and returns the work; the work must finish (sync) before resolving. */
  setup(): Promise<() => Promise<void>>;
}

const samplesPath = Deno.env.get("DARL_BENCH_SAMPLES");

/**
 * Registers a case with `Deno.bench`. Only the work is timed; when
 * `DARL_BENCH_SAMPLES` names a file, every measured iteration's milliseconds
 * are appended to it as JSON lines (for medians in the report); when
 * `DARL_BENCH_RUNNER` names a runner, only its cases run.
 */
export function benchCase(c: BenchCase): void {
  let work: (() => Promise<void>) | null = null;
  Deno.bench({
    name: `${c.group} [${c.runner}]`,
    group: c.group,
    ignore: !!c.skip || (!!onlyRunner && c.runner.split(" ")[0] !== onlyRunner),
    ...(c.n ? { n: c.n } : {}),
    ...(c.warmup !== undefined ? { warmup: c.warmup } : {}),
    async fn(b) {
      work ??= await c.setup();
      b.start();
      const t0 = performance.now();
      await work();
      const ms = performance.now() - t0;
      b.end();
      if (samplesPath) {
        const rec = { group: c.group, runner: c.runner, ms, flops: c.flops, images: c.images, patches: c.patches };
        Deno.writeTextFileSync(samplesPath, JSON.stringify(rec) + "\n", { append: true });
      }
    },
  });
}

/** Reads a tensor back (the one sync per measured batch of work). */
export async function sync(t: tf.Tensor): Promise<void> {
  await t.data();
}

/**
 * Floating-point operations of one matrix product, from the shapes a
 * `tf.profile` records (it keeps no transpose flags): A's last two
 * dimensions are M and K in some order and the output ends in M, N; when A's
 * two are equal, so are M and K. Batch and broadcast dimensions count
 * through the output's size.
 *
 * @param a The first input's shape.
 * @param out The output's shape.
 * @returns 2·M·N·K times the batch.
 * @example
 * ```ts
 * import { matMulFlops } from "./_harness.ts";
 * // Aᵀ·B with A [512, 256] (K = 512, M = 256) and N = 1024:
 * if (matMulFlops([512, 256], [256, 1024]) !== 2 * 256 * 1024 * 512) throw new Error();
 * ```
 */
export function matMulFlops(a: number[], out: number[]): number {
  const [r, c] = a.slice(-2) as [number, number];
  return 2 * tf.util.sizeFromShape(out) * (r === out.at(-2) ? c : r);
}

/** Iterations per thread of one FMA-ceiling measurement (`DarlCpuBackend.fmaPeak`): about 10 ms on two threads here. */
export const FMA_PEAK_ITERS = 5_000_000;

/**
 * Floating-point operations of one `DarlCpuBackend.fmaPeak(iters)` call: 12
 * chains of 4-lane multiply-adds per thread per iteration.
 *
 * @param threads The runtime's threads.
 * @param iters Iterations per thread.
 * @returns The operations (a multiply-add counts two).
 * @example
 * ```ts
 * import { fmaPeakFlops } from "./_harness.ts";
 * if (fmaPeakFlops(2, 10) !== 1920) throw new Error();
 * ```
 */
export function fmaPeakFlops(threads: number, iters: number): number {
  return threads * iters * 12 * 4 * 2;
}
