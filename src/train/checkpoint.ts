/**
 * Checkpoints as safetensors files: model weights (`<path>`), optimiser
 * moments (`opt.m.<path>`, `opt.v.<path>`), a weight EMA's live weights
 * (`live.<path>`, with the averages as the model weights), and in the header's metadata the
 * step, model and training configs, extra state, and the SHA-256 of the
 * tensor data. Files are written atomically and durably (temporary file,
 * fsync, rename) and named `ckpt-<step>.safetensors`. A checkpoint holding
 * NaN or Inf is never written, and loading verifies the checksum, the
 * header's offsets, the metadata and that every value is finite.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { DarlError } from "../errors.ts";
import { readInput, sha256Hex, writeFileAtomic } from "../data/files.ts";
import { namedLeaves, type ParamTree } from "../nn/tree.ts";
import type { AdamWState } from "./optim.ts";
import type { WeightEma } from "./ema.ts";
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "./safetensors.ts";
import { resolveCheckpoint } from "./run_checkpoints.ts";

export { checkpointPath, listCheckpoints, pruneCheckpoints, resolveCheckpoint } from "./run_checkpoints.ts";

/**
 * Format tag in every darl checkpoint.
 *
 * @example
 * ```ts
 * import { CHECKPOINT_FORMAT } from "./checkpoint.ts";
 * if (CHECKPOINT_FORMAT !== "darl-checkpoint") throw new Error();
 * ```
 */
export const CHECKPOINT_FORMAT = "darl-checkpoint";

/**
 * What a checkpoint's metadata holds besides tensors.
 *
 * @example
 * ```ts
 * import type { CheckpointMeta } from "./checkpoint.ts";
 * const meta: CheckpointMeta = { format: "darl-checkpoint", method: "darl", step: 250, model: { dim: 128 }, train: { lr: 1e-3 }, state: { dataset: "fashion-mnist" } };
 * if (meta.step !== 250) throw new Error();
 * ```
 */
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

/**
 * A loaded checkpoint.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const path = (await Deno.makeTempDir()) + "/ckpt-0000001.safetensors";
 * await saveCheckpoint(path, { w: tf.ones([2]) }, null, { format: "darl-checkpoint", method: "demo", step: 1, model: {}, train: {}, state: {} });
 * const ck: Checkpoint = await loadCheckpoint(path);
 * if (ck.opt !== null || ck.params.get("w")!.shape.join() !== "2") throw new Error();
 * ```
 */
export interface Checkpoint {
  /** The file it came from. */
  path: string;
  /** Its metadata. */
  meta: CheckpointMeta;
  /** Model tensors by path. */
  params: Map<string, StoredTensor>;
  /** Optimiser moments by parameter path, when saved. */
  opt: { m: Map<string, StoredTensor>; v: Map<string, StoredTensor> } | null;
  /** A run with a weight EMA: `params` holds the averages, this the live weights by path. */
  live?: Map<string, StoredTensor>;
}

/**
 * Names of the tensors that hold NaN or ±Inf.
 *
 * @param tensors Stored tensors by name.
 * @returns The offending names, in order.
 * @example
 * ```ts
 * import { nonFiniteTensors } from "./checkpoint.ts";
 * const t = new Map([["a", { dtype: "F32" as const, shape: [1], data: new Float32Array([NaN]) }]]);
 * if (nonFiniteTensors(t).join() !== "a") throw new Error();
 * ```
 */
export function nonFiniteTensors(tensors: Map<string, StoredTensor>): string[] {
  const bad: string[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== "F32") continue;
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) {
        bad.push(name);
        break;
      }
    }
  }
  return bad;
}

function describeNonFinite(bad: string[], total: number): string {
  return `${bad.length} of ${total} tensors hold NaN or Inf (${bad.slice(0, 3).join(", ")}${
    bad.length > 3 ? ", …" : ""
  })`;
}

/** Thrown by {@linkcode saveCheckpoint} instead of writing NaN or Inf. */
export class NonFiniteCheckpointError extends DarlError {
  /** The tensors holding non-finite values. */
  readonly tensors: string[];
  /**
   * @param path The checkpoint that was not written.
   * @param bad The offending tensor names.
   * @param total How many tensors the checkpoint has.
   */
  constructor(path: string, bad: string[], total: number) {
    super(`${path}: not written: ${describeNonFinite(bad, total)}`);
    this.tensors = bad;
  }
}

