/**
 * Registers every method with the checkpoint registry, so any task can load
 * any method's checkpoint. Shared code (`src/nn`, `src/data`, `src/train`,
 * `src/eval`) never imports a method; the tasks and `mod.ts` import this.
 *
 * @module
 */
import "./darl/method.ts";
import "./addp/method.ts";
import "./addp/predictor_method.ts";
