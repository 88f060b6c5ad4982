/**
 * File helpers shared by the data readers: reading with clear errors,
 * transparent gzip, and atomic writes.
 *
 * @module
 */
import { DarlError } from "../errors.ts";

/**
 * Reads a whole file, turning "not found" and similar into one-line errors.
 * Files ending in `.gz` (or starting with the gzip magic) are decompressed.
 *
 * @param path The file.
 * @param what What the file should be, for the error message.
 * @returns The (decompressed) bytes.
 * @example
 * ```ts
 * import { readInput } from "./files.ts";
 * try { await readInput("/no/such/file", "an IDX file"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("/no/such/file")) throw e; }
 * ```
 */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DarlError(`${path}: file not found (expected ${what})`);
    if (e instanceof Deno.errors.IsADirectory) throw new DarlError(`${path}: is a directory (expected ${what})`);
    throw new DarlError(`${path}: cannot read (${(e as Error).message}); expected ${what}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch {
      throw new DarlError(`${path}: corrupt or truncated gzip data (expected ${what})`);
    }
  }
  return bytes;
}

/**
 * Lists a directory's entries sorted by name, with a one-line error when it
 * is missing.
 *
 * @param dir The directory.
 * @param what What it should contain, for the error message.
 * @returns Its entries.
 */
export async function listDir(dir: string, what: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DarlError(`${dir}: directory not found (expected ${what})`);
    if (e instanceof Deno.errors.NotADirectory) throw new DarlError(`${dir}: not a directory (expected ${what})`);
    throw new DarlError(`${dir}: cannot list (${(e as Error).message})`);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A one-line reason for a failed file-system call, without Rust's "(os
 * error N)" suffix: "no space left on device", "read-only file system", …
 *
 * @param e The error thrown by a Deno file API.
 * @returns The reason in lower case.
 * @example
 * ```ts
 * import { ioReason } from "./files.ts";
 * if (ioReason(new Error("No space left on device (os error 28)")) !== "no space left on device") throw new Error();
 * ```
 */
export function ioReason(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  const m = /^(.*?)(?: \(os error \d+\))?(?:: [^:]*)?$/.exec(msg.split("\n")[0]!);
  const text = (m?.[1] ?? msg).replace(/^[a-z]+ '.*?': /i, "");
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * Writes a file atomically and durably: a temporary file in the same
 * directory, flushed to disk (fsync), then renamed, so readers never see a
 * partial file and a crash never leaves a renamed but empty one. Failures
 * (a full disk, a read-only or unwritable directory) become one-line errors
 * naming the file, and the temporary file is removed.
 *
 * @param path The destination.
 * @param data The bytes.
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.bin`, new Uint8Array([1, 2]));
 * if ((await Deno.readFile(`${dir}/a.bin`)).length !== 2) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    for (let o = 0; o < data.length;) o += await file.write(data.subarray(o));
    await file.syncData();
    file.close();
    file = null;
    await Deno.rename(tmp, path);
  } catch (e) {
    file?.close();
    await Deno.remove(tmp).catch(() => {});
    throw new DarlError(`${path}: cannot write (${ioReason(e)})`);
  }
}

/**
 * Appends text to a file (metrics logs), with one-line errors.
 *
 * @param path The file.
 * @param text What to append.
 * @example
 * ```ts
 * import { appendText } from "./files.ts";
 * const f = (await Deno.makeTempDir()) + "/log.txt";
 * await appendText(f, "a\n");
 * await appendText(f, "b\n");
 * if (await Deno.readTextFile(f) !== "a\nb\n") throw new Error();
 * ```
 */
export async function appendText(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { append: true });
  } catch (e) {
    throw new DarlError(`${path}: cannot write (${ioReason(e)})`);
  }
}

/**
 * Creates a directory (and its parents), with one-line errors naming the
 * flag that chose it: a path under a file, an unwritable or read-only
 * location.
 *
 * @param dir The directory.
 * @param flag The flag or role, for the message (e.g. "--out").
 * @example
 * ```ts
 * import { ensureDir } from "./files.ts";
 * const dir = (await Deno.makeTempDir()) + "/a/b";
 * await ensureDir(dir, "--out");
 * if (!(await Deno.stat(dir)).isDirectory) throw new Error();
 * ```
 */
