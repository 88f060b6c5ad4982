/**
 * A learned lookup table from integer ids to vectors: token embeddings of the
 * token predictor and of ADDP's token decoder.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { truncNormal } from "./init.ts";

/**
 * Initialises a [vocab, dim] table with truncated-normal(0.02) rows, as BERT
 * and MAGE do.
 *
 * @param rng The generator.
 * @param vocab Number of ids.
 * @param dim Vector width.
 * @returns The trainable table.
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { initEmbedding } from "./embedding.ts";
 * const t = initEmbedding(createRng(0), 10, 4);
 * if (t.shape.join() !== "10,4") throw new Error();
 * ```
 */
export function initEmbedding(rng: Rng, vocab: number, dim: number): tf.Variable {
  return truncNormal(rng, [vocab, dim], 0.02);
}

/**
 * Looks up rows of `table` for every id in `ids`.
 *
 * @param table The [vocab, dim] table.
 * @param ids Integer ids of any shape (int32).
 * @returns [...ids.shape, dim].
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { embed } from "./embedding.ts";
 * const e = embed(tf.tensor2d([[0, 0], [1, 2]]), tf.tensor1d([1, 0, 1], "int32"));
 * if ((await e.data()).join() !== "1,2,0,0,1,2") throw new Error();
 * ```
 */
export function embed(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [vocab, dim] = table.shape as [number, number];
  // A one-hot product rather than a gather: the gather's gradient is tfjs-cpu's UnsortedSegmentSum, one pass over
  // the whole gradient per vocabulary entry, while this backward pass is one GEMM (darl's, on darl-cpu).
  return tf.tidy(() =>
    tf.matMul(tf.oneHot(ids.flatten() as tf.Tensor1D, vocab, 1, 0, "float32"), table as tf.Tensor2D).reshape([
      ...ids.shape,
      dim,
    ])
  );
}
