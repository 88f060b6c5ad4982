/**
 * darl's fused ops against their stock compositions, at the tiny model's
 * shapes (batch 32): attention forward + backward with 2D RoPE, layer norm
 * forward + backward, bias + GELU forward + backward, and one AdamW update of
 * all the model's parameters.
 */
import { tf } from "../src/tf.ts";
import { darlConfig } from "../src/darl/config.ts";
import { initDarl, ropeFor } from "../src/darl/model.ts";
import { attention } from "../src/nn/attention.ts";
import { layerNorm } from "../src/nn/layer_norm.ts";
import { biasGelu } from "../src/nn/mlp.ts";
import { namedLeaves } from "../src/nn/tree.ts";
import { adamwUpdate, initAdamW } from "../src/train/optim.ts";
import { type BenchBackend, benchBackends, benchCase, sync, useBackend } from "./_harness.ts";

const cfg = darlConfig("tiny");
const [B, T, d] = [32, 49, 128];
const fill = (shape: number[], k: number) =>
  tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.37 + k)), shape);

function fwdBwd(
  group: string,
  backend: BenchBackend,
  make: () => { x: tf.Tensor; f: (x: tf.Tensor) => tf.Tensor },
  flops?: number,
) {
  benchCase({
    group,
    runner: backend,
    ...(flops ? { flops } : {}),
    n: backend === "cpu" || backend === "webgpu" ? 3 : 10,
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const { x, f } = make();
      const w = fill(f(x).shape, 9);
      return async () => {
        await useBackend(backend);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);
        await sync(g);
        g.dispose();
      };
    },
  });
}

for (const backend of await benchBackends()) {
  // 4 products of 2·T²·dh per head, forward and backward (~3×): 128 heads.
  fwdBwd("attention fwd+bwd B32 T49 H4 dh32 rope2d causal", backend, () => {
    const rope = ropeFor(cfg, T)!;
    tf.keep(rope.cos);
    tf.keep(rope.sin);
    return { x: fill([B, T, 3 * d], 1), f: (q) => attention(q, 4, rope, true) };
  }, 3 * 2 * 2 * B * 4 * T * T * 32);
  fwdBwd("layerNorm fwd+bwd 1568×128", backend, () => {
    const p = { g: fill([d], 2), b: fill([d], 3) };
    return { x: fill([B, T, d], 4), f: (x) => layerNorm(p, x) };
  });
  fwdBwd("bias+GELU fwd+bwd 1568×512", backend, () => {
    const b = fill([4 * d], 5);
    return { x: fill([B, T, 4 * d], 6), f: (x) => biasGelu(x, b) };
  });
  benchCase({
    group: "AdamW update, all 0.8M parameters of the tiny model",
    runner: backend,
    n: backend === "cpu" || backend === "webgpu" ? 3 : 10,
    warmup: 1,
    async setup() {
      await useBackend(backend);
      const vars = namedLeaves(initDarl(cfg, 0) as never).map(([, t]) => t as tf.Variable);
      const grads = vars.map((v, i) => fill(v.shape, i));
      const state = initAdamW(vars);
      const mask = vars.map((v) => v.rank >= 2);
      const scale = tf.scalar(0.5);
      return async () => {
        await useBackend(backend);
        adamwUpdate(vars, grads, state, 1e-4, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 }, mask, scale);
        await sync(vars[vars.length - 1]!);
      };
    },
  });
}
