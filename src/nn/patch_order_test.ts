import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useCpu } from "../test_util.ts";
import { inverseOrder, PATCH_ORDERS, patchOrder } from "./patch_order.ts";
import { patchify, unpatchify } from "./patchify.ts";

Deno.test("patchOrder(): raster is the identity, nested visits 2×2 blocks in raster order", () => {
  assert.deepEqual([...patchOrder("raster", 2, 3)], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...patchOrder("nested", 4, 4)], [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  // An odd side cuts the last blocks: 2×2, 2×1, 1×2, 1×1.
  assert.deepEqual([...patchOrder("nested", 3, 3)], [0, 1, 3, 4, 2, 5, 6, 7, 8]);
  assert.deepEqual([...patchOrder("nested", 1, 3)], [0, 1, 2]);
  assert.throws(() => patchOrder("spiral" as never, 2, 2), /unknown order "spiral"/);
});

Deno.test("patchOrder() is a permutation for every grid, and inverseOrder() undoes it", () => {
  for (const order of PATCH_ORDERS) {
    for (let h = 1; h <= 7; h++) {
      for (let w = 1; w <= 7; w++) {
        const perm = patchOrder(order, h, w), inv = inverseOrder(perm);
        assert.deepEqual([...perm].sort((a, b) => a - b), [...Array(h * w).keys()], `${order} ${h}×${w}`);
        perm.forEach((r, t) => assert.equal(inv[r], t));
      }
    }
  }
});

Deno.test("patchify() in nested order reorders the raster patches, and unpatchify() puts them back", async () => {
  await useCpu();
  const x = tf.randomUniform([2, 8, 16, 3], -1, 1, "float32", 3); // a 2×4 grid of 4×4 patches
  const raster = await patchify(x, 4).data(), nested = patchify(x, 4, "nested");
  assert.deepEqual(nested.shape, [2, 8, 48]);
  const n = await nested.data(), perm = patchOrder("nested", 2, 4);
  assert.deepEqual([...perm], [0, 1, 4, 5, 2, 3, 6, 7]);
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < 8; t++) {
      const at = (b * 8 + t) * 48, from = (b * 8 + perm[t]!) * 48;
      assert.deepEqual(n.subarray(at, at + 48), raster.subarray(from, from + 48), `image ${b}, token ${t}`);
    }
  }
  const back = unpatchify(nested, 4, 2, 4, "nested");
  assert.deepEqual(await back.data(), await x.data());
  tf.dispose([x, nested, back]);
});
