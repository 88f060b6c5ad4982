/**
 * A worker thread of the CPU kernels' runtime: instantiates the kernels
 * module on the shared memory with its own stack, reports ready, then parks
 * in `worker_loop` (inside WebAssembly) and runs tasks until stopped.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";

const { module, memory, ctl, tid, stackTop } = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctl: number;
  tid: number;
  stackTop: number;
};
const instance = await WebAssembly.instantiate(module, { env: { memory } });
const ex = instance.exports as unknown as {
  __stack_pointer: WebAssembly.Global;
  worker_loop(ctl: number, tid: number): void;
};
ex.__stack_pointer.value = stackTop;
parentPort!.postMessage("ready");
ex.worker_loop(ctl, tid);
