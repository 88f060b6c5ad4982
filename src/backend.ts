/**
 * The one place that chooses the tfjs backend.
 *
 * `--backend auto|webgpu|wasm|cpu` and `--kernels auto|fast|stock`:
 * - `auto` uses WebGPU when `navigator.gpu` gives a hardware adapter, and the
 *   fastest CPU path (darl's fast CPU kernels) when the only adapter is a
 *   software rasteriser such as llvmpipe, or there is none. On Linux without a
 *   GPU device node it does not ask `navigator.gpu` at all (see
 *   {@linkcode gpuDeviceNodes}).
 * - `fast` kernels are darl's own (registered as the tfjs backends
 *   `darl-cpu` and `darl-webgpu`); `stock` is plain tfjs.
 *
 * Nothing falls back silently: `tf.setBackend` returns false instead of
 * throwing, and that is turned into an error naming the flag.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { tf } from "./tf.ts";
import { DarlError } from "./errors.ts";

/**
 * Backends a user can ask for.
 *
 * @example
 * ```ts
 * import type { BackendChoice } from "./backend.ts";
 * const choice: BackendChoice = "auto"; // webgpu on a hardware adapter, else darl's CPU kernels
 * if (!["auto", "webgpu", "wasm", "cpu"].includes(choice)) throw new Error();
 * ```
 */
export type BackendChoice = "auto" | "webgpu" | "wasm" | "cpu";
/**
 * Kernel sets a user can ask for.
 *
 * @example
 * ```ts
 * import type { KernelChoice } from "./backend.ts";
 * const kernels: KernelChoice = "stock"; // plain tfjs, for comparisons
 * if (kernels !== "stock") throw new Error();
 * ```
 */
export type KernelChoice = "auto" | "fast" | "stock";

/**
 * What was chosen and where it runs.
 *
 * @example
 * ```ts
 * import { type BackendInfo, selectBackend } from "./backend.ts";
 * const info: BackendInfo = await selectBackend("cpu", "stock");
 * if (info.device !== "cpu" || info.kernels !== "stock") throw new Error();
 * ```
 */
export interface BackendInfo {
  /** The tfjs backend name in use. */
  backend: string;
  /** The device family: "webgpu", "wasm" or "cpu". */
  device: "webgpu" | "wasm" | "cpu";
  /** Which kernels run: darl's fast ones or stock tfjs. */
  kernels: "fast" | "stock";
  /** Human-readable adapter/device description. */
  adapter: string;
  /** Why `auto` chose this, when it did. */
  reason?: string;
}

/**
 * A description of the WebGPU adapter, or null when there is none.
 *
 * @example
 * ```ts
 * import { gpuDeviceNodes, type GpuAdapterSummary, probeGpuAdapter } from "./backend.ts";
 * // Without a device node the answer could only be a software rasteriser (see gpuDeviceNodes).
 * const gpu: GpuAdapterSummary | null = gpuDeviceNodes()?.length === 0 ? null : await probeGpuAdapter();
 * console.log(gpu ? `${gpu.description}${gpu.software ? " (software)" : ""}` : "no WebGPU adapter");
 * ```
 */
export interface GpuAdapterSummary {
  /** The adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** True for software rasterisers (llvmpipe, SwiftShader, lavapipe, WARP). */
  software: boolean;
}

/**
 * Asks `navigator.gpu` for an adapter and says whether it is software. This
 * loads the GPU driver into the process (Mesa's llvmpipe where there is no
 * GPU), so `auto` asks only where {@linkcode gpuDeviceNodes} finds a device.
 *
 * @returns The adapter summary, or null.
 * @example
 * ```ts
 * import { gpuDeviceNodes, probeGpuAdapter } from "./backend.ts";
 * if (gpuDeviceNodes()?.length !== 0) {
 *   const a = await probeGpuAdapter();
 *   if (a && typeof a.software !== "boolean") throw new Error();
 * }
 * ```
 */
export async function probeGpuAdapter(): Promise<GpuAdapterSummary | null> {
  ensureRuntimeDir();
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return null;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (!adapter) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const description = [info.description, info.vendor && `vendor ${info.vendor}`, info.architecture, info.device]
    .filter((s) => s && s !== "0").join(", ") || "unknown adapter";
  const software = !!info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software|warp|softpipe/i.test(
    `${info.description} ${info.vendor} ${info.architecture}`,
  );
  return { description, software };
}

/**
 * The GPU device nodes under `dev` on Linux: entries of `dri/` (Mesa's and
 * AMD's drivers), `nvidia*`, `dxg` (WSL), `mali*` and `kgsl*`. A hardware
 * WebGPU adapter needs one of them, so with none the only adapter
 * `navigator.gpu` could give is a software rasteriser, and `auto` skips the
 * probe: asking loads Mesa's llvmpipe and LLVM into the process, and a
 * `deno test` or `deno bench` process whose modules did so sometimes aborts at
 * exit with glibc heap corruption (exit code 134) after all its work is done.
 *
 * @param dev The device folder (a test passes a fake one).
 * @returns The nodes found (possibly none), or null where this cannot be told:
 *   not Linux, or `dev` unreadable.
 * @example
 * ```ts
 * import { gpuDeviceNodes } from "./backend.ts";
 * const nodes = gpuDeviceNodes();
 * console.log(nodes === null ? "unknown: auto asks navigator.gpu" : `${nodes.length} GPU device nodes`);
 * ```
 */
