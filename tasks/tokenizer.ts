/**
 * `deno task tokenizer`: trains the VQ tokenizer ADDP alternates through
 * (conv encoder/decoder, factor 4, EMA codebook with dead-code restart), then
 * scores it on the test split (PSNR, codebook perplexity and usage).
 *
 *   deno task tokenizer [--codebook-size 256] [--steps 1200] [--out runs/vq-x] [--resume] [--config run.json]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import {
  BACKEND_SECTION,
  parseTask,
  RUN_CONTROL,
  runTask,
  section,
  startBackend,
  trainingRequest,
} from "../src/cli.ts";
import { tokenGrid, TOKENIZER_DEFAULTS, TOKENIZER_SCHEMA } from "../src/addp/tokenizer.ts";
import {
  resolveTokenizerConfigs,
  TOKENIZER_RUN_DEFAULTS,
  TOKENIZER_RUN_SCHEMA,
  trainTokenizer,
} from "../src/addp/tokenizer_train.ts";
import { countParams } from "../src/nn/tree.ts";

const MODEL = section(
  "Tokenizer (image size and channels come from the dataset)",
  TOKENIZER_DEFAULTS,
  TOKENIZER_SCHEMA,
);
const TRAIN = section(
  "Training (--sample-every: reconstruction pictures)",
  TOKENIZER_RUN_DEFAULTS,
  TOKENIZER_RUN_SCHEMA,
);
const SPEC = {
  usage: "deno task tokenizer [flags]: train a VQ tokenizer with checkpoints, metrics, pictures and a test score",
  sections: [MODEL, TRAIN, RUN_CONTROL, BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const log = (line: string) => console.log(line);
    const { request, loop } = trainingRequest(f, MODEL, TRAIN, log);
    await startBackend(f);
    const { cfg, train } = await resolveTokenizerConfigs(request);
    const g = tokenGrid(cfg);
    console.log(
      `tokenizer: widths ${
        cfg.widthMult.map((m) => m * cfg.width).join("/")
      }, ${cfg.resBlocks} res block(s) per level, ` +
        `${cfg.imageSize}×${cfg.imageSize} → ${g}×${g} tokens, K ${cfg.codebookSize}, D ${cfg.codeDim}; data: ${train.data}; run: ${train.out}`,
    );
    const t0 = performance.now();
    const r = await trainTokenizer(cfg, train, loop);
    const e = r.eval;
    console.log(
      `done: step ${r.step}, ${countParams(r.params)} parameters, ${((performance.now() - t0) / 1000).toFixed(0)} s` +
        (e
          ? `; test: PSNR ${e.psnr.toFixed(2)} dB (MSE ${e.mse.toExponential(3)}), perplexity ${
            e.perplexity.toFixed(1)
          }, ` +
            `${e.used}/${e.codebookSize} codes used (${e.images} images)`
          : "") +
        `; checkpoint ${r.checkpoint}; ${train.out}/{metrics.jsonl,loss.png,eval.json,reconstructions.png}`,
    );
  });
}
