/**
 * Gradients of darl's fused ops. They are backend-independent: each calls a
 * `…Grad` kernel that every fast backend (darl-cpu, darl-webgpu) implements.
 *
 * @module
 */
import { tf } from "../tf.ts";

let registered = false;

/**
 * Registers the gradients of `DarlLayerNorm`, `DarlBiasGelu`, `DarlAttention`,
 * `DarlGroupNorm` and `DarlIm2col` (once).
 */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: "DarlLayerNorm",
    inputsToSave: ["x", "g"],
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => {
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [x, g, stats] = saved as tf.Tensor[];
      const [dx, dg, db] = tf.engine().runKernel(
        "DarlLayerNormGrad",
        { x: x!, g: g!, dy, stats: stats! },
        {},
      ) as tf.Tensor[];
      return { x: () => dx!, g: () => dg!, b: () => db! };
    },
  });
  tf.registerGradient({
    kernelName: "DarlBiasGelu",
    inputsToSave: ["x", "b"],
    gradFunc: (dy, saved) => {
      const [x, b] = saved as tf.Tensor[];
      const [dx, db] = tf.engine().runKernel(
        "DarlBiasGeluGrad",
        { x: x!, b: b!, dy: dy as tf.Tensor },
        {},
      ) as tf.Tensor[];
      return { x: () => dx!, b: () => db! };
    },
  });
  tf.registerGradient({
    kernelName: "DarlGroupNorm",
    inputsToSave: ["x", "g", "b"],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [x, g, b, stats] = saved as tf.Tensor[];
      const [dx, dg, db] = tf.engine().runKernel(
        "DarlGroupNormGrad",
        { x: x!, g: g!, b: b!, stats: stats!, dy },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      return { x: () => dx!, g: () => dg!, b: () => db! };
    },
  });
  tf.registerGradient({
    kernelName: "DarlIm2col",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const { kh, kw } = attrs as unknown as { kh: number; kw: number };
      return {
        x: () => tf.engine().runKernel("DarlCol2im", { dy: dy as tf.Tensor }, { kh, kw, shape: x!.shape }) as tf.Tensor,
      };
    },
  });
  tf.registerGradient({
    kernelName: "DarlAttention",
    inputsToSave: ["qkv", "cos", "sin"],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const dout = Array.isArray(dys) ? dys[0]! : dys;
      const [qkv, cos, sin, lse] = saved as tf.Tensor[];
      const dqkv = tf.engine().runKernel(
        "DarlAttentionGrad",
        { qkv: qkv!, cos: cos!, sin: sin!, lse: lse!, dout },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
      return { qkv: () => dqkv, cos: () => tf.zerosLike(cos!), sin: () => tf.zerosLike(sin!) };
    },
  });
}
