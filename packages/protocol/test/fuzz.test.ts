// A bounded, seeded run of every protocol fuzz target (fuzz-targets.ts), and every kept input of
// the corpus (test/fuzz-corpus/<target>/) replayed as a regression test. Long runs: bench/fuzz.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { corpus, runTarget, type FuzzTarget } from "@conclave/test-support";
import { CORPUS_DIR, mlsSeeds, mlsTargets, syncTargets } from "./fuzz-targets.js";

const RUNS: Record<string, number> = { "mls.keyPackage": 300, "mls.groupInfo": 300, "mls.commit": 200 };

async function fuzzAndReplay(target: FuzzTarget): Promise<void> {
  for (const { input } of corpus(CORPUS_DIR, target.name)) await target.check(input);
  const r = await runTarget(target, { numRuns: RUNS[target.name] ?? 3000, seed: 1604 });
  assert.equal(r.failure, null, r.failure ?? "");
}

for (const target of syncTargets()) {
  test(`fuzz ${target.name}: ${target.reads} — decodes canonically or is refused with a documented code`, () => fuzzAndReplay(target));
}

test("fuzz the MLS decoders and checks of the delivery service on mutated real messages", async (t) => {
  const seeds = await mlsSeeds();
  for (const target of mlsTargets(seeds)) await t.test(`${target.name}: ${target.reads}`, () => fuzzAndReplay(target));
});
