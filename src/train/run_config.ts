/**
 * The generic run config every training task shares (data, run directory,
 * schedule, AdamW, clipping, seed, augmentation, logging, checkpoints), its
 * bounds, the checks that need more than one field (final lr ≤ peak lr, a
 * batch no larger than the data, a step that fits in memory), reading a
 * `--config` file, the readable `config.json` of a run directory, and the
 * resume rules: which fields must match for an exact resume and which may
 * change with a note.
 *
 * @module
 */
import { check, DarlError } from "../errors.ts";
import { applyObject, type ConfigSchema, validateConfig } from "../config.ts";
import type { Augment } from "../data/batches.ts";
import { readInput, writeFileAtomic } from "../data/files.ts";
import { type Checkpoint, listCheckpoints, loadCheckpoint } from "./checkpoint.ts";

/**
 * A training run's generic settings. Every field is a CLI flag.
 *
 * @example
 * ```ts
 * import { RUN_SCHEMA, type RunConfig, validateRunConfig } from "./run_config.ts";
 * const cfg: RunConfig = { data: "data/x", out: "runs/x", steps: 10, batchSize: 8, lr: 1e-3, minLr: 0, warmupSteps: 1, weightDecay: 0.05, beta1: 0.9, beta2: 0.95, clip: 1, seed: 0, augment: "none", logEvery: 5, ckptEvery: 10, keep: 1 };
 * validateRunConfig(cfg, RUN_SCHEMA);
 * ```
 */
export interface RunConfig {
  /** Prepared dataset directory. */
  data: string;
  /** Run directory (checkpoints, metrics, pictures). */
  out: string;
  /** Optimiser steps. */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine decay. */
  minLr: number;
  /** Linear warm-up steps. */
  warmupSteps: number;
  /** Decoupled weight decay on matrices. */
  weightDecay: number;
  /** Adam β1. */
  beta1: number;
  /** Adam β2. */
  beta2: number;
  /** Global gradient-norm clip (0 disables). */
  clip: number;
  /** Seed of initialisation, data order and augmentation. */
  seed: number;
  /** Data augmentation. */
  augment: Augment;
  /** Read the loss back and log every N steps. */
  logEvery: number;
  /** Checkpoint every N steps (and at the end). */
  ckptEvery: number;
  /** Checkpoints to keep. */
  keep: number;
}

/**
 * A pretraining run: the generic settings plus periodic pictures and an
 * optional moving average of the weights.
 *
 * @example
 * ```ts
 * import type { PretrainConfig } from "./run_config.ts";
 * const pictures = (c: PretrainConfig) => (c.sampleEvery > 0 ? Math.floor(c.steps / c.sampleEvery) : 0);
 * if (typeof pictures !== "function") throw new Error();
 * ```
 */
export interface PretrainConfig extends RunConfig {
  /** Write a predictions picture every N steps (0: never). */
  sampleEvery: number;
  /** Decay of a moving average of the weights, saved as the model (0: none). */
  emaDecay: number;
}

/** Largest step count, batch and interval accepted (a guard against typos like 1e9). */
const MAX_STEPS = 1e8;

/**
 * Documentation and bounds of {@linkcode RunConfig}.
 *
 * @example
 * ```ts
 * import { RUN_SCHEMA } from "./run_config.ts";
 * if (RUN_SCHEMA.beta1.below !== 1 || RUN_SCHEMA.lr.above !== 0) throw new Error();
 * ```
 */
