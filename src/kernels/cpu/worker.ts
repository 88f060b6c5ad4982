/**
 * A worker thread of the CPU kernels' runtime: instantiates the kernels
 * module on the shared memory with its own stack, reports ready, then parks
 * in `worker_loop` (inside WebAssembly) and runs tasks until stopped.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";

const { module, memory, ctl, tid, stackTop, startDelayMs } = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctl: number;
  tid: number;
  stackTop: number;
  startDelayMs: number;
};
const instance = await WebAssembly.instantiate(module, { env: { memory } });
const ex = instance.exports as unknown as {
  __stack_pointer: WebAssembly.Global;
  worker_loop(ctl: number, tid: number, seen: number): void;
};
ex.__stack_pointer.value = stackTop;
// The generation is read before reporting ready: the host may publish a task
// the moment it hears, and the loop must count that one as new.
const seen = Atomics.load(new Int32Array(memory.buffer, ctl, 1), 0);
parentPort!.postMessage("ready");
if (startDelayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, startDelayMs);
ex.worker_loop(ctl, tid, seen);
