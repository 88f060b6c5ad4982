/**
 * `deno task finetune`: full fine-tuning of a pretrained DARL checkpoint on a
 * labelled dataset (bidirectional attention, mean-pool + LayerNorm + linear
 * head, AdamW with layer-wise lr decay, label smoothing); reports test
 * accuracy. Checkpoints and `--resume` work as in pretraining.
 *
 *   deno task finetune --ckpt runs/darl-tiny-fashion-mnist [--epochs 3] [--out runs/ft] [--resume]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseFlags, runTask, schemaFlags } from "../src/cli.ts";
import { applyFlags, schemaHelp } from "../src/config.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "../src/backend.ts";
import { DarlError } from "../src/errors.ts";
import { openDataset } from "../src/data/store.ts";
import { FINETUNE_DEFAULTS, FINETUNE_SCHEMA, finetuneDarl } from "../src/eval/finetune.ts";

const HELP = `deno task finetune --ckpt <pretrained checkpoint or run dir> [flags]

  --resume      continue from the newest checkpoint in --out
  --backend, --kernels   as for pretrain

${schemaHelp("Fine-tuning", FINETUNE_DEFAULTS, FINETUNE_SCHEMA)}`;

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      ...schemaFlags(FINETUNE_SCHEMA),
      ckpt: { type: "string" },
      resume: { type: "boolean" },
      backend: { type: "string" },
      kernels: { type: "string" },
    });
    if (f.help) return void console.log(HELP);
    if (!f.ckpt) throw new DarlError("--ckpt: required (a pretrained DARL checkpoint or run directory)");
    const info = await selectBackend((f.backend as BackendChoice) ?? "auto", (f.kernels as KernelChoice) ?? "auto");
    console.log(describeBackend(info));
    const cfg = applyFlags(FINETUNE_DEFAULTS, FINETUNE_SCHEMA, f);
    const ds = await openDataset(cfg.data);
    const t0 = performance.now();
    const r = await finetuneDarl(f.ckpt as string, ds, cfg, {
      resume: !!f.resume,
      extra: { backend: info.backend },
      log: (l) => console.log(l),
    });
    const report = {
      pretrained: f.ckpt,
      dataset: ds.header.name,
      step: r.step,
      testAccuracy: r.testAccuracy,
      config: cfg,
      seconds: (performance.now() - t0) / 1000,
    };
    await Deno.writeTextFile(`${cfg.out}/result.json`, JSON.stringify(report, null, 2) + "\n");
    console.log(
      `done: step ${r.step}; test accuracy ${(100 * r.testAccuracy).toFixed(2)}% on ${ds.header.name} ` +
        `(${ds.splits.test?.count} images); checkpoint ${r.checkpoint}; ${cfg.out}/result.json`,
    );
  });
}
