/**
 * One run per output directory at a time: a lock file `<dir>/.lock` holding
 * the owner's pid, host and start time, created exclusively. A lock whose
 * process no longer runs on this host is stale and is taken over.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { ensureDir, ioReason, processAlive } from "../data/files.ts";

/** What a lock file holds. */
export interface LockInfo {
  /** Process id of the owner. */
  pid: number;
  /** Host name of the owner. */
  host: string;
  /** When the lock was taken (ISO time). */
  started: string;
}

/**
 * A held lock; call `release()` when the run ends.
 *
 * @example
 * ```ts
 * import { acquireLock, type RunLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock: RunLock = await acquireLock(dir, "--out");
 * if (!lock.path.endsWith("/.lock")) throw new Error();
 * await lock.release();
 * ```
 */
export interface RunLock {
  /** The lock file. */
  path: string;
  /** Removes the lock file. */
  release(): Promise<void>;
}

/**
 * Takes the lock of a directory (which must exist), or fails with a one-line
 * error naming the owner.
 *
 * @param dir The output directory.
 * @param flag The flag that named it, for messages (e.g. "--out").
 * @param log Receives a note when a stale lock is taken over.
 * @returns The lock.
 * @example
 * ```ts
 * import { acquireLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await acquireLock(dir, "--out");
 * try { await acquireLock(dir, "--out"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("in use by")) throw e; }
 * await lock.release();
 * await (await acquireLock(dir, "--out")).release();
 * ```
 */
export async function acquireLock(dir: string, flag: string, log: (msg: string) => void = () => {}): Promise<RunLock> {
  const path = `${dir}/.lock`;
  const info: LockInfo = { pid: Deno.pid, host: Deno.hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, JSON.stringify(info) + "\n", { createNew: true });
      return {
        path,
        release: async () => {
          await Deno.remove(path).catch(() => {});
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new DarlError(`${flag} ${dir}: cannot create ${path} (${ioReason(e)})`);
      }
    }
    let owner: Partial<LockInfo> = {};
    try {
      owner = JSON.parse(await Deno.readTextFile(path));
    } catch { /* a torn lock file: its writer died mid-write */ }
    const sameHost = owner.host === undefined || owner.host === info.host;
    if (typeof owner.pid === "number" && (!sameHost || processAlive(owner.pid))) {
      throw new DarlError(
        `${flag} ${dir}: in use by another run (pid ${owner.pid} on ${owner.host}, since ${owner.started}); ` +
          `wait for it to finish or choose another ${flag}`,
      );
    }
    log(`note: removed a stale lock in ${dir} (pid ${owner.pid ?? "?"} is not running)`);
    await Deno.remove(path).catch(() => {});
  }
  throw new DarlError(`${flag} ${dir}: could not take the lock ${path}`);
}

/**
 * Runs `work` with `dir` created and locked, releasing the lock afterwards
 * (also on failure). Tasks that write reports check the directory first
 * (`checkWritableDir`) and lock it only when their results are
 * ready, so a failed run leaves no empty folder.
 *
 * @param dir The output directory.
 * @param flag The flag that named it, for messages.
 * @param work What to do inside it.
 * @returns What `work` returns.
 * @example
 * ```ts
 * import { withLockedDir } from "./lock.ts";
 * const dir = (await Deno.makeTempDir()) + "/report";
 * await withLockedDir(dir, "--out", () => Deno.writeTextFile(`${dir}/a.md`, "ok"));
 * if ((await Deno.readTextFile(`${dir}/a.md`)) !== "ok") throw new Error();
 * ```
 */
export async function withLockedDir<T>(dir: string, flag: string, work: () => Promise<T>): Promise<T> {
  await ensureDir(dir, flag);
  const lock = await acquireLock(dir, flag);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}
