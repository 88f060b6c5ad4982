/**
 * TensorFlow.js 4.22 (the whole namespace), as darl uses it: models, losses
 * and data live in its tensors; backends are chosen with `selectBackend`.
 * Import it as `tf` from `src/tf.ts` (or `mod.ts`), which also quiets
 * tfjs's CPU banner.
 *
 * @example
 * ```ts
 * import { tf } from "./tf.ts";
 * const x = tf.tensor1d([1, 2, 3]);
 * if ((await tf.sum(x).data())[0] !== 6) throw new Error();
 * ```
 *
 * @module
 */
export * from "@tensorflow/tfjs";
