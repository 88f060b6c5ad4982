import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { encodePngImage } from "../data/png.ts";
import { fixtureDataset, useCpu } from "../test_util.ts";
import { loadModel } from "../train/registry.ts";
import "../methods.ts";
import { maskTokens, parseBox } from "./region.ts";
import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
import { TOKENIZER_RUN_DEFAULTS, trainTokenizer } from "./tokenizer_train.ts";
import { PREDICTOR_DEFAULTS } from "./token_predictor.ts";
import { PREDICTOR_RUN_DEFAULTS, trainPredictor } from "./predictor_train.ts";
import { ADDP_DEFAULTS } from "./model.ts";
import { ADDP_RUN_DEFAULTS, pretrainAddp } from "./pretrain.ts";

const quiet = () => {};

Deno.test("tokenizer → predictor → ADDP: the checkpoint loads as an Encoder and a Generator that inpaints", async () => {
  await useCpu();
  const tmp = await Deno.makeTempDir(), data = await fixtureDataset();
  const small = { steps: 2, batchSize: 4, logEvery: 1, ckptEvery: 2, sampleEvery: 0, data };
  await trainTokenizer(
    { ...TOKENIZER_DEFAULTS, imageSize: 8, width: 4, groups: 2, codebookSize: 8, codeDim: 4 },
    { ...TOKENIZER_RUN_DEFAULTS, ...small, out: `${tmp}/vq` },
    { log: quiet },
  );
  await trainPredictor(
    { ...PREDICTOR_DEFAULTS, width: 16, depth: 1, decoderDepth: 1, heads: 2 },
    { ...PREDICTOR_RUN_DEFAULTS, ...small, tokenizer: `${tmp}/vq`, out: `${tmp}/mage` },
    { log: quiet },
  );
  const cfg = { ...ADDP_DEFAULTS, imageSize: 8, dim: 16, depth: 1, decoderDepth: 1, heads: 2 };
  const run = { ...ADDP_RUN_DEFAULTS, ...small, tokenizer: `${tmp}/vq`, predictor: `${tmp}/mage`, out: `${tmp}/addp` };
  const r = await pretrainAddp(cfg, run, { log: quiet });
  assert.equal(r.cfg.codebookSize, 8);
  // A patch size whose grid differs from the tokenizer's is refused, naming both.
  await assert.rejects(
    pretrainAddp({ ...cfg, patchSize: 2 }, { ...run, out: `${tmp}/bad` }, { log: quiet }),
    /the ADDP model \(--patch-size\): reads 4×4 tokens .* but the tokenizer .*vq.* gives 2×2 tokens/,
  );
  const model = await loadModel(`${tmp}/addp`, "generator");
  assert.equal(model.method, "addp");
  const enc = model.encoder();
  assert.deepEqual(enc.tokens(tf.zeros([2, 8, 8, 1])).shape, [2, 5, 16]);
  enc.dispose();
  const real = new Uint8Array(2 * 64).fill(200);
  const gen = model.generator!;
  assert.ok(gen.conditional({ inpaint: "0,0,4,4" }) && !gen.conditional({}));
  const out = await gen.sample({ count: 2, seed: 0, options: { decodeSteps: 3, inpaint: "0,0,4,4" }, images: real });
  assert.equal(out.kind, "inpaint");
  assert.equal(out.images.length, 2 * 64);
  await assert.rejects(
    gen.sample({ count: 2, seed: 0, options: { inpaint: "0,0,9,4" }, images: real }),
    /--inpaint: the box 0,0,9,4 is not inside the 8×8 image/,
  );
  await assert.rejects(
    gen.sample({ count: 2, seed: 0, options: { inpaint: "0,0,4,4", outpaint: "0,0,4,4" }, images: real }),
    /give at most one/,
  );
  // A token predictor generates (MaskGIT, through its recorded tokenizer) but has no image encoder to probe.
  await assert.rejects(
    loadModel(`${tmp}/mage`),
    /mage\/ckpt-0000002\.safetensors: a token predictor .* has no image encoder/,
  );
  const mage = await loadModel(`${tmp}/mage`, "generator");
  const drawn = await mage.generator!.sample({ count: 3, seed: 1, options: { decodeSteps: 2 } });
  assert.equal(drawn.images.length, 3 * 64);
  assert.match(drawn.summary, /^MaskGIT with the token predictor, 2 steps/);
  mage.dispose();
  model.dispose();
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("region flags: boxes and mask PNGs are checked against the image, one line each", async () => {
  assert.throws(
    () => parseBox("1,2,3", 28, "--outpaint"),
    /--outpaint: expected x0,y0,x1,y1 in whole pixels, got "1,2,3"/,
  );
  assert.throws(() => parseBox("5,5,5,9", 28, "--inpaint"), /not inside the 28×28 image with x0 < x1/);
  const tmp = await Deno.makeTempDir();
  await Deno.writeFile(
    `${tmp}/small.png`,
    encodePngImage({ width: 14, height: 14, channels: 1, data: new Uint8Array(196) }),
  );
  await assert.rejects(maskTokens(`${tmp}/small.png`, 28, 7, "--mask-png"), /the mask is 14×14, the images are 28×28/);
  await Deno.writeFile(
    `${tmp}/black.png`,
    encodePngImage({ width: 28, height: 28, channels: 1, data: new Uint8Array(784) }),
  );
  await assert.rejects(maskTokens(`${tmp}/black.png`, 28, 7, "--mask-png"), /marks no pixel/);
  await assert.rejects(maskTokens(`${tmp}/none.png`, 28, 7, "--mask-png"), /none\.png/);
  await Deno.remove(tmp, { recursive: true });
});
