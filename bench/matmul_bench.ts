/**
 * Matrix-product throughput per backend: darl's real shapes (tiny model,
 * batch 32: 1568 tokens) in every transpose form backprop uses, and square
 * 1024² and 4096² products, and darl-cpu's multiply-add ceiling (no memory
 * traffic) that its products' rates compare with. Rates (GFLOP/s) are in
 * `deno task bench:report`.
 */
import { tf } from "../src/tf.ts";
import type { DarlCpuBackend } from "../src/kernels/cpu/backend.ts";
import {
  type BenchBackend,
  benchBackends,
  benchCase,
  FMA_PEAK_ITERS,
  fmaPeakFlops,
  softwareGpu,
  sync,
  useBackend,
} from "./_harness.ts";

type Shape = { name: string; a: number[]; b: number[]; tA: boolean; tB: boolean };
const N = 1568; // 32 images × 49 tokens
const shapes: Shape[] = [
  { name: "qkv fwd 1568×128·128×384", a: [N, 128], b: [128, 384], tA: false, tB: false },
  { name: "mlp fwd 1568×128·128×512", a: [N, 128], b: [128, 512], tA: false, tB: false },
  { name: "mlp fwd 1568×512·512×128", a: [N, 512], b: [512, 128], tA: false, tB: false },
  { name: "dX 1568×512·(128×512)ᵀ", a: [N, 512], b: [128, 512], tA: false, tB: true },
  { name: "dW (1568×128)ᵀ·1568×512", a: [N, 128], b: [N, 512], tA: true, tB: false },
  { name: "square 1024²", a: [1024, 1024], b: [1024, 1024], tA: false, tB: false },
  { name: "square 1024² AᵀB", a: [1024, 1024], b: [1024, 1024], tA: true, tB: false },
  { name: "square 4096²", a: [4096, 4096], b: [4096, 4096], tA: false, tB: false },
];

function flopsOf(s: Shape): number {
  const M = s.tA ? s.a[1]! : s.a[0]!, K = s.tA ? s.a[0]! : s.a[1]!, Nn = s.tB ? s.b[0]! : s.b[1]!;
  return 2 * M * K * Nn;
}

// 4096² on tfjs's JS CPU backend, and on WebGPU through a software adapter
// (llvmpipe: ~0.7 GFLOP/s, over 3 minutes per product), is left out.
const onSoftwareGpu = await softwareGpu();
function skipReason(s: Shape, b: BenchBackend): string | undefined {
  if (s.name.includes("4096") && b === "cpu") return "stock tfjs-cpu needs minutes per 4096² product";
  if (s.name.includes("4096") && b.endsWith("webgpu") && onSoftwareGpu) {
    return "a software WebGPU adapter needs minutes per 4096² product";
  }
  return undefined;
}

// The ceiling darl-cpu's products run under on this machine: multiply-adds alone, every thread, no memory traffic.
benchCase({
  group: "FMA ceiling: 12 chains per thread, no memory",
  runner: "darl-cpu",
  flops: fmaPeakFlops(navigator.hardwareConcurrency, FMA_PEAK_ITERS),
  n: 10,
  warmup: 3,
  async setup() {
    await useBackend("darl-cpu");
    const be = tf.backend() as DarlCpuBackend;
    if (be.rt.threads !== navigator.hardwareConcurrency) throw new Error("unset DARL_THREADS for this case");
    return () => {
      be.fmaPeak(FMA_PEAK_ITERS);
      return Promise.resolve();
    };
  },
});

for (const backend of await benchBackends()) {
  for (const s of shapes) {
    const big = s.name.includes("4096");
    const slow = backend === "cpu" || backend === "webgpu" || (big && backend !== "darl-cpu");
    benchCase({
      group: `matmul ${s.name}`,
      runner: backend,
      flops: flopsOf(s),
      n: big ? 2 : slow ? 3 : 10,
      warmup: 1,
      skip: skipReason(s, backend),
      async setup() {
        await useBackend(backend);
        const fill = (shape: number[], k: number) =>
          tf.tensor(Float32Array.from({ length: shape[0]! * shape[1]! }, (_, i) => Math.sin(i * 0.37 + k)), shape);
        const a = fill(s.a, 1), b = fill(s.b, 2);
        return async () => {
          await useBackend(backend);
          const y = tf.matMul(a, b, s.tA, s.tB);
          await sync(y);
          y.dispose();
        };
      },
    });
  }
}
