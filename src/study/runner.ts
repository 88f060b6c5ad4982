/**
 * Runs a study: trains each cell of the plan through its method's registered
 * `pretrain`, evaluates it (probes, fine-tuning, samples + FD/KID/IS) through
 * the same library calls the tasks use, appends one JSON line per finished
 * cell to `results.jsonl`, and rewrites the report after every cell.
 *
 * Restarting skips finished cells: a cell's run resumes from its newest
 * checkpoint (exactly), its evaluations rerun (probes read the feature cache,
 * samples are seeded), and a line cut short by a kill is ignored, so a
 * `kill -9` at any point loses at most the work since the last checkpoint.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { appendText, exists, writeFileAtomic } from "../data/files.ts";
import { openDataset } from "../data/store.ts";
import { runProbes } from "../eval/probe.ts";
import { parsePooling } from "../eval/features.ts";
import { finetune, FINETUNE_DEFAULTS } from "../eval/finetune.ts";
import { sampleQualityReport } from "../eval/frechet.ts";
import { sampleGrid, writePng } from "../viz/grid.ts";
import { disposeClassifier } from "../eval/classifier.ts";
import { listCheckpoints } from "../train/checkpoint.ts";
import { withLockedDir } from "../train/lock.ts";
import { formatDuration, readJsonl } from "../train/metrics.ts";
import { type LoadedModel, loadModel, randomInitModel, registeredMethods } from "../train/registry.ts";
import { cellsOf, finetuneRuns, type StudyCell, type StudyEval, type StudyPlan } from "./plan.ts";
import { type StudyRecord, writeReport } from "./report.ts";

/**
 * Reads the finished cells of a study folder; a last line cut short by a
 * kill is skipped (its cell runs again).
 *
 * @param file `results.jsonl`.
 * @returns The records.
 * @example
 * ```ts
 * import { readResults } from "./runner.ts";
 * const f = (await Deno.makeTempDir()) + "/results.jsonl";
 * await Deno.writeTextFile(f, '{"cell":"a-seed0","arm":"a","set":{},"seed":0,"step":1,"seconds":1,"metrics":{},"baselines":{}}\n{"cell":"b-se');
 * if ((await readResults(f)).length !== 1) throw new Error();
 * ```
 */
export async function readResults(file: string): Promise<StudyRecord[]> {
  return (await readJsonl(file)) as unknown as StudyRecord[];
}

/**
 * Options of {@linkcode runStudy}.
 *
 * @example
 * ```ts
 * import type { StudyOptions } from "./runner.ts";
 * const opts: StudyOptions = { out: "runs/studies/posenc", log: (l) => console.log(l) };
 * if (!opts.out.endsWith("posenc")) throw new Error();
 * ```
 */
export interface StudyOptions {
  /**
   * The study's folder: `plan.json`, `results.jsonl`, `report.md`, `charts/`, `cells/<id>/` (the run, its probe
   * reports and, for a sample eval, `samples.png`).
   */
  out: string;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Stop after this many cells in this call (tests). */
  maxCells?: number;
}

/**
 * Runs every unfinished cell of a plan and writes the report.
 *
 * @param plan The plan.
 * @param opts Output folder and logging.
 * @returns All finished records (earlier ones included).
 * @example
 * ```ts
 * import "../methods.ts";
 * import { runStudy } from "./runner.ts";
 * const plan = { name: "s", claim: "", method: "no-such-method", base: {}, grid: {}, seeds: [0], budget: { steps: 1 }, evals: [] };
 * try { await runStudy(plan, { out: await Deno.makeTempDir() }); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("cannot pretrain")) throw e; }
 * ```
 */
export async function runStudy(plan: StudyPlan, opts: StudyOptions): Promise<StudyRecord[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const method = registeredMethods().find((m) => m.method === plan.method);
  if (!method?.pretrain) {
    const can = registeredMethods().filter((m) => m.pretrain).map((m) => m.method).join(", ");
    throw new DarlError(`plan ${plan.name}: method "${plan.method}" cannot pretrain here (methods: ${can})`);
  }
  const cells = cellsOf(plan);
  return await withLockedDir(opts.out, "--out", async () => {
    await checkSamePlan(opts.out, plan);
    const file = `${opts.out}/results.jsonl`;
    const records = (await readResults(file)).filter((r) => cells.some((c) => c.id === r.cell));
    // A line cut short by a kill has no newline: end it, so the next record starts a line of its own.
    if (await exists(file) && !(await Deno.readTextFile(file)).endsWith("\n")) await appendText(file, "\n");
    const done = new Set(records.map((r) => r.cell));
    const todo = cells.filter((c) => !done.has(c.id)).slice(0, opts.maxCells ?? Infinity);
    log(
      `study ${plan.name}: ${cells.length} cells, ${done.size} finished, ${todo.length} to run now; folder ${opts.out}`,
    );
    const t0 = performance.now();
    for (const [i, cell] of todo.entries()) {
      log(`cell ${done.size + i + 1}/${cells.length}: ${cell.id}`);
      const start = performance.now();
      const dir = `${opts.out}/cells/${cell.id}`;
      const resume = (await listCheckpoints(dir).catch(() => [])).length > 0;
      const r = await method.pretrain!({
        ...(cell.preset ? { preset: cell.preset } : {}),
        model: cell.model,
        train: { ...cell.train, out: dir },
        resume,
        log: (l) => log(`  ${l}`),
      });
      const { metrics, baselines } = await evaluateCell(dir, cell, plan.evals, (l) => log(`  ${l}`));
      const rec: StudyRecord = {
        cell: cell.id,
        arm: cell.arm,
        set: cell.set,
        seed: cell.seed,
        step: r.step,
        seconds: (performance.now() - start) / 1000,
        metrics,
        baselines,
      };
      await appendText(file, JSON.stringify(rec) + "\n");
      records.push(rec);
      await writeReport(opts.out, plan, records, cells.length);
      const per = (performance.now() - t0) / 1000 / (i + 1), left = todo.length - i - 1;
      log(
        `cell ${cell.id} done in ${formatDuration(rec.seconds)}: ${
          Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(", ")
        } | ${done.size + i + 1}/${cells.length} cells | ETA ${formatDuration(per * left)}`,
      );
    }
    await writeReport(opts.out, plan, records, cells.length);
    log(`report ${opts.out}/report.md; charts ${opts.out}/charts/; results ${file}`);
    return records;
  });
}

