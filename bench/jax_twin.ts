/**
 * The tiny DARL training step written in jax-js (`npm:@jax-js/jax`), as a
 * benchmark peer only: same architecture (patch embedding, SOS, axial 2D RoPE,
 * pre-LN causal blocks with GELU MLPs, final LN, LN + linear head), same
 * per-patch-normalised MSE and an Adam update, compiled with `jit` on jax-js's
 * multi-threaded WebAssembly device.
 *
 * @module
 */
import { defaultDevice, init, jit, nn, numpy as np, valueAndGrad } from "@jax-js/jax";
import { ropeTables, rotationMatrix } from "../src/nn/rope.ts";
import { tokenPositions } from "../src/darl/model.ts";
import { createRng } from "../src/rng.ts";

/** Shape of the twin (the reference step). */
export interface TwinConfig {
  /** Batch. */
  batch: number;
  /** Token width. */
  dim: number;
  /** Blocks. */
  depth: number;
  /** Heads. */
  heads: number;
  /** Image side (square, grey). */
  image: number;
  /** Patch side. */
  patch: number;
}

type Arr = np.Array;

/** A compiled jax-js training step and its state. */
export interface JaxTwin {
  /** Runs one step (loss, gradients, Adam) and waits for it; returns the loss. */
  step(): Promise<number>;
}

/**
 * Builds the twin: parameters, constant tables, a fixed batch, and the jitted
 * loss-and-gradient and update functions.
 *
 * @param cfg The shape.
 * @returns The twin.
 */
