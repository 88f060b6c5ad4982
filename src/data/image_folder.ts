/**
 * A folder of PNG images with one sub-folder per class
 * (`root/<class>/*.png`), or a flat folder of unlabelled PNGs. Optional
 * `root/train/<class>` and `root/test/<class>` give an explicit split.
 *
 * @module
 */
import { DarlError } from "../errors.ts";
import { listDir, readInput } from "./files.ts";
import { decodePngImage, type RasterImage } from "./png.ts";

/**
 * Images read from a folder.
 *
 * @example
 * ```ts
 * import { type FolderImages, readImageFolder } from "./image_folder.ts";
 * const f: FolderImages = await readImageFolder(new URL("../../fixtures/folder", import.meta.url).pathname);
 * if (f.classes.join() !== "checks,hstripes,vstripes") throw new Error();
 * ```
 */
export interface FolderImages {
  /** [N, H, W, C] uint8. */
  images: Uint8Array;
  /** [H, W, C]. */
  shape: [number, number, number];
  /** Class index per image, or null for an unlabelled folder. */
  labels: Uint16Array | null;
  /** Class names (sub-folder names, sorted); empty when unlabelled. */
  classes: string[];
  /** Source file per image, in order. */
  files: string[];
}

const IMAGE_EXT = /\.png$/i;

/**
 * Reads a class-folder (or flat folder) of PNGs. All images must share one
 * size; grey images are replicated to RGB when others are in colour.
 *
 * @param root The folder.
 * @param classes Class names to expect (to keep train/test indices aligned),
 *   or undefined to take the sub-folders found.
 * @returns The images.
 *
 * @example
 * ```ts
 * import { readImageFolder } from "./image_folder.ts";
 * const f = await readImageFolder(new URL("../../fixtures/folder", import.meta.url).pathname);
 * if (f.files.length !== f.labels!.length || f.shape[2] !== 3) throw new Error(); // grey images join RGB ones
 * ```
 */
export async function readImageFolder(root: string, classes?: string[]): Promise<FolderImages> {
  const entries = await listDir(root, "a folder of PNG images with one sub-folder per class");
  const dirs = entries.filter((e) => e.isDirectory).map((e) => e.name);
  const loose = entries.filter((e) => e.isFile && IMAGE_EXT.test(e.name)).map((e) => e.name);
  const items: { file: string; label: number }[] = [];
  let names: string[] = [];
  if (dirs.length > 0) {
    if (loose.length > 0) {
      throw new DarlError(
        `${root}/${loose[0]}: image outside a class folder (expected only sub-folders, one per class)`,
      );
    }
    names = classes ?? dirs;
    for (const d of dirs) {
      if (!names.includes(d)) {
        throw new DarlError(`${root}/${d}: class "${d}" is not among the training classes (${names.join(", ")})`);
      }
    }
    for (const [label, name] of names.entries()) {
      if (!dirs.includes(name)) {
        if (classes) continue; // a test split may lack a class
        throw new DarlError(`${root}/${name}: class folder missing`);
      }
      const files = (await listDir(`${root}/${name}`, "PNG images")).filter((e) => e.isFile && IMAGE_EXT.test(e.name));
      if (files.length === 0) throw new DarlError(`${root}/${name}: empty class folder (expected at least one .png)`);
      for (const f of files) items.push({ file: `${root}/${name}/${f.name}`, label });
    }
  } else {
    if (loose.length === 0) throw new DarlError(`${root}: no .png images and no class sub-folders`);
    for (const f of loose) items.push({ file: `${root}/${f}`, label: -1 });
  }

  const decoded: RasterImage[] = [];
  let first: RasterImage | null = null;
  for (const it of items) {
    const img = decodePngImage(await readInput(it.file, "a PNG image"), it.file);
    if (!first) first = img;
    if (img.width !== first.width || img.height !== first.height) {
      throw new DarlError(
        `${it.file}: image is ${img.width}×${img.height} but ${
          items[0]!.file
        } is ${first.width}×${first.height} (all images must have the same size)`,
      );
    }
    decoded.push(img);
  }
  const C = decoded.some((d) => d.channels === 3) ? 3 : 1;
  const H = first!.height, W = first!.width, size = H * W * C;
  const images = new Uint8Array(decoded.length * size);
  decoded.forEach((img, k) => {
    if (img.channels === C) images.set(img.data, k * size);
    else for (let i = 0; i < H * W; i++) images.fill(img.data[i]!, k * size + 3 * i, k * size + 3 * i + 3);
  });
  const labelled = dirs.length > 0;
  return {
    images,
    shape: [H, W, C],
    labels: labelled ? Uint16Array.from(items, (it) => it.label) : null,
    classes: labelled ? names : [],
    files: items.map((it) => it.file),
  };
}
