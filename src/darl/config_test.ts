import assert from "node:assert/strict";
import { applyFlags } from "../config.ts";
import { DarlError } from "../errors.ts";
import {
  DARL_DEFAULTS,
  DARL_PRESETS,
  DARL_SCHEMA,
  darlConfig,
  storedDarlConfig,
  validateDarlConfig,
} from "./config.ts";

Deno.test("darlConfig() builds presets and applies overrides", () => {
  for (const name of Object.keys(DARL_PRESETS)) {
    const p = DARL_PRESETS[name]!;
    const cfg = darlConfig(name, { imageSize: p.patchSize * 4 });
    assert.equal(cfg.dim, p.dim);
  }
  assert.equal(darlConfig("tiny", { dim: 64, heads: 2 }).dim, 64);
  assert.throws(() => darlConfig("huge"), /--preset: unknown preset "huge"/);
});

Deno.test("darlConfig() applies DARL's rules: diffusion ⇒ global target, named schedules", () => {
  const d = darlConfig("tiny", { objective: "diffusion" });
  assert.equal(d.target, "global");
  assert.deepEqual([d.noiseA, d.noiseB], [0.03, 1]);
  const c = darlConfig("tiny", { objective: "diffusion", schedule: "cosine" });
  assert.deepEqual([c.noiseA, c.noiseB], [0.5, 0.5]);
  assert.throws(
    () => darlConfig("tiny", { objective: "diffusion", target: "patch" }),
    /--target patch: the diffusion objective needs --target global/,
  );
  assert.throws(() => darlConfig("tiny", { schedule: "cosine", noiseA: 0.1 }), /give either --schedule or --noise-a/);
  assert.throws(() => darlConfig("tiny", { schedule: "steep" }), /--schedule: expected one of darl, cosine, linear/);
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
  assert.throws(() => validateDarlConfig({ ...DARL_DEFAULTS, noiseA: 0 }), /--noise-a: expected a number ≥ 0.01/);
  assert.throws(() => validateDarlConfig({ ...DARL_DEFAULTS, dim: 1.5 }), /--dim: expected an integer/);
  assert.throws(
    () => validateDarlConfig({ ...DARL_DEFAULTS, objective: "diffusion", target: "global", headDepth: 1 }),
    /--head-depth: only the MSE objective has a next-patch head/,
  );
});

Deno.test("storedDarlConfig() refuses a checkpoint config without its architecture", () => {
  assert.throws(() => storedDarlConfig({}, "ck.safetensors"), /ck\.safetensors: stored model config lacks imageSize/);
  assert.equal(storedDarlConfig({ ...DARL_DEFAULTS }, "ck").dim, 128);
});

Deno.test("applyFlags() parses DARL flags by the type of the default", () => {
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
