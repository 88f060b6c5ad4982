/**
 * The thin CLIs in `tasks/` share one way of reading flags: every flag is a
 * field of a config section (defaults + schema), parsed strictly with
 * `node:util` (JSR's std/cli is not reachable here); `--help`/`-h` prints
 * every flag with its default and exits before anything else happens; bad
 * input is one line `error: …` and a non-zero exit.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DarlError } from "./errors.ts";
import { applyFlags, type ConfigSchema, kebab, schemaHelp, validateConfig } from "./config.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "./backend.ts";

/** Raw flag values by kebab-case name. */
export type Flags = Record<string, string | boolean | undefined>;

/** A group of flags: the fields of one config, with defaults and schema. */
export interface FlagSection<T extends object> {
  /** Heading in `--help`. */
  title: string;
  /** Defaults (their types decide how flags are parsed). */
  defaults: T;
  /** Documentation, choices and bounds. */
  schema: ConfigSchema<T>;
}

/** A task's command line: a usage line and its flag sections. */
export interface TaskSpec {
  /** `deno task …` usage line and a sentence on what the task does. */
  usage: string;
  /** The flag sections, in help order. */
  sections: FlagSection<object>[];
}

/** Backend flags every task shares. */
export interface BackendOptions {
  /** Where tensors run. */
  backend: BackendChoice;
  /** darl's fast kernels or stock tfjs. */
  kernels: KernelChoice;
}

/** The backend section: `--backend auto|webgpu|wasm|cpu`, `--kernels auto|fast|stock`. */
export const BACKEND_SECTION: FlagSection<BackendOptions> = {
  title: "Backend",
  defaults: { backend: "auto", kernels: "auto" },
  schema: {
    backend: { doc: "tensor backend", choices: ["auto", "webgpu", "wasm", "cpu"] },
    kernels: { doc: "darl's fast kernels or stock tfjs", choices: ["auto", "fast", "stock"] },
  },
};

/**
 * The run-control flags of every training task: `--resume`, `--resume-from`, `--config`.
 *
 * @example
 * ```ts
 * import { RUN_CONTROL, section } from "./cli.ts";
 * const run = section("Run", { ...RUN_CONTROL.defaults, preset: "tiny" }, { ...RUN_CONTROL.schema, preset: { doc: "size preset" } });
 * if (run.defaults.resume !== false) throw new Error();
 * ```
 */
export const RUN_CONTROL: FlagSection<{ resume: boolean; resumeFrom: string; config: string }> = {
  title: "Run",
  defaults: { resume: false, resumeFrom: "", config: "" },
  schema: {
    resume: { doc: "continue the run in --out from its newest checkpoint (with its own configs and dataset)" },
    resumeFrom: { doc: "continue the run in --out from this checkpoint of it" },
    config: { doc: 'a JSON file with "model" and "train" sections, e.g. a run\'s config.json' },
  },
};

/**
 * A flag section (a typed helper so `defaults` and `schema` agree).
 *
 * @param title Heading in `--help`.
 * @param defaults Defaults.
 * @param schema Documentation and bounds.
 * @returns The section.
 * @example
 * ```ts
 * import { section } from "./cli.ts";
 * const s = section("Output", { out: "runs/x" }, { out: { doc: "output directory" } });
 * if (s.defaults.out !== "runs/x") throw new Error();
 * ```
 */
export function section<T extends object>(title: string, defaults: T, schema: ConfigSchema<T>): FlagSection<T> {
  return { title, defaults, schema };
}

/**
 * Flag sections of several methods: sections with the same title merge (the
 * union of their flags, the first definition of a flag kept), so methods that
 * share options (ADDP and the token predictor's MaskGIT) share their flags.
 *
 * @param parts Each method's title, defaults and schema.
 * @returns One section per title, in first-seen order.
 * @example
 * ```ts
 * import { mergedSections } from "./cli.ts";
 * const s = mergedSections([
 *   { title: "T", defaults: { a: 1, b: 2 }, schema: { a: { doc: "a" }, b: { doc: "b" } } },
 *   { title: "T", defaults: { a: 1 }, schema: { a: { doc: "a" } } },
 * ]);
 * if (s.length !== 1 || Object.keys(s[0]!.schema).join() !== "a,b") throw new Error();
 * ```
 */
