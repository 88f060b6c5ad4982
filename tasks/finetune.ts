/**
 * `deno task finetune`: full fine-tuning of a pretrained checkpoint (any
 * method's) on a labelled dataset: bidirectional attention, mean-pool +
 * LayerNorm + linear head, AdamW with layer-wise lr decay, label smoothing.
 * Reports test accuracy; checkpoints and `--resume` work as in pretraining.
 * `--scratch` trains a random init of the checkpoint's architecture instead:
 * the from-scratch baseline that pretraining should beat.
 *
 *   deno task finetune --ckpt runs/darl-fashion-mnist [--epochs 3] [--out runs/ft] [--resume]
 *   deno task finetune --ckpt runs/darl-fashion-mnist --scratch --layer-decay 1 --out runs/ft-scratch
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import { BACKEND_SECTION, givenValues, parseTask, runTask, section, sectionValues, startBackend } from "../src/cli.ts";
import { writeFileAtomic } from "../src/data/files.ts";
import { openDataset } from "../src/data/store.ts";
import { finetune, FINETUNE_DEFAULTS, FINETUNE_SCHEMA, resolveFinetuneConfig } from "../src/eval/finetune.ts";
import { loadModel, randomInitModel } from "../src/train/registry.ts";

const TRAIN = section("Fine-tuning", FINETUNE_DEFAULTS, FINETUNE_SCHEMA);
const RUN = section("Run", { ckpt: "", scratch: false, resume: false, resumeFrom: "", config: "" }, {
  ckpt: { doc: "pretrained checkpoint or run directory (required unless resuming)" },
  scratch: {
    doc: "train a random init (seed --seed) of --ckpt's architecture instead: the from-scratch baseline " +
      "(layer decay assumes pretrained lower layers; the study's baseline sets --layer-decay 1)",
  },
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
    const { train, pretrained, scratch } = await resolveFinetuneConfig({
      train: givenValues(f, TRAIN),
      ...(run.ckpt ? { ckpt: run.ckpt } : {}),
      scratch: run.scratch,
      ...(run.config ? { configFile: run.config } : {}),
      resume: run.resume || !!run.resumeFrom,
    });
    const backend = await startBackend(f);
    const ds = await openDataset(train.data);
    const loaded = await loadModel(pretrained);
    const model = scratch ? randomInitModel(loaded, train.seed) : loaded;
    console.log(`${scratch ? "from scratch" : "pretrained"}: ${model.description} (${model.path})`);
    const t0 = performance.now();
    const r = await finetune(model, ds, train, {
      resume: run.resume,
      ...(run.resumeFrom ? { resumeFrom: run.resumeFrom } : {}),
      extra: { backend },
      log: (l) => console.log(l),
    });
    const report = {
      pretrained: model.path,
      ...(model.randomInitOf ? { randomInitOf: model.randomInitOf } : {}),
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
