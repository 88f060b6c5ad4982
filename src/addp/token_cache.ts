/**
 * The token ids a frozen tokenizer gives a dataset, computed once per run
 * (and for the mirrored images, when the run augments by flipping), and
 * batches drawn from them: what the token predictor and ADDP train on.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { type Augment, gatherImages, toUnitRange } from "../data/batches.ts";
import { type Dataset, getSplit, openDataset, type SplitData } from "../data/store.ts";
import { checkBatch } from "../train/run_config.ts";
import { sha256Hex, writeFileAtomic } from "../data/files.ts";
import { checkTokenizerFits, type LoadedTokenizer } from "./load.ts";
import { tokenGrid, tokenize } from "./tokenizer.ts";

/**
 * Token ids of every image of a split (in split order), by the frozen tokenizer.
 *
 * @param tok The tokenizer.
 * @param split The split.
 * @param flip Tokenize the mirrored images instead.
 * @param onProgress Called with images done and total.
 * @returns int32 [count·L].
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { tokenizeSplit } from "./token_cache.ts";
 * const cfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const tok = { params: initTokenizer(cfg, 0), cfg, checkpoint: {} } as never;
 * const ids = await tokenizeSplit(tok, { count: 3, images: new Uint8Array(3 * 784), labels: null });
 * if (ids.length !== 3 * 49) throw new Error();
 * ```
 */
export async function tokenizeSplit(
  tok: LoadedTokenizer,
  split: SplitData,
  flip = false,
  onProgress?: (done: number, total: number) => void,
): Promise<Int32Array> {
  const { cfg } = tok, s = cfg.imageSize, l = tokenGrid(cfg) ** 2, size = s * s * cfg.channels, batch = 500;
  const out = new Int32Array(split.count * l);
  for (let i = 0; i < split.count; i += batch) {
    const n = Math.min(batch, split.count - i);
    const idx = Int32Array.from({ length: n }, (_, j) => i + j);
    const ids = tf.tidy(() => {
      let x: tf.Tensor = tf.tensor4d(toUnitRange(gatherImages(split, idx, size)), [n, s, s, cfg.channels]);
      if (flip) x = tf.reverse(x, 2);
      return tokenize(tok.params, cfg, x);
    });
    out.set(await ids.data() as Int32Array, i * l);
    ids.dispose();
    onProgress?.(i + n, split.count);
  }
  return out;
}

/**
 * A progress callback for {@linkcode tokenizeSplit} that logs every ~10,000 images.
 *
 * @param what Names the split.
 * @param log Progress lines.
 * @returns The callback.
 * @example
 * ```ts
 * import { tokenizingProgress } from "./token_cache.ts";
 * const lines: string[] = [];
 * tokenizingProgress("train", (l) => lines.push(l))(60000, 60000);
 * if (lines[0] !== "  tokenizing train: 60000/60000 images") throw new Error();
 * ```
 */
export function tokenizingProgress(what: string, log: (line: string) => void): (done: number, total: number) => void {
  return (done, total) => {
    if (done === total || done % 10000 < 500) log(`  tokenizing ${what}: ${done}/${total} images`);
  };
}

/**
 * A split's token ids, and those of its mirror images when `augment` flips.
 *
 * @example
 * ```ts
 * import type { TokenCache } from "./token_cache.ts";
 * const cache: TokenCache = { ids: new Int32Array(49), flipped: null, tokens: 49 };
 * if (cache.flipped !== null) throw new Error();
 * ```
 */
export interface TokenCache {
  /** Ids of every image, in split order [count·L]. */
  ids: Int32Array;
  /** Ids of the mirrored images, or null without flip augmentation. */
  flipped: Int32Array | null;
  /** L. */
  tokens: number;
}

/**
 * Tokenizes a split once for a run.
 *
 * @param tok The tokenizer.
 * @param split The split.
 * @param augment The run's augmentation ("flip" and "crop+flip" also tokenize mirrored images).
 * @param log Progress lines.
 * @returns The cache.
 * @example
 * ```ts
 * import { initTokenizer, TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { tokenCache } from "./token_cache.ts";
 * const cfg = { ...TOKENIZER_DEFAULTS, width: 8, groups: 4, codebookSize: 8, codeDim: 4 };
 * const tok = { params: initTokenizer(cfg, 0), cfg, checkpoint: {} } as never;
 * const c = await tokenCache(tok, { count: 2, images: new Uint8Array(2 * 784), labels: null }, "flip", () => {});
 * if (c.flipped?.length !== 2 * 49) throw new Error();
 * ```
 */
