/**
 * Configurations as plain typed data: model size presets (a variant table in
 * the style of big_vision's "B/16"), documented defaults, and type-checked
 * command-line overrides.
 *
 * @module
 */
import { check, DarlError } from "./errors.ts";

/** Position encodings the backbone can use. */
export type PosEncoding = "rope2d" | "rope1d" | "learned" | "sincos" | "none";

/** Normalisation of the next-patch regression target. */
export type TargetNorm = "patch" | "global";

/** Training objective: next-patch MSE, or diffusion through a patch decoder. */
export type Objective = "mse" | "diffusion";

/** The DARL backbone and head. Every field can be overridden from the CLI. */
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
}

/** Named noise schedules as Beta(a, b): DARL's high-noise choice, cosine, linear. */
export const NOISE_SCHEDULES: Readonly<Record<string, [number, number]>> = {
  darl: [0.03, 1],
  cosine: [0.5, 0.5],
  linear: [1, 1],
};

/** A named size preset: the architecture fields of {@linkcode DarlConfig}. */
export type DarlPreset = Pick<
  DarlConfig,
  "patchSize" | "dim" | "depth" | "heads" | "mlpRatio"
>;

/**
 * Size presets. `tiny`/`small`/`base` are sized for 28–64 px images on CPU;
 * `vit-b16`, `vit-l16` and `vit-h14` are the paper's sizes at 224 px.
 */
export const DARL_PRESETS: Readonly<Record<string, DarlPreset>> = {
  tiny: { patchSize: 4, dim: 128, depth: 4, heads: 4, mlpRatio: 4 },
  small: { patchSize: 4, dim: 256, depth: 6, heads: 4, mlpRatio: 4 },
  base: { patchSize: 4, dim: 384, depth: 8, heads: 6, mlpRatio: 4 },
  "vit-b16": { patchSize: 16, dim: 768, depth: 12, heads: 12, mlpRatio: 4 },
  "vit-l16": { patchSize: 16, dim: 1024, depth: 24, heads: 16, mlpRatio: 4 },
  "vit-h14": { patchSize: 14, dim: 1280, depth: 32, heads: 16, mlpRatio: 4 },
};

/** Defaults for the non-architecture fields of {@linkcode DarlConfig}. */
export const DARL_DEFAULTS: DarlConfig = {
  imageSize: 28,
  channels: 1,
  ...DARL_PRESETS.tiny!,
  posEncoding: "rope2d",
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
};

/**
 * Builds a model config from a preset name and overrides, and checks it.
 *
 * @param preset A key of {@linkcode DARL_PRESETS}.
 * @param overrides Fields to change.
 * @returns A validated config.
 * @example
 * ```ts
 * import { darlConfig } from "./config.ts";
 * const cfg = darlConfig("tiny", { imageSize: 32, channels: 3 });
 * if (cfg.dim !== 128 || cfg.imageSize !== 32) throw new Error("unexpected");
 * ```
 */
export function darlConfig(
  preset = "tiny",
  overrides: Partial<DarlConfig> = {},
): DarlConfig {
  const p = DARL_PRESETS[preset];
  if (!p) {
    throw new DarlError(
      `--preset: unknown preset "${preset}" (expected one of ${Object.keys(DARL_PRESETS).join(", ")})`,
    );
  }
  const cfg = { ...DARL_DEFAULTS, ...p, ...overrides };
  validateDarlConfig(cfg);
  return cfg;
}

/**
 * Checks that a model config is consistent (patch size divides the image,
 * head dimension suits the position encoding, …).
 *
 * @param cfg The config to check.
 * @example
 * ```ts
 * import { DARL_DEFAULTS, validateDarlConfig } from "./config.ts";
 * validateDarlConfig(DARL_DEFAULTS);
 * ```
 */
export function validateDarlConfig(cfg: DarlConfig): void {
  for (const k of ["imageSize", "channels", "patchSize", "dim", "depth", "heads", "mlpRatio"] as const) {
    check(Number.isInteger(cfg[k]) && cfg[k] > 0, `--${kebab(k)}: expected a positive integer, got ${cfg[k]}`);
  }
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
  check(cfg.ropeBase > 1, `--rope-base: expected a number > 1, got ${cfg.ropeBase}`);
  if (cfg.objective === "diffusion") {
    check(
      cfg.target === "global",
      `--target ${cfg.target}: the diffusion objective needs --target global (samples must be absolute pixels)`,
    );
    check(
      cfg.noiseA >= 0.01 && cfg.noiseB >= 0.01,
      `--noise-a/--noise-b: expected Beta parameters ≥ 0.01, got ${cfg.noiseA}, ${cfg.noiseB}`,
    );
    check(
      Number.isInteger(cfg.decoderDepth) && cfg.decoderDepth >= 1,
      `--decoder-depth: expected a positive integer, got ${cfg.decoderDepth}`,
    );
    check(
      Number.isInteger(cfg.decoderWidth) && cfg.decoderWidth >= 0,
      `--decoder-width: expected 0 (= dim) or a positive integer, got ${cfg.decoderWidth}`,
    );
    check(
      Number.isInteger(cfg.noiseDraws) && cfg.noiseDraws >= 1,
      `--noise-draws: expected a positive integer, got ${cfg.noiseDraws}`,
    );
  }
}

