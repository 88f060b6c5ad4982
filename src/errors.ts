/**
 * User-facing errors: one line that names the file or flag and what was
 * expected. Tasks print `error: <message>` and exit non-zero.
 *
 * @module
 */

/**
 * An error caused by bad input (a file, a flag, a checkpoint). Its message is
 * a single line meant for the user, not a stack trace.
 *
 * @example
 * ```ts
 * import { DarlError } from "./errors.ts";
 * const e = new DarlError("data/x/header.json: expected format \"darl-dataset\"");
 * if (!(e instanceof Error) || e.name !== "DarlError") throw new Error("unexpected");
 * ```
 */
export class DarlError extends Error {
  /** Creates a user-facing error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "DarlError";
  }
}

/**
 * Throws a {@linkcode DarlError} unless `condition` holds.
 *
 * @param condition What must be true.
 * @param message The one-line message shown to the user otherwise.
 * @example
 * ```ts
 * import { check } from "./errors.ts";
 * check(1 + 1 === 2, "arithmetic is broken");
 * ```
 */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DarlError(message);
}