export async function tokenCache(
  tok: LoadedTokenizer,
  split: SplitData,
  augment: Augment,
  log: (line: string) => void,
): Promise<TokenCache> {
  const ids = await tokenizeSplit(tok, split, false, tokenizingProgress("train", log));
  const flipped = augment.includes("flip")
    ? await tokenizeSplit(tok, split, true, tokenizingProgress("train, mirrored", log))
    : null;
  return { ids, flipped, tokens: tokenGrid(tok.cfg) ** 2 };
}

/**
 * A batch of token ids; with a mirrored cache, each image is mirrored with probability ½.
 *
 * @param cache The cache.
 * @param indices Images of the batch.
 * @param rng The generator (one draw per image when mirroring).
 * @returns int32 [B, L] (the caller disposes).
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { tokenBatch } from "./token_cache.ts";
 * const t = tokenBatch({ ids: Int32Array.from({ length: 8 }, (_, i) => i), flipped: null, tokens: 4 }, new Int32Array([1]), createRng(0));
 * if ((await t.data()).join() !== "4,5,6,7") throw new Error();
 * ```
 */
export function tokenBatch(cache: TokenCache, indices: ArrayLike<number>, rng: Rng): tf.Tensor {
  const l = cache.tokens, batch = new Int32Array(indices.length * l);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    const src = cache.flipped && rng.uniform() < 0.5 ? cache.flipped : cache.ids;
    batch.set(src.subarray(i * l, (i + 1) * l), b * l);
  }
  return tf.tensor2d(batch, [indices.length, l], "int32");
}

/**
 * Opens a run's dataset for a token model: checks it fits the tokenizer and
 * the batch, and tokenizes its training split once. The ids are kept in
 * `cacheDir` under a key of the tokenizer's weights (their checksum), its
 * config, the dataset's checksum and the mirroring, so the predictor run, the
 * ADDP run and every study run on the same tokenizer tokenize the data once
 * (120k images take minutes on a 2-core CPU); tokenizing is deterministic, so
 * cached ids equal fresh ones.
 *
 * @param tok The tokenizer.
 * @param train The run's dataset, batch size and augmentation.
 * @param log Progress lines.
 * @param cacheDir Where ids are kept ("" : never cached).
 * @returns The dataset, its training split and the token cache.
 * @example
 * ```ts
 * import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { openTokenData } from "./token_cache.ts";
 * const tok = { cfg: TOKENIZER_DEFAULTS, checkpoint: { path: "vq.safetensors" } } as never;
 * try { await openTokenData(tok, { data: "/no/such", batchSize: 4, augment: "none" }, () => {}); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("/no/such")) throw e; }
 * ```
 */
export async function openTokenData(
  tok: LoadedTokenizer,
  train: { data: string; batchSize: number; augment: Augment },
  log: (line: string) => void,
  cacheDir = ".cache/tokens",
): Promise<{ ds: Dataset; split: SplitData; cache: TokenCache }> {
  const ds = await openDataset(train.data);
  checkTokenizerFits(tok, ds.header.shape, train.data);
  const split = getSplit(ds, "train");
  checkBatch(train.batchSize, split.count, train.data);
  const weights = (tok.checkpoint.meta as { dataSha256?: unknown } | undefined)?.dataSha256;
  if (!cacheDir || typeof weights !== "string") {
    return { ds, split, cache: await tokenCache(tok, split, train.augment, log) };
  }
  const flip = train.augment.includes("flip");
  const key = await sha256Hex(
    new TextEncoder().encode(
      JSON.stringify([TOKEN_CACHE_VERSION, weights, tok.cfg, ds.header.checksum, split.count, flip]),
    ),
  );
  const file = `${cacheDir}/${key}.i32`, l = tokenGrid(tok.cfg) ** 2, n = split.count * l;
  const stored = await Deno.readFile(file).catch(() => null);
  if (stored && stored.byteLength === 4 * n * (flip ? 2 : 1)) {
    const all = new Int32Array(stored.buffer, stored.byteOffset, stored.byteLength / 4);
    log(`  token ids of ${train.data} from ${file}`);
    return { ds, split, cache: { ids: all.slice(0, n), flipped: flip ? all.slice(n) : null, tokens: l } };
  }
  const cache = await tokenCache(tok, split, train.augment, log);
  const all = new Int32Array(n * (flip ? 2 : 1));
  all.set(cache.ids), flip && all.set(cache.flipped!, n);
  await Deno.mkdir(cacheDir, { recursive: true });
  await writeFileAtomic(file, new Uint8Array(all.buffer));
  return { ds, split, cache };
}

/** Bumped when the tokenization or the cache's layout changes, so stale ids are never read. */
const TOKEN_CACHE_VERSION = 1;
