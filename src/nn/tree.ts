/**
 * Parameter trees: nested objects and arrays whose leaves are tensors.
 * Leaves are named by their path ("blocks.0.attn.qkv.w"), which is how they
 * appear in checkpoints.
 *
 * @module
 */
import { tf } from "../tf.ts";

/**
 * A nested object/array of tensors.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { namedLeaves, type ParamTree } from "./tree.ts";
 * const tree: ParamTree = { embed: { w: tf.ones([2, 2]) }, blocks: [{ g: tf.ones([2]) }] };
 * if (namedLeaves(tree).map(([n]) => n).join() !== "embed.w,blocks.0.g") throw new Error();
 * ```
 */
export type ParamTree = tf.Tensor | ParamTree[] | { [key: string]: ParamTree | undefined };

/**
 * Lists the leaves of a tree with their dotted paths, in a stable order.
 *
 * @param tree The tree.
 * @param prefix A prefix for every name.
 * @returns [name, tensor] pairs.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { namedLeaves } from "./tree.ts";
 * const names = namedLeaves({ a: tf.scalar(1), b: [{ c: tf.scalar(2) }] }).map(([n]) => n);
 * if (names.join() !== "a,b.0.c") throw new Error();
 * ```
 */
export function namedLeaves(tree: ParamTree, prefix = ""): [string, tf.Tensor][] {
  if (tree instanceof tf.Tensor) return [[prefix, tree]];
  const out: [string, tf.Tensor][] = [];
  const entries: [string, ParamTree | undefined][] = Array.isArray(tree)
    ? tree.map((v, i) => [String(i), v])
    : Object.entries(tree);
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    out.push(...namedLeaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return out;
}

/**
 * Disposes every tensor of a tree.
 *
 * @param tree The tree.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { disposeTree } from "./tree.ts";
 * const before = tf.memory().numTensors;
 * disposeTree({ a: tf.ones([2]), b: [tf.zeros([3])] });
 * if (tf.memory().numTensors !== before) throw new Error();
 * ```
 */
export function disposeTree(tree: ParamTree): void {
  for (const [, t] of namedLeaves(tree)) t.dispose();
}

/**
 * Counts the scalars of a model (any tree of tensors: a parameter tree or a
 * method's typed parameters).
 *
 * @param params The tree.
 * @returns The number of scalars.
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { countParams } from "./tree.ts";
 * if (countParams({ w: tf.zeros([3, 4]), b: [tf.zeros([4])] }) !== 16) throw new Error();
 * ```
 */
export function countParams(params: object): number {
  let n = 0;
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) n += v.size;
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(params);
  return n;
}
