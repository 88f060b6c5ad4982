/**
 * `deno task fid`: sample quality of generated images against a dataset's
 * real images, with a feature network trained (once, cached) on that
 * dataset: Fréchet distance, KID (unbiased) and an Inception-Score analogue,
 * beside the same scores for a seeded, class-stratified draw of real
 * training images (the yardstick).
 *
 *   deno task fid --data data/fashion-mnist --samples runs/x/samples/unconditional-seed0/images
 *
 * `--samples` is a folder of PNGs (flat or class folders) or a prepared
 * dataset `dir[:split]`.
 *
 * @module
 */
import "../src/kernels/mod.ts";
import { BACKEND_SECTION, parseTask, runTask, section, sectionValues, startBackend } from "../src/cli.ts";
import { checkWritableDir, exists, writeFileAtomic } from "../src/data/files.ts";
import { readImageFolder } from "../src/data/image_folder.ts";
import { adaptImages } from "../src/data/resize.ts";
import { getSplit, openDataset, type SplitData } from "../src/data/store.ts";
import { type SampleQuality, sampleQualityReport } from "../src/eval/frechet.ts";
import { withLockedDir } from "../src/train/lock.ts";

const FID = section("Sample quality", { data: "", samples: "", refSplit: "test", seed: 0, out: "", noCache: false }, {
  data: { doc: "the prepared (labelled) dataset the samples imitate", required: true },
  samples: { doc: "a folder of PNGs, or a prepared dataset dir[:split]", required: true },
  refSplit: { doc: "the dataset's split the samples are compared with" },
  seed: { doc: "seed of the real-image yardstick draw", integer: true, min: 0, max: 2 ** 32 - 1 },
  out: { doc: "directory for fid.json (none: print only)" },
  noCache: { doc: "train the feature network again instead of reading .cache/fid" },
});
const SPEC = {
  usage: "deno task fid --data <dataset> --samples <dir> [flags]: FD, KID and IS of samples",
  sections: [FID, BACKEND_SECTION],
};

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
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const o = sectionValues(f, FID);
    if (o.out) await checkWritableDir(o.out, "--out");
    await startBackend(f);
    const ds = await openDataset(o.data);
    const samples = await loadSamples(o.samples, ds.header.shape);
    const r = await sampleQualityReport(ds, samples, {
      refSplit: o.refSplit,
      seed: o.seed,
      cacheDir: o.noCache ? "" : ".cache/fid",
      log: (m) => console.log(m),
    });
    const fmt = (q: SampleQuality) =>
      `FD ${q.fd.toFixed(3)} | KID ${(1000 * q.kid.mean).toFixed(2)} ± ${(1000 * q.kid.std).toFixed(2)} ×10⁻³ | IS ${
        q.is.toFixed(3)
      } (${q.counts.samples} vs ${q.counts.reference})`;
    console.log(`feature network test accuracy ${(100 * r.featureNetTestAccuracy).toFixed(2)}%`);
    console.log(`samples:    ${fmt(r.samplesVsReference)}\nreal train: ${fmt(r.realTrainVsReference)}  (yardstick)`);
    if (o.out) {
      const json = JSON.stringify({ data: o.data, samples: o.samples, ...r }, null, 2) + "\n";
      await withLockedDir(o.out, "--out", () => writeFileAtomic(`${o.out}/fid.json`, new TextEncoder().encode(json)));
      console.log(`wrote ${o.out}/fid.json`);
    }
  });
}
