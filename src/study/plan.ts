/**
 * A study plan: a base config, a grid of overrides × seeds, a training
 * budget and the evaluations to run after each training run. Plans are JSON
 * files (`studies/*.json`) so anyone can re-run a study with one command,
 * `deno task sweep --plan studies/<name>.json`.
 *
 * A cell is one point of the grid with one seed. Its id is stable (the arm's
 * overrides and the seed), so a restarted sweep recognises finished cells.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { readInput } from "../data/files.ts";
import { validateConfig } from "../config.ts";
import { FINETUNE_DEFAULTS, FINETUNE_SCHEMA } from "../eval/finetune.ts";

/**
 * An evaluation run after each cell's training.
 *
 * @example
 * ```ts
 * import type { StudyEval } from "./plan.ts";
 * const evals: StudyEval[] = [
 *   { kind: "probe", heads: ["logreg", "ridge"], pool: "mean", shots: [1, 5] },
 *   { kind: "finetune", epochs: 5, scratch: true },
 *   { kind: "sample", count: 64 },
 * ];
 * if (evals.length !== 3) throw new Error();
 * ```
 */
export type StudyEval =
  | {
    /** Frozen-feature probes (`deno task probe`). */
    kind: "probe";
    /** Heads (logreg, linear, ridge, knn). */
    heads: string[];
    /** Layer ("final", "embed", "block<i>"). */
    layer?: string;
    /** Pooling ("mean", "last", "grid<k>"). */
    pool?: string;
    /** Ridge few-shot sizes. */
    shots?: number[];
  }
  | {
    /** Full fine-tuning (`deno task finetune`), of the pretrained model or, with `scratch`, of a random init. */
    kind: "finetune";
    /** Epochs. */
    epochs: number;
    /** From a random initialisation of the same architecture instead of the pretrained weights. */
    scratch?: boolean;
    /** Other fine-tuning fields (batchSize, lr, …). */
    train?: Record<string, unknown>;
  }
  | {
    /** Unconditional samples scored by FD, KID and IS against the test split (`deno task sample` + `fid`). */
    kind: "sample";
    /** Images to generate. */
    count: number;
    /** The method's sampling options (e.g. sampleSteps, mseNoise). */
    options?: Record<string, unknown>;
  };

/**
 * A plan as written in its JSON file.
 *
 * @example
 * ```ts
 * import type { StudyPlan } from "./plan.ts";
 * const plan: StudyPlan = {
 *   name: "posenc", claim: "2D RoPE is best", method: "darl", base: { model: {}, train: {} },
 *   grid: { "model.posEncoding": ["rope2d", "learned"] }, seeds: [0, 1], budget: { steps: 500 },
 *   evals: [{ kind: "probe", heads: ["logreg", "ridge"] }],
 * };
 * if (plan.seeds.length !== 2) throw new Error();
 * ```
 */
export interface StudyPlan {
  /** Short name (the default output folder's name). */
  name: string;
  /** The paper's claim this study tests. */
  claim: string;
  /** The method to pretrain ("darl", "addp"). */
  method: string;
  /** Base configs: a preset, and model and train overrides over the method's defaults. */
  base: { preset?: string; model?: Record<string, unknown>; train?: Record<string, unknown> };
  /**
   * Axes: "model.<field>" or "train.<field>" (or "preset") to a list of values; cells are their product. A
   * "train.steps" axis overrides the budget (a curve over training length).
   */
  grid: Record<string, unknown[]>;
  /** Named arms instead of (or beside) a grid: each a set of overrides in the same "section.field" form. */
  arms?: { name: string; set: Record<string, unknown> }[];
  /** Seeds of every arm (the run's `seed`). */
  seeds: number[];
  /** Training length: optimiser steps, or training images (steps = images / batch size). */
  budget: { steps?: number; images?: number };
  /** Evaluations after each training run. */
  evals: StudyEval[];
}

/**
 * One training run of a study.
 *
 * @example
 * ```ts
 * import { cellsOf } from "./plan.ts";
 * const cells = cellsOf({ name: "s", claim: "", method: "darl", base: {}, grid: { "model.dim": [16, 32] }, seeds: [0], budget: { steps: 2 }, evals: [] });
 * if (cells[1]!.id !== "dim=32-seed0" || cells[1]!.model.dim !== 32) throw new Error();
 * ```
 */
