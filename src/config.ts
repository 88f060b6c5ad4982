/**
 * Configs as plain typed data with a schema per config: one documented,
 * validated field per command-line flag. The type of a field's default
 * decides how a flag's text is parsed (number, string, boolean, or a comma
 * list of numbers or strings); the schema gives its documentation, allowed
 * choices and bounds. The same checks run for flags, for `--config` files
 * and for library calls, so a bad value is always a one-line error naming
 * the flag.
 *
 * @module
 */
import { check, DarlError } from "./errors.ts";

/**
 * How a config field is parsed, checked and documented on the command line.
 *
 * @example
 * ```ts
 * import { checkField, type FieldSpec } from "./config.ts";
 * const lr: FieldSpec = { doc: "peak learning rate", above: 0 };
 * checkField("lr", 1e-3, 1e-3, lr);
 * ```
 */
export interface FieldSpec {
  /** One-line description shown by `--help`. */
  doc: string;
  /** Allowed values, for string (and string-list) fields. */
  choices?: readonly string[];
  /** Numbers (and number-list items) must be integers. */
  integer?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound (e.g. 0 for a learning rate). */
  above?: number;
  /** Exclusive upper bound (e.g. 1 for Adam's β). */
  below?: number;
  /** A string field that must be given (its default is ""). */
  required?: boolean;
}

/**
 * A schema: for each field of `T`, how it is parsed and documented.
 *
 * @example
 * ```ts
 * import { applyFlags, type ConfigSchema } from "./config.ts";
 * const defaults = { steps: 100, augment: "flip" };
 * const schema: ConfigSchema<typeof defaults> = {
 *   steps: { doc: "optimiser steps", integer: true, min: 1 },
 *   augment: { doc: "augmentation", choices: ["none", "flip"] },
 * };
 * if (applyFlags(defaults, schema, { steps: "5" }).steps !== 5) throw new Error();
 * ```
 */
export type ConfigSchema<T> = { [K in keyof T]: FieldSpec };

/**
 * camelCase → kebab-case, for flag names.
 *
 * @param name A field name.
 * @returns The flag name without dashes.
 * @example
 * ```ts
 * import { kebab } from "./config.ts";
 * if (kebab("batchSize") !== "batch-size") throw new Error();
 * ```
 */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

function describeBounds(spec: FieldSpec): string {
  const bounds = [];
  if (spec.above !== undefined) bounds.push(`> ${spec.above}`);
  if (spec.min !== undefined) bounds.push(`≥ ${spec.min}`);
  if (spec.below !== undefined) bounds.push(`< ${spec.below}`);
  if (spec.max !== undefined) bounds.push(`≤ ${spec.max}`);
  return `${spec.integer ? "an integer" : "a number"}${bounds.length ? " " + bounds.join(" and ") : ""}`;
}

function checkNumber(flag: string, v: number, spec: FieldSpec): void {
  const ok = Number.isFinite(v) && (!spec.integer || Number.isInteger(v)) &&
    (spec.min === undefined || v >= spec.min) && (spec.max === undefined || v <= spec.max) &&
    (spec.above === undefined || v > spec.above) && (spec.below === undefined || v < spec.below);
  check(ok, `${flag}: expected ${describeBounds(spec)}, got ${v}`);
}

/**
 * Checks one value against its field spec (type by the default's type,
 * choices, integer, bounds).
 *
 * @param key The field name.
 * @param value The value.
 * @param def The field's default (gives the type).
 * @param spec The field spec.
 * @example
 * ```ts
 * import { checkField } from "./config.ts";
 * try { checkField("lr", -1, 1e-3, { doc: "", above: 0 }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--lr: expected a number > 0")) throw e; }
 * ```
 */
export function checkField(key: string, value: unknown, def: unknown, spec: FieldSpec): void {
  const flag = `--${kebab(key)}`;
  if (Array.isArray(def)) {
    check(Array.isArray(value), `${flag}: expected a comma list, got ${JSON.stringify(value)}`);
    for (const item of value as unknown[]) checkField(key, item, def[0] ?? (typeof item === "number" ? 0 : ""), spec);
    return;
  }
  if (typeof def === "number") {
    check(typeof value === "number", `${flag}: expected a number, got ${JSON.stringify(value)}`);
    checkNumber(flag, value as number, spec);
  } else if (typeof def === "boolean") {
    check(typeof value === "boolean", `${flag}: expected true or false, got ${JSON.stringify(value)}`);
  } else {
    check(typeof value === "string", `${flag}: expected a string, got ${JSON.stringify(value)}`);
    if (spec.required) check(value !== "", `${flag}: required (${spec.doc})`);
    if (spec.choices && value !== "") {
      check(
        spec.choices.includes(value as string),
        `${flag}: expected one of ${spec.choices.join(", ")}, got "${value}"`,
      );
    }
  }
}

