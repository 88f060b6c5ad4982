/**
 * The runtime of darl's CPU kernels: one shared WebAssembly memory, the
 * kernels module instantiated on the main thread and on N − 1 worker
 * threads, a task dispatcher, and an allocator for tensor storage.
 *
 * A kernel call writes its arguments into a small block of the shared
 * memory, bumps a generation counter, and runs its own share on the main
 * thread; workers (parked in `worker_loop`, inside WebAssembly) run theirs
 * and count themselves done. Calls are synchronous, as tfjs kernels must be.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { decodeBase64 } from "./base64.ts";
import { KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";

/** Task ids of `run_task` in kernels.c. */
export const FN = {
  GEMM: 1,
  LN_FWD: 2,
  LN_BWD: 3,
  REDUCE: 4,
  COLSUM: 5,
  ROWSUM: 6,
  BIAS_GELU_FWD: 7,
  BIAS_GELU_BWD: 8,
  ATTN_FWD: 9,
  ATTN_BWD: 10,
  ADAMW: 11,
  SUMSQ: 12,
  BINARY: 13,
  GEMM_PACK_B: 14,
  FMA_PEAK: 15,
} as const;

interface KernelExports {
  run_task(fn: number, args: number, tid: number, nt: number): void;
  gemm_scratch_floats(): number;
  work_counter(): number;
  gemm_packed_b_floats(N: number, K: number, items: number): number;
  struct_sizes(which: number): number;
  __heap_base: WebAssembly.Global;
  __stack_pointer: WebAssembly.Global;
}

const PAGE = 65536;
const ALIGN = 64;
const WORKER_STACK = 1 << 20;

/** A bump allocator with exact-size free lists over the shared memory, coalesced before it grows. */
export interface Heap {
  /** Allocates `bytes` (64-byte aligned) and returns the address. */
  alloc(bytes: number): number;
  /** Returns a block from {@linkcode Heap.alloc}. */
  free(ptr: number, bytes: number): void;
  /** Bytes in use and the high-water mark. */
  stats(): { inUse: number; top: number };
}

/**
 * A heap over `memory`, starting at `base`.
 *
 * @param memory The (shared) memory; it grows on demand up to its maximum.
 * @param base First usable byte.
 * @returns The heap.
 * @example
 * ```ts
 * import { createHeap } from "./runtime.ts";
 * const heap = createHeap(new WebAssembly.Memory({ initial: 1, maximum: 1 }), 0);
 * const a = heap.alloc(16384), b = heap.alloc(16384);
 * heap.alloc(24576);
 * heap.free(a, 16384);
 * heap.free(b, 16384);
 * if (heap.alloc(32768) !== a) throw new Error(); // the two freed neighbours, merged
 * ```
 */
export function createHeap(memory: WebAssembly.Memory, base: number): Heap {
  let top = Math.ceil(base / ALIGN) * ALIGN;
  let inUse = 0;
  const freeLists = new Map<number, number[]>();
  const round = (bytes: number) => Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const pushFree = (ptr: number, size: number) => {
    let list = freeLists.get(size);
    if (!list) freeLists.set(size, list = []);
    list.push(ptr);
  };
  const coalesce = () => {
    const blocks: [number, number][] = [];
    for (const [s, l] of freeLists) for (const p of l) blocks.push([p, s]);
    blocks.sort((a, b) => a[0] - b[0]);
    freeLists.clear();
    const merged: [number, number][] = [];
    for (const [p, s] of blocks) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === p) last[1] += s;
      else merged.push([p, s]);
    }
    const last = merged[merged.length - 1];
    if (last && last[0] + last[1] === top) {
      top = last[0];
      merged.pop();
    }
    for (const [p, s] of merged) pushFree(p, s);
  };
  return {
    alloc(bytes: number): number {
      const size = round(bytes);
      inUse += size;
      const list = freeLists.get(size);
      if (list && list.length) return list.pop()!;
      if (top + size > memory.buffer.byteLength) {
        // Before growing: merge adjacent free blocks (workloads with many tensor sizes, such as convolutions at
        // several resolutions, otherwise strand memory in lists no request matches) and split the smallest that fits.
        coalesce();
        let best = -1;
        for (const [s, l] of freeLists) if (s >= size && l.length && (best < 0 || s < best)) best = s;
        if (best >= 0) {
          const p = freeLists.get(best)!.pop()!;
          if (best > size) pushFree(p + size, best - size);
          return p;
        }
      }
      if (top + size > memory.buffer.byteLength) {
        const need = top + size - memory.buffer.byteLength;
        const pages = Math.max(Math.ceil(need / PAGE), Math.ceil(memory.buffer.byteLength / PAGE / 4));
        try {
          memory.grow(Math.min(pages, 65536 - memory.buffer.byteLength / PAGE));
        } catch {
          throw new RangeError(`darl-cpu: out of WebAssembly memory (asked for ${size} bytes, ${top} in use)`);
        }
        if (top + size > memory.buffer.byteLength) {
          throw new RangeError(`darl-cpu: out of WebAssembly memory (asked for ${size} bytes, ${top} in use)`);
        }
      }
      const p = top;
      top += size;
      return p;
    },
    free(ptr: number, bytes: number): void {
      const size = round(bytes);
      inUse -= size;
      pushFree(ptr, size);
    },
    stats: () => ({ inUse, top }),
  };
}