export function mergedSections(
  parts: { title: string; defaults: Record<string, unknown>; schema: ConfigSchema<Record<string, unknown>> }[],
): FlagSection<Record<string, unknown>>[] {
  const byTitle = new Map<string, FlagSection<Record<string, unknown>>>();
  for (const p of parts) {
    const s = byTitle.get(p.title) ?? section(p.title, {}, {});
    byTitle.set(p.title, {
      title: p.title,
      defaults: { ...p.defaults, ...s.defaults },
      schema: { ...p.schema, ...s.schema },
    });
  }
  return [...byTitle.values()];
}

/**
 * The help text of a task: usage, then every flag with its default.
 *
 * @param spec The task.
 * @returns The text.
 * @example
 * ```ts
 * import { BACKEND_SECTION, taskHelp } from "./cli.ts";
 * if (!taskHelp({ usage: "deno task x", sections: [BACKEND_SECTION] }).includes("--kernels")) throw new Error();
 * ```
 */
export function taskHelp(spec: TaskSpec): string {
  return [spec.usage, "", ...spec.sections.map((s) => schemaHelp(s.title, s.defaults, s.schema as never) + "\n")]
    .join("\n").trimEnd() + "\n  -h, --help           this text";
}

/**
 * Parses a task's arguments strictly: unknown flags, missing values and
 * stray arguments are one-line errors naming the flag; a negative value
 * given as `--lr -1` is an error that names the `--lr=-1` form. With
 * `--help` or `-h`, prints the help and returns null, so the task does
 * nothing else.
 *
 * @param args Command-line arguments.
 * @param spec The task's flag sections.
 * @returns Flag values by name, or null after printing help.
 * @example
 * ```ts
 * import { parseTask, section } from "./cli.ts";
 * const spec = { usage: "deno task x", sections: [section("S", { steps: 1, resume: false }, { steps: { doc: "steps" }, resume: { doc: "resume" } })] };
 * const f = parseTask(["--steps", "5", "--resume"], spec)!;
 * if (f.steps !== "5" || f.resume !== true) throw new Error();
 * try { parseTask(["--steps", "-1"], spec); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("--steps=-1")) throw e; }
 * ```
 */
export function parseTask(args: string[], spec: TaskSpec): Flags | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const s of spec.sections) {
    for (const key of Object.keys(s.schema)) {
      const name = kebab(key);
      if (options[name]) throw new Error(`task spec: flag --${name} is defined twice`);
      options[name] = {
        type: typeof (s.defaults as Record<string, unknown>)[key] === "boolean" ? "boolean" : "string",
      };
    }
  }
  options.help = { type: "boolean", short: "h" };
  for (let i = 0; i < args.length - 1; i++) {
    const m = /^--([^=]+)$/.exec(args[i]!);
    if (m && options[m[1]!]?.type === "string" && /^-[\d.]/.test(args[i + 1]!)) {
      throw new DarlError(
        `--${m[1]}: a negative value must be written --${m[1]}=${args[i + 1]} (got "--${m[1]} ${args[i + 1]}")`,
      );
    }
  }
  let values: Flags;
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    if (parsed.positionals.length) {
      throw new DarlError(`unexpected argument "${parsed.positionals[0]}" (flags look like --name value; see --help)`);
    }
    values = parsed.values as Flags;
  } catch (e) {
    if (e instanceof DarlError) throw e;
    const msg = (e as Error).message.split("\n")[0]!;
    const unknown = /Unknown option '(--?[^']+)'/.exec(msg);
    if (unknown) throw new DarlError(`${unknown[1]}: unknown flag (see --help)`);
    const missing = /Option '(--[^ ']+)[^']*' argument missing/.exec(msg);
    if (missing) throw new DarlError(`${missing[1]}: expects a value`);
    throw new DarlError(msg.replace(/\. To specify .*$/, ""));
  }
  if (values.help) {
    console.log(taskHelp(spec));
    return null;
  }
  return values;
}