export const RUN_SCHEMA: ConfigSchema<RunConfig> = {
  data: { doc: "prepared dataset directory" },
  out: { doc: "run directory" },
  steps: { doc: "optimiser steps", integer: true, min: 1, max: MAX_STEPS },
  batchSize: { doc: "images per step (at most the training images)", integer: true, min: 1, max: 1e6 },
  lr: { doc: "peak learning rate", above: 0, max: 1e6 },
  minLr: { doc: "final learning rate (≤ --lr)", min: 0 },
  warmupSteps: { doc: "linear warm-up steps", integer: true, min: 0, max: MAX_STEPS },
  weightDecay: { doc: "AdamW weight decay (matrices only)", min: 0, max: 1e3 },
  beta1: { doc: "Adam beta1", min: 0, below: 1 },
  beta2: { doc: "Adam beta2", min: 0, below: 1 },
  clip: { doc: "gradient global-norm clip (0: off)", min: 0 },
  seed: { doc: "random seed", integer: true, min: 0, max: 2 ** 32 - 1 },
  augment: { doc: "augmentation", choices: ["none", "flip", "crop", "crop+flip"] },
  logEvery: { doc: "log (and read the loss back) every N steps", integer: true, min: 1, max: MAX_STEPS },
  ckptEvery: { doc: "checkpoint every N steps", integer: true, min: 1, max: MAX_STEPS },
  keep: { doc: "checkpoints to keep", integer: true, min: 1, max: 1e4 },
};

/**
 * Documentation and bounds of {@linkcode PretrainConfig}.
 *
 * @example
 * ```ts
 * import { schemaHelp } from "../config.ts";
 * import { PRETRAIN_SCHEMA, type PretrainConfig } from "./run_config.ts";
 * const defaults: PretrainConfig = { data: "d", out: "o", steps: 10, batchSize: 8, lr: 1e-3, minLr: 0, warmupSteps: 1, weightDecay: 0,
 *   beta1: 0.9, beta2: 0.95, clip: 1, seed: 0, augment: "none", logEvery: 5, ckptEvery: 10, keep: 1, sampleEvery: 5, emaDecay: 0 };
 * if (!schemaHelp("Training", defaults, PRETRAIN_SCHEMA).includes("--sample-every")) throw new Error();
 * ```
 */
export const PRETRAIN_SCHEMA: ConfigSchema<PretrainConfig> = {
  ...RUN_SCHEMA,
  sampleEvery: { doc: "predictions PNG every N steps (0: never)", integer: true, min: 0, max: MAX_STEPS },
  emaDecay: {
    doc: "moving average of the weights, decay per step, saved as the model (0: none; e.g. 0.999)",
    min: 0,
    below: 1,
  },
};

/**
 * Checks a run config: every field within its bounds, and the final
 * learning rate no larger than the peak.
 *
 * @param cfg The config.
 * @param schema Its schema.
 * @param defaults Defaults giving each field's type (default: `cfg`).
 * @example
 * ```ts
 * import { PRETRAIN_SCHEMA, validateRunConfig } from "./run_config.ts";
 * const cfg = { data: "d", out: "o", steps: 10, batchSize: 4, lr: 1e-3, minLr: 1e-2, warmupSteps: 0, weightDecay: 0,
 *   beta1: 0.9, beta2: 0.95, clip: 1, seed: 0, augment: "none" as const, logEvery: 1, ckptEvery: 5, keep: 1, sampleEvery: 0, emaDecay: 0 };
 * try { validateRunConfig(cfg, PRETRAIN_SCHEMA); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--min-lr: 0.01 is above --lr 0.001")) throw e; }
 * ```
 */
export function validateRunConfig<T extends Pick<RunConfig, "lr" | "minLr">>(
  cfg: T,
  schema: ConfigSchema<T>,
  defaults: T = cfg,
): void {
  validateConfig(cfg, schema, defaults);
  check(
    cfg.minLr <= cfg.lr,
    `--min-lr: ${cfg.minLr} is above --lr ${cfg.lr}; the schedule decays from --lr to --min-lr`,
  );
}

/**
 * Checks that a batch can be drawn from a training split.
 *
 * @param batch Images per step.
 * @param count Training images.
 * @param data The dataset, for the message.
 * @example
 * ```ts
 * import { checkBatch } from "./run_config.ts";
 * checkBatch(64, 60000, "data/x");
 * ```
 */
