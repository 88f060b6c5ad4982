import assert from "node:assert/strict";
import { fixtureDataset, ROOT, runTaskProcess } from "./test_util.ts";

const TASKS = [
  "prepare",
  "pretrain",
  "tokenizer",
  "predictor",
  "probe",
  "finetune",
  "vtab",
  "sample",
  "fid",
  "bench_report",
  "build_wasm",
];

/** Runs a task that must fail, and checks its stderr is one line `error: …` matching `pattern`. */
async function fails(script: string, args: string[], pattern: RegExp, cwd = ROOT): Promise<string> {
  const r = await runTaskProcess(script, [...args], cwd);
  assert.equal(r.code, 1, `${script} ${args.join(" ")} should fail:\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  return r.stdout;
}

const data = fixtureDataset;
const tiny = ["--patch-size", "2", "--dim", "16", "--depth", "1", "--heads", "2", "--batch-size", "4"];

Deno.test("every task answers --help and -h with all its flags and defaults, and does nothing else", async () => {
  const cwd = await Deno.makeTempDir();
  const wasm = `${ROOT}src/kernels/cpu/kernels_wasm.ts`, before = (await Deno.stat(wasm)).mtime?.getTime();
  await Promise.all(TASKS.map(async (task) => {
    for (const flag of ["--help", "-h"]) {
      const r = await runTaskProcess(`${task}.ts`, [flag], cwd);
      assert.equal(r.code, 0, `${task} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, /^deno task /, task);
      assert.match(r.stdout, /-h, --help/, task);
      // Every documented flag shows its default in brackets, or says what happens without it.
      for (const line of r.stdout.split("\n").filter((l) => /^ {2}--/.test(l))) {
        assert.match(line, /\[.*\]/, `${task}: ${line}`);
      }
    }
  }));
  assert.deepEqual([...Deno.readDirSync(cwd)], [], "no files written");
  assert.equal((await Deno.stat(wasm)).mtime?.getTime(), before, "build:wasm --help must not rebuild");
  await Deno.remove(cwd);
});

Deno.test("every task is a thin CLI of at most 150 lines", async () => {
  for (const task of TASKS) {
    const lines = (await Deno.readTextFile(`${ROOT}tasks/${task}.ts`)).split("\n").length;
    assert.ok(lines <= 151, `tasks/${task}.ts has ${lines} lines`);
  }
});

Deno.test("flag errors are one line naming the flag: bounds, sizes, unknown flags, the --flag=-1 form", async () => {
  const d = await data();
  const out = `${await Deno.makeTempDir()}/never`;
  await fails(
    "pretrain.ts",
    ["--data", d, "--out", out, "--lr", "-1"],
    /--lr: a negative value must be written --lr=-1/,
  );
  await fails("pretrain.ts", ["--data", d, "--out", out, "--lr=-1"], /--lr: expected a number > 0/);
  await fails(
    "pretrain.ts",
    ["--data", d, "--out", out, "--batch-size", "1e9"],
    /--batch-size: expected an integer ≥ 1 and ≤ 1000000/,
  );
  await fails(
    "pretrain.ts",
    ["--data", d, "--out", out, ...tiny, "--batch-size", "100"],
    /--batch-size: 100 is larger than the 24 training images/,
  );
  await fails("pretrain.ts", ["--data", d, "--out", out, "--min-lr", "0.1"], /--min-lr: 0\.1 is above --lr 0\.001/);
  await fails("pretrain.ts", ["--data", d, "--out", out, "--seed", "0.5"], /--seed: expected an integer/);
  await fails(
    "pretrain.ts",
    ["--data", d, "--out", out, "--beta2", "1"],
    /--beta2: expected a number ≥ 0 and < 1, got 1/,
  );
  await fails("pretrain.ts", ["--steps", "10", "extra"], /unexpected argument "extra"/);
  await fails("pretrain.ts", ["--stpes", "10"], /--stpes: unknown flag \(see --help\)/);
  await fails("probe.ts", ["--ckpt", "x", "--batch-size", "0"], /--batch-size: expected an integer ≥ 1/);
  await fails("probe.ts", ["--ckpt", "x", "--epochs", "0"], /--epochs: expected an integer ≥ 1/);
  await fails(
    "probe.ts",
    ["--ckpt", "x", "--head", "svm"],
    /--head: expected one of logreg, linear, ridge, knn, got "svm"/,
  );
  await fails("probe.ts", [], /--ckpt: required/);
  await fails("sample.ts", ["--ckpt", "x", "--count", "0"], /--count: expected an integer ≥ 1/);
  await fails("prepare.ts", ["--test-fraction", "1.5"], /--test-fraction: expected a number > 0 and < 1/);
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound); // no run directory was created
});

