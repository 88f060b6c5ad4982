/**
 * `deno task vtab`: the VTAB-1k protocol on every task available here
 * (procedural dSprites and CLEVR-like tasks, plus tasks mapped to prepared
 * datasets by `--task-data`), with per-task, group and overall means (each
 * labelled with how many of the 19 tasks ran), markdown + JSON + bar chart.
 *
 *   deno task vtab --ckpt runs/darl-fashion-mnist [--task-data vtab.json]
 *     [--tasks dsprites_loc,clevr_count] [--extra data/fashion-mnist] [--head linear|finetune]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import { BACKEND_SECTION, parseTask, runTask, section, sectionValues, startBackend } from "../src/cli.ts";
import { checkWritableDir, dirname, writeFileAtomic } from "../src/data/files.ts";
import { featureDim, parsePooling } from "../src/eval/features.ts";
import { trainClassifier } from "../src/eval/classifier.ts";
import { FINETUNE_DEFAULTS } from "../src/eval/finetune.ts";
import {
  headSweep,
  runVtabTask,
  summariseVtab,
  VTAB_DEFAULTS,
  vtabChart,
  vtabMarkdown,
  type VtabTaskResult,
} from "../src/eval/vtab.ts";
import { loadVtabTask, resolveVtabTasks, VTAB_TASKS } from "../src/eval/vtab_tasks.ts";
import { resolveCheckpoint } from "../src/train/checkpoint.ts";
import { withLockedDir } from "../src/train/lock.ts";
import { loadModel } from "../src/train/registry.ts";
import { encodePngImage } from "../src/data/png.ts";

const VTAB = section("VTAB", {
  ckpt: "",
  taskData: "",
  tasks: [] as string[],
  extra: [] as string[],
  head: "linear",
  lrs: [] as number[],
  wds: [] as number[],
  epochs: 0,
  maxTest: 0,
  layer: "final",
  pool: "mean",
  attention: "",
  out: "",
  noCache: false,
}, {
  ckpt: { doc: "checkpoint or run directory", required: true },
  taskData: { doc: 'JSON {"tasks": {"<vtab task>": {"data": "<prepared dataset>"}}} mapping tasks to your data' },
  tasks: { doc: "VTAB tasks to run [the procedural ones + those in --task-data]", choices: Object.keys(VTAB_TASKS) },
  extra: { doc: "prepared datasets to add as non-VTAB tasks (e.g. data/fashion-mnist)" },
  head: { doc: "linear probe or full fine-tuning", choices: ["linear", "finetune"] },
  lrs: { doc: `lrs to sweep [linear: base lrs ${VTAB_DEFAULTS.lrs}; finetune: 1e-3,1e-4]`, above: 0 },
  wds: { doc: `weight decays to sweep [linear: ${VTAB_DEFAULTS.wds}; finetune: 0.05,0]`, min: 0 },
  epochs: {
    doc: `epochs on 800/1000 examples (0: linear ${VTAB_DEFAULTS.epochs}, finetune 10)`,
    integer: true,
    min: 0,
    max: 10000,
  },
  maxTest: { doc: "test images per task, a seeded class-stratified draw (0: all)", integer: true, min: 0 },
  layer: { doc: "linear head: final | embed | block<i>" },
  pool: { doc: "linear head: mean | last | grid<k>" },
  attention: { doc: "linear head: causal | bidirectional [the encoder's own]", choices: ["causal", "bidirectional"] },
  out: { doc: "report directory [<run dir>/vtab]" },
  noCache: { doc: "recompute features and renders instead of reading .cache/" },
});
const SPEC = {
  usage: "deno task vtab --ckpt <checkpoint or run dir> [flags]: the VTAB-1k protocol",
  sections: [VTAB, BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const v = sectionValues(f, VTAB), head = v.head as "linear" | "finetune";
    parsePooling(v.pool);
    const { tasks, sources } = await resolveVtabTasks(v.taskData, v.tasks);
    const out = v.out || `${dirname(await resolveCheckpoint(v.ckpt))}/vtab`;
    await checkWritableDir(out, "--out");
    await startBackend(f);
    const model = await loadModel(v.ckpt);
    const encoder = model.encoder();
    const features = {
      layer: v.layer,
      pool: parsePooling(v.pool),
      causal: v.attention ? v.attention === "causal" : encoder.causalByDefault,
    };
    featureDim(features, encoder);
    const sweep = headSweep(head, v);
    const opts = {
      ...VTAB_DEFAULTS,
      ...sweep,
      head,
      features,
      cacheDir: v.noCache ? "" : ".cache/features",
      log: (m: string) => console.log(m),
      finetune: (train: Parameters<typeof trainClassifier>[1], classes: number, lr: number, wd: number) =>
        trainClassifier(model.encoder(), train, classes, {
          ...FINETUNE_DEFAULTS,
          epochs: sweep.epochs,
          lr,
          weightDecay: wd,
        }),
    };
    const results: VtabTaskResult[] = [];
    for (const name of [...tasks, ...v.extra]) {
      const t0 = performance.now(), extra = v.extra.includes(name);
      const data = await loadVtabTask(
        extra ? name.replace(/\/+$/, "").split("/").pop()! : name,
        extra ? { data: name } : sources[name] ?? null,
        { ...(v.maxTest ? { maxTest: v.maxTest } : {}), cacheDir: v.noCache ? "" : ".cache/vtab" },
      );
      console.log(
        `${data.name}: ${data.train800.count}/${data.val200.count}/${data.test.count} images (${data.source}), ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
      results.push(await runVtabTask(encoder, data, opts));
    }
    const title = `VTAB-1k (${v.head} head${
      v.maxTest ? `, test: a stratified draw of ${v.maxTest} per task` : ""
    }) — ${model.path}`;
    const md = vtabMarkdown(results, title);
    const json = {
      checkpoint: model.path,
      head: v.head,
      maxTest: v.maxTest || null,
      results,
      summary: summariseVtab(results),
    };
    const enc = new TextEncoder();
    await withLockedDir(out, "--out", async () => {
      await writeFileAtomic(`${out}/vtab-${v.head}.md`, enc.encode(md));
      await writeFileAtomic(`${out}/vtab-${v.head}.json`, enc.encode(JSON.stringify(json, null, 2) + "\n"));
      await writeFileAtomic(
        `${out}/vtab-${v.head}.png`,
        encodePngImage(vtabChart(results, `VTAB-1k ${v.head} head: test accuracy (%)`)),
      );
    });
    console.log("\n" + md + `\nwrote ${out}/vtab-${v.head}.md, .json and .png`);
  });
}
