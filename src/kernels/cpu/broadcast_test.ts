import { deepEqual as assertEquals } from "node:assert/strict";
import { BINARY_OPS, broadcastBinary, broadcastPlan } from "./broadcast.ts";

// Reference: index every output element through both operands' broadcast coordinates.
function reference(
  op: (a: number, b: number) => number,
  a: Float32Array,
  as: number[],
  b: Float32Array,
  bs: number[],
  out: number[],
) {
  const y = new Float32Array(out.reduce((p, d) => p * d, 1));
  const at = (v: Float32Array, shape: number[], coord: number[]) => {
    const pad = [...new Array(out.length - shape.length).fill(1), ...shape];
    let i = 0;
    for (let d = 0; d < out.length; d++) i = i * pad[d]! + (pad[d] === 1 ? 0 : coord[d]!);
    return v[i]!;
  };
  for (let i = 0; i < y.length; i++) {
    const coord: number[] = [];
    for (let d = out.length - 1, r = i; d >= 0; d--) coord[d] = r % out[d]!, r = Math.floor(r / out[d]!);
    y[i] = op(at(a, as, coord), at(b, bs, coord));
  }
  return y;
}

Deno.test("broadcastPlan collapses contiguous axes and keeps crossed broadcasts apart", () => {
  assertEquals(broadcastPlan([6, 5, 7], [6, 5, 7], [6, 5, 7]), { dims: [210], strideA: [1], strideB: [1] });
  assertEquals(broadcastPlan([6, 5, 7], [], [6, 5, 7]), { dims: [210], strideA: [1], strideB: [0] });
  assertEquals(broadcastPlan([6, 5, 7], [7], [6, 5, 7]), { dims: [30, 7], strideA: [7, 1], strideB: [0, 1] });
  assertEquals(broadcastPlan([6, 5, 1], [5, 7], [6, 5, 7]), {
    dims: [6, 5, 7],
    strideA: [5, 1, 0],
    strideB: [0, 7, 1],
  });
  assertEquals(broadcastPlan([], [], []), { dims: [], strideA: [], strideB: [] });
});

Deno.test("broadcastBinary matches per-element indexing for every op and shape pair", () => {
  const fns = [
    (a: number, b: number) => a + b,
    (a: number, b: number) => a - b,
    (a: number, b: number) => a * b,
    (a: number, b: number) => a / b,
    (a: number, b: number) => (a - b) * (a - b),
    (a: number, b: number) => (a > b ? a : b),
    (a: number, b: number) => (a < b ? a : b),
  ];
  const pairs: [number[], number[], number[]][] = [
    [[3, 4, 5], [3, 4, 5], [3, 4, 5]],
    [[3, 4, 5], [], [3, 4, 5]],
    [[], [3, 4, 5], [3, 4, 5]],
    [[3, 4, 1], [3, 4, 5], [3, 4, 5]],
    [[3, 1, 5], [4, 1], [3, 4, 5]],
    [[2, 1, 3, 1], [4, 1, 5], [2, 4, 3, 5]],
    [[1, 1], [1], [1, 1]],
    [[0, 3], [3], [0, 3]],
  ];
  const fill = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s) * 3 + 0.1);
  for (const [op, name] of BINARY_OPS.entries()) {
    for (const [as, bs, out] of pairs) {
      const a = fill(as.reduce((p, d) => p * d, 1), 1), b = fill(bs.reduce((p, d) => p * d, 1), 2);
      const y = new Float32Array(out.reduce((p, d) => p * d, 1));
      broadcastBinary(op, a, b, y, broadcastPlan(as, bs, out));
      assertEquals([...y], [...reference(fns[op]!, a, as, b, bs, out)], `${name} ${as} with ${bs}`);
    }
  }
});
