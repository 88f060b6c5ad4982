/**
 * DARL's model config as plain data: size presets (a variant table in the
 * style of big_vision's "B/16"), documented defaults with bounds, and the
 * method's rules (a diffusion model regresses global targets; named noise
 * schedules are Beta(a, b) pairs), all applied by {@linkcode darlConfig}.
 *
 * @module
 */
import { check, DarlError } from "../errors.ts";
import { type ConfigSchema, kebab, validateConfig } from "../config.ts";
import { PATCH_ORDERS, type PatchOrder } from "../nn/patch_order.ts";

/**
 * Position encodings the backbone can use.
 *
 * @example
 * ```ts
 * import { darlConfig, type PosEncoding } from "./config.ts";
 * const pe: PosEncoding = "learned";
 * if (darlConfig("tiny", { posEncoding: pe }).posEncoding !== "learned") throw new Error();
 * ```
 */
export type PosEncoding = "rope2d" | "rope1d" | "learned" | "sincos" | "none";

/**
 * Normalisation of the next-patch regression target.
 *
 * @example
 * ```ts
 * import { darlConfig, type TargetNorm } from "./config.ts";
 * const target: TargetNorm = "global"; // needed to sample from an MSE model
 * if (darlConfig("tiny", { target }).target !== "global") throw new Error();
 * ```
 */
export type TargetNorm = "patch" | "global";

/**
 * Training objective: next-patch MSE, or diffusion through a patch decoder.
 *
 * @example
 * ```ts
 * import { darlConfig, type Objective } from "./config.ts";
 * const objective: Objective = "diffusion";
 * if (darlConfig("tiny", { objective }).target !== "global") throw new Error();
 * ```
 */
export type Objective = "mse" | "diffusion";

/**
 * The DARL backbone and head. Every field can be overridden from the CLI.
 *
 * @example
 * ```ts
 * import { type DarlConfig, darlConfig } from "./config.ts";
 * const cfg: DarlConfig = darlConfig("small", { imageSize: 32, channels: 3 });
 * if (cfg.dim !== 256 || cfg.imageSize / cfg.patchSize !== 8) throw new Error();
 * ```
 */
export interface DarlConfig {
  /** Height and width of the (square) input images, in pixels. */
  imageSize: number;
  /** Image channels (1 for grey, 3 for RGB). */
  channels: number;
  /** Side P of the square, non-overlapping patches. */
  patchSize: number;
  /** Token width d. */
  dim: number;
  /** Number of transformer blocks. */
  depth: number;
  /** Attention heads; `dim / heads` must be a multiple of 4 for 2D RoPE. */
  heads: number;
  /** MLP hidden width as a multiple of `dim`. */
  mlpRatio: number;
  /** Position encoding (axial 2D RoPE by default, spec §1). */
  posEncoding: PosEncoding;
  /** The order the patches are predicted in: raster (spec §1) or nested raster (2×2 blocks, spec §6). */
  patchOrder: PatchOrder;
  /** RoPE base θ (10000 as in EVA-02; 100 as in rope-vit axial). */
  ropeBase: number;
  /** Target normalisation: per-patch (MAE-style, default for MSE) or global (needed for diffusion and sampling). */
  target: TargetNorm;
  /** Next-patch MSE (spec §2) or the diffusion objective (spec §3). */
  objective: Objective;
  /** Noise level γ ~ Beta(noiseA, noiseB) per patch (DARL's choice: a = 0.03, b = 1). */
  noiseA: number;
  /** Second Beta parameter b. */
  noiseB: number;
  /** Residual adaLN blocks of the patch decoder (spec default 2). */
  decoderDepth: number;
  /** Width of the patch decoder (0: the backbone width d). */
  decoderWidth: number;
  /** Condition the decoder on log-SNR ("logsnr") or not ("none"). */
  decoderCondition: "logsnr" | "none";
  /** The decoder predicts the clean patch ("x0", DARL's choice) or the noise ("eps"). */
  prediction: "x0" | "eps";
  /** Noise draws per patch and step (variance reduction; MAR uses 4). */
  noiseDraws: number;
  /**
   * MSE head: residual MLP blocks before its LN → Linear (0: LN → Linear
   * alone, spec item 7). AIM's MLP head takes the pixel-specific work off the
   * trunk, whose features the probes read.
   */
  headDepth: number;
  /**
   * Pretraining attention: "causal" (DARL), or "prefix" (AIM's prefix
   * attention: each step draws a prefix length uniformly, the prefix attends
   * bidirectionally and leaves the loss; the features are then read with
   * bidirectional attention). MSE objective only.
   */
  attention: "causal" | "prefix";
}