Deno.test("importing mod.ts registers darl's fast kernels: selectBackend('auto') never falls back to stock tfjs", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    file,
    `import { selectBackend } from "${ROOT}mod.ts";\nconsole.log((await selectBackend("auto")).backend);\nDeno.exit(0);\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "--config", `${ROOT}deno.json`, file] })
    .output();
  const backend = new TextDecoder().decode(out.stdout).trim();
  assert.ok(["darl-cpu", "darl-webgpu"].includes(backend), `auto chose "${backend}"`);
  await Deno.remove(file);
});

async function canMount(): Promise<boolean> {
  try {
    const r = await new Deno.Command("unshare", { args: ["-rm", "sh", "-c", "mount -t tmpfs -o size=4k none /tmp"] })
      .output();
    return r.success;
  } catch {
    return false;
  }
}

/** Runs a task inside a private mount namespace with a small or read-only tmpfs at `mnt`. */
async function inMount(opts: string, mnt: string, script: string, args: string[]) {
  const deno = [Deno.execPath(), "run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}tasks/${script}`, ...args];
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const cmd = `mount -t tmpfs -o ${opts} none ${mnt} && ${
    deno.map(quote).join(" ")
  }; rc=$?; ls -A ${mnt} ${mnt}/run 2>/dev/null; exit $rc`;
  const r = await new Deno.Command("unshare", { args: ["-rm", "sh", "-c", cmd] }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

Deno.test({
  name: "a full disk or a read-only --out is one line naming the file, and leaves no partial file",
  ignore: !(await canMount()), // needs unprivileged mount namespaces (unshare -rm)
  async fn() {
    const d = await data(), mnt = await Deno.makeTempDir();
    const run = ["--data", d, "--out", `${mnt}/run`, ...tiny, "--steps", "4", "--log-every", "2", "--ckpt-every", "4"];
    const common = [...run, "--sample-every", "0", "--backend", "cpu", "--kernels", "stock"];
    for (
      const [size, file] of [["16k", "loss\\.png"], ["40k", "ckpt-0000004\\.safetensors"]] as const
    ) {
      const r = await inMount(`size=${size}`, mnt, "pretrain.ts", common);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr.trim(), new RegExp(`^error: .*/run/${file}: cannot write \\(no space left on device\\)$`));
      assert.doesNotMatch(r.stdout, /\.tmp-/, "no temporary file left");
    }
    const ro = await inMount("ro", mnt, "pretrain.ts", common);
    assert.equal(ro.code, 1);
    assert.match(ro.stderr.trim(), /^error: --out .*\/run: cannot write in .* \(read-only file system\)$/);
    const file = await Deno.makeTempFile();
    await fails(
      "pretrain.ts",
      [...common.slice(2), "--data", d, "--out", `${file}/run`],
      /--out .*\/run: .* is a file, not a directory/,
    );
    await Deno.remove(mnt, { recursive: true });
  },
});

Deno.test("one meaning per flag name across tasks (--heads, --steps, --no-cache, --out)", async () => {
  const help = Object.fromEntries(
    await Promise.all(TASKS.map(async (t) => [t, (await runTaskProcess(`${t}.ts`, ["--help"])).stdout] as const)),
  );
  const doc = (flag: string) =>
    Object.entries(help).flatMap(([t, text]) => {
      const line = text.split("\n").find((l) => l.startsWith(`  --${flag} `));
      return line ? [[t, line.slice(2 + flag.length + 2).trim()] as const] : [];
    });
  // --heads is the attention-head count of the model a task trains; classifier heads are --head.
  assert.deepEqual(doc("heads").map(([t]) => t), ["pretrain", "predictor"]);
  for (const [t, d] of doc("heads")) assert.match(d, /attention heads/, t);
  assert.deepEqual(doc("head").map(([t]) => t), ["probe", "vtab"]);
  // --steps is optimiser steps; sampling steps are --sample-steps (DARL) and --decode-steps (ADDP/MaskGIT).
  assert.deepEqual(doc("steps").map(([t]) => t), ["pretrain", "tokenizer", "predictor"]);
  for (const [t, d] of doc("steps")) assert.match(d, /^optimiser steps/, t);
  assert.deepEqual(doc("decode-steps").map(([t]) => t), ["sample"]);
  assert.deepEqual(doc("sample-steps").map(([t]) => t), ["sample"]);
  // --no-cache always skips darl's on-disk caches; the sampler's key/value cache is --no-kv-cache.
  for (const [t, d] of doc("no-cache")) assert.match(d, /\.cache/, t);
  assert.deepEqual(doc("no-kv-cache").map(([t]) => t), ["sample"]);
  // --out is always a directory.
  for (const [t, d] of doc("out")) assert.match(d, /directory/, t);
});
