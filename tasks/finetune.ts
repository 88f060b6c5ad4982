/**
 * `deno task finetune`: full fine-tuning of a pretrained checkpoint (any
 * method's) on a labelled dataset: bidirectional attention, mean-pool +
 * LayerNorm + linear head, AdamW with layer-wise lr decay, label smoothing.
 * Reports test accuracy; checkpoints and `--resume` work as in pretraining.
 *
 *   deno task finetune --ckpt runs/darl-fashion-mnist [--epochs 3] [--out runs/ft] [--resume]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import { BACKEND_SECTION, givenValues, parseTask, runTask, section, sectionValues, startBackend } from "../src/cli.ts";
import { writeFileAtomic } from "../src/data/files.ts";
import { openDataset } from "../src/data/store.ts";
import { finetune, FINETUNE_DEFAULTS, FINETUNE_SCHEMA, resolveFinetuneConfig } from "../src/eval/finetune.ts";
import { loadModel } from "../src/train/registry.ts";

const TRAIN = section("Fine-tuning", FINETUNE_DEFAULTS, FINETUNE_SCHEMA);
const RUN = section("Run", { ckpt: "", resume: false, resumeFrom: "", config: "" }, {
  ckpt: { doc: "pretrained checkpoint or run directory (required unless resuming)" },
  resume: { doc: "continue the run in --out from its newest checkpoint" },
  resumeFrom: { doc: "continue the run in --out from this checkpoint of it" },
  config: { doc: 'a JSON file with a "train" section (and optionally "pretrained"), e.g. a run\'s config.json' },
});
const SPEC = {
  usage: "deno task finetune --ckpt <checkpoint or run dir> [flags]: fine-tune a pretrained encoder to classify",
  sections: [TRAIN, RUN, BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const run = sectionValues(f, RUN);
    const { train, pretrained } = await resolveFinetuneConfig({
      train: givenValues(f, TRAIN),
      ...(run.ckpt ? { ckpt: run.ckpt } : {}),
      ...(run.config ? { configFile: run.config } : {}),
      resume: run.resume || !!run.resumeFrom,
    });
    const backend = await startBackend(f);
    const ds = await openDataset(train.data);
    const model = await loadModel(pretrained);
    console.log(`pretrained: ${model.description} (${model.path})`);
    const t0 = performance.now();
    const r = await finetune(model, ds, train, {
      resume: run.resume,
      ...(run.resumeFrom ? { resumeFrom: run.resumeFrom } : {}),
      extra: { backend },
      log: (l) => console.log(l),
    });
    const report = {
      pretrained: model.path,
      dataset: ds.header.name,
      step: r.step,
      testAccuracy: r.testAccuracy,
      config: train,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomic(`${train.out}/result.json`, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
    console.log(
      `done: step ${r.step}; test accuracy ${(100 * r.testAccuracy).toFixed(2)}% on ${ds.header.name} ` +
        `(${ds.splits.test?.count} images); checkpoint ${r.checkpoint}; ${train.out}/result.json`,
    );
  });
}
