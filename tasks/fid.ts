/**
 * `deno task fid`: sample quality of generated images against a dataset's
 * real images, with a feature network trained (once, cached) on that
 * dataset: Fréchet distance, KID (unbiased) and an Inception-Score analogue.
 * Real train images against the reference are reported too, as a yardstick.
 *
 *   deno task fid --data data/fashion-mnist --samples runs/x/samples [--ref-split test]
 *
 * `--samples` is a folder of PNGs (flat or class folders) or a prepared
 * dataset `dir[:split]`.
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { parseFlags, runTask } from "../src/cli.ts";
import { type BackendChoice, describeBackend, type KernelChoice, selectBackend } from "../src/backend.ts";
import { DarlError } from "../src/errors.ts";
import { exists } from "../src/data/files.ts";
import { readImageFolder } from "../src/data/image_folder.ts";
import { adaptImages } from "../src/data/resize.ts";
import { getSplit, openDataset, type SplitData } from "../src/data/store.ts";
import { featureNet, sampleQuality } from "../src/eval/frechet.ts";

async function loadSamples(spec: string, shape: [number, number, number]): Promise<SplitData> {
  const [dir, split] = spec.split(":");
  if (await exists(`${dir}/header.json`)) {
    const ds = await openDataset(dir!);
    const s = getSplit(ds, split ?? "test");
    return { ...s, images: adaptImages(s.images, ds.header.shape, shape) };
  }
  const f = await readImageFolder(dir!);
  return { count: f.files.length, images: adaptImages(f.images, f.shape, shape), labels: null };
}

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      data: { type: "string" },
      samples: { type: "string" },
      "ref-split": { type: "string" },
      out: { type: "string" },
      backend: { type: "string" },
      kernels: { type: "string" },
    });
    if (f.help) {
      return void console.log(
        "deno task fid --data <prepared dataset> --samples <PNG folder | dataset[:split]> [--ref-split test] [--out file.json]",
      );
    }
    if (!f.data) throw new DarlError("--data: required (the prepared dataset the samples imitate)");
    if (!f.samples) throw new DarlError("--samples: required (a folder of PNGs or a prepared dataset[:split])");
    const info = await selectBackend((f.backend as BackendChoice) ?? "auto", (f.kernels as KernelChoice) ?? "auto");
    console.log(describeBackend(info));
    const ds = await openDataset(f.data as string);
    const net = await featureNet(ds, undefined, ".cache/fid", (m) => console.log(m));
    const reference = getSplit(ds, (f["ref-split"] as string | undefined) ?? "test");
    const samples = await loadSamples(f.samples as string, ds.header.shape);
    const q = await sampleQuality(net, samples, reference);
    const train = getSplit(ds, "train");
    const realCount = Math.min(train.count, Math.max(samples.count, 1000));
    const realTrain = {
      count: realCount,
      images: train.images.subarray(0, realCount * ds.header.shape.reduce((a, b) => a * b)),
      labels: null,
    };
    const yard = await sampleQuality(net, realTrain, reference);
    const result = {
      data: f.data,
      samples: f.samples,
      featureNetTestAccuracy: net.testAccuracy,
      samplesVsReference: q,
      realTrainVsReference: yard,
    };
    const fmt = (r: typeof q) =>
      `FD ${r.fd.toFixed(3)} | KID ${(1000 * r.kid.mean).toFixed(2)} ± ${(1000 * r.kid.std).toFixed(2)} ×10⁻³ | IS ${
        r.is.toFixed(3)
      } (${r.counts.samples} vs ${r.counts.reference})`;
    console.log(`samples:    ${fmt(q)}\nreal train: ${fmt(yard)}  (yardstick)`);
    if (f.out) {
      await Deno.writeTextFile(f.out as string, JSON.stringify(result, null, 2) + "\n");
      console.log(`wrote ${f.out}`);
    }
  });
}
