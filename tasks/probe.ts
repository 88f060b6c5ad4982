/**
 * `deno task probe`: frozen-feature evaluation of a checkpoint (any
 * method's): converged L2 logistic regression (the headline), MAE's LARS
 * linear probe, ridge with few-shot variants, kNN, beside raw-pixel and
 * random-init baselines; writes markdown + JSON and prints the table.
 *
 *   deno task probe --ckpt runs/darl-fashion-mnist [--pool grid2] [--head logreg,linear]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import { BACKEND_SECTION, parseTask, runTask, section, sectionValues, startBackend } from "../src/cli.ts";
import { checkWritableDir, dirname, writeFileAtomic } from "../src/data/files.ts";
import { openDataset } from "../src/data/store.ts";
import { parsePooling } from "../src/eval/features.ts";
import { LINEAR_PROBE_DEFAULTS } from "../src/eval/linear_probe.ts";
import { PROBE_HEADS, type ProbeHead, probeTable, runProbes } from "../src/eval/probe.ts";
import { withLockedDir } from "../src/train/lock.ts";
import { resolveCheckpoint } from "../src/train/checkpoint.ts";
import { loadModel, type ModelWeights } from "../src/train/registry.ts";

const PROBE = section("Probe", {
  ckpt: "",
  weights: "ema",
  data: "",
  layer: "final",
  pool: "mean",
  attention: "",
  head: [...PROBE_HEADS] as string[],
  shots: [1, 5, 10, 25],
  epochs: LINEAR_PROBE_DEFAULTS.epochs,
  batchSize: LINEAR_PROBE_DEFAULTS.batchSize,
  blr: LINEAR_PROBE_DEFAULTS.blr,
  randomSeed: 1,
  out: "",
  noCache: false,
}, {
  ckpt: { doc: "checkpoint or run directory", required: true },
  weights: {
    doc: "a run with --ema-decay: its moving average (ema, the saved model) or its live weights",
    choices: ["ema", "live"],
  },
  data: { doc: "prepared labelled dataset [data/<the checkpoint's dataset>]" },
  layer: { doc: "final | embed | block<i>" },
  pool: { doc: "mean | last | grid<k> (means over a k×k partition of the patch grid, concatenated)" },
  attention: {
    doc: "causal | bidirectional [the encoder's own: causal for DARL, bidirectional for --attention prefix models]",
    choices: ["causal", "bidirectional"],
  },
  head: { doc: "classifier heads", choices: PROBE_HEADS },
  shots: { doc: "ridge few-shot sizes (examples per class)", integer: true, min: 1, max: 100000 },
  epochs: { doc: "linear probe: epochs", integer: true, min: 1, max: 10000 },
  batchSize: { doc: "linear probe: examples per step", integer: true, min: 1, max: 1e6 },
  blr: { doc: "linear probe: base learning rate per 256 examples", above: 0, max: 1e6 },
  randomSeed: { doc: "seed of the random-init baseline", integer: true, min: 0, max: 2 ** 32 - 1 },
  out: { doc: "report directory [<run dir>/probe, or probe-live for --weights live]" },
  noCache: { doc: "recompute features instead of reading .cache/features" },
});
const SPEC = {
  usage:
    "deno task probe --ckpt <checkpoint or run dir> [flags]: probe frozen features beside pixel and random baselines",
  sections: [PROBE, BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const p = sectionValues(f, PROBE);
    parsePooling(p.pool);
    const out = p.out || `${dirname(await resolveCheckpoint(p.ckpt))}/probe${p.weights === "live" ? "-live" : ""}`;
    await checkWritableDir(out, "--out");
    await startBackend(f);
    const model = await loadModel(p.ckpt, "encoder", p.weights as ModelWeights);
    console.log(`model: ${model.description} (${model.path})`);
    const dataset = await openDataset(p.data || `data/${model.dataset ?? ""}`);
    const encoder = model.encoder();
    model.dispose();
    const spec = {
      layer: p.layer,
      pool: parsePooling(p.pool),
      causal: p.attention ? p.attention === "causal" : encoder.causalByDefault,
    };
    const report = await runProbes({
      dataset,
      encoder,
      spec,
      heads: p.head as ProbeHead[],
      shots: p.shots,
      linear: { ...LINEAR_PROBE_DEFAULTS, epochs: p.epochs, batchSize: p.batchSize, blr: p.blr },
      randomSeed: p.randomSeed,
      cacheDir: p.noCache ? "" : ".cache/features",
      log: (m) => console.log(m),
    });
    const table = probeTable(report);
    const stem = `${out}/${report.dataset.name}-${spec.layer}-${spec.pool}-${spec.causal ? "causal" : "bidirectional"}`;
    await withLockedDir(out, "--out", async () => {
      await writeFileAtomic(`${stem}.md`, new TextEncoder().encode(table + "\n"));
      await writeFileAtomic(
        `${stem}.json`,
        new TextEncoder().encode(JSON.stringify({ checkpoint: model.path, ...report }, null, 2) + "\n"),
      );
    });
    console.log("\n" + table + `\n\nwrote ${stem}.md and .json`);
  });
}