/**
 * Checks every field of a config against its schema.
 *
 * @param cfg The config.
 * @param schema Its schema.
 * @param defaults Defaults that give each field's type (default: `cfg` itself).
 * @example
 * ```ts
 * import { validateConfig } from "./config.ts";
 * validateConfig({ steps: 10 }, { steps: { doc: "steps", integer: true, min: 1 } });
 * ```
 */
export function validateConfig<T extends object>(cfg: T, schema: ConfigSchema<T>, defaults: T = cfg): void {
  for (const key of Object.keys(schema) as (keyof T & string)[]) {
    checkField(key, cfg[key], defaults[key], schema[key]);
  }
}

function parseText(key: string, def: unknown, raw: string | boolean): unknown {
  const flag = `--${kebab(key)}`;
  if (typeof def === "boolean") {
    if (typeof raw === "boolean") return raw;
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new DarlError(`${flag}: expected true or false, got "${raw}"`);
  }
  const s = String(raw);
  if (Array.isArray(def)) {
    const items = s.split(",").map((item) => item.trim()).filter((item) => item !== "");
    return items.map((item) => parseText(key, def[0] ?? (/^[-+.\d]/.test(item) ? 0 : ""), item));
  }
  if (typeof def === "number") {
    const v = Number(s);
    if (s.trim() === "" || !Number.isFinite(v)) throw new DarlError(`${flag}: expected a number, got "${s}"`);
    return v;
  }
  return s;
}

/**
 * Applies `--kebab-name value` overrides from parsed flags onto `base`,
 * converting each value to the type of the default and checking it against
 * the schema.
 *
 * @param base Defaults (their types decide how values are parsed).
 * @param schema Documentation, choices and bounds per field.
 * @param flags Flag values by kebab-case name (strings from the CLI).
 * @returns A new object with the overrides applied.
 * @example
 * ```ts
 * import { applyFlags } from "./config.ts";
 * const base = { dim: 128, mode: "a", sizes: [1, 2] };
 * const schema = { dim: { doc: "width", min: 1 }, mode: { doc: "mode", choices: ["a", "b"] }, sizes: { doc: "sizes" } };
 * const cfg = applyFlags(base, schema, { dim: "64", mode: "b", sizes: "3,4" });
 * if (cfg.dim !== 64 || cfg.mode !== "b" || cfg.sizes.join() !== "3,4") throw new Error();
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
    const value = parseText(key, base[key], raw);
    checkField(key, value, base[key], schema[key]);
    out[key] = value;
  }
  return out as T;
}

/**
 * Overrides `base` with the fields of a JSON object (a `--config` file's
 * section), rejecting unknown fields and values of the wrong type or range.
 *
 * @param base Defaults.
 * @param schema The schema.
 * @param obj The parsed JSON section.
 * @param where The file and section, for errors.
 * @returns The merged config.
 * @example
 * ```ts
 * import { applyObject } from "./config.ts";
 * const cfg = applyObject({ lr: 1e-3 }, { lr: { doc: "lr", above: 0 } }, { lr: 2e-3 }, "run.json train");
 * if (cfg.lr !== 2e-3) throw new Error();
 * ```
 */
export function applyObject<T extends object>(
  base: T,
  schema: ConfigSchema<T>,
  obj: unknown,
  where: string,
): T {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new DarlError(`${where}: expected a JSON object`);
  const out = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (!(key in schema)) {
      throw new DarlError(`${where}: unknown field "${key}" (expected ${Object.keys(schema).join(", ")})`);
    }
    try {
      checkField(key, value, base[key as keyof T], schema[key as keyof T]);
    } catch (e) {
      throw new DarlError(`${where}: ${(e as Error).message}`);
    }
    out[key] = value;
  }
  return out as T;
}

/**
 * Renders `--help` text for a schema and its defaults.
 *
 * @param title A heading line.
 * @param defaults Default values.
 * @param schema Field documentation.
 * @returns Help text, one flag per line.
 * @example
 * ```ts
 * import { schemaHelp } from "./config.ts";
 * const help = schemaHelp("Training", { batchSize: 64 }, { batchSize: { doc: "images per step" } });
 * if (!help.includes("--batch-size") || !help.includes("[64]")) throw new Error(help);
 * ```
 */
export function schemaHelp<T extends object>(title: string, defaults: T, schema: ConfigSchema<T>): string {
  const lines = [`${title}:`];
  for (const key of Object.keys(schema) as (keyof T & string)[]) {
    const spec = schema[key], def = defaults[key];
    const choices = spec.choices ? ` (${spec.choices.join("|")})` : "";
    const shown = spec.required && def === "" ? "required" : Array.isArray(def) ? def.join(",") : String(def);
    // An empty default is described by the doc's own "[…]" (what happens when the flag is not given).
    const tail = shown === "" ? (spec.doc.includes("[") ? "" : " [none]") : ` [${shown}]`;
    lines.push(`  --${kebab(key).padEnd(18)} ${spec.doc}${choices}${tail}`);
  }
  return lines.join("\n");
}