/** Patches per side, and the number of patches T. */
export function gridSize(cfg: Pick<DarlConfig, "imageSize" | "patchSize">): number {
  return cfg.imageSize / cfg.patchSize;
}

/** camelCase → kebab-case, for flag names. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** How a config field is parsed and documented on the command line. */
export interface FieldSpec {
  /** One-line description shown by `--help`. */
  doc: string;
  /** Allowed values, for string fields. */
  choices?: readonly string[];
}

/** A schema: for each field of `T`, its documentation. */
export type ConfigSchema<T> = { [K in keyof T]: FieldSpec };

/**
 * Applies `--kebab-name value` overrides from parsed flags onto `base`,
 * converting each value to the type of the default and rejecting bad ones.
 *
 * @param base Defaults (their types decide how values are parsed).
 * @param schema Documentation and allowed choices per field.
 * @param flags Flag values by kebab-case name (strings from the CLI).
 * @returns A new object with the overrides applied.
 * @example
 * ```ts
 * import { applyFlags, DARL_DEFAULTS, DARL_SCHEMA } from "./config.ts";
 * const cfg = applyFlags(DARL_DEFAULTS, DARL_SCHEMA, { "dim": "64", "pos-encoding": "learned" });
 * if (cfg.dim !== 64 || cfg.posEncoding !== "learned") throw new Error("unexpected");
 * ```
 */
export function applyFlags<T extends object>(
  base: T,
  schema: ConfigSchema<T>,
  flags: Record<string, string | boolean | undefined>,
): T {
  const out = { ...base } as Record<string, unknown>;
  for (const key of Object.keys(schema) as (keyof T & string)[]) {
    const raw = flags[kebab(key)];
    if (raw === undefined) continue;
    out[key] = parseValue(key, base[key], raw, schema[key].choices);
  }
  return out as T;
}

function parseValue(
  key: string,
  def: unknown,
  raw: string | boolean,
  choices?: readonly string[],
): unknown {
  const flag = `--${kebab(key)}`;
  if (typeof def === "boolean") {
    if (typeof raw === "boolean") return raw;
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new DarlError(`${flag}: expected true or false, got "${raw}"`);
  }
  const s = String(raw);
  if (typeof def === "number") {
    const v = Number(s);
    if (s.trim() === "" || !Number.isFinite(v)) {
      throw new DarlError(`${flag}: expected a number, got "${s}"`);
    }
    return v;
  }
  if (choices && !choices.includes(s)) {
    throw new DarlError(`${flag}: expected one of ${choices.join(", ")}, got "${s}"`);
  }
  return s;
}

/** Command-line documentation of {@linkcode DarlConfig}. */
export const DARL_SCHEMA: ConfigSchema<DarlConfig> = {
  imageSize: { doc: "image side in pixels (taken from the dataset)" },
  channels: { doc: "image channels (taken from the dataset)" },
  patchSize: { doc: "patch side P" },
  dim: { doc: "token width" },
  depth: { doc: "transformer blocks" },
  heads: { doc: "attention heads" },
  mlpRatio: { doc: "MLP width / token width" },
  posEncoding: {
    doc: "position encoding",
    choices: ["rope2d", "rope1d", "learned", "sincos", "none"],
  },
  ropeBase: { doc: "RoPE frequency base" },
  target: { doc: "next-patch target: per-patch normalised or global", choices: ["patch", "global"] },
  objective: { doc: "training objective", choices: ["mse", "diffusion"] },
  noiseA: { doc: "diffusion: γ ~ Beta(a, b), a (see --schedule)" },
  noiseB: { doc: "diffusion: γ ~ Beta(a, b), b" },
  decoderDepth: { doc: "diffusion: patch-decoder residual blocks" },
  decoderWidth: { doc: "diffusion: patch-decoder width (0: dim)" },
  decoderCondition: { doc: "diffusion: decoder conditioning on log-SNR", choices: ["logsnr", "none"] },
  prediction: { doc: "diffusion: decoder output", choices: ["x0", "eps"] },
  noiseDraws: { doc: "diffusion: noise draws per patch and step" },
};

/**
 * Renders `--help` text for a schema and its defaults.
 *
 * @param title A heading line.
 * @param defaults Default values.
 * @param schema Field documentation.
 * @returns Help text, one flag per line.
 * @example
 * ```ts
 * import { DARL_DEFAULTS, DARL_SCHEMA, schemaHelp } from "./config.ts";
 * if (!schemaHelp("Model", DARL_DEFAULTS, DARL_SCHEMA).includes("--pos-encoding")) throw new Error();
 * ```
 */
export function schemaHelp<T extends object>(
  title: string,
  defaults: T,
  schema: ConfigSchema<T>,
): string {
  const lines = [`${title}:`];
  for (const key of Object.keys(schema) as (keyof T & string)[]) {
    const spec = schema[key];
    const choices = spec.choices ? ` (${spec.choices.join("|")})` : "";
    lines.push(`  --${kebab(key).padEnd(18)} ${spec.doc}${choices} [${String(defaults[key])}]`);
  }
  return lines.join("\n");
}
