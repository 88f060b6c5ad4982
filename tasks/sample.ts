/**
 * `deno task sample`: images from a checkpoint that can generate (the
 * method comes from the checkpoint). Each kind of output gets its own
 * folder, `<out>/<kind>-seed<seed>/`, holding `grid.png` and `images/*.png`:
 * unconditional samples and completions never mix, so `deno task fid
 * --samples <out>/unconditional-seed0/images` scores exactly one kind.
 *
 *   deno task sample --ckpt runs/darl-tiny-diffusion [--count 64] [--sample-steps 100] [--complete-rows 3]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import {
  BACKEND_SECTION,
  mergedSections,
  parseTask,
  runTask,
  section,
  sectionValues,
  startBackend,
} from "../src/cli.ts";
import { DarlError } from "../src/errors.ts";
import { checkWritableDir, dirname, ensureDir } from "../src/data/files.ts";
import { adaptImages } from "../src/data/resize.ts";
import { getSplit, openDataset } from "../src/data/store.ts";
import { gatherImages } from "../src/data/batches.ts";
import { drawSubset } from "../src/data/subset.ts";
import { resolveCheckpoint } from "../src/train/checkpoint.ts";
import { withLockedDir } from "../src/train/lock.ts";
import { formatDuration } from "../src/train/metrics.ts";
import { loadModel, registeredMethods } from "../src/train/registry.ts";
import { interleave, sampleGrid, writePng } from "../src/viz/grid.ts";

const SAMPLE = section("Sampling", { ckpt: "", count: 16, seed: 0, data: "", out: "" }, {
  ckpt: { doc: "checkpoint or run directory of a model that generates", required: true },
  count: { doc: "images to generate", integer: true, min: 1, max: 10000 },
  seed: { doc: "seed of every random draw", integer: true, min: 0, max: 2 ** 32 - 1 },
  data: { doc: "dataset whose test images are completed [data/<the checkpoint's dataset>]" },
  out: { doc: "output directory [<run dir>/samples]" },
});
const METHODS = registeredMethods().filter((m) => m.sampling).map((m) => ({ method: m.method, ...m.sampling! }));
const SPEC = {
  usage: "deno task sample --ckpt <checkpoint or run dir> [flags]: generate images (and completions)",
  sections: [SAMPLE, ...mergedSections(METHODS), BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const s = sectionValues(f, SAMPLE);
    const out = s.out || `${dirname(await resolveCheckpoint(s.ckpt))}/samples`;
    await checkWritableDir(out, "--out");
    await startBackend(f);
    const model = await loadModel(s.ckpt, "generator");
    const own = METHODS.find((m) => m.method === model.method)!;
    for (const other of METHODS.filter((m) => m.method !== model.method)) {
      const stray = Object.keys(other.schema).find((k) =>
        !(k in own.schema) && f[k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())] !== undefined
      );
      if (stray) {
        throw new DarlError(`--${stray}: not an option for this ${model.method} checkpoint`);
      }
    }
    const options = sectionValues(f, section(own.title, own.defaults, own.schema));
    const gen = model.generator!, shape = gen.imageShape, size = shape[0] * shape[1] * shape[2];
    let originals: Uint8Array | undefined;
    if (gen.conditional(options)) {
      const ds = await openDataset(s.data || `data/${model.dataset ?? ""}`);
      const test = getSplit(ds, "test");
      const picked = gatherImages(test, drawSubset(test, s.count, s.seed), ds.header.shape.reduce((a, b) => a * b));
      originals = adaptImages(picked, ds.header.shape, [...shape]);
      if (originals.length !== s.count * size) {
        throw new DarlError(`--count: ${s.count} is more than the ${test.count} test images`);
      }
    }
    console.log(`model: ${model.description} (${model.path})`);
    const t0 = performance.now();
    let lastLog = 0;
    const result = await gen.sample({
      count: s.count,
      seed: s.seed,
      options,
      ...(originals ? { images: originals } : {}),
      onProgress: (done, total) => {
        const now = performance.now();
        if (now - lastLog < 2000 && done < total) return;
        lastLog = now;
        const rate = done / ((now - t0) / 1000);
        console.log(
          `${gen.progressUnit} ${done}/${total} | ${rate.toFixed(1)} ${gen.progressUnit}/s | ETA ${
            formatDuration((total - done) / rate)
          }`,
        );
      },
    });
    const secs = (performance.now() - t0) / 1000;
    // Images and grid are written to a fresh folder that replaces the old one whole, so no stale files remain.
    const dir = `${out}/${result.kind}-seed${s.seed}`;
    const tmp = `${dir}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
    await withLockedDir(out, "--out", async () => {
      await ensureDir(`${tmp}/images`, "--out");
      const img = (i: number) => result.images.subarray(i * size, (i + 1) * size);
      for (let i = 0; i < s.count; i++) {
        const png = { width: shape[1], height: shape[0], channels: shape[2] === 3 ? 3 : 1, data: img(i) } as const;
        await writePng(`${tmp}/images/${String(i).padStart(4, "0")}.png`, png);
      }
      const cells = originals ? interleave([originals, result.images], size) : result.images;
      await writePng(`${tmp}/grid.png`, sampleGrid(cells, [...shape]));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, dir);
    }).catch(async (e) => {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw e;
    });
    console.log(
      `done: ${s.count} images (${result.summary}) in ${
        secs.toFixed(1)
      } s; grid ${dir}/grid.png; images ${dir}/images/`,
    );
  });
}