export async function ensureDir(dir: string, flag: string): Promise<void> {
  await checkWritableDir(dir, flag);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new DarlError(`${flag} ${dir}: cannot create the directory (${ioReason(e)})`);
  }
}

/**
 * Checks, without creating anything that stays, that a directory could be
 * created (or written) at `dir`: the nearest existing ancestor must be a
 * directory in which a file can be created. Used before long work, so an
 * unwritable `--out` fails at once and leaves no empty folders.
 *
 * @param dir The directory.
 * @param flag The flag or role, for the message.
 * @example
 * ```ts
 * import { checkWritableDir } from "./files.ts";
 * const f = await Deno.makeTempFile();
 * try { await checkWritableDir(`${f}/out`, "--out"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("is a file")) throw e; }
 * ```
 */
export async function checkWritableDir(dir: string, flag: string): Promise<void> {
  let probe = dir.replace(/\/+$/, "") || "/";
  for (;;) {
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.stat(probe);
    } catch (e) {
      // ENOTDIR: some ancestor is a file, which the walk up will find.
      if (!(e instanceof Deno.errors.NotFound) && !(e instanceof Deno.errors.NotADirectory)) {
        throw new DarlError(`${flag} ${dir}: cannot use ${probe} (${ioReason(e)})`);
      }
    }
    if (info) {
      if (!info.isDirectory) throw new DarlError(`${flag} ${dir}: ${probe} is a file, not a directory`);
      break;
    }
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  try {
    const f = await Deno.makeTempFile({ dir: probe, prefix: ".darl-write-check-" });
    await Deno.remove(f);
  } catch (e) {
    throw new DarlError(`${flag} ${dir}: cannot write in ${probe} (${ioReason(e)})`);
  }
}

/** The pattern of darl's temporary names: `<name>.tmp-<pid>-<random>`. */
const TEMP_NAME = /^(.*)\.tmp-(\d+)-[a-z0-9]+$/;

/**
 * Whether a process may still be running on this machine: false only when
 * it provably is not (Linux's /proc has no entry for it). Without /proc
 * nothing can be proven, so the answer is true and nothing gets removed.
 *
 * @param pid A process id.
 * @returns False when the process is gone.
 * @example
 * ```ts
 * import { processAlive } from "./files.ts";
 * if (!processAlive(Deno.pid)) throw new Error();
 * ```
 */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound) || !existsSync("/proc/self");
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes temporary files and directories (`<name>.tmp-<pid>-<random>`)
 * left in `dir` by a darl process that no longer runs (killed while writing
 * a checkpoint or preparing a dataset).
 *
 * @param dir The directory to clean.
 * @param stem Only names starting with this (default: all).
 * @returns The names removed.
 * @example
 * ```ts
 * import { removeStaleTemps } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ckpt.safetensors.tmp-999999999-abc`, "partial");
 * if ((await removeStaleTemps(dir)).length !== 1) throw new Error();
 * ```
 */
export async function removeStaleTemps(dir: string, stem = ""): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch {
    return removed;
  }
  entries = entries.filter((e) => e.name.startsWith(stem));
  for (const e of entries) {
    const m = TEMP_NAME.exec(e.name);
    if (!m || processAlive(Number(m[2]))) continue;
    await Deno.remove(`${dir}/${e.name}`, { recursive: true }).catch(() => {});
    removed.push(e.name);
  }
  return removed;
}

/**
 * Whether a path exists.
 *
 * @param path The path.
 * @returns True if it exists.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    // ENOTDIR: a parent is a file, so nothing exists at this path.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw new DarlError(`${path}: cannot check (${ioReason(e)})`);
  }
}

/**
 * Hex SHA-256 of some bytes.
 *
 * @param data The bytes.
 * @returns 64 hex characters.
 * @example
 * ```ts
 * import { sha256Hex } from "./files.ts";
 * const h = await sha256Hex(new Uint8Array());
 * if (!h.startsWith("e3b0c442")) throw new Error();
 * ```
 */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The directory part of a path ("." when there is none).
 *
 * @param path A file or directory path.
 * @returns Its parent directory.
 * @example
 * ```ts
 * import { dirname } from "./files.ts";
 * if (dirname("runs/a/ckpt.bin") !== "runs/a" || dirname("x") !== ".") throw new Error();
 * ```
 */
export function dirname(path: string): string {
  const p = path.replace(/\/+$/, "");
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}
