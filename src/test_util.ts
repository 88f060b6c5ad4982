/**
 * Helpers shared by the test suite (not exported from `mod.ts`).
 *
 * @module
 */
import { tf } from "./tf.ts";
import { prepareDataset } from "./data/prepare.ts";
import { writeDataset } from "./data/store.ts";
import { readJsonl } from "./train/metrics.ts";

/** The repository root (with a trailing slash). */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Path of a fixture file or folder. */
export function fixture(path: string): string {
  return `${ROOT}fixtures/${path}`;
}

/** Switches to the stock tfjs CPU backend (deterministic, always present). */
export async function useCpu(): Promise<void> {
  if (tf.getBackend() !== "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new Error("tfjs cpu backend failed to start");
  }
}

/** Largest absolute difference between two arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs a task script in a subprocess and returns its exit code and output. */
export async function runTaskProcess(
  script: string,
  args: string[],
  cwd = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}tasks/${script}`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Runs `name`, an exported async function of the module at `moduleUrl`, in a
 * process of its own (`deno eval`), and fails with its output if it throws.
 * WebGPU checks run this way: a `deno test` or `deno bench` process whose
 * modules have loaded Mesa's llvmpipe through `navigator.gpu` sometimes aborts
 * at exit with glibc heap corruption, after every test has passed (2 of 40
 * runs of twelve such test modules, 1 of 30 `deno bench` runs of one), while a
 * `deno run` or `deno eval` process, whose module runs on the main thread, did
 * not (0 of 300). A test file may export its own checks: `Deno.test`
 * registers nothing outside `deno test`.
 *
 * @param moduleUrl The module (`import.meta.url` for the calling test file).
 * @param name The export to call.
 */
export async function inOwnProcess(moduleUrl: string, name: string): Promise<void> {
  const code = `import { ${name} } from ${JSON.stringify(moduleUrl)};\nawait ${name}();\n`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", `${ROOT}deno.json`, code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (out.stdout.length && out.success) console.log(dec.decode(out.stdout).trimEnd());
  if (!out.success) {
    throw new Error(
      `${name} failed in its own process (exit ${out.code}${out.signal ? `, ${out.signal}` : ""}):\n` +
        `${dec.decode(out.stdout)}${dec.decode(out.stderr)}`,
    );
  }
}

/**
 * Writes a dataset of blank 8×8 grey images without labels (for the "no
 * labels" errors).
 *
 * @param dir Output directory.
 * @param count Images per split.
 */
export async function writeUnlabelledDataset(dir: string, count: number): Promise<void> {
  const split = { count, images: new Uint8Array(count * 64), labels: null };
  await writeDataset(dir, {
    name: "u",
    source: "t",
    shape: [8, 8, 1],
    classes: [],
    splits: { train: split, test: split },
  });
}

let fixtureData: Promise<string> | null = null;

/**
 * The IDX fixture (3 classes of 8×8 patterns) prepared once per test
 * module into a temporary directory.
 *
 * @returns The prepared dataset's directory.
 */
export function fixtureDataset(): Promise<string> {
  fixtureData ??= (async () => {
    const dir = `${await Deno.makeTempDir()}/patterns`;
    await prepareDataset({ source: "idx", idxDir: fixture("idx"), out: dir });
    return dir;
  })();
  return fixtureData;
}

/** A run's held-out measurements from its `metrics.jsonl`: [step, eval_train_loss, eval_test_loss] each. */
export async function heldOutLog(runDir: string): Promise<unknown[][]> {
  return (await readJsonl(`${runDir}/metrics.jsonl`)).filter((r) => "eval_test_loss" in r).map((r) => [
    r.step,
    r.eval_train_loss,
    r.eval_test_loss,
  ]);
}
