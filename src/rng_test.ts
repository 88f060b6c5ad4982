import assert from "node:assert/strict";
import { createRng, mixSeed, shuffle } from "./rng.ts";

Deno.test("createRng() is deterministic and restores from its state", () => {
  const a = createRng(7), b = createRng(7);
  for (let i = 0; i < 5; i++) assert.equal(a.nextU32(), b.nextU32());
  a.normal();
  const c = createRng(a.state());
  for (let i = 0; i < 5; i++) assert.equal(a.normal(), c.normal());
  assert.notEqual(createRng(1).uniform(), createRng(2).uniform());
});

Deno.test("createRng() normal and gamma draws have the right moments", () => {
  const r = createRng(3);
  const n = 40000;
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.02);
  assert.ok(Math.abs(s2 / n - 1) < 0.03);
  for (const shape of [0.03, 0.5, 1, 3]) {
    let g = 0;
    for (let i = 0; i < n; i++) g += r.gamma(shape);
    assert.ok(Math.abs(g / n - shape) < 0.05 * Math.max(1, shape), `gamma(${shape}) mean ${g / n}`);
  }
});

Deno.test("shuffle() permutes and mixSeed() separates streams", () => {
  const p = shuffle(Array.from({ length: 50 }, (_, i) => i), createRng(0));
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(p, Array.from({ length: 50 }, (_, i) => i));
  assert.notEqual(mixSeed(0, 1), mixSeed(0, 2));
  assert.equal(mixSeed(5, 6, 7), mixSeed(5, 6, 7));
});
