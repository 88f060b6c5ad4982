/**
 * `deno task vtab`: the VTAB-1k protocol on every task available here
 * (procedural dSprites and CLEVR-like tasks, plus tasks mapped to prepared
 * datasets by a config file), with per-task, group and overall means (each
 * labelled with how many of the 19 tasks ran), markdown + JSON + bar chart.
 *
 *   deno task vtab --ckpt runs/darl-tiny-fashion-mnist [--config vtab.json]
 *     [--tasks dsprites_loc,clevr_count] [--extra data/fashion-mnist] [--head linear|finetune]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseFlags, runTask } from "../src/cli.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "../src/backend.ts";
import { DarlError } from "../src/errors.ts";
import { dirname } from "../src/data/files.ts";
import { loadDarl } from "../src/darl/pretrain.ts";
import { checkLayer, featureDim, type Pooling } from "../src/eval/features.ts";
import { FINETUNE_DEFAULTS, trainClassifier } from "../src/eval/finetune.ts";
import { checkpointKey } from "../src/eval/probe.ts";
import {
  loadVtabTask,
  PROCEDURAL_TASKS,
  readVtabConfig,
  runVtabTask,
  summariseVtab,
  type TaskSource,
  VTAB_DEFAULTS,
  VTAB_TASKS,
  vtabChart,
  vtabMarkdown,
  type VtabTaskResult,
} from "../src/eval/vtab.ts";
import { writePng } from "../src/viz/grid.ts";

const HELP = `deno task vtab --ckpt <checkpoint or run dir> [flags]

  --config      JSON {"tasks": {"<vtab task>": {"data": "<prepared dataset>"}}} for tasks from your data
  --tasks       comma list of VTAB tasks [procedural ones + those in --config]
  --extra       comma list of prepared datasets to add as non-VTAB tasks (e.g. data/fashion-mnist)
  --head        linear | finetune [linear]
  --lrs         base learning rates to sweep [${VTAB_DEFAULTS.lrs}] (finetune: absolute lrs [1e-3,1e-4])
  --wds         weight decays to sweep [${VTAB_DEFAULTS.wds}] (finetune: [0.05,0])
  --epochs      epochs on 800/1000 examples [${VTAB_DEFAULTS.epochs}] (finetune: 10)
  --max-test    cap on test images per task [all; the report says so when used]
  --layer, --pool, --attention   features for the linear head [final, mean, causal]
  --out         report directory [<run dir>/vtab]
  --backend, --kernels`;

const list = (s: string | undefined, def: number[]): number[] =>
  s === undefined ? def : s.split(",").map((v) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new DarlError(`expected a comma list of numbers, got "${s}"`);
    return n;
  });

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      ckpt: { type: "string" },
      config: { type: "string" },
      tasks: { type: "string" },
      extra: { type: "string" },
      head: { type: "string" },
      lrs: { type: "string" },
      wds: { type: "string" },
      epochs: { type: "string" },
      "max-test": { type: "string" },
      layer: { type: "string" },
      pool: { type: "string" },
      attention: { type: "string" },
      out: { type: "string" },
      backend: { type: "string" },
      kernels: { type: "string" },
    });
    if (f.help) return void console.log(HELP);
    if (!f.ckpt) throw new DarlError("--ckpt: required (a DARL checkpoint or run directory)");
    const head = (f.head as string | undefined) ?? "linear";
    if (head !== "linear" && head !== "finetune") {
      throw new DarlError(`--head: expected linear or finetune, got "${head}"`);
    }
    const sources: Record<string, TaskSource> = f.config ? await readVtabConfig(f.config as string) : {};
    for (const name of Object.keys(sources)) {
      if (!(name in VTAB_TASKS)) {
        throw new DarlError(
          `${f.config}: unknown VTAB task "${name}" (expected one of ${Object.keys(VTAB_TASKS).join(", ")})`,
        );
      }
    }
    const tasks = f.tasks ? (f.tasks as string).split(",") : [...PROCEDURAL_TASKS, ...Object.keys(sources)];
    for (const t of tasks) {
      if (!(t in VTAB_TASKS)) throw new DarlError(`--tasks: unknown VTAB task "${t}"`);
      if (!PROCEDURAL_TASKS.includes(t) && !sources[t]) {
        throw new DarlError(`--tasks: "${t}" is not built here; map it to a prepared dataset in a --config file`);
      }
    }
    const extras = f.extra ? (f.extra as string).split(",") : [];
    const maxTest = f["max-test"] === undefined ? undefined : list(f["max-test"] as string, [])[0];
    const info = await selectBackend((f.backend as BackendChoice) ?? "auto", (f.kernels as KernelChoice) ?? "auto");
    console.log(describeBackend(info));
    const { params, cfg, checkpoint } = await loadDarl(f.ckpt as string);
    const features = {
      layer: (f.layer as string | undefined) ?? "final",
      pool: ((f.pool as string | undefined) ?? "mean") as Pooling,
      causal: ((f.attention as string | undefined) ?? "causal") !== "bidirectional",
    };
    checkLayer(features.layer, cfg);
    featureDim(features.pool, cfg);
    const ft = head === "finetune";
    const opts = {
      ...VTAB_DEFAULTS,
      head: head as "linear" | "finetune",
      lrs: list(f.lrs as string | undefined, ft ? [1e-3, 1e-4] : VTAB_DEFAULTS.lrs),
      wds: list(f.wds as string | undefined, ft ? [0.05, 0] : VTAB_DEFAULTS.wds),
      epochs: list(f.epochs as string | undefined, [ft ? 10 : VTAB_DEFAULTS.epochs])[0]!,
      features,
      log: (m: string) => console.log(m),
      finetune: (train: Parameters<typeof trainClassifier>[1], classes: number, lr: number, wd: number) =>
        trainClassifier(checkpoint, train, classes, {
          ...FINETUNE_DEFAULTS,
          epochs: list(f.epochs as string | undefined, [10])[0]!,
          lr,
          weightDecay: wd,
        }),
    };
    const model = { params, cfg, key: await checkpointKey(checkpoint.path) };
    const results: VtabTaskResult[] = [];
    for (const name of [...tasks, ...extras]) {
      const t0 = performance.now();
      const data = await loadVtabTask(
        extras.includes(name) ? name.replace(/\/+$/, "").split("/").pop()! : name,
        extras.includes(name) ? { data: name } : sources[name] ?? null,
        maxTest === undefined ? {} : { maxTest },
      );
      console.log(
        `${data.name}: ${data.train800.count}/${data.val200.count}/${data.test.count} images (${data.source}), ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
      results.push(await runVtabTask(model, data, opts));
    }
    const title = `VTAB-1k (${head} head${maxTest ? `, test capped at ${maxTest}` : ""}) — ${checkpoint.path}`;
    const md = vtabMarkdown(results, title);
    const out = (f.out as string | undefined) ?? `${dirname(checkpoint.path)}/vtab`;
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(`${out}/vtab-${head}.md`, md);
    await Deno.writeTextFile(
      `${out}/vtab-${head}.json`,
      JSON.stringify(
        { checkpoint: checkpoint.path, head, maxTest: maxTest ?? null, results, summary: summariseVtab(results) },
        null,
        2,
      ) + "\n",
    );
    await writePng(`${out}/vtab-${head}.png`, vtabChart(results, `VTAB-1k ${head} head: test accuracy (%)`));
    console.log("\n" + md + `\nwrote ${out}/vtab-${head}.md, .json and .png`);
  });
}