export function checkBatch(batch: number, count: number, data: string): void {
  check(
    batch <= count,
    `--batch-size: ${batch} is larger than the ${count} training images of ${data}`,
  );
}

/**
 * Fails before any work when a step's estimated memory would not fit in the
 * memory this machine has available (a typo such as `--batch-size 1e9` would
 * otherwise grow memory silently for minutes).
 *
 * @param bytes Estimated peak bytes of one step.
 * @param flag The flag that sizes it, for the message.
 * @param available Bytes available (default: the system's available memory).
 * @example
 * ```ts
 * import { checkMemory } from "./run_config.ts";
 * checkMemory(1e6, "--batch-size", 8e9);
 * try { checkMemory(1e12, "--batch-size", 8e9); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--batch-size: one step needs about 931.3 GiB")) throw e; }
 * ```
 */
export function checkMemory(bytes: number, flag: string, available: number = availableMemory()): void {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  check(
    bytes <= 0.8 * available,
    `${flag}: one step needs about ${gib(bytes)} but this machine has ${gib(available)} available; use a smaller value`,
  );
}

function availableMemory(): number {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return 8 * 2 ** 30; // no permission to ask: assume a modest machine
  }
}

/**
 * Writes a run's readable config (`<out>/config.json`): the method, its
 * model config and the run config, so `--config <out>/config.json`
 * reproduces the run.
 *
 * @param out The run directory (must exist).
 * @param content Method, model and run configs, and anything else worth keeping.
 * @example
 * ```ts
 * import { writeRunConfig } from "./run_config.ts";
 * const dir = await Deno.makeTempDir();
 * await writeRunConfig(dir, { method: "darl", model: { dim: 64 }, train: { steps: 10 } });
 * if (JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).model.dim !== 64) throw new Error();
 * ```
 */
export async function writeRunConfig(out: string, content: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(`${out}/config.json`, new TextEncoder().encode(JSON.stringify(content, null, 2) + "\n"));
}

/**
 * Reads a `--config` file: a JSON object whose sections (e.g. "model",
 * "train") override the defaults of the matching schemas; other top-level
 * keys are returned as they are (e.g. "method", "preset").
 *
 * @param path The file.
 * @param sections Per section name: defaults and schema.
 * @returns The merged sections, the fields the file itself gives per section
 *   (`given`), and the remaining top-level values.
 * @example
 * ```ts
 * import { readConfigFile } from "./run_config.ts";
 * const f = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(f, JSON.stringify({ method: "darl", train: { lr: 2e-3 } }));
 * const { sections, given, extra } = await readConfigFile(f, { train: { defaults: { lr: 1e-3 }, schema: { lr: { doc: "lr", above: 0 } } } });
 * if (sections.train!.lr !== 2e-3 || given.train!.join() !== "lr" || extra.method !== "darl") throw new Error();
 * ```
 */
export async function readConfigFile<S extends Record<string, { defaults: object; schema: object }>>(
  path: string,
  sections: S,
): Promise<
  {
    sections: { [K in keyof S]: S[K]["defaults"] };
    given: { [K in keyof S]?: string[] };
    extra: Record<string, unknown>;
  }
> {
  const text = new TextDecoder().decode(await readInput(path, "a JSON config"));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DarlError(`--config ${path}: not valid JSON`);
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new DarlError(`--config ${path}: expected a JSON object with sections ${Object.keys(sections).join(", ")}`);
  }
  const out = {} as Record<string, object>, extra: Record<string, unknown> = {}, given: Record<string, string[]> = {};
  for (const [name, { defaults }] of Object.entries(sections)) out[name] = defaults;
  for (const [key, value] of Object.entries(json)) {
    const sec = sections[key];
    if (sec) {
      out[key] = applyObject(sec.defaults, sec.schema as ConfigSchema<object>, value, `--config ${path}: "${key}"`);
      given[key] = Object.keys(value as object);
    } else extra[key] = value;
  }
  return { sections: out as { [K in keyof S]: S[K]["defaults"] }, given, extra };
}

