/**
 * `deno task pretrain`: DARL pretraining. With no flags it prepares
 * Fashion-MNIST (if missing) and trains the default `wide` model (8,000
 * steps of 32 images).
 *
 *   deno task pretrain [--preset tiny] [--steps 6000] [--out runs/x] [--resume] [--config run.json]
 *   deno task pretrain --method addp [...]   (ADDP: see tasks/pretrain_addp.ts)
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import {
  BACKEND_SECTION,
  givenValues,
  parseTask,
  RUN_CONTROL,
  runTask,
  section,
  sectionValues,
  startBackend,
} from "../src/cli.ts";
import { DARL_PRESETS, DARL_SCHEMA, darlConfig, DEFAULT_PRESET, NOISE_SCHEDULES } from "../src/darl/config.ts";
import { countParams } from "../src/darl/model.ts";
import { DARL_RUN_SCHEMA, PRETRAIN_DEFAULTS, pretrainDarl, resolvePretrainConfigs } from "../src/darl/pretrain.ts";
import { pretrainAddpTask } from "./pretrain_addp.ts";

const MODEL = section(
  "Model (DARL; image size and channels come from the dataset; defaults of the default preset)",
  darlConfig(),
  DARL_SCHEMA,
);
const TRAIN = section("Training", PRETRAIN_DEFAULTS, DARL_RUN_SCHEMA);
const RUN = section(
  "Run",
  { method: "darl", preset: DEFAULT_PRESET, schedule: "", ...RUN_CONTROL.defaults },
  {
    method: {
      doc: "the method to pretrain (addp: see deno task pretrain --method addp --help)",
      choices: ["darl", "addp"],
    },
    preset: { doc: "size preset", choices: Object.keys(DARL_PRESETS) },
    schedule: {
      doc: `diffusion noise by name: ${
        Object.entries(NOISE_SCHEDULES).map(([k, [a, b]]) => `${k} = Beta(${a}, ${b})`).join(", ")
      }`,
      choices: Object.keys(NOISE_SCHEDULES),
    },
    ...RUN_CONTROL.schema,
  },
);
const SPEC = {
  usage: "deno task pretrain [flags]: pretrain DARL (MSE or diffusion) with checkpoints, metrics and pictures",
  sections: [MODEL, TRAIN, RUN, BACKEND_SECTION],
};

/** `--method addp` anywhere in the arguments selects ADDP's own flags. */
const wantsAddp = (args: string[]) =>
  args.some((a, i) => a === "--method=addp" || (a === "--method" && args[i + 1] === "addp"));

if (import.meta.main) {
  await runTask(async () => {
    if (wantsAddp(Deno.args)) return await pretrainAddpTask(Deno.args);
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const run = sectionValues(f, RUN), asked = givenValues(f, RUN);
    const log = (line: string) => console.log(line);
    const backend = await startBackend(f);
    const { cfg, train } = await resolvePretrainConfigs({
      ...(asked.preset ? { preset: asked.preset } : {}),
      model: { ...givenValues(f, MODEL), ...(run.schedule ? { schedule: run.schedule } : {}) },
      train: givenValues(f, TRAIN),
      ...(run.config ? { configFile: run.config } : {}),
      resume: run.resume || !!run.resumeFrom,
      log,
    });
    console.log(
      `model: DARL ${cfg.dim}d × ${cfg.depth} blocks, ${cfg.heads} heads, P=${cfg.patchSize}, ${cfg.posEncoding}, ${
        cfg.objective === "diffusion"
          ? `diffusion (Beta(${cfg.noiseA}, ${cfg.noiseB}) noise, decoder depth ${cfg.decoderDepth}, ${cfg.prediction})`
          : "MSE"
      }, target ${cfg.target}; data: ${train.data}; run: ${train.out}`,
    );
    const t0 = performance.now();
    const result = await pretrainDarl(cfg, train, {
      resume: run.resume,
      ...(run.resumeFrom ? { resumeFrom: run.resumeFrom } : {}),
      extra: { backend },
      log,
    });
    console.log(
      `done: step ${result.step}, ${countParams(result.state.params)} parameters, final loss ${
        result.losses.at(-1)?.toFixed(4) ?? "n/a"
      }, ${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoint ${result.checkpoint}; ` +
        `metrics ${train.out}/metrics.jsonl; curve ${train.out}/loss.png; config ${train.out}/config.json`,
    );
  });
}