export interface StudyCell {
  /** Stable id: the arm's label and the seed (also the run folder's name). */
  id: string;
  /** The arm's label ("dim=32", or a named arm's name). */
  arm: string;
  /** The arm's overrides, as given ("model.dim" → 32). */
  set: Record<string, unknown>;
  /** The seed. */
  seed: number;
  /** A preset, when the base or the arm names one. */
  preset?: string;
  /** Model overrides (base, then arm). */
  model: Record<string, unknown>;
  /** Run-config overrides (base, then arm, then budget and seed). */
  train: Record<string, unknown>;
}

const fail = (file: string, what: string): never => {
  throw new DarlError(`--plan ${file}: ${what}`);
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks a parsed plan's shape, naming the first bad field.
 *
 * @param raw The parsed JSON.
 * @param file The plan's path (for messages).
 * @returns The plan.
 * @example
 * ```ts
 * import { checkPlan } from "./plan.ts";
 * try { checkPlan({ name: "s" }, "p.json"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith('--plan p.json: "claim"')) throw e; }
 * ```
 */
export function checkPlan(raw: unknown, file: string): StudyPlan {
  if (!isObject(raw)) fail(file, "expected a JSON object");
  const p = raw as Record<string, unknown>;
  for (const k of ["name", "claim", "method"]) {
    if (typeof p[k] !== "string" || (k !== "claim" && !p[k])) fail(file, `"${k}" must be a string`);
  }
  if (!/^[\w.-]+$/.test(p.name as string)) fail(file, `"name" must be letters, digits, ".", "-" or "_"`);
  if (!isObject(p.base)) fail(file, `"base" must be an object with "model" and "train" sections`);
  const base = p.base as Record<string, unknown>;
  for (const k of Object.keys(base)) {
    if (!["preset", "model", "train"].includes(k)) fail(file, `"base.${k}": expected preset, model or train`);
  }
  if (base.model !== undefined && !isObject(base.model)) fail(file, `"base.model" must be an object`);
  if (base.train !== undefined && !isObject(base.train)) fail(file, `"base.train" must be an object`);
  if (!isObject(p.grid)) fail(file, `"grid" must be an object of axes (use {} for none)`);
  for (const [axis, values] of Object.entries(p.grid as Record<string, unknown>)) {
    checkKey(axis, file, `"grid"`);
    if (!Array.isArray(values) || values.length === 0) fail(file, `"grid.${axis}" must be a non-empty list of values`);
  }
  if (p.arms !== undefined) {
    if (!Array.isArray(p.arms) || p.arms.length === 0) fail(file, `"arms" must be a non-empty list`);
    for (const [i, a] of (p.arms as unknown[]).entries()) {
      if (!isObject(a) || typeof a.name !== "string" || !/^[\w.=,+-]+$/.test(a.name) || !isObject(a.set)) {
        fail(file, `"arms[${i}]" must be {"name": "<letters, digits, .=,+-_>", "set": {...}}`);
      }
      for (const k of Object.keys((a as { set: object }).set)) checkKey(k, file, `"arms[${i}].set"`);
    }
  }
  const seeds = p.seeds;
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    fail(file, `"seeds" must be a non-empty list of integers ≥ 0`);
  }
  if (new Set(seeds as number[]).size !== (seeds as number[]).length) fail(file, `"seeds" has a repeated seed`);
  const b = p.budget as Record<string, unknown>;
  const positive = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (!isObject(b) || (b.steps === undefined) === (b.images === undefined)) {
    fail(file, `"budget" must give exactly one of "steps" and "images"`);
  }
  if (b.steps !== undefined && !positive(b.steps)) fail(file, `"budget.steps" must be an integer ≥ 1`);
  if (b.images !== undefined && !positive(b.images)) fail(file, `"budget.images" must be an integer ≥ 1`);
  if (!Array.isArray(p.evals)) fail(file, `"evals" must be a list`);
  for (const [i, e] of (p.evals as unknown[]).entries()) checkEval(e, file, i);
  // Fine-tuning runs are named by kind and, where a kind has several, by epochs: refuse two that would share a folder.
  const evals = p.evals as StudyEval[], at = evals.flatMap((e, i) => e.kind === "finetune" ? [i] : []);
  const runs = finetuneRuns(evals);
  for (const [k, r] of runs.entries()) {
    if (runs.findIndex((x) => x.dir === r.dir) === k) continue;
    const { epochs } = evals[at[k]!] as { epochs: number };
    fail(
      file,
      `"evals[${at[k]}]": a second ${
        r.scratch ? "from-scratch" : "pretrained"
      } finetune eval of ${epochs} epochs (those of one kind must differ in "epochs")`,
    );
  }
  return p as unknown as StudyPlan;
}

