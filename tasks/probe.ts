/**
 * `deno task probe`: frozen-feature evaluation of a checkpoint (linear probe,
 * ridge with few-shot variants, kNN) beside raw-pixel and random-init
 * baselines; writes markdown + JSON and prints the table.
 *
 *   deno task probe --ckpt runs/darl-tiny-fashion-mnist [--data data/fashion-mnist]
 *     [--layer final|embed|block<i>] [--pool mean|last|grid<k>] [--attention causal|bidirectional]
 *     [--heads linear,ridge,knn] [--shots 1,5,10,25] [--out DIR]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseFlags, runTask } from "../src/cli.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "../src/backend.ts";
import { DarlError } from "../src/errors.ts";
import { dirname } from "../src/data/files.ts";
import { openDataset } from "../src/data/store.ts";
import { loadDarl } from "../src/darl/pretrain.ts";
import { checkpointKey, type ProbeHead, probeTable, runProbes } from "../src/eval/probe.ts";
import type { Pooling } from "../src/eval/features.ts";
import { LINEAR_PROBE_DEFAULTS } from "../src/eval/linear_probe.ts";

const HELP = `deno task probe --ckpt <file or run dir> [flags]

  --data        prepared dataset [data/<dataset of the checkpoint>]
  --layer       final | embed | block<i> [final]
  --pool        mean | last | grid<k> (means over a k×k partition of the patch grid, concatenated) [mean]
  --attention   causal | bidirectional [causal]
  --heads       comma list of linear, ridge, knn [linear,ridge,knn]
  --shots       ridge few-shot sizes [1,5,10,25]
  --epochs, --batch-size, --blr   linear probe [${LINEAR_PROBE_DEFAULTS.epochs}, ${LINEAR_PROBE_DEFAULTS.batchSize}, ${LINEAR_PROBE_DEFAULTS.blr}]
  --random-seed seed of the random-init baseline [1]
  --out         report directory [<run dir>/probe]
  --no-cache    recompute features
  --backend, --kernels   as for pretrain [auto, auto]`;

function num(f: Record<string, unknown>, k: string, def: number): number {
  const v = f[k] as string | undefined;
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new DarlError(`--${k}: expected a number, got "${v}"`);
  return n;
}

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      ckpt: { type: "string" },
      data: { type: "string" },
      layer: { type: "string" },
      pool: { type: "string" },
      attention: { type: "string" },
      heads: { type: "string" },
      shots: { type: "string" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      blr: { type: "string" },
      "random-seed": { type: "string" },
      out: { type: "string" },
      "no-cache": { type: "boolean" },
      backend: { type: "string" },
      kernels: { type: "string" },
    });
    if (f.help) return void console.log(HELP);
    if (!f.ckpt) throw new DarlError("--ckpt: required (a checkpoint file or a run directory)");
    const pool = ((f.pool as string | undefined) ?? "mean") as Pooling;
    if (!/^(mean|last|grid\d+)$/.test(pool)) {
      throw new DarlError(`--pool: expected mean, last or grid<k>, got "${pool}"`);
    }
    const attention = (f.attention as string | undefined) ?? "causal";
    if (attention !== "causal" && attention !== "bidirectional") {
      throw new DarlError(`--attention: expected causal or bidirectional, got "${attention}"`);
    }
    const heads = ((f.heads as string | undefined) ?? "linear,ridge,knn").split(",").map((s) => s.trim());
    for (const h of heads) {
      if (!["linear", "ridge", "knn"].includes(h)) {
        throw new DarlError(`--heads: unknown head "${h}" (expected linear, ridge, knn)`);
      }
    }
    const shots = ((f.shots as string | undefined) ?? "1,5,10,25").split(",").map((s) => {
      const k = Number(s);
      if (!Number.isInteger(k) || k < 1) throw new DarlError(`--shots: expected positive integers, got "${s}"`);
      return k;
    });
    const info = await selectBackend((f.backend as BackendChoice) ?? "auto", (f.kernels as KernelChoice) ?? "auto");
    console.log(describeBackend(info));
    const { params, cfg, checkpoint } = await loadDarl(f.ckpt as string);
    const dataDir = (f.data as string | undefined) ??
      `data/${(checkpoint.meta.state as { dataset?: string }).dataset ?? ""}`;
    const dataset = await openDataset(dataDir);
    const report = await runProbes({
      dataset,
      model: { params, cfg, key: await checkpointKey(checkpoint.path), name: `DARL ${checkpoint.path}` },
      spec: { layer: (f.layer as string | undefined) ?? "final", pool, causal: attention === "causal" },
      heads: heads as ProbeHead[],
      shots,
      linear: {
        ...LINEAR_PROBE_DEFAULTS,
        epochs: num(f, "epochs", LINEAR_PROBE_DEFAULTS.epochs),
        batchSize: num(f, "batch-size", LINEAR_PROBE_DEFAULTS.batchSize),
        blr: num(f, "blr", LINEAR_PROBE_DEFAULTS.blr),
      },
      randomSeed: num(f, "random-seed", 1),
      cacheDir: f["no-cache"] ? "" : ".cache/features",
      log: (m) => console.log(m),
    });
    const table = probeTable(report);
    const out = (f.out as string | undefined) ?? `${dirname(checkpoint.path)}/probe`;
    await Deno.mkdir(out, { recursive: true });
    const stem = `${out}/${report.dataset.name}-${report.spec.layer}-${report.spec.pool}-${attention}`;
    await Deno.writeTextFile(`${stem}.md`, table + "\n");
    await Deno.writeTextFile(
      `${stem}.json`,
      JSON.stringify({ checkpoint: checkpoint.path, backend: info, ...report }, null, 2) + "\n",
    );
    console.log("\n" + table + `\n\nwrote ${stem}.md and .json`);
  });
}