/** SHA-256 of tensors' bytes in order (the safetensors data section). */
async function dataHash(tensors: Map<string, StoredTensor>): Promise<string> {
  let size = 0;
  for (const t of tensors.values()) size += t.data.byteLength;
  const all = new Uint8Array(size);
  let o = 0;
  for (const t of tensors.values()) {
    all.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o);
    o += t.data.byteLength;
  }
  return await sha256Hex(all);
}

async function stored(t: tf.Tensor): Promise<StoredTensor> {
  const data = await t.data();
  return t.dtype === "int32"
    ? { dtype: "I32", shape: t.shape, data: new Int32Array(data as Int32Array) }
    : { dtype: "F32", shape: t.shape, data: new Float32Array(data as Float32Array) };
}

/**
 * Saves a model (and optionally its optimiser state) atomically. Refuses,
 * with an error naming the tensors, to write a checkpoint holding NaN or Inf.
 *
 * @param path The destination file.
 * @param params The parameter tree.
 * @param opt AdamW state aligned with `namedLeaves(params)` (or with `optNames`), or null.
 * @param meta Metadata.
 * @param optNames The parameters the optimiser updates, when not all of them (a frozen or EMA-assigned part has no
 *   moments).
 * @param ema A weight EMA: its averages are saved as the model weights and the live weights as `live.<path>`.
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
  optNames?: string[],
  ema?: WeightEma,
): Promise<void> {
  const tensors = new Map<string, StoredTensor>();
  const leaves = namedLeaves(params);
  for (const [name, t] of leaves) tensors.set(name, await stored(t));
  if (ema) {
    for (let i = 0; i < ema.names.length; i++) {
      const name = ema.names[i]!;
      tensors.set(`live.${name}`, tensors.get(name)!);
      tensors.set(name, await stored(ema.shadow[i]!));
    }
  }
  if (opt) {
    const names = optNames ?? leaves.map(([n]) => n);
    for (let i = 0; i < names.length; i++) {
      tensors.set(`opt.m.${names[i]}`, await stored(opt.m[i]!));
      tensors.set(`opt.v.${names[i]}`, await stored(opt.v[i]!));
    }
  }
  const bad = nonFiniteTensors(tensors);
  if (bad.length) throw new NonFiniteCheckpointError(path, bad, tensors.size);
  const metadata = { darl: JSON.stringify({ ...meta, optStep: opt?.step ?? 0, dataSha256: await dataHash(tensors) }) };
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Checks a checkpoint's metadata object: format, method, a non-negative
 * integer step, and object-valued model, train and state.
 *
 * @param meta The parsed "darl" metadata.
 * @param path The file, for errors.
 * @returns The metadata, typed.
 */
function validateMeta(meta: unknown, path: string): CheckpointMeta & { optStep: number; dataSha256: string } {
  const m = meta as Record<string, unknown> | null;
  if (!m || typeof m !== "object") throw new DarlError(`${path}: checkpoint metadata is not an object`);
  if (m.format !== CHECKPOINT_FORMAT) throw new DarlError(`${path}: expected format "${CHECKPOINT_FORMAT}"`);
  if (typeof m.method !== "string" || !m.method) throw new DarlError(`${path}: checkpoint metadata has no "method"`);
  if (!Number.isInteger(m.step) || (m.step as number) < 0) {
    throw new DarlError(`${path}: checkpoint "step" must be a non-negative integer, got ${JSON.stringify(m.step)}`);
  }
  for (const k of ["model", "train", "state"]) {
    if (!m[k] || typeof m[k] !== "object" || Array.isArray(m[k])) {
      throw new DarlError(`${path}: checkpoint metadata has no "${k}" object`);
    }
  }
  if (m.optStep !== undefined && (!Number.isInteger(m.optStep) || (m.optStep as number) < 0)) {
    throw new DarlError(`${path}: checkpoint "optStep" must be a non-negative integer`);
  }
  if (typeof m.dataSha256 !== "string") {
    throw new DarlError(`${path}: checkpoint has no tensor checksum ("dataSha256"); it cannot be verified`);
  }
  return {
    ...(m as unknown as CheckpointMeta),
    optStep: (m.optStep as number | undefined) ?? (m.step as number),
    dataSha256: m.dataSha256,
  };
}

