import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useCpu } from "../test_util.ts";
import { applyRope, ropeTables, rotateHalf, type TokenPosition } from "./rope.ts";

function rotate(x: Float32Array, pos: TokenPosition[], dh: number, kind: "rope2d" | "rope1d", base = 10000) {
  const t = ropeTables(pos, dh, kind, base);
  return tf.tidy(() =>
    applyRope(
      tf.tensor2d(x, [pos.length, dh]),
      tf.tensor2d(t.cos, [pos.length, dh]),
      tf.tensor2d(t.sin, [pos.length, dh]),
      t.segment,
    )
      .dataSync()
  );
}

function randn(n: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal([n], 0, 1, "float32", seed).dataSync() as Float32Array);
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, i: number, j: number, d: number) => {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[i * d + k]! * b[j * d + k]!;
  return s;
};

Deno.test("ropeTables() + applyRope() preserve the norm of every token", async () => {
  await useCpu();
  for (const kind of ["rope2d", "rope1d"] as const) {
    const dh = 16,
      pos: TokenPosition[] = [null, { row: 0, col: 0, index: 1 }, { row: 3, col: 5, index: 2 }, {
        row: 6,
        col: 1,
        index: 3,
      }];
    const x = randn(pos.length * dh, 1);
    const y = rotate(x, pos, dh, kind);
    for (let t = 0; t < pos.length; t++) {
      assert.ok(Math.abs(Math.sqrt(dot(x, x, t, t, dh)) - Math.sqrt(dot(y, y, t, t, dh))) < 1e-4);
    }
    // The start-of-sequence token is not rotated at all.
    for (let k = 0; k < dh; k++) assert.ok(Math.abs(y[k]! - x[k]!) < 1e-6);
  }
});

Deno.test("2D RoPE: q·k depends only on the relative (row, col) offset", async () => {
  await useCpu();
  const dh = 16;
  const q = randn(dh, 2), k = randn(dh, 3);
  const score = (pq: [number, number], pk: [number, number]) => {
    const pos: TokenPosition[] = [{ row: pq[0], col: pq[1], index: 0 }, { row: pk[0], col: pk[1], index: 0 }];
    const x = new Float32Array(2 * dh);
    x.set(q, 0);
    x.set(k, dh);
    const y = rotate(x, pos, dh, "rope2d");
    return dot(y, y, 0, 1, dh);
  };
  const ref = score([2, 3], [0, 1]);
  assert.ok(Math.abs(score([5, 6], [3, 4]) - ref) < 1e-4);
  assert.ok(Math.abs(score([6, 4], [4, 2]) - ref) < 1e-4);
  // A different offset gives a different score, and rows and columns are distinct axes.
  assert.ok(Math.abs(score([2, 3], [1, 1]) - ref) > 1e-3);
  assert.ok(Math.abs(score([3, 1], [1, 0]) - score([1, 2], [0, 0])) > 1e-3);
});

Deno.test("1D RoPE: q·k depends only on the index offset", async () => {
  await useCpu();
  const dh = 8, q = randn(dh, 4), k = randn(dh, 5);
  const score = (i: number, j: number) => {
    const x = new Float32Array(2 * dh);
    x.set(q, 0);
    x.set(k, dh);
    const y = rotate(x, [{ row: 0, col: 0, index: i }, { row: 0, col: 0, index: j }], dh, "rope1d");
    return dot(y, y, 0, 1, dh);
  };
  assert.ok(Math.abs(score(7, 3) - score(11, 7)) < 1e-4);
  assert.ok(Math.abs(score(7, 3) - score(7, 4)) > 1e-3);
});

Deno.test("ropeTables() uses the axial split: first half by row, second by column", () => {
  const dh = 8, base = 100;
  const t = ropeTables([{ row: 2, col: 5, index: 0 }], dh, "rope2d", base);
  // ω_i = base^(−4i/d_h) for i < d_h/4; channel j and j + segment/2 share an angle.
  for (let i = 0; i < 2; i++) {
    const w = Math.pow(base, (-4 * i) / dh);
    assert.ok(Math.abs(t.cos[i]! - Math.cos(2 * w)) < 1e-6);
    assert.ok(Math.abs(t.cos[i + 2]! - Math.cos(2 * w)) < 1e-6);
    assert.ok(Math.abs(t.sin[4 + i]! - Math.sin(5 * w)) < 1e-6);
    assert.ok(Math.abs(t.sin[6 + i]! - Math.sin(5 * w)) < 1e-6);
  }
});

Deno.test("rotateHalf() rotates within each segment", async () => {
  await useCpu();
  const r = rotateHalf(tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]]), 4).dataSync();
  assert.deepEqual([...r], [-3, -4, 1, 2, -7, -8, 5, 6]);
});
