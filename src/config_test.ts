import assert from "node:assert/strict";
import { applyFlags, DARL_DEFAULTS, DARL_PRESETS, DARL_SCHEMA, darlConfig, validateDarlConfig } from "./config.ts";
import { DarlError } from "./errors.ts";

Deno.test("darlConfig() builds presets and applies overrides", () => {
  for (const name of Object.keys(DARL_PRESETS)) {
    const p = DARL_PRESETS[name]!;
    const cfg = darlConfig(name, { imageSize: p.patchSize * 4 });
    assert.equal(cfg.dim, p.dim);
  }
  assert.equal(darlConfig("tiny", { dim: 64, heads: 2 }).dim, 64);
  assert.throws(() => darlConfig("huge"), /--preset: unknown preset "huge"/);
});

Deno.test("validateDarlConfig() rejects inconsistent configs with the flag name", () => {
  assert.throws(
    () => validateDarlConfig({ ...DARL_DEFAULTS, patchSize: 5 }),
    /--patch-size: 5 must divide --image-size 28/,
  );
  assert.throws(() => validateDarlConfig({ ...DARL_DEFAULTS, heads: 3 }), /--heads: 3 must divide --dim 128/);
  assert.throws(
    () => validateDarlConfig({ ...DARL_DEFAULTS, dim: 24, heads: 4 }),
    /2D RoPE needs dim\/heads divisible by 4/,
  );
  assert.throws(() => validateDarlConfig({ ...DARL_DEFAULTS, depth: 0 }), DarlError);
});

Deno.test("applyFlags() parses values by the type of the default", () => {
  const cfg = applyFlags(DARL_DEFAULTS, DARL_SCHEMA, { depth: "2", "rope-base": "100", target: "global" });
  assert.equal(cfg.depth, 2);
  assert.equal(cfg.ropeBase, 100);
  assert.equal(cfg.target, "global");
  assert.throws(
    () => applyFlags(DARL_DEFAULTS, DARL_SCHEMA, { depth: "two" }),
    /--depth: expected a number, got "two"/,
  );
  assert.throws(
    () => applyFlags(DARL_DEFAULTS, DARL_SCHEMA, { "pos-encoding": "alibi" }),
    /--pos-encoding: expected one of rope2d, rope1d, learned, sincos, none, got "alibi"/,
  );
});
