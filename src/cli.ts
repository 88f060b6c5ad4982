/**
 * Helpers for the thin CLIs in `tasks/`: flag parsing with `node:util`
 * (JSR's std/cli is not reachable here), one-line errors, and exit codes.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DarlError } from "./errors.ts";
import { type ConfigSchema, kebab } from "./config.ts";

/** Flags a task accepts, by kebab-case name. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; doc?: string }>;

/**
 * Turns config schemas into flag specs (every config field is a string flag).
 *
 * @param schemas Config schemas.
 * @returns Flag specs.
 */
export function schemaFlags(...schemas: ConfigSchema<object>[]): FlagSpec {
  const out: FlagSpec = {};
  for (const s of schemas) for (const k of Object.keys(s)) out[kebab(k)] = { type: "string" };
  return out;
}

/**
 * Parses `args` strictly: unknown flags and missing values are one-line
 * errors naming the flag.
 *
 * @param args Command-line arguments.
 * @param spec Accepted flags.
 * @returns Values by flag name.
 * @example
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * const f = parseFlags(["--steps", "5", "--resume"], { steps: { type: "string" }, resume: { type: "boolean" } });
 * if (f.steps !== "5" || f.resume !== true) throw new Error();
 * ```
 */
export function parseFlags(args: string[], spec: FlagSpec): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [k, v] of Object.entries(spec)) options[k] = { type: v.type };
  options.help = { type: "boolean" };
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    if (positionals.length) {
      throw new DarlError(`unexpected argument "${positionals[0]}" (flags look like --name value)`);
    }
    return values as Record<string, string | boolean | undefined>;
  } catch (e) {
    if (e instanceof DarlError) throw e;
    const msg = (e as Error).message.split("\n")[0]!;
    const m = /Unknown option '(--?[^']+)'/.exec(msg);
    if (m) throw new DarlError(`${m[1]}: unknown flag (see --help)`);
    throw new DarlError(msg.replace(/\. To specify .*$/, ""));
  }
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
