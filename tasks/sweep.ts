/**
 * `deno task sweep`: runs a study plan (`studies/*.json`): trains every cell
 * (grid point × seed) through the library, evaluates it, appends one JSON
 * line per finished cell to `<out>/results.jsonl`, and writes `report.md`
 * (mean ± spread over seeds) and `charts/*.png`. Restarting the same command
 * skips finished cells and resumes a cut-short run from its checkpoint, so a
 * kill at any point loses little.
 *
 *   deno task sweep --plan studies/posenc.json [--out runs/studies/posenc] [--report-only]
 *
 * @module
 */
import "../src/kernels/mod.ts";
import "../src/methods.ts";
import { BACKEND_SECTION, parseTask, runTask, section, sectionValues, startBackend } from "../src/cli.ts";
import { DarlError } from "../src/errors.ts";
import { cellsOf, readPlan } from "../src/study/plan.ts";
import { writeReport } from "../src/study/report.ts";
import { readResults, runStudy } from "../src/study/runner.ts";

const SWEEP = section("Sweep", { plan: "", out: "", reportOnly: false }, {
  plan: { doc: "the study plan (JSON; see studies/)", required: true },
  out: { doc: "the study's folder [runs/studies/<plan name>]" },
  reportOnly: { doc: "rewrite report.md and charts from results.jsonl without training" },
});
const SPEC = {
  usage: "deno task sweep --plan <plan.json> [flags]: train and evaluate every cell of a study, then report",
  sections: [SWEEP, BACKEND_SECTION],
};

if (import.meta.main) {
  await runTask(async () => {
    const f = parseTask(Deno.args, SPEC);
    if (!f) return;
    const s = sectionValues(f, SWEEP);
    const plan = await readPlan(s.plan);
    const out = s.out || `runs/studies/${plan.name}`;
    const total = cellsOf(plan).length;
    if (s.reportOnly) {
      const records = await readResults(`${out}/results.jsonl`);
      if (records.length === 0) throw new DarlError(`--out ${out}: no finished cells in results.jsonl`);
      await writeReport(out, plan, records, total);
      console.log(`report ${out}/report.md (${records.length} of ${total} cells)`);
      return;
    }
    await startBackend(f);
    await runStudy(plan, { out });
  });
}
