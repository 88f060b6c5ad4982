/**
 * Loading ADDP's frozen components, and the checks that a tokenizer, a token
 * predictor and an ADDP model belong together (same token grid, same
 * codebook): a mismatched triple is refused with one line naming both files.
 *
 * @module
 */
import { check } from "../errors.ts";
import { type Checkpoint, loadMethodCheckpoint } from "../train/checkpoint.ts";
import { initTokenizer, tokenGrid, type TokenizerConfig, type TokenizerParams } from "./tokenizer.ts";
import { TOKENIZER_CONFIG_SPEC } from "./tokenizer_train.ts";

/**
 * A trained tokenizer, frozen.
 *
 * @example
 * ```ts
 * import type { LoadedTokenizer } from "./load.ts";
 * const describe = (t: LoadedTokenizer) => `${t.cfg.codebookSize} codes from ${t.checkpoint.path}`;
 * if (typeof describe !== "function") throw new Error();
 * ```
 */
export interface LoadedTokenizer {
  /** Its parameters. */
  params: TokenizerParams;
  /** Its config. */
  cfg: TokenizerConfig;
  /** The checkpoint it came from. */
  checkpoint: Checkpoint;
}

/**
 * Loads a tokenizer checkpoint (a file, or a run directory's newest).
 *
 * @param path The checkpoint or run directory.
 * @returns The tokenizer.
 * @example
 * ```ts
 * import { loadTokenizer } from "./load.ts";
 * try { await loadTokenizer("/no/such/run"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.startsWith("/no/such/run: not found")) throw e; }
 * ```
 */
export function loadTokenizer(path: string): Promise<LoadedTokenizer> {
  return loadMethodCheckpoint(
    path,
    "vq-tokenizer",
    "a VQ tokenizer",
    TOKENIZER_CONFIG_SPEC.stored,
    (c) => initTokenizer(c, 0),
  );
}

/**
 * Checks that a tokenizer fits images of a shape.
 *
 * @param tok The tokenizer.
 * @param shape [H, W, C] of the images.
 * @param what Names the images (a dataset path, "the ADDP model").
 * @example
 * ```ts
 * import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { checkTokenizerFits } from "./load.ts";
 * const tok = { cfg: TOKENIZER_DEFAULTS, checkpoint: { path: "vq/ckpt-0000010.safetensors" } } as never;
 * try { checkTokenizerFits(tok, [32, 32, 3], "data/cifar10"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("28×28×1")) throw e; }
 * ```
 */
export function checkTokenizerFits(tok: LoadedTokenizer, shape: readonly [number, number, number], what: string): void {
  const c = tok.cfg;
  check(
    c.imageSize === shape[0] && c.imageSize === shape[1] && c.channels === shape[2],
    `${tok.checkpoint.path}: the tokenizer reads ${c.imageSize}×${c.imageSize}×${c.channels} images but ${what} has ${
      shape[0]
    }×${shape[1]}×${shape[2]}`,
  );
}

/**
 * Checks that a model reading tokens (predictor or ADDP) matches a tokenizer's grid and codebook.
 *
 * @param tok The tokenizer.
 * @param tokens The model's tokens per image.
 * @param codebookSize The model's K.
 * @param what Names the model (its checkpoint path).
 * @example
 * ```ts
 * import { TOKENIZER_DEFAULTS } from "./tokenizer.ts";
 * import { checkTokensMatch } from "./load.ts";
 * const tok = { cfg: TOKENIZER_DEFAULTS, checkpoint: { path: "vq.safetensors" } } as never;
 * checkTokensMatch(tok, 49, 256, "mage.safetensors");
 * try { checkTokensMatch(tok, 64, 256, "mage.safetensors"); throw new Error("must fail"); }
 * catch (e) { if (!(e as Error).message.includes("8×8 tokens")) throw e; }
 * ```
 */
export function checkTokensMatch(tok: LoadedTokenizer, tokens: number, codebookSize: number, what: string): void {
  const g = tokenGrid(tok.cfg), side = Math.round(Math.sqrt(tokens));
  check(
    g * g === tokens && tok.cfg.codebookSize === codebookSize,
    `${what}: reads ${side}×${side} tokens from a codebook of ${codebookSize}, but the tokenizer ${tok.checkpoint.path} ` +
      `gives ${g}×${g} tokens from a codebook of ${tok.cfg.codebookSize}`,
  );
}
