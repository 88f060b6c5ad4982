import assert from "node:assert/strict";
import { ROOT } from "./test_util.ts";

async function deno(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("every export of mod.ts has JSDoc with a runnable @example", async () => {
  const { out } = await deno(["doc", "--json", "mod.ts"]);
  const json = JSON.parse(out);
  const symbols = json.nodes[`file://${ROOT}mod.ts`].symbols as {
    name: string;
    declarations: { location: { filename: string }; jsDoc?: { doc?: string; tags?: { kind: string }[] } }[];
  }[];
  const own = symbols.filter((s) => s.declarations.some((d) => d.location.filename.startsWith(`file://${ROOT}`)));
  const missing = own.filter((s) =>
    !s.declarations.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example") || d.jsDoc?.doc?.includes("```ts"))
  ).map((s) => s.name);
  assert.ok(own.length > 250, `only ${own.length} exports found`);
  assert.deepEqual(missing, []);
});

Deno.test("deno doc --lint mod.ts reports nothing for darl's own symbols", async () => {
  const { err } = await deno(["doc", "--lint", "mod.ts"]);
  // Problems inside TensorFlow.js's own declarations are not darl's; every one located in this repository is.
  const ours = err.split("\n\n").filter((block) => /^error\[/m.test(block) && block.includes(ROOT));
  assert.deepEqual(ours, []);
});