/**
 * A section's config: its defaults with the flags given applied, and the
 * whole checked (so a required flag that was not given is an error).
 *
 * @param flags Parsed flags.
 * @param s The section.
 * @param base Defaults to apply them to (default: the section's).
 * @returns The config.
 * @example
 * ```ts
 * import { BACKEND_SECTION, sectionValues } from "./cli.ts";
 * if (sectionValues({ backend: "cpu" }, BACKEND_SECTION).backend !== "cpu") throw new Error();
 * ```
 */
export function sectionValues<T extends object>(flags: Flags, s: FlagSection<T>, base: T = s.defaults): T {
  const values = applyFlags(base, s.schema, flags);
  validateConfig(values, s.schema, s.defaults); // required fields, and defaults a task changed
  return values;
}

/**
 * Only the fields of a section given as flags, parsed and checked (for
 * overrides applied on top of another base, e.g. a resumed run's config).
 *
 * @param flags Parsed flags.
 * @param s The section.
 * @returns The given fields.
 * @example
 * ```ts
 * import { BACKEND_SECTION, givenValues } from "./cli.ts";
 * const g = givenValues({ kernels: "stock" }, BACKEND_SECTION);
 * if (g.kernels !== "stock" || "backend" in g) throw new Error();
 * ```
 */
export function givenValues<T extends object>(flags: Flags, s: FlagSection<T>): Partial<T> {
  const all = applyFlags(s.defaults, s.schema, flags) as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(s.schema).filter((k) => flags[kebab(k)] !== undefined).map((k) => [k, all[k]]),
  ) as Partial<T>;
}

/**
 * Starts the backend the flags ask for and prints one line describing it.
 *
 * @param flags Parsed flags (with the backend section).
 * @returns The backend's description line.
 */
export async function startBackend(flags: Flags): Promise<string> {
  const b = sectionValues(flags, BACKEND_SECTION);
  const line = describeBackend(await selectBackend(b.backend, b.kernels));
  console.log(line);
  return line;
}

/**
 * Runs a task's main function: user errors print one line `error: …` and
 * exit 1; other errors print their stack and exit 2.
 *
 * @param main The task body.
 */
export async function runTask(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof DarlError) {
      console.error(`error: ${e.message}`);
      Deno.exit(1);
    }
    console.error(e);
    Deno.exit(2);
  }
  // Worker threads of the fast CPU kernels must not keep the process alive.
  Deno.exit(0);
}

/**
 * What a training task hands to the library from its flags: the request that
 * resolves its configs (given model and run flags, `--config`, resume) and the
 * loop's resume options.
 *
 * @param f Parsed flags.
 * @param model The model's flag section.
 * @param train The run's flag section.
 * @param log Progress lines.
 * @returns The request and the loop options.
 * @example
 * ```ts
 * import { RUN_CONTROL, section, trainingRequest } from "./cli.ts";
 * const model = section("Model", { width: 8 }, { width: { doc: "width" } });
 * const train = section("Training", { steps: 10 }, { steps: { doc: "optimiser steps" } });
 * const { request, loop } = trainingRequest({ width: "16", "resume-from": "runs/x/ckpt-0000005.safetensors" }, model, train, () => {});
 * if (request.model.width !== 16 || !request.resume || loop.resumeFrom === undefined || RUN_CONTROL.title !== "Run") throw new Error();
 * ```
 */
export function trainingRequest<M extends object, R extends object>(
  f: Flags,
  model: FlagSection<M>,
  train: FlagSection<R>,
  log: (line: string) => void,
): {
  request: { model: Partial<M>; train: Partial<R>; configFile?: string; resume: boolean; log: (line: string) => void };
  loop: { resume: boolean; resumeFrom?: string; log: (line: string) => void };
} {
  const run = sectionValues(f, RUN_CONTROL);
  return {
    request: {
      model: givenValues(f, model),
      train: givenValues(f, train),
      ...(run.config ? { configFile: run.config } : {}),
      resume: run.resume || !!run.resumeFrom,
      log,
    },
    loop: { resume: run.resume, ...(run.resumeFrom ? { resumeFrom: run.resumeFrom } : {}), log },
  };
}
