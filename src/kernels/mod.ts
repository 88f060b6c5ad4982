/**
 * darl's fast kernels. Importing this module registers them with the backend
 * chooser, so `--kernels fast` (and `auto`) can select `darl-cpu` (and
 * `darl-webgpu`, where implemented).
 *
 * @module
 */
import { provideFastBackend } from "../backend.ts";
import { registerDarlCpu } from "./cpu/backend.ts";
import { registerDarlWebgpu } from "./webgpu/backend.ts";

provideFastBackend("cpu", registerDarlCpu);
provideFastBackend("webgpu", registerDarlWebgpu);

export { DARL_CPU, DarlCpuBackend, registerDarlCpu } from "./cpu/backend.ts";
export { countDispatches, DARL_WEBGPU, registerDarlWebgpu } from "./webgpu/backend.ts";
export { registerFusedGradients } from "./grads.ts";
