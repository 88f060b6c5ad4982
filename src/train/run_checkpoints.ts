/**
 * The checkpoints of a run directory: how they are named
 * (`ckpt-<step>.safetensors`), listed, pruned and resolved from a command
 * line argument that names either a file or a run. Reading and writing one
 * checkpoint lives in `checkpoint.ts`, which re-exports everything here.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { exists, listDir } from "../data/files.ts";

/**
 * The file name of the checkpoint at a step.
 *
 * @param dir The run directory.
 * @param step The step.
 * @returns `<dir>/ckpt-<step, 7 digits>.safetensors`.
 * @example
 * ```ts
 * import { checkpointPath } from "./run_checkpoints.ts";
 * if (checkpointPath("runs/x", 250) !== "runs/x/ckpt-0000250.safetensors") throw new Error();
 * ```
 */
export function checkpointPath(dir: string, step: number): string {
  return `${dir}/ckpt-${String(step).padStart(7, "0")}.safetensors`;
}

/**
 * Checkpoints in a run directory, oldest first.
 *
 * @param dir The run directory.
 * @returns Their paths and steps.
 * @example
 * ```ts
 * import { checkpointPath, listCheckpoints } from "./run_checkpoints.ts";
 * const dir = await Deno.makeTempDir();
 * for (const step of [20, 3]) await Deno.writeFile(checkpointPath(dir, step), new Uint8Array());
 * await Deno.writeFile(`${dir}/metrics.jsonl`, new Uint8Array());
 * if ((await listCheckpoints(dir)).map((c) => c.step).join() !== "3,20") throw new Error();
 * ```
 */
export async function listCheckpoints(dir: string): Promise<{ path: string; step: number }[]> {
  if (!(await exists(dir))) return [];
  const out = [];
  for (const e of await listDir(dir, "checkpoints")) {
    const m = /^ckpt-(\d+)\.safetensors$/.exec(e.name);
    if (e.isFile && m) out.push({ path: `${dir}/${e.name}`, step: Number(m[1]) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Deletes all but the newest `keep` checkpoints.
 *
 * @param dir The run directory.
 * @param keep How many to keep (≥ 1).
 * @example
 * ```ts
 * import { checkpointPath, listCheckpoints, pruneCheckpoints } from "./run_checkpoints.ts";
 * const dir = await Deno.makeTempDir();
 * for (const step of [1, 2, 3]) await Deno.writeFile(checkpointPath(dir, step), new Uint8Array());
 * await pruneCheckpoints(dir, 2);
 * if ((await listCheckpoints(dir)).map((c) => c.step).join() !== "2,3") throw new Error();
 * ```
 */
export async function pruneCheckpoints(dir: string, keep: number): Promise<void> {
  const all = await listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - Math.max(1, keep)))) await Deno.remove(c.path);
}

/**
 * Resolves a checkpoint argument: a file, or a run directory (its newest).
 *
 * @param pathOrDir A `.safetensors` file or a run directory.
 * @returns The checkpoint file.
 *
 * @example
 * ```ts
 * import { checkpointPath, resolveCheckpoint } from "./run_checkpoints.ts";
 * const dir = await Deno.makeTempDir();
 * for (const step of [1, 2]) await Deno.writeFile(checkpointPath(dir, step), new Uint8Array());
 * if (!(await resolveCheckpoint(dir)).endsWith("ckpt-0000002.safetensors")) throw new Error(); // the newest
 * ```
 */
export async function resolveCheckpoint(pathOrDir: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(pathOrDir);
  } catch {
    throw new DarlError(`${pathOrDir}: not found (expected a checkpoint file or a run directory)`);
  }
  if (info.isFile) return pathOrDir;
  const all = await listCheckpoints(pathOrDir);
  if (all.length === 0) throw new DarlError(`${pathOrDir}: no ckpt-*.safetensors checkpoints in this directory`);
  return all[all.length - 1]!.path;
}