/** A folder holds one plan's results: a different plan there is refused rather than mixed in. */
async function checkSamePlan(out: string, plan: StudyPlan): Promise<void> {
  const path = `${out}/plan.json`, text = JSON.stringify(plan, null, 2) + "\n";
  if (await exists(path)) {
    const old = JSON.parse(await Deno.readTextFile(path)) as StudyPlan;
    const key = (p: StudyPlan) => JSON.stringify([p.method, p.base, p.budget, p.evals]);
    if (key(old) !== key(plan)) {
      throw new DarlError(
        `--out ${out}: holds results of a plan with another method, base, budget or evaluations; use another --out`,
      );
    }
  }
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

async function evaluateCell(
  dir: string,
  cell: StudyCell,
  evals: StudyEval[],
  log: (l: string) => void,
): Promise<{ metrics: Record<string, number>; baselines: Record<string, Record<string, number>> }> {
  const metrics: Record<string, number> = {}, baselines: Record<string, Record<string, number>> = {};
  const withModel = async <T>(need: "encoder" | "generator", f: (m: LoadedModel) => Promise<T>): Promise<T> => {
    const m = await loadModel(dir, need);
    try {
      return await f(m);
    } finally {
      m.dispose();
    }
  };
  const finetunes = finetuneRuns(evals);
  for (const [i, e] of evals.entries()) {
    await withModel(e.kind === "sample" ? "generator" : "encoder", async (model) => {
      const data = String((model.checkpoint.meta.train as { data?: unknown }).data ?? "");
      const ds = await openDataset(data);
      if (e.kind === "probe") {
        const encoder = model.encoder();
        try {
          const spec = {
            layer: e.layer ?? "final",
            pool: parsePooling(e.pool ?? "mean"),
            causal: encoder.causalByDefault,
          };
          const r = await runProbes({ dataset: ds, encoder, spec, heads: e.heads as never, shots: e.shots ?? [], log });
          const tag = `${spec.pool}${spec.layer === "final" ? "" : `, ${spec.layer}`}`;
          for (const [i, row] of r.rows.entries()) {
            const named = Object.fromEntries(Object.entries(row.scores).map(([k, v]) => [`${k} (${tag})`, v]));
            if (i === r.rows.length - 1) Object.assign(metrics, named);
            else baselines[row.source.replace(/ \(seed \d+\)$/, "")] = { ...baselines[row.source], ...named };
          }
        } finally {
          encoder.dispose();
        }
      } else if (e.kind === "finetune") {
        const run = finetunes[evals.slice(0, i).filter((x) => x.kind === "finetune").length]!;
        const name = run.metric;
        const source: LoadedModel = e.scratch ? randomInitModel(model, cell.seed) : model;
        const out = `${dir}/${run.dir}`;
        const resume = (await listCheckpoints(out).catch(() => [])).length > 0;
        const train = { ...FINETUNE_DEFAULTS, ...e.train, epochs: e.epochs, data, out, seed: cell.seed };
        const r = await finetune(source, ds, train, { resume, log });
        disposeClassifier(r.classifier);
        metrics[name] = r.testAccuracy;
        log(`${name}: ${(100 * r.testAccuracy).toFixed(2)}% on the test split after ${r.step} steps`);
      } else {
        const s = await model.generator!.sample({ count: e.count, seed: cell.seed, options: e.options ?? {} });
        // The scores say how good the samples are; the grid shows what they look like, as `deno task sample` does.
        // A second sample eval (other options, say) is named by its grid, so its scores do not replace the first's.
        const earlier = evals.slice(0, i).filter((x) => x.kind === "sample").length;
        const name = earlier ? `samples-${earlier + 1}` : "samples", tag = earlier ? ` (${name})` : "";
        const grid = `${dir}/${name}.png`;
        await writePng(grid, sampleGrid(s.images, ds.header.shape));
        log(`samples: ${grid}`);
        const q = await sampleQualityReport(ds, { count: e.count, images: s.images, labels: null }, { log });
        const scores = (x: typeof q.samplesVsReference) => ({
          [`FD${tag}`]: x.fd,
          [`KID${tag}`]: x.kid.mean,
          [`IS${tag}`]: x.is,
        });
        Object.assign(metrics, scores(q.samplesVsReference));
        baselines["real train images"] = { ...baselines["real train images"], ...scores(q.realTrainVsReference) };
      }
    });
  }
  return { metrics, baselines };
}
