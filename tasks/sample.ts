/**
 * `deno task sample`: generation from a DARL checkpoint, patch by patch in
 * raster order with a key/value cache. Unconditional samples start from SOS;
 * `--complete-rows r` feeds the first r patch rows of real test images and
 * samples the rest. Writes PNG grids (completions beside the originals) and
 * each sample as a PNG (for `deno task fid --samples`).
 *
 *   deno task sample --ckpt runs/darl-diffusion [--count 16] [--steps 100] [--sampler ddpm|ddim]
 *     [--temperature 1] [--mse-noise 0] [--seed 0] [--complete-rows 3 --data data/fashion-mnist] [--out DIR]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseFlags, runTask } from "../src/cli.ts";
import { tf } from "../src/tf.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "../src/backend.ts";
import { gridSize } from "../src/config.ts";
import { DarlError } from "../src/errors.ts";
import { toUnitRange } from "../src/data/batches.ts";
import { dirname } from "../src/data/files.ts";
import { encodePngImage } from "../src/data/png.ts";
import { getSplit, openDataset } from "../src/data/store.ts";
import { adaptImages } from "../src/data/resize.ts";
import { loadDarl, previewImages } from "../src/darl/pretrain.ts";
import { patchify } from "../src/darl/patchify.ts";
import { SAMPLE_DEFAULTS, sampleDarl } from "../src/darl/sample.ts";
import { formatDuration } from "../src/train/metrics.ts";
import { imageGrid, unitToU8, writePng } from "../src/viz/grid.ts";

const HELP = `deno task sample --ckpt <checkpoint or run dir> [flags]

  --count          images [${SAMPLE_DEFAULTS.count}]
  --steps          diffusion steps per patch (cosine grid) [${SAMPLE_DEFAULTS.steps}]
  --sampler        ddpm | ddim [ddpm]
  --temperature    scale of the injected noise [1]
  --mse-noise      MSE models: std of noise added to the mean [0]
  --seed           seed [0]
  --complete-rows  complete real test images from their first r patch rows [0: unconditional]
  --data           dataset for --complete-rows [data/<dataset of the checkpoint>]
  --no-cache       recompute the prefix for every patch (slow; for comparison)
  --out            output directory [<run dir>/samples]
  --backend, --kernels`;

function num(f: Record<string, unknown>, k: string, def: number, integer = false): number {
  const v = f[k] as string | undefined;
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0) {
    throw new DarlError(`--${k}: expected a ${integer ? "non-negative integer" : "non-negative number"}, got "${v}"`);
  }
  return n;
}

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      ckpt: { type: "string" },
      count: { type: "string" },
      steps: { type: "string" },
      sampler: { type: "string" },
      temperature: { type: "string" },
      "mse-noise": { type: "string" },
      seed: { type: "string" },
      "complete-rows": { type: "string" },
      data: { type: "string" },
      "no-cache": { type: "boolean" },
      out: { type: "string" },
      backend: { type: "string" },
      kernels: { type: "string" },
    });
    if (f.help) return void console.log(HELP);
    if (!f.ckpt) throw new DarlError("--ckpt: required (a DARL checkpoint or run directory)");
    const sampler = (f.sampler as string | undefined) ?? "ddpm";
    if (sampler !== "ddpm" && sampler !== "ddim") {
      throw new DarlError(`--sampler: expected ddpm or ddim, got "${sampler}"`);
    }
    const info = await selectBackend((f.backend as BackendChoice) ?? "auto", (f.kernels as KernelChoice) ?? "auto");
    console.log(describeBackend(info));
    const { params, cfg, checkpoint } = await loadDarl(f.ckpt as string);
    const count = num(f, "count", SAMPLE_DEFAULTS.count, true), rows = num(f, "complete-rows", 0, true);
    const g = gridSize(cfg), shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
    if (rows >= g) throw new DarlError(`--complete-rows: expected fewer than ${g} rows of patches, got ${rows}`);
    let originals: Uint8Array | null = null, prefix: tf.Tensor | undefined;
    if (rows > 0) {
      const dataDir = (f.data as string | undefined) ??
        `data/${(checkpoint.meta.state as { dataset?: string }).dataset ?? ""}`;
      const ds = await openDataset(dataDir);
      const test = getSplit(ds, "test");
      originals = adaptImages(
        previewImages(test, count, ds.header.shape.reduce((a, b) => a * b)),
        ds.header.shape,
        shape,
      );
      prefix = tf.tidy(() =>
        patchify(tf.tensor4d(toUnitRange(originals!), [count, ...shape]), cfg.patchSize).slice([0, 0, 0], [
          count,
          rows * g,
          -1,
        ])
      );
    }
    const seed = num(f, "seed", 0, true);
    const t0 = performance.now();
    let lastLog = 0;
    const images = await sampleDarl(params, cfg, {
      ...SAMPLE_DEFAULTS,
      count,
      steps: num(f, "steps", SAMPLE_DEFAULTS.steps, true),
      sampler,
      temperature: num(f, "temperature", 1),
      mseNoise: num(f, "mse-noise", 0),
      seed,
      useCache: !f["no-cache"],
      ...(prefix ? { prefix } : {}),
      onPatch: (done, total) => {
        const now = performance.now();
        if (now - lastLog < 2000 && done < total) return;
        lastLog = now;
        const secs = (now - t0) / 1000, rate = (done * count) / secs;
        console.log(
          `patch ${done}/${total} | ${rate.toFixed(1)} patches/s | ETA ${
            formatDuration(((total - done) * count) / rate)
          }`,
        );
      },
    });
    const secs = (performance.now() - t0) / 1000;
    const u8 = unitToU8(await images.data());
    images.dispose();
    prefix?.dispose();
    const out = (f.out as string | undefined) ?? `${dirname(checkpoint.path)}/samples`;
    await Deno.mkdir(`${out}/images`, { recursive: true });
    const size = shape[0] * shape[1] * shape[2];
    const tag = rows > 0 ? `completion-r${rows}-seed${seed}` : `samples-seed${seed}`;
    for (let i = 0; i < count; i++) {
      await Deno.writeFile(
        `${out}/images/${tag}-${String(i).padStart(4, "0")}.png`,
        encodePngImage({
          width: shape[1],
          height: shape[0],
          channels: shape[2] === 3 ? 3 : 1,
          data: u8.subarray(i * size, (i + 1) * size),
        }),
      );
    }
    let grid;
    if (originals) {
      const both = new Uint8Array(2 * count * size);
      for (let i = 0; i < count; i++) {
        both.set(originals.subarray(i * size, (i + 1) * size), 2 * i * size);
        both.set(u8.subarray(i * size, (i + 1) * size), (2 * i + 1) * size);
      }
      grid = imageGrid(both, shape, { cols: Math.min(8, 2 * count), scale: 3 });
    } else {
      grid = imageGrid(u8, shape, { cols: Math.min(8, count), scale: 3 });
    }
    await writePng(`${out}/${tag}.png`, grid);
    const kind = cfg.objective === "diffusion"
      ? `${sampler.toUpperCase()}, ${num(f, "steps", SAMPLE_DEFAULTS.steps, true)} steps`
      : "MSE mean";
    console.log(
      `done: ${count} images (${kind}) in ${secs.toFixed(1)} s, ${((count * g * g) / secs).toFixed(1)} patches/s; ` +
        `grid ${out}/${tag}.png; images ${out}/images/`,
    );
  });
}
