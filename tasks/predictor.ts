/**
 * `deno task predictor`: trains the MAGE-style token predictor ADDP consults,
 * on the ids of a trained VQ tokenizer (`deno task tokenizer`), then scores
 * held-out masked-token accuracy and draws MaskGIT samples.
 *
 *   deno task predictor [--tokenizer runs/vq-fashion-mnist] [--steps 1500] [--out runs/mage-x] [--resume]
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
import { PREDICTOR_DEFAULTS, PREDICTOR_SCHEMA } from "../src/addp/token_predictor.ts";
import {
  PREDICTOR_RUN_DEFAULTS,
  PREDICTOR_RUN_SCHEMA,
  resolvePredictorConfigs,
  trainPredictor,
} from "../src/addp/predictor_train.ts";
import { countParams } from "../src/nn/tree.ts";

const MODEL = section(
  "Predictor (tokens and codebook size come from the tokenizer)",
  PREDICTOR_DEFAULTS,
  PREDICTOR_SCHEMA,
);
const TRAIN = section("Training", PREDICTOR_RUN_DEFAULTS, PREDICTOR_RUN_SCHEMA);
const SPEC = {
  usage: "deno task predictor [flags]: train a MAGE-style token predictor on a VQ tokenizer's ids",
  sections: [MODEL, TRAIN, RUN_CONTROL, BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const log = (line: string) => console.log(line);
    const { request, loop } = trainingRequest(f, MODEL, TRAIN, log);
    await startBackend(f);
    const { cfg, train } = await resolvePredictorConfigs(request);
    console.log(
      `predictor: width ${cfg.width}, ${cfg.depth} + ${cfg.decoderDepth} blocks, ${cfg.heads} heads; tokenizer ${train.tokenizer}; ` +
        `data: ${train.data}; run: ${train.out}`,
    );
    const t0 = performance.now();
    const r = await trainPredictor(cfg, train, loop);
    const e = r.eval;
    console.log(
      `done: step ${r.step}, ${countParams(r.params)} parameters, ${((performance.now() - t0) / 1000).toFixed(0)} s` +
        (e
          ? `; test: masked-token accuracy ${(100 * e.accuracy).toFixed(2)}%, cross-entropy ${
            e.crossEntropy.toFixed(3)
          } nats ` +
            `(${e.tokens} masked tokens)`
          : "") +
        `; checkpoint ${r.checkpoint}; ${train.out}/{metrics.jsonl,loss.png,eval.json,samples.png}`,
    );
  });
}