export function gpuDeviceNodes(dev = "/dev"): string[] | null {
  if (Deno.build.os !== "linux") return null;
  const list = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  let names: string[];
  try {
    names = list(dev);
  } catch {
    return null;
  }
  const nodes = names.filter((n) => /^(nvidia|mali|kgsl)|^dxg$/.test(n)).map((n) => `${dev}/${n}`);
  if (names.includes("dri")) {
    try {
      nodes.push(...list(`${dev}/dri`).map((n) => `${dev}/dri/${n}`));
    } catch {
      return null;
    }
  }
  return nodes.sort();
}

/**
 * Vulkan's loader (Deno's WebGPU on Mesa) wants XDG_RUNTIME_DIR; without it
 * every adapter request prints an error. A private directory is made if unset.
 */
function ensureRuntimeDir(): void {
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/darl-runtime-${Deno.uid?.() ?? "user"}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch { /* no permission: WebGPU still works, only noisier */ }
}

/** A hook that registers darl's fast kernels for a device (set by `src/kernels`). */
export type FastBackendRegistrar = () => Promise<string>;

const fastRegistrars: Partial<Record<"cpu" | "webgpu", FastBackendRegistrar>> = {};

/**
 * Lets a kernel package provide darl's fast backend for a device.
 *
 * @param device "cpu" or "webgpu".
 * @param registrar Registers the backend and returns its tfjs name.
 */
export function provideFastBackend(device: "cpu" | "webgpu", registrar: FastBackendRegistrar): void {
  fastRegistrars[device] = registrar;
}

function cpuDescription(): string {
  let model = "";
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    model = /model name\s*:\s*(.*)/.exec(text)?.[1]?.trim() ?? "";
  } catch { /* not Linux */ }
  const threads = navigator.hardwareConcurrency ?? 1;
  return `${model || Deno.build.arch} (${threads} hardware threads)`;
}

async function activate(name: string, flag: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new DarlError(`${flag}: backend "${name}" failed to start (${(e as Error).message})`);
  }
  if (!ok) throw new DarlError(`${flag}: backend "${name}" failed to start (tf.setBackend returned false)`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new DarlError(`${flag}: asked for "${name}" but tfjs runs "${tf.getBackend()}"`);
}

/**
 * Chooses, starts and describes the backend.
 *
 * @param backend The requested backend.
 * @param kernels The requested kernel set.
 * @returns What runs.
 * @example
 * ```ts
 * import { selectBackend } from "./backend.ts";
 * const info = await selectBackend("cpu", "stock");
 * if (info.backend !== "cpu") throw new Error();
 * ```
 */
export async function selectBackend(
  backend: BackendChoice = "auto",
  kernels: KernelChoice = "auto",
): Promise<BackendInfo> {
  if (!["auto", "webgpu", "wasm", "cpu"].includes(backend)) {
    throw new DarlError(`--backend: expected auto, webgpu, wasm or cpu, got "${backend}"`);
  }
  if (!["auto", "fast", "stock"].includes(kernels)) {
    throw new DarlError(`--kernels: expected auto, fast or stock, got "${kernels}"`);
  }
  let device: "webgpu" | "wasm" | "cpu" = backend === "auto" ? "cpu" : backend;
  let reason: string | undefined;
  let adapter = "";
  const noGpuNode = backend === "auto" && gpuDeviceNodes()?.length === 0;
  if (noGpuNode) reason = "no GPU device node under /dev";
  if ((backend === "auto" && !noGpuNode) || backend === "webgpu") {
    const gpu = await probeGpuAdapter();
    if (backend === "webgpu" && !gpu) {
      throw new DarlError(`--backend webgpu: navigator.gpu gave no adapter on this machine`);
    }
    if (gpu) adapter = `${gpu.description}${gpu.software ? " [software]" : ""}`;
    if (backend === "auto") {
      if (gpu && !gpu.software) {
        device = "webgpu";
        reason = "hardware WebGPU adapter found";
      } else {
        device = "cpu";
        reason = gpu ? `only a software WebGPU adapter (${gpu.description})` : "no WebGPU adapter";
      }
    }
  }
  // With stock kernels on a CPU-only machine, tfjs-wasm is the fastest stock backend.
  if (backend === "auto" && device === "cpu" && kernels === "stock") device = "wasm";
  const wantFast = kernels !== "stock";
  let name: string = device;
  let kind: "fast" | "stock" = "stock";
  if (wantFast && device !== "wasm") {
    const reg = fastRegistrars[device];
    if (reg) {
      name = await reg();
      kind = "fast";
    } else if (kernels === "fast") {
      throw new DarlError(`--kernels fast: no fast kernels are available for --backend ${device}`);
    }
  } else if (kernels === "fast" && device === "wasm") {
    throw new DarlError(`--kernels fast: darl's fast CPU kernels run as --backend cpu (tfjs-wasm is stock only)`);
  }
  await activate(name, backend === "auto" ? "--backend auto" : `--backend ${backend}`);
  if (device !== "webgpu") adapter = cpuDescription();
  const info: BackendInfo = { backend: name, device, kernels: kind, adapter };
  if (reason) info.reason = reason;
  return info;
}

/**
 * One line describing the backend, printed by every task.
 *
 * @param info From {@linkcode selectBackend}.
 * @returns e.g. `backend: darl-cpu (cpu, fast kernels) on AMD EPYC (2 hardware threads)`.
 *
 * @example
 * ```ts
 * import { describeBackend, selectBackend } from "./backend.ts";
 * const line = describeBackend(await selectBackend("cpu", "stock"));
 * if (!line.startsWith("backend: cpu (cpu, stock kernels) on ")) throw new Error(line);
 * ```
 */
export function describeBackend(info: BackendInfo): string {
  const why = info.reason ? ` — auto: ${info.reason}` : "";
  return `backend: ${info.backend} (${info.device}, ${info.kernels} kernels) on ${info.adapter}${why}`;
}
