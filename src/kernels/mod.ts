/**
 * darl's fast kernels. Importing this module registers them with the backend
 * chooser, so `--kernels fast` (and `auto`) can select `darl-cpu` (and
 * `darl-webgpu`, where implemented).
 *
 * @module
 */
import { provideFastBackend } from "../backend.ts";
import { registerDarlCpu } from "./cpu/backend.ts";

provideFastBackend("cpu", registerDarlCpu);

export { DARL_CPU, DarlCpuBackend, registerDarlCpu } from "./cpu/backend.ts";
export { registerFusedGradients } from "./grads.ts";
