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
 * Writes a file atomically: a temporary file in the same directory, then a
 * rename, so readers never see a partial file.
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
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
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
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
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