/** The kernels' runtime; see the module documentation. */
export interface Runtime {
  /** The shared memory. */
  memory: WebAssembly.Memory;
  /** Threads that run each task (main thread included). */
  threads: number;
  /** Tensor storage. */
  heap: Heap;
  /** Floats of GEMM scratch each thread needs. */
  gemmScratchFloats: number;
  /** Floats needed to hold op(B) packed, for an N×K operand and `items` batch items. */
  packedBFloats(N: number, K: number, items: number): number;
  /** Runs task `fn` with arguments at `args` on all threads (or only this one). */
  run(fn: number, args: number, parallel?: boolean): void;
  /** A block of `words` 32-bit argument slots, reused by every call. */
  args(words: number): { ptr: number; i32: Int32Array; f32: Float32Array };
  /** Per-thread scratch of at least `floats` floats each; returns its base address. */
  scratch(floats: number): number;
  /** Stops the worker threads. */
  close(): void;
}

/**
 * Starts the runtime: compiles the module, creates the shared memory, and
 * starts `threads − 1` workers.
 *
 * @param threads Threads to use (default: `navigator.hardwareConcurrency`,
 *   or the `DARL_THREADS` environment variable).
 * @param opts `workerStartDelayMs`: each worker sleeps this long between
 *   reporting ready and parking (0 by default). Tests use it to publish a task
 *   in that window, where a worker once missed its first task.
 * @returns The runtime.
 */
export async function createRuntime(threads?: number, opts: { workerStartDelayMs?: number } = {}): Promise<Runtime> {
  const envThreads = Number(Deno.env.get("DARL_THREADS") ?? "");
  const nt = Math.max(1, Math.min(64, threads ?? (envThreads > 0 ? envThreads : navigator.hardwareConcurrency ?? 1)));
  const module = await WebAssembly.compile(decodeBase64(KERNELS_WASM_BASE64) as Uint8Array<ArrayBuffer>);
  const memory = new WebAssembly.Memory({ initial: 512, maximum: 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const ex = instance.exports as unknown as KernelExports;
  const heap = createHeap(memory, ex.__heap_base.value as number);
  const ctlPtr = heap.alloc(64);
  const argsPtr = heap.alloc(4096);
  const ctl = () => new Int32Array(memory.buffer, ctlPtr, 16);
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  for (let tid = 1; tid < nt; tid++) {
    const stackTop = heap.alloc(WORKER_STACK) + WORKER_STACK;
    const w = new Worker(new URL("./worker.ts", import.meta.url), {
      workerData: { module, memory, ctl: ctlPtr, tid, stackTop, startDelayMs: opts.workerStartDelayMs ?? 0 },
    });
    ready.push(
      new Promise((resolve, reject) => {
        w.once("message", () => resolve());
        w.once("error", (e) => reject(e));
      }),
    );
    workers.push(w);
  }
  await Promise.all(ready);
  // Parked workers must not keep the process alive.
  for (const w of workers) w.unref();
  let scratchPtr = 0, scratchFloats = 0;
  const gemmScratchFloats = ex.gemm_scratch_floats();
  // Tasks claim work items from this counter; workers are parked while the
  // host resets it, and the generation bump below publishes the reset.
  const workCounter = ex.work_counter();
  return {
    memory,
    threads: nt,
    heap,
    gemmScratchFloats,
    packedBFloats: (N: number, K: number, items: number) => ex.gemm_packed_b_floats(N, K, items),
    run(fn: number, args: number, parallel = true): void {
      new Int32Array(memory.buffer, workCounter, 1)[0] = 0;
      if (nt === 1 || !parallel) return ex.run_task(fn, args, 0, 1);
      const c = ctl();
      c[1] = fn;
      c[2] = args;
      c[4] = nt;
      Atomics.store(c, 3, 0);
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      ex.run_task(fn, args, 0, nt);
      for (let spin = 0; Atomics.load(c, 3) < nt - 1; spin++) {
        if (spin > 200) {
          const done = Atomics.load(c, 3);
          if (done < nt - 1) Atomics.wait(c, 3, done, 1000);
        }
      }
    },
    args(words: number) {
      if (words > 1024) throw new RangeError(`darl-cpu: ${words} argument words exceed the 1024-word block`);
      return {
        ptr: argsPtr,
        i32: new Int32Array(memory.buffer, argsPtr, words),
        f32: new Float32Array(memory.buffer, argsPtr, words),
      };
    },
    scratch(floats: number): number {
      if (floats > scratchFloats) {
        if (scratchPtr) heap.free(scratchPtr, scratchFloats * 4 * nt);
        scratchFloats = floats;
        scratchPtr = heap.alloc(scratchFloats * 4 * nt);
      }
      return scratchPtr;
    },
    close(): void {
      const c = ctl();
      c[5] = 1;
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      for (const w of workers) w.terminate();
    },
  };
}
