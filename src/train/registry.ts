/**
 * From a checkpoint to a model, written once: a registry maps the method
 * stored in a checkpoint ("darl", later "addp") to the loader that rebuilds
 * its model and hands out what the tasks need: an {@linkcode Encoder} for
 * probes, VTAB and fine-tuning, and a {@linkcode Generator} for sampling.
 * Methods register themselves when their module is imported
 * (`src/methods.ts` imports them all), so shared code never imports a method.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import type { ConfigSchema } from "../config.ts";
import { sha256Hex } from "../data/files.ts";
import type { Encoder } from "../nn/encoder.ts";
import { type Checkpoint, loadCheckpoint, resolveCheckpoint } from "./checkpoint.ts";
import { liveWeights } from "./ema.ts";

/**
 * What a generator is asked for.
 *
 * @example
 * ```ts
 * import type { SampleRequest } from "./registry.ts";
 * const req: SampleRequest = { count: 16, seed: 0, options: { sampleSteps: 50 } };
 * if (req.images !== undefined) throw new Error(); // unconditional
 * ```
 */
export interface SampleRequest {
  /** Images to generate. */
  count: number;
  /** Seed of every random draw. */
  seed: number;
  /** The method's sampling options (validated against its schema). */
  options: Record<string, unknown>;
  /** Real images [count, H, W, C] uint8 in the model's shape, when {@linkcode Generator.conditional} asks for them. */
  images?: Uint8Array;
  /** Progress: units done and total (e.g. patches, or steps). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * What a generator returns.
 *
 * @example
 * ```ts
 * import type { SampleResult } from "./registry.ts";
 * const r: SampleResult = { images: new Uint8Array(4 * 784), kind: "unconditional", summary: "DDPM, 100 steps per patch" };
 * if (r.images.length / 784 !== 4) throw new Error();
 * ```
 */
export interface SampleResult {
  /** Generated images [count, H, W, C] uint8. */
  images: Uint8Array;
  /** A name for the kind of output, used for its folder: "unconditional", "completion-r3", … */
  kind: string;
  /** One line describing how the images were made. */
  summary: string;
}

/**
 * A model that generates images.
 *
 * @example
 * ```ts
 * import type { Generator } from "./registry.ts";
 * // A generator of blank images, with one option.
 * const blank: Generator = {
 *   imageShape: [2, 2, 1], defaults: { level: 0 }, schema: { level: { doc: "grey level", min: 0, max: 255 } }, progressUnit: "images",
 *   conditional: () => false,
 *   sample: (req) => Promise.resolve({ images: new Uint8Array(req.count * 4).fill(req.options.level as number), kind: "unconditional", summary: "blank" }),
 * };
 * if ((await blank.sample({ count: 2, seed: 0, options: { level: 7 } })).images[7] !== 7) throw new Error();
 * ```
 */
export interface Generator {
  /** [H, W, C] of the images. */
  readonly imageShape: readonly [number, number, number];
  /** The method's sampling options: defaults and schema (CLI flags). */
  readonly defaults: Record<string, unknown>;
  /** Documentation and bounds of the options. */
  readonly schema: ConfigSchema<Record<string, unknown>>;
  /** The unit {@linkcode SampleRequest.onProgress} counts in ("patches", "steps"). */
  readonly progressUnit: string;
  /**
   * Whether these options condition on real images (completion,
   * inpainting); the caller then passes `images`.
   *
   * @param options Sampling options.
   */
  conditional(options: Record<string, unknown>): boolean;
  /**
   * Generates images.
   *
   * @param req Count, seed, options and conditioning images.
   */
  sample(req: SampleRequest): Promise<SampleResult>;
}

/**
 * A checkpoint rebuilt into a model.
 *
 * @example
 * ```ts
 * import "../methods.ts";
 * import { type LoadedModel, loadModel } from "./registry.ts";
 * const describe = (m: LoadedModel) => `${m.method}: ${m.description}${m.generator ? " (generates)" : ""}`;
 * try { describe(await loadModel("/no/such/run")); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("not found")) throw e; }
 * ```
 */
export interface LoadedModel {
  /** The method ("darl", …). */
  method: string;
  /** The checkpoint file. */
  path: string;
  /** The checkpoint. */
  checkpoint: Checkpoint;
  /** A stable identity of the weights and config (for caches). */
  key: string;
  /** One line describing the model. */
  description: string;
  /** The name of the dataset it was trained on, when recorded. */
  dataset?: string;
  /** A fresh encoder holding its own copy of the checkpoint's weights (the caller disposes it). */
  encoder(): Encoder;
  /** The model as a generator, when the method and config can generate. */
  generator?: Generator;
  /** Why there is no generator (a one-line reason for the user), when there is none. */
  cannotGenerate?: string;
  /** Why {@linkcode LoadedModel.encoder} cannot give an image encoder (a one-line reason), when it cannot. */
  cannotEncode?: string;
  /** For a random init ({@linkcode randomInitModel}): the checkpoint whose architecture it copies, and its seed. */
  randomInitOf?: { path: string; seed: number };
  /** Releases the model's tensors (not those of encoders handed out). */
  dispose(): void;
}

/**
 * The same architecture as a loaded model, randomly initialised: what
 * training "from scratch" starts from. Its key, path and description say
 * so, so a run started from it (its config, its resume checks) never names
 * pretrained weights it did not use.
 *
 * @param model A loaded model (it keeps its own tensors; dispose it as usual).
 * @param seed Initialisation seed.
 * @returns A model whose encoders are random inits; it cannot generate.
 * @example
 * ```ts
 * import type { Encoder } from "../nn/encoder.ts";
 * import { type LoadedModel, randomInitModel } from "./registry.ts";
 * const enc = (key: string): Encoder => ({ key, randomInit: (s: number) => enc(`init-${s}`), dispose: () => {} }) as unknown as Encoder;
 * const model = { method: "toy", path: "toy.safetensors", key: "trained", description: "toy", encoder: () => enc("trained") } as unknown as LoadedModel;
 * const scratch = randomInitModel(model, 3);
 * if (scratch.key !== "init-3" || scratch.encoder().key !== "init-3" || scratch.path !== "random init (seed 3) of toy.safetensors") throw new Error();
 * if (scratch.randomInitOf?.path !== "toy.safetensors" || scratch.randomInitOf.seed !== 3) throw new Error();
 * ```
 */
export function randomInitModel(model: LoadedModel, seed: number): LoadedModel {
  const encoder = (): Encoder => {
    const trained = model.encoder();
    try {
      return trained.randomInit(seed);
    } finally {
      trained.dispose();
    }
  };
  const first = encoder(), key = first.key;
  first.dispose();
  const what = `random init (seed ${seed})`;
  return {
    method: model.method,
    path: `${what} of ${model.path}`,
    checkpoint: model.checkpoint,
    key,
    description: `${what} of ${model.description}`,
    ...(model.dataset === undefined ? {} : { dataset: model.dataset }),
    encoder,
    randomInitOf: { path: model.path, seed },
    cannotGenerate: "a random init is not a generator",
    // Its encoders are the caller's; the model it came from keeps (and disposes) its own tensors.
    dispose: () => {},
  };
}

/**
 * How a method rebuilds its checkpoints.
 *
 * @example
 * ```ts
 * import type { MethodLoader } from "./registry.ts";
 * const loader: MethodLoader = { method: "my-method", load: () => { throw new Error("rebuild the model from the checkpoint here"); } };
 * if (loader.method !== "my-method") throw new Error();
 * ```
 */
export interface MethodLoader {
  /** The method name stored in its checkpoints. */
  method: string;
  /** Its sampling options (for `--help` of the sample task), when it generates. */
  sampling?: { title: string; defaults: Record<string, unknown>; schema: ConfigSchema<Record<string, unknown>> };
  /**
   * Trains a model of this method (for studies): resolves the configs from
   * the method's defaults and the overrides, trains (or resumes) into
   * `train.out`, and reports the step reached. Absent for methods that are
   * only loaded (e.g. components trained by their own task).
   */
  pretrain?(req: PretrainCall): Promise<{ step: number }>;
  /**
   * Rebuilds a model from a verified checkpoint.
   *
   * @param ck The checkpoint.
   * @param key Its stable identity.
   */
  load(ck: Checkpoint, key: string): LoadedModel | Promise<LoadedModel>;
}

/**
 * A method-agnostic request to pretrain (what a study cell holds).
 *
 * @example
 * ```ts
 * import type { PretrainCall } from "./registry.ts";
 * const call: PretrainCall = { model: { dim: 64 }, train: { out: "runs/x", steps: 10, seed: 1 }, resume: false };
 * if (call.train.seed !== 1) throw new Error();
 * ```
 */
export interface PretrainCall {
  /** A named size preset, where the method has them. */
  preset?: string;
  /** Model overrides (schema fields). */
  model: Record<string, unknown>;
  /** Run-config overrides; `out` is where the run lives. */
  train: Record<string, unknown> & { out: string };
  /** Continue the run in `train.out` from its newest checkpoint. */
  resume: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

const loaders = new Map<string, MethodLoader>();

/**
 * Registers a method's loader (done by the method's module on import).
 *
 * @param loader The loader.
 * @example
 * ```ts
 * import { registerMethod, registeredMethods } from "./registry.ts";
 * registerMethod({ method: "demo", load: () => { throw new Error("not used"); } });
 * if (!registeredMethods().some((m) => m.method === "demo")) throw new Error();
 * ```
 */
export function registerMethod(loader: MethodLoader): void {
  loaders.set(loader.method, loader);
}

/**
 * The registered methods.
 *
 * @returns Their loaders.
 * @example
 * ```ts
 * import { registeredMethods } from "./registry.ts";
 * if (!Array.isArray(registeredMethods())) throw new Error();
 * ```
 */
export function registeredMethods(): MethodLoader[] {
  return [...loaders.values()];
}

/**
 * Which weights of a checkpoint to load: a run with `--ema-decay` saves the
 * moving average as its model ("ema") and the trained weights beside it ("live").
 *
 * @example
 * ```ts
 * import type { ModelWeights } from "./registry.ts";
 * const all: ModelWeights[] = ["ema", "live"];
 * if (all.length !== 2) throw new Error();
 * ```
 */
export type ModelWeights = "ema" | "live";

/**
 * Loads any registered method's checkpoint (a file, or a run directory's
 * newest) into a model.
 *
 * @param pathOrDir A checkpoint file or run directory.
 * @param need What the caller will use: "encoder" (any method) or "generator".
 * @param weights For a run that kept a moving average of its weights: the
 *   average ("ema", the default, what the run saved as its model) or the live
 *   weights it trained ("live"); other checkpoints have one set of weights.
 * @returns The model.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import type { Encoder } from "../nn/encoder.ts";
 * import { saveCheckpoint } from "./checkpoint.ts";
 * import { loadModel, registerMethod } from "./registry.ts";
 * // A toy method: its checkpoints hold one matrix that embeds 2×2 images as one token.
 * registerMethod({
 *   method: "toy",
 *   load: (ck, key) => {
 *     const w = tf.variable(tf.tensor(ck.params.get("w")!.data, ck.params.get("w")!.shape));
 *     const encoder = { key, width: 3, prefixTokens: 0, tokens: (x: tf.Tensor) => tf.matMul(x.reshape([-1, 4]), w).reshape([-1, 1, 3]) } as unknown as Encoder;
 *     return { method: "toy", path: ck.path, checkpoint: ck, key, description: "toy embedding", encoder: () => encoder, dispose: () => w.dispose() };
 *   },
 * });
 * const path = (await Deno.makeTempDir()) + "/ckpt-0000001.safetensors";
 * await saveCheckpoint(path, { w: tf.ones([4, 3]) }, null, { format: "darl-checkpoint", method: "toy", step: 1, model: {}, train: {}, state: {} });
 * const model = await loadModel(path);
 * if (model.encoder().tokens(tf.ones([2, 2, 2, 1])).shape.join() !== "2,1,3" || model.generator) throw new Error();
 * ```
 */
export async function loadModel(
  pathOrDir: string,
  need: "encoder" | "generator" = "encoder",
  weights: ModelWeights = "ema",
): Promise<LoadedModel> {
  const file = await resolveCheckpoint(pathOrDir);
  const saved = await loadCheckpoint(file);
  const live = weights === "live" && !!saved.live;
  const ck = live ? { ...saved, params: liveWeights(saved.params, saved.live) } : saved;
  const loader = loaders.get(ck.meta.method);
  if (!loader) {
    const known = [...loaders.keys()].join(", ") || "none registered";
    throw new DarlError(`${file}: is a "${ck.meta.method}" checkpoint; models load from ${known} checkpoints`);
  }
  const key = `ckpt:${await sha256Hex(
    new TextEncoder().encode(
      `${ck.meta.method}:${JSON.stringify(ck.meta.model)}:${(ck.meta as unknown as { dataSha256: string }).dataSha256}${
        live ? ":live" : ""
      }`,
    ),
  )}`;
  const model = await loader.load(ck, key);
  if (saved.live) {
    const decay = (ck.meta.train as { emaDecay?: number }).emaDecay;
    model.description += live ? "; live weights" : `; moving average of the weights (decay ${decay})`;
  }
  if (need === "generator" && !model.generator) {
    model.dispose();
    throw new DarlError(`${file}: ${model.cannotGenerate ?? `this ${ck.meta.method} model cannot generate images`}`);
  }
  if (need === "encoder" && model.cannotEncode) {
    model.dispose();
    throw new DarlError(`${file}: ${model.cannotEncode}`);
  }
  return model;
}
