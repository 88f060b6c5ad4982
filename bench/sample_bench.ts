/**
 * Generation speed (patches/s) of the tiny DARL model, 16 images of 49
 * patches: a diffusion model (100 DDPM steps per patch) and an MSE model,
 * each with and without the key/value cache.
 */
import { tf } from "../src/tf.ts";
import { darlConfig } from "../src/darl/config.ts";
import { initDarl } from "../src/darl/model.ts";
import { SAMPLE_DEFAULTS, sampleDarl } from "../src/darl/sample.ts";
import { type BenchBackend, benchBackends, benchCase, softwareGpu, useBackend } from "./_harness.ts";

const COUNT = 16, T = 49;
const onSoftwareGpu = await softwareGpu();
for (
  const backend of (await benchBackends()).filter((b): b is BenchBackend => b === "darl-cpu" || b === "darl-webgpu")
) {
  for (const objective of ["diffusion", "mse"] as const) {
    for (const useCache of [true, false]) {
      benchCase({
        group: `sample 16 images, ${objective}${objective === "diffusion" ? " (100 DDPM steps/patch)" : ""}`,
        runner: `${backend} ${useCache ? "with cache" : "no cache"}`,
        patches: COUNT * T,
        n: backend === "darl-cpu" ? 3 : 1,
        warmup: 1,
        // 4,900 sequential decoder steps of ~100 tiny dispatches each take many minutes on a software adapter.
        ...(backend === "darl-webgpu" && objective === "diffusion" && onSoftwareGpu
          ? { skip: "diffusion sampling on a software WebGPU adapter takes many minutes" }
          : {}),
        async setup() {
          await useBackend(backend);
          const cfg = darlConfig("tiny", { objective, target: "global" });
          const params = initDarl(cfg, 0);
          return async () => {
            await useBackend(backend);
            const imgs = await sampleDarl(params, cfg, { ...SAMPLE_DEFAULTS, count: COUNT, useCache });
            tf.dispose(imgs);
          };
        },
      });
    }
  }
}
