import assert from "node:assert/strict";
import { ROOT } from "./test_util.ts";

/** Shared layers: they know no method. */
const SHARED = ["nn", "data", "train", "eval", "viz", "kernels"];
/** Method folders. */
const METHODS = ["darl", "addp"];

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sources(p);
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) yield p;
  }
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\s+"([^"]+)"|import\(\s*"([^"]+)"/g)) {
    out.push(m[1] ?? m[2] ?? m[3]!);
  }
  return out;
}

Deno.test("architecture: src/nn, data, train, eval, viz and kernels import no method folder", async () => {
  const offenders: string[] = [];
  let checked = 0;
  for (const layer of SHARED) {
    for await (const file of sources(`${ROOT}src/${layer}`)) {
      checked++;
      for (const spec of specifiers(await Deno.readTextFile(file))) {
        if (!spec.startsWith(".")) continue;
        const target = new URL(spec, `file://${file}`).pathname.slice(`${ROOT}src/`.length);
        if (METHODS.some((m) => target.startsWith(`${m}/`))) offenders.push(`${file.slice(ROOT.length)} → ${spec}`);
      }
    }
  }
  assert.ok(checked > 40, `only ${checked} files scanned`);
  assert.deepEqual(offenders, []);
});

Deno.test("architecture: the import scan sees static, re-exported and dynamic imports", () => {
  const text =
    `import { a } from "../darl/model.ts";\nexport { b } from "./x.ts";\nimport "./y.ts";\nawait import("../addp/z.ts");`;
  assert.deepEqual(specifiers(text), ["../darl/model.ts", "./x.ts", "./y.ts", "../addp/z.ts"]);
});