/** Where a fine-tuning eval's run lives in a cell, the metric it reports, and its label in charts. */
export interface FinetuneRun {
  /** Metric name in results and reports. */
  metric: string;
  /** Folder in the cell. */
  dir: string;
  /** Short label for charts. */
  label: string;
  /** Whether it trains a random init. */
  scratch: boolean;
}

/**
 * Names each fine-tuning eval of a plan, in plan order. The only eval of
 * its kind (pretrained or from scratch) is "finetune" or "finetune from
 * scratch" in folder "finetune" or "finetune-scratch"; several of one kind
 * (which {@linkcode checkPlan} requires to differ in epochs) add their
 * epochs, so none writes over another's run or score.
 *
 * @param evals A plan's evals.
 * @returns One entry per finetune eval.
 * @example
 * ```ts
 * import { finetuneRuns } from "./plan.ts";
 * const runs = finetuneRuns([
 *   { kind: "finetune", epochs: 5 },
 *   { kind: "finetune", epochs: 5, scratch: true },
 *   { kind: "finetune", epochs: 7, scratch: true },
 * ]);
 * if (runs[0]!.dir !== "finetune" || runs[2]!.dir !== "finetune-scratch-7ep") throw new Error();
 * if (runs[1]!.metric !== "finetune from scratch (5 epochs)") throw new Error();
 * ```
 */
export function finetuneRuns(evals: StudyEval[]): FinetuneRun[] {
  const ft = evals.filter((e) => e.kind === "finetune");
  return ft.map((e) => {
    const scratch = !!e.scratch, several = ft.filter((x) => !!x.scratch === scratch).length > 1;
    const [metric, dir, label] = scratch
      ? ["finetune from scratch", "finetune-scratch", "from scratch"]
      : ["finetune", "finetune", "pretrained"];
    const epochs = `${e.epochs} epoch${e.epochs === 1 ? "" : "s"}`;
    return several
      ? { metric: `${metric} (${epochs})`, dir: `${dir}-${e.epochs}ep`, label: `${label} ${e.epochs} ep`, scratch }
      : { metric, dir, label, scratch };
  });
}

function checkKey(key: string, file: string, where: string): void {
  if (key !== "preset" && !/^(model|train)\.\w+$/.test(key)) {
    fail(file, `${where}: "${key}" must be "preset", "model.<field>" or "train.<field>"`);
  }
  if (key === "train.seed" || key === "train.out") {
    fail(file, `${where}: "${key}" is set by the sweep (use "seeds"; each cell has its own folder)`);
  }
}

function checkEval(e: unknown, file: string, i: number): void {
  const at = `"evals[${i}]"`;
  if (!isObject(e)) fail(file, `${at} must be an object with a "kind"`);
  const v = e as Record<string, unknown>;
  if (v.kind === "probe") {
    if (!Array.isArray(v.heads) || v.heads.length === 0) fail(file, `${at}: "heads" must be a non-empty list`);
    for (const h of v.heads as unknown[]) {
      if (!["logreg", "linear", "ridge", "knn"].includes(h as string)) {
        fail(file, `${at}: head "${h}" is not one of logreg, linear, ridge, knn`);
      }
    }
  } else if (v.kind === "finetune") {
    if (!Number.isInteger(v.epochs) || (v.epochs as number) < 1) fail(file, `${at}: "epochs" must be an integer ≥ 1`);
    if (v.train !== undefined) {
      if (!isObject(v.train)) fail(file, `${at}: "train" must be an object`);
      // The runner sets these per cell; a plan overriding them would be silently overruled.
      const settable = Object.keys(FINETUNE_SCHEMA).filter((k) => !["epochs", "data", "out", "seed"].includes(k));
      for (const k of Object.keys(v.train as object)) {
        if (!settable.includes(k)) fail(file, `${at}: "train.${k}" is not one of ${settable.join(", ")}`);
      }
      try {
        validateConfig({ ...FINETUNE_DEFAULTS, ...v.train as object }, FINETUNE_SCHEMA, FINETUNE_DEFAULTS);
      } catch (e) {
        fail(file, `${at}: "train": ${(e as Error).message}`);
      }
    }
  } else if (v.kind === "sample") {
    if (!Number.isInteger(v.count) || (v.count as number) < 2) fail(file, `${at}: "count" must be an integer ≥ 2`);
    if (v.options !== undefined && !isObject(v.options)) fail(file, `${at}: "options" must be an object`);
  } else {
    fail(file, `${at}: "kind" must be probe, finetune or sample`);
  }
}

