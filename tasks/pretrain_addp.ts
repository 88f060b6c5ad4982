/**
 * `deno task pretrain --method addp`: ADDP pretraining against a frozen VQ
 * tokenizer and token predictor; the default ones are trained first when
 * missing, each in its own resumable run directory, so one command goes from
 * nothing to an ADDP model. Imported by `tasks/pretrain.ts`.
 *
 *   deno task pretrain --method addp [--tokenizer runs/vq-x] [--predictor runs/mage-x] [--mapping argmax] [--resume]
 *
 * @module
 */
import { BACKEND_SECTION, parseTask, RUN_CONTROL, section, startBackend, trainingRequest } from "../src/cli.ts";
import { ADDP_DEFAULTS, ADDP_SCHEMA } from "../src/addp/model.ts";
import {
  ADDP_RUN_DEFAULTS,
  ADDP_RUN_SCHEMA,
  ensureComponents,
  pretrainAddp,
  resolveAddpConfigs,
} from "../src/addp/pretrain.ts";
import { countParams } from "../src/nn/tree.ts";

const MODEL = section(
  "Model (ADDP; image size from the dataset, codebook from the tokenizer)",
  ADDP_DEFAULTS,
  ADDP_SCHEMA,
);
const TRAIN = section("Training", ADDP_RUN_DEFAULTS, ADDP_RUN_SCHEMA);
const RUN = section("Run", { method: "addp", ...RUN_CONTROL.defaults }, {
  method: { doc: "the method to pretrain (darl: see deno task pretrain --help)", choices: ["darl", "addp"] },
  ...RUN_CONTROL.schema,
});
const SPEC = {
  usage: "deno task pretrain --method addp [flags]: pretrain ADDP (alternating denoising) with checkpoints and samples",
  sections: [MODEL, TRAIN, RUN, BACKEND_SECTION],
};

/**
 * Runs ADDP pretraining from command-line arguments.
 *
 * @param args The task's arguments (including `--method addp`).
 */
export async function pretrainAddpTask(args: string[]): Promise<void> {
  const f = parseTask(args, SPEC);
  if (!f) return;
  const log = (line: string) => console.log(line);
  const { request, loop } = trainingRequest(f, MODEL, TRAIN, log);
  await startBackend(f);
  const { cfg, train } = await resolveAddpConfigs(request);
  await ensureComponents(train, log);
  console.log(
    `model: ADDP ${cfg.dim}d × ${cfg.depth} + ${cfg.decoderDepth} blocks, ${cfg.heads} heads, P=${cfg.patchSize}, ` +
      `mapping ${cfg.mapping}; tokenizer ${train.tokenizer}; predictor ${train.predictor}; data: ${train.data}; run: ${train.out}`,
  );
  const t0 = performance.now();
  const r = await pretrainAddp(cfg, train, loop);
  console.log(
    `done: step ${r.step}, ${countParams(r.params)} parameters, final loss ${r.losses.at(-1)?.toFixed(4) ?? "n/a"}, ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoint ${r.checkpoint}; ` +
      `metrics ${train.out}/metrics.jsonl; curve ${train.out}/loss.png; samples ${train.out}/samples/`,
  );
}