export async function createJaxTwin(cfg: TwinConfig): Promise<JaxTwin> {
  const devices = await init();
  if (!devices.includes("wasm")) throw new Error("jax-js: no wasm device");
  defaultDevice("wasm");
  const { batch: B, dim: d, depth, heads: H, image, patch: P } = cfg;
  const g = image / P, T = g * g, pd = P * P, dh = d / H, hidden = 4 * d;
  const rng = createRng(0);
  const randn = (shape: number[], std: number) =>
    np.array(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal() * std)).reshape(shape);
  const shapes: number[][] = [[pd, d], [d], [d]];
  for (let l = 0; l < depth; l++) {
    shapes.push([d], [d], [d, 3 * d], [3 * d], [d, d], [d], [d], [d], [d, hidden], [hidden], [hidden, d], [d]);
  }
  shapes.push([d], [d], [d], [d], [d, pd], [pd]);
  // Matrices: Xavier-normal; the SOS token: N(0, 0.02²); vectors: zeros, except LayerNorm gains (ones).
  const gains = new Set<number>([shapes.length - 6, shapes.length - 4]);
  for (let l = 0; l < depth; l++) gains.add(3 + 12 * l).add(9 + 12 * l);
  let params: Arr[] = shapes.map((s, i) =>
    s.length === 2
      ? randn(s, Math.sqrt(2 / (s[0]! + s[1]!)))
      : i === 2
      ? randn(s, 0.02)
      : gains.has(i)
      ? np.ones(s)
      : np.zeros(s)
  );
  let m = shapes.map((s) => np.zeros(s)), v = shapes.map((s) => np.zeros(s));
  const tables = ropeTables(tokenPositions(g, T), dh, "rope2d", 10000);
  const consts = {
    cos: np.array(Float32Array.from(tables.cos)).reshape([T, 1, dh]),
    sin: np.array(Float32Array.from(tables.sin)).reshape([T, 1, dh]),
    rot: np.array(Float32Array.from(rotationMatrix(dh, tables.segment))).reshape([dh, dh]),
  };
  const x = np.array(Float32Array.from({ length: B * T * pd }, (_, i) => Math.sin(i * 0.01))).reshape([B, T, pd]);

  const layerNorm = (h: Arr, gain: Arr, bias: Arr): Arr => {
    const mu = h.ref.mean(-1, { keepdims: true });
    const c = h.sub(mu);
    const variance = np.square(c.ref).mean(-1, { keepdims: true });
    return c.mul(np.reciprocal(np.sqrt(variance.add(1e-5)))).mul(gain).add(bias);
  };
  const rope = (q: Arr, k: { cos: Arr; sin: Arr; rot: Arr }): Arr =>
    q.ref.mul(k.cos).add(np.matmul(q, k.rot).mul(k.sin));

  const loss = (p: Arr[], xb: Arr, k: { cos: Arr; sin: Arr; rot: Arr }): Arr => {
    let i = 0;
    const next = () => p[i++]!;
    const inputs = xb.ref.slice([], [0, T - 1]);
    const emb = np.matmul(inputs, next()).add(next());
    const sos = np.broadcastTo(next().reshape([1, 1, d]), [B, 1, d]);
    let h = np.concatenate([sos, emb], 1);
    for (let l = 0; l < depth; l++) {
      const a = layerNorm(h.ref, next(), next());
      const qkv = np.matmul(a, next()).add(next()).reshape([B, T, 3, H, dh]);
      const q = rope(qkv.ref.slice([], [], 0), { cos: k.cos.ref, sin: k.sin.ref, rot: k.rot.ref });
      const kk = rope(qkv.ref.slice([], [], 1), { cos: k.cos.ref, sin: k.sin.ref, rot: k.rot.ref });
      const vv = qkv.slice([], [], 2);
      const att = nn.dotProductAttention(q, kk, vv, { isCausal: true }).reshape([B, T, d]);
      h = h.add(np.matmul(att, next()).add(next()));
      const f = layerNorm(h.ref, next(), next());
      const u = nn.gelu(np.matmul(f, next()).add(next()), { approximate: true });
      h = h.add(np.matmul(u, next()).add(next()));
    }
    const normed = layerNorm(h, next(), next());
    const pred = np.matmul(layerNorm(normed, next(), next()), next()).add(next());
    const mu = xb.ref.mean(-1, { keepdims: true });
    const c = xb.sub(mu);
    const target = c.ref.mul(np.reciprocal(np.sqrt(np.square(c).mean(-1, { keepdims: true }).add(1e-6))));
    k.cos.dispose();
    k.sin.dispose();
    k.rot.dispose();
    return np.square(pred.sub(target)).mean();
  };
  const lossAndGrad = jit(valueAndGrad(loss));
  const adam = jit((p: Arr[], gr: Arr[], mm: Arr[], vv: Arr[], lr: Arr) => {
    const outP: Arr[] = [], outM: Arr[] = [], outV: Arr[] = [];
    p.forEach((pi, j) => {
      const gj = gr[j]!;
      const mj = mm[j]!.mul(0.9).add(gj.ref.mul(0.1));
      const vj = vv[j]!.mul(0.95).add(np.square(gj).mul(0.05));
      outP.push(pi.sub(mj.ref.mul(lr.ref).div(np.sqrt(vj.ref).add(1e-8))));
      outM.push(mj);
      outV.push(vj);
    });
    lr.dispose();
    return [outP, outM, outV] as [Arr[], Arr[], Arr[]];
  });
  return {
    async step(): Promise<number> {
      const [value, grads] = lossAndGrad(params.map((a) => a.ref), x.ref, {
        cos: consts.cos.ref,
        sin: consts.sin.ref,
        rot: consts.rot.ref,
      });
      const [p2, m2, v2] = adam(params, grads, m, v, np.array([1e-4]));
      params = p2;
      m = m2;
      v = v2;
      const out = (await value.data())[0]!;
      await params[params.length - 1]!.ref.data();
      return out;
    },
  };
}

if (import.meta.main) {
  const twin = await createJaxTwin({ batch: 32, dim: 128, depth: 4, heads: 4, image: 28, patch: 4 });
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    const l = await twin.step();
    times.push(performance.now() - t0);
    console.log(`step ${i}: loss ${l.toFixed(5)} ${times[i]!.toFixed(0)} ms`);
  }
  Deno.exit(0);
}