/**
 * Reads and checks a plan file.
 *
 * @param file The plan's path.
 * @returns The plan.
 * @example
 * ```ts
 * import { readPlan } from "./plan.ts";
 * try { await readPlan("/no/such/plan.json"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("/no/such/plan.json")) throw e; }
 * ```
 */
export async function readPlan(file: string): Promise<StudyPlan> {
  const text = new TextDecoder().decode(await readInput(file, "--plan"));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(file, `not valid JSON (${(e as Error).message})`);
  }
  return checkPlan(raw, file);
}

/**
 * An arm's name from its overrides: `key=value` joined by `_`, without the
 * `model.`/`train.` prefix (`"base"` for none).
 *
 * @param set The overrides.
 * @returns The name.
 * @example
 * ```ts
 * import { armLabel } from "./plan.ts";
 * if (armLabel({ "model.patchSize": 7, "train.steps": 600 }) !== "patchSize=7_steps=600") throw new Error();
 * ```
 */
export function armLabel(set: Record<string, unknown>): string {
  const parts = Object.entries(set).map(([k, v]) =>
    `${k.replace(/^(model|train)\./, "")}=${Array.isArray(v) ? v.join(",") : v}`
  );
  return parts.length ? parts.join("_").replace(/[^\w.=,+-]/g, "-") : "base";
}

/**
 * Expands a plan into its cells: the product of the grid's axes (or the named
 * arms, each combined with the grid), each with every seed, seeds outermost:
 * a study cut short holds whole seeds of every arm (paired comparisons), not
 * every seed of its first arms.
 *
 * @param plan The plan.
 * @returns The cells, in run order.
 * @example
 * ```ts
 * import { cellsOf } from "./plan.ts";
 * const plan = { name: "s", claim: "", method: "darl", base: { train: { batchSize: 8 } }, grid: { "model.dim": [16, 32] }, seeds: [0, 1], budget: { images: 64 }, evals: [] };
 * const cells = cellsOf(plan);
 * if (cells.length !== 4 || cells[0]!.train.steps !== 8 || cells[3]!.id !== "dim=32-seed1") throw new Error();
 * ```
 */
export function cellsOf(plan: StudyPlan): StudyCell[] {
  let sets: Record<string, unknown>[] = [{}];
  for (const [axis, values] of Object.entries(plan.grid)) {
    sets = sets.flatMap((s) => values.map((v) => ({ ...s, [axis]: v })));
  }
  const arms = plan.arms
    ? plan.arms.flatMap((a) =>
      sets.map((s) => ({ name: Object.keys(s).length ? `${a.name}_${armLabel(s)}` : a.name, set: { ...a.set, ...s } }))
    )
    : sets.map((s) => ({ name: armLabel(s), set: s }));
  const ids = new Set<string>();
  const cells: StudyCell[] = [];
  for (const seed of plan.seeds) {
    for (const arm of arms) {
      const model: Record<string, unknown> = { ...plan.base.model };
      const train: Record<string, unknown> = { ...plan.base.train };
      let preset = plan.base.preset;
      for (const [k, v] of Object.entries(arm.set)) {
        if (k === "preset") preset = String(v);
        else if (k.startsWith("model.")) model[k.slice(6)] = v;
        else train[k.slice(6)] = v;
      }
      if (plan.budget.images !== undefined && typeof train.batchSize !== "number") {
        throw new DarlError(`plan ${plan.name}: "budget.images" needs "train.batchSize" in "base" or every arm`);
      }
      // An arm may set its own length ("train.steps" as a grid axis: a curve over training length).
      if (!("train.steps" in arm.set)) {
        train.steps = plan.budget.steps ?? Math.max(1, Math.round(plan.budget.images! / (train.batchSize as number)));
      }
      train.seed = seed;
      const id = `${arm.name}-seed${seed}`;
      if (ids.has(id)) throw new DarlError(`plan ${plan.name}: two cells share the id ${id}`);
      ids.add(id);
      cells.push({ id, arm: arm.name, set: arm.set, seed, model, train, ...(preset ? { preset } : {}) });
    }
  }
  return cells;
}