/**
 * Named noise schedules as Beta(a, b): DARL's high-noise choice, cosine, linear.
 *
 * @example
 * ```ts
 * import { NOISE_SCHEDULES } from "./config.ts";
 * const [a, b] = NOISE_SCHEDULES.cosine!; // cos²(πs/2) is exactly Beta(½, ½)
 * if (a !== 0.5 || b !== 0.5) throw new Error();
 * ```
 */
export const NOISE_SCHEDULES: Readonly<Record<string, readonly [number, number]>> = {
  darl: [0.03, 1],
  cosine: [0.5, 0.5],
  linear: [1, 1],
};

/**
 * A named size preset: the architecture fields of {@linkcode DarlConfig}.
 *
 * @example
 * ```ts
 * import { DARL_PRESETS, type DarlPreset } from "./config.ts";
 * const b16: DarlPreset = DARL_PRESETS["vit-b16"]!;
 * if (b16.dim !== 768 || b16.depth !== 12) throw new Error();
 * ```
 */
export type DarlPreset =
  & Pick<DarlConfig, "patchSize" | "dim" | "depth" | "heads" | "mlpRatio">
  & Partial<Pick<DarlConfig, "headDepth">>;

/**
 * Size presets. `wide` (the default, {@linkcode DEFAULT_PRESET}) is the
 * recipe chosen for 28×28 images on a 2-core CPU (P = 7, so 16 tokens, at
 * d256 with a 2-block MLP head; docs/reproduction.md: "The default recipe").
 * `tiny`/`small`/`base` are sized for 28–64 px images on CPU; `vit-b16`,
 * `vit-l16` and `vit-h14` are the paper's sizes at 224 px.
 *
 * @example
 * ```ts
 * import { DARL_PRESETS } from "./config.ts";
 * if (DARL_PRESETS.tiny!.dim !== 128 || Object.keys(DARL_PRESETS).length !== 7) throw new Error();
 * ```
 */
export const DARL_PRESETS: Readonly<Record<string, DarlPreset>> = {
  wide: { patchSize: 7, dim: 256, depth: 4, heads: 4, mlpRatio: 4, headDepth: 2 },
  tiny: { patchSize: 4, dim: 128, depth: 4, heads: 4, mlpRatio: 4 },
  small: { patchSize: 4, dim: 256, depth: 6, heads: 4, mlpRatio: 4 },
  base: { patchSize: 4, dim: 384, depth: 8, heads: 6, mlpRatio: 4 },
  "vit-b16": { patchSize: 16, dim: 768, depth: 12, heads: 12, mlpRatio: 4 },
  "vit-l16": { patchSize: 16, dim: 1024, depth: 24, heads: 16, mlpRatio: 4 },
  "vit-h14": { patchSize: 14, dim: 1280, depth: 32, heads: 16, mlpRatio: 4 },
};

/**
 * The preset a model gets when none is named: the default recipe.
 *
 * @example
 * ```ts
 * import { DEFAULT_PRESET, darlConfig } from "./config.ts";
 * if (darlConfig().patchSize !== 7 || DEFAULT_PRESET !== "wide") throw new Error();
 * ```
 */
export const DEFAULT_PRESET = "wide";

/**
 * Defaults for the non-architecture fields of {@linkcode DarlConfig}.
 *
 * @example
 * ```ts
 * import { DARL_DEFAULTS } from "./config.ts";
 * if (DARL_DEFAULTS.posEncoding !== "rope2d" || DARL_DEFAULTS.noiseA !== 0.03) throw new Error();
 * ```
 */
export const DARL_DEFAULTS: DarlConfig = {
  imageSize: 28,
  channels: 1,
  ...DARL_PRESETS.tiny!,
  posEncoding: "rope2d",
  patchOrder: "raster",
  ropeBase: 10000,
  target: "patch",
  objective: "mse",
  noiseA: 0.03,
  noiseB: 1,
  decoderDepth: 2,
  decoderWidth: 0,
  decoderCondition: "logsnr",
  prediction: "x0",
  noiseDraws: 1,
  headDepth: 0,
  attention: "causal",
};

/**
 * Command-line documentation and bounds of {@linkcode DarlConfig}.
 *
 * @example
 * ```ts
 * import { applyFlags } from "../config.ts";
 * import { DARL_DEFAULTS, DARL_SCHEMA } from "./config.ts";
 * try { applyFlags(DARL_DEFAULTS, DARL_SCHEMA, { depth: "0" }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--depth: expected an integer ≥ 1")) throw e; }
 * ```
 */
