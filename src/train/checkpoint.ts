/**
 * Checkpoints as safetensors files: model weights (`<path>`), optimiser
 * moments (`opt.m.<path>`, `opt.v.<path>`), and in the header's metadata the
 * step, RNG state, model config and training config. Files are written
 * atomically (temporary file + rename) and named `ckpt-<step>.safetensors`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import { exists, listDir, readInput, writeFileAtomic } from "../data/files.ts";
import { namedLeaves, type ParamTree } from "../nn/tree.ts";
import type { AdamWState } from "./optim.ts";
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "./safetensors.ts";

/** Format tag in every darl checkpoint. */
export const CHECKPOINT_FORMAT = "darl-checkpoint";

/** What a checkpoint's metadata holds besides tensors. */
export interface CheckpointMeta {
  /** Always "darl-checkpoint". */
  format: typeof CHECKPOINT_FORMAT;
  /** Which method/model family, e.g. "darl". */
  method: string;
  /** Completed optimiser steps. */
  step: number;
  /** The model config. */
  model: Record<string, unknown>;
  /** The training config. */
  train: Record<string, unknown>;
  /** Extra state (RNG, dataset checksum, …). */
  state: Record<string, unknown>;
}

/** A loaded checkpoint. */
export interface Checkpoint {
  /** The file it came from. */
  path: string;
  /** Its metadata. */
  meta: CheckpointMeta;
  /** Model tensors by path. */
  params: Map<string, StoredTensor>;
  /** Optimiser moments by parameter path, when saved. */
  opt: { m: Map<string, StoredTensor>; v: Map<string, StoredTensor> } | null;
}

async function stored(t: tf.Tensor): Promise<StoredTensor> {
  const data = await t.data();
  return t.dtype === "int32"
    ? { dtype: "I32", shape: t.shape, data: new Int32Array(data as Int32Array) }
    : { dtype: "F32", shape: t.shape, data: new Float32Array(data as Float32Array) };
}

/**
 * Saves a model (and optionally its optimiser state) atomically.
 *
 * @param path The destination file.
 * @param params The parameter tree.
 * @param opt AdamW state aligned with `namedLeaves(params)`, or null.
 * @param meta Metadata.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const path = (await Deno.makeTempDir()) + "/ckpt-0000001.safetensors";
 * await saveCheckpoint(path, { w: tf.ones([2, 2]) }, null, { format: "darl-checkpoint", method: "demo", step: 1, model: {}, train: {}, state: {} });
 * const ck = await loadCheckpoint(path);
 * if (ck.meta.step !== 1 || ck.params.get("w")!.data[3] !== 1) throw new Error();
 * ```
 */
export async function saveCheckpoint(
  path: string,
  params: ParamTree,
  opt: AdamWState | null,
  meta: CheckpointMeta,
): Promise<void> {
  const tensors = new Map<string, StoredTensor>();
  const leaves = namedLeaves(params);
  for (const [name, t] of leaves) tensors.set(name, await stored(t));
  if (opt) {
    for (let i = 0; i < leaves.length; i++) {
      tensors.set(`opt.m.${leaves[i]![0]}`, await stored(opt.m[i]!));
      tensors.set(`opt.v.${leaves[i]![0]}`, await stored(opt.v[i]!));
    }
  }
  const metadata = { darl: JSON.stringify({ ...meta, optStep: opt?.step ?? 0 }) };
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Loads a checkpoint file.
 *
 * @param path The file.
 * @returns Its tensors and metadata.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = decodeSafetensors(await readInput(path, "a darl checkpoint (.safetensors)"), path);
  let meta: CheckpointMeta & { optStep?: number };
  try {
    meta = JSON.parse(metadata.darl ?? "");
  } catch {
    throw new DarlError(`${path}: not a darl checkpoint (no "darl" metadata in the safetensors header)`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new DarlError(`${path}: expected format "${CHECKPOINT_FORMAT}"`);
  const params = new Map<string, StoredTensor>();
  const m = new Map<string, StoredTensor>(), v = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) {
    if (name.startsWith("opt.m.")) m.set(name.slice(6), t);
    else if (name.startsWith("opt.v.")) v.set(name.slice(6), t);
    else params.set(name, t);
  }
  return { path, meta, params, opt: m.size > 0 ? { m, v } : null };
}

/**
 * Copies checkpoint tensors into a parameter tree of variables, checking
 * that names and shapes match exactly.
 *
 * @param tree The tree (variables) to fill.
 * @param values Tensors by path.
 * @param file The checkpoint, for errors.
 */
export function assignParams(tree: ParamTree, values: Map<string, StoredTensor>, file: string): void {
  const leaves = namedLeaves(tree);
  const expected = new Set(leaves.map(([n]) => n));
  for (const name of values.keys()) {
    if (!expected.has(name)) throw new DarlError(`${file}: unexpected tensor "${name}" for this model config`);
  }
  for (const [name, t] of leaves) {
    const s = values.get(name);
    if (!s) throw new DarlError(`${file}: missing tensor "${name}" for this model config`);
    if (s.shape.join() !== t.shape.join()) {
      throw new DarlError(`${file}: tensor "${name}" has shape [${s.shape}], the model expects [${t.shape}]`);
    }
    const value = tf.tensor(s.data, s.shape, s.dtype === "F32" ? "float32" : "int32");
    (t as tf.Variable).assign(value);
    value.dispose();
  }
}

/**
 * The file name of the checkpoint at a step.
 *
 * @param dir The run directory.
 * @param step The step.
 * @returns `<dir>/ckpt-<step, 7 digits>.safetensors`.
 */
export function checkpointPath(dir: string, step: number): string {
  return `${dir}/ckpt-${String(step).padStart(7, "0")}.safetensors`;
}

/**
 * Checkpoints in a run directory, oldest first.
 *
 * @param dir The run directory.
 * @returns Their paths and steps.
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