/**
 * Loads a checkpoint file, verifying the header, the metadata, the tensor
 * checksum, and that every value is finite.
 *
 * @param path The file.
 * @returns Its tensors and metadata.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const path = (await Deno.makeTempDir()) + "/ckpt-0000001.safetensors";
 * await saveCheckpoint(path, { w: tf.ones([4]) }, null, { format: "darl-checkpoint", method: "demo", step: 1, model: {}, train: {}, state: {} });
 * const bytes = await Deno.readFile(path);
 * bytes[bytes.length - 1]! ^= 1; // one flipped bit in the data
 * await Deno.writeFile(path, bytes);
 * try { await loadCheckpoint(path); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("checksum")) throw e; }
 * ```
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata, data } = decodeSafetensors(
    await readInput(path, "a darl checkpoint (.safetensors)"),
    path,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata.darl ?? "");
  } catch {
    throw new DarlError(`${path}: not a darl checkpoint (no "darl" metadata in the safetensors header)`);
  }
  const meta = validateMeta(parsed, path);
  if ((await sha256Hex(data)) !== meta.dataSha256) {
    throw new DarlError(`${path}: tensor data does not match its checksum (the file is corrupt)`);
  }
  const bad = nonFiniteTensors(tensors);
  if (bad.length) {
    throw new DarlError(
      `${path}: ${describeNonFinite(bad, tensors.size)}; the run had diverged, use an earlier checkpoint`,
    );
  }
  const params = new Map<string, StoredTensor>();
  const m = new Map<string, StoredTensor>(),
    v = new Map<string, StoredTensor>(),
    live = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) {
    if (name.startsWith("opt.m.")) m.set(name.slice(6), t);
    else if (name.startsWith("opt.v.")) v.set(name.slice(6), t);
    else if (name.startsWith("live.")) live.set(name.slice(5), t);
    else params.set(name, t);
  }
  return { path, meta, params, opt: m.size > 0 ? { m, v } : null, ...(live.size > 0 ? { live } : {}) };
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
 * Loads a checkpoint of a given method into a freshly built model: resolves a
 * run directory to its newest checkpoint, checks the method, reads the stored
 * config and assigns every tensor (names and shapes must match exactly).
 *
 * @param path A checkpoint file or a run directory.
 * @param method The method the checkpoint must record ("vq-tokenizer", …).
 * @param label How messages name it ("a VQ tokenizer").
 * @param stored Reads and checks the config stored in the checkpoint.
 * @param init Builds a model of that config (its values are then overwritten).
 * @returns The model, its config and the checkpoint.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { loadMethodCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const path = (await Deno.makeTempDir()) + "/ckpt-0000001.safetensors";
 * await saveCheckpoint(path, { w: tf.ones([2]) }, null, { format: "darl-checkpoint", method: "toy", step: 1, model: { n: 2 }, train: {}, state: {} });
 * const { params } = await loadMethodCheckpoint(path, "toy", "a toy", (m) => m as { n: number }, (c) => ({ w: tf.variable(tf.zeros([c.n])) }));
 * if ((await params.w.data())[1] !== 1) throw new Error();
 * ```
 */
export async function loadMethodCheckpoint<C, P>(
  path: string,
  method: string,
  label: string,
  stored: (model: Record<string, unknown>, file: string) => C,
  init: (cfg: C) => P,
): Promise<{ params: P; cfg: C; checkpoint: Checkpoint }> {
  const file = await resolveCheckpoint(path);
  const ck = await loadCheckpoint(file);
  if (ck.meta.method !== method) throw new DarlError(`${file}: is a "${ck.meta.method}" checkpoint, expected ${label}`);
  const cfg = stored(ck.meta.model, file);
  const params = init(cfg);
  assignParams(params as unknown as ParamTree, ck.params, file);
  return { params, cfg, checkpoint: ck };
}