export const DARL_SCHEMA: ConfigSchema<DarlConfig> = {
  imageSize: { doc: "image side in pixels (taken from the dataset)", integer: true, min: 1, max: 4096 },
  channels: { doc: "image channels (taken from the dataset)", integer: true, min: 1, max: 4 },
  patchSize: { doc: "patch side P", integer: true, min: 1, max: 1024 },
  dim: { doc: "token width", integer: true, min: 1, max: 16384 },
  depth: { doc: "transformer blocks", integer: true, min: 1, max: 256 },
  heads: { doc: "attention heads", integer: true, min: 1, max: 1024 },
  mlpRatio: { doc: "MLP width / token width", above: 0, max: 64 },
  posEncoding: { doc: "position encoding", choices: ["rope2d", "rope1d", "learned", "sincos", "none"] },
  patchOrder: { doc: "patch order: raster, or nested (2×2 blocks in raster order)", choices: [...PATCH_ORDERS] },
  ropeBase: { doc: "RoPE frequency base", above: 1 },
  target: { doc: "next-patch target: per-patch normalised or global", choices: ["patch", "global"] },
  objective: { doc: "training objective", choices: ["mse", "diffusion"] },
  noiseA: { doc: "diffusion: γ ~ Beta(a, b), a (see --schedule)", min: 0.01, max: 1e4 },
  noiseB: { doc: "diffusion: γ ~ Beta(a, b), b", min: 0.01, max: 1e4 },
  decoderDepth: { doc: "diffusion: patch-decoder residual blocks", integer: true, min: 1, max: 64 },
  decoderWidth: { doc: "diffusion: patch-decoder width (0: dim)", integer: true, min: 0, max: 16384 },
  decoderCondition: { doc: "diffusion: decoder conditioning on log-SNR", choices: ["logsnr", "none"] },
  prediction: { doc: "diffusion: decoder output", choices: ["x0", "eps"] },
  noiseDraws: { doc: "diffusion: noise draws per patch and step", integer: true, min: 1, max: 64 },
  headDepth: { doc: "MSE: residual MLP blocks in the next-patch head (0: none)", integer: true, min: 0, max: 64 },
  attention: {
    doc: "pretraining attention: causal, or AIM's prefix (random prefix per step; features read bidirectionally)",
    choices: ["causal", "prefix"],
  },
};

/**
 * Overrides {@linkcode darlConfig} accepts: config fields plus a named noise schedule.
 *
 * @example
 * ```ts
 * import { darlConfig, type DarlOverrides } from "./config.ts";
 * const over: DarlOverrides = { objective: "diffusion", schedule: "linear" };
 * if (darlConfig("tiny", over).noiseA !== 1) throw new Error();
 * ```
 */
export type DarlOverrides = Partial<DarlConfig> & {
  /** A key of {@linkcode NOISE_SCHEDULES}; sets noiseA/noiseB (give one or the other). */
  schedule?: string;
};

/**
 * Builds a model config from a preset name and overrides, applies DARL's
 * rules and checks it: a diffusion model's target is global unless given
 * (samples must be absolute pixels), and `schedule` names a Beta(a, b).
 *
 * @param preset A key of {@linkcode DARL_PRESETS}.
 * @param overrides Fields to change, and optionally a named `schedule`.
 * @returns A validated config.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * const cfg = darlConfig("tiny", { objective: "diffusion", schedule: "cosine" });
 * if (cfg.target !== "global" || cfg.noiseA !== 0.5 || cfg.noiseB !== 0.5) throw new Error();
 * ```
 */
export function darlConfig(preset: string = DEFAULT_PRESET, overrides: DarlOverrides = {}): DarlConfig {
  const p = DARL_PRESETS[preset];
  if (!p) {
    throw new DarlError(
      `--preset: unknown preset "${preset}" (expected one of ${Object.keys(DARL_PRESETS).join(", ")})`,
    );
  }
  const { schedule, ...fields } = overrides;
  const cfg: DarlConfig = { ...DARL_DEFAULTS, ...p, ...fields };
  if (fields.target === undefined && cfg.objective === "diffusion") cfg.target = "global";
  // A preset's MLP head belongs to the MSE objective; diffusion's head is its patch decoder.
  if (fields.headDepth === undefined && cfg.objective === "diffusion") cfg.headDepth = 0;
  if (schedule !== undefined) {
    const ab = NOISE_SCHEDULES[schedule];
    if (!ab) {
      throw new DarlError(`--schedule: expected one of ${Object.keys(NOISE_SCHEDULES).join(", ")}, got "${schedule}"`);
    }
    check(
      fields.noiseA === undefined && fields.noiseB === undefined,
      "--schedule: give either --schedule or --noise-a/--noise-b",
    );
    [cfg.noiseA, cfg.noiseB] = ab;
  }
  validateDarlConfig(cfg);
  return cfg;
}