/**
 * The configs stored in the newest checkpoint of a run directory (the base
 * of a resume: a resumed run continues with its own configs and dataset,
 * and flags may only restate or, for schedule fields, change them).
 *
 * @param out The run directory.
 * @returns The newest loadable checkpoint's configs and state, or null when there is none.
 */
export async function storedRunConfig(
  out: string,
): Promise<
  {
    path: string;
    method: string;
    model: Record<string, unknown>;
    train: Record<string, unknown>;
    state: Record<string, unknown>;
  } | null
> {
  const all = await listCheckpoints(out);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      const ck = await loadCheckpoint(all[i]!.path);
      return {
        path: ck.path,
        method: ck.meta.method,
        model: ck.meta.model,
        train: ck.meta.train,
        state: ck.meta.state,
      };
    } catch (e) {
      if (!(e instanceof DarlError)) throw e; // the loop reports a corrupt newest checkpoint itself
    }
  }
  return null;
}

/** What must match, and what may change, when a run resumes. */
export interface ResumeRules {
  /** Run-config fields that must be equal for an exact resume. */
  locked: readonly string[];
  /** Run-config fields that may change (with a note that the run will differ). */
  noted: readonly string[];
  /** The value a field had in checkpoints written before it existed. */
  absent?: Readonly<Record<string, unknown>>;
}

/** Pretraining: batch, seed and augmentation fix the data stream, the weight average what is saved; the schedule may change. */
export const PRETRAIN_RESUME: ResumeRules = {
  locked: ["batchSize", "seed", "augment", "emaDecay"],
  noted: ["steps", "lr", "minLr", "warmupSteps", "weightDecay", "beta1", "beta2", "clip"],
  absent: { emaDecay: 0 },
};

/**
 * Compares a checkpoint with the requested run: the model config must be
 * identical, locked run fields equal, and the dataset the same (by
 * checksum); changed schedule fields give notes.
 *
 * @param ck The checkpoint.
 * @param model The requested model config (complete).
 * @param stored The checkpoint's model config, completed with defaults.
 * @param train The requested run config.
 * @param checksum The requested dataset's checksum.
 * @param rules Locked and noted fields.
 * @returns Notes to print.
 */
export function checkResumeCompatible(
  ck: Checkpoint,
  model: object,
  stored: object,
  train: object,
  checksum: string,
  rules: ResumeRules,
): string[] {
  const m = stored as Record<string, unknown>;
  // Lists (e.g. a tokenizer's width multipliers) compare by value.
  const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);
  for (const [k, v] of Object.entries(model)) {
    if (!same(m[k], v)) {
      throw new DarlError(
        `${ck.path}: checkpoint has ${k}=${
          m[k]
        } but ${k}=${v} was requested; resume with the same model config or use a new --out`,
      );
    }
  }
  const t = { ...rules.absent, ...ck.meta.train as Record<string, unknown> }, req = train as Record<string, unknown>;
  for (const k of rules.locked) {
    if (t[k] !== req[k]) {
      throw new DarlError(
        `${ck.path}: checkpoint has ${k}=${t[k]} but ${k}=${
          req[k]
        } was requested; an exact resume needs the same value`,
      );
    }
  }
  const ds = (ck.meta.state as { datasetChecksum?: string }).datasetChecksum;
  if (ds && ds !== checksum) {
    throw new DarlError(
      `${ck.path}: checkpoint was trained on a different dataset than ${req.data} (checksum differs)`,
    );
  }
  return rules.noted.filter((k) => t[k] !== req[k]).map((k) =>
    `${k} changed from ${t[k]} to ${req[k]}: the run will differ from an uninterrupted one`
  );
}