/**
 * Checks that a model config is well formed (every field within its bounds)
 * and consistent (patch size divides the image, head dimension suits the
 * position encoding, diffusion uses global targets).
 *
 * @param cfg The config to check.
 * @example
 * ```ts
 * import { DARL_DEFAULTS, validateDarlConfig } from "./config.ts";
 * validateDarlConfig(DARL_DEFAULTS);
 * try { validateDarlConfig({ ...DARL_DEFAULTS, heads: 3 }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--heads: 3 must divide --dim 128")) throw e; }
 * ```
 */
export function validateDarlConfig(cfg: DarlConfig): void {
  for (const k of Object.keys(cfg)) {
    check(k in DARL_SCHEMA, `--${kebab(k)}: not a DARL model field`);
  }
  validateConfig(cfg, DARL_SCHEMA, DARL_DEFAULTS);
  check(
    cfg.imageSize % cfg.patchSize === 0,
    `--patch-size: ${cfg.patchSize} must divide --image-size ${cfg.imageSize}`,
  );
  check(cfg.dim % cfg.heads === 0, `--heads: ${cfg.heads} must divide --dim ${cfg.dim}`);
  const headDim = cfg.dim / cfg.heads;
  if (cfg.posEncoding === "rope2d") {
    check(headDim % 4 === 0, `--heads: 2D RoPE needs dim/heads divisible by 4, got ${headDim}`);
  }
  if (cfg.posEncoding === "rope1d") {
    check(headDim % 2 === 0, `--heads: 1D RoPE needs an even dim/heads, got ${headDim}`);
  }
  if (cfg.posEncoding === "sincos") {
    check(cfg.dim % 4 === 0, `--dim: sin-cos 2D position encoding needs dim divisible by 4, got ${cfg.dim}`);
  }
  if (cfg.objective === "diffusion") {
    check(
      cfg.headDepth === 0,
      "--head-depth: only the MSE objective has a next-patch head (diffusion has --decoder-depth)",
    );
    check(
      cfg.target === "global",
      `--target ${cfg.target}: the diffusion objective needs --target global (samples must be absolute pixels)`,
    );
    check(
      cfg.attention === "causal",
      "--attention prefix: only the MSE objective drops the prefix's outputs from its loss (use --attention causal)",
    );
  }
}

/** Fields every stored DARL config must hold (later fields have defaults). */
const STORED_REQUIRED: (keyof DarlConfig)[] = [
  "imageSize",
  "channels",
  "patchSize",
  "dim",
  "depth",
  "heads",
  "mlpRatio",
];

/**
 * A stored model config (a checkpoint's), checked: the architecture fields
 * must be present (a missing config is an error, never the defaults), and
 * fields added to DARL after the checkpoint was written get their defaults.
 *
 * @param model The stored config.
 * @param where The checkpoint, for errors.
 * @returns A complete, valid config.
 * @example
 * ```ts
 * import { storedDarlConfig } from "./config.ts";
 * const cfg = storedDarlConfig({ imageSize: 28, channels: 1, patchSize: 4, dim: 64, depth: 2, heads: 4, mlpRatio: 4 }, "x");
 * if (cfg.posEncoding !== "rope2d") throw new Error();
 * ```
 */
export function storedDarlConfig(model: Record<string, unknown>, where: string): DarlConfig {
  const missing = STORED_REQUIRED.filter((k) => model[k] === undefined);
  if (missing.length) throw new DarlError(`${where}: stored model config lacks ${missing.join(", ")}`);
  const cfg = { ...DARL_DEFAULTS, ...(model as Partial<DarlConfig>) };
  try {
    validateDarlConfig(cfg);
  } catch (e) {
    throw new DarlError(`${where}: stored model config is invalid (${(e as Error).message})`);
  }
  return cfg;
}

/**
 * Patches per side of the (square) grid.
 *
 * @param cfg Image and patch size.
 * @returns imageSize / patchSize.
 * @example
 * ```ts
 * import { gridSize } from "./config.ts";
 * if (gridSize({ imageSize: 28, patchSize: 4 }) !== 7) throw new Error();
 * ```
 */
export function gridSize(cfg: Pick<DarlConfig, "imageSize" | "patchSize">): number {
  return cfg.imageSize / cfg.patchSize;
}
