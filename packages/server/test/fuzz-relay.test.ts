// A bounded, seeded run of the relay's fuzz targets (fuzz-relay-targets.ts), and the kept corpus
// (test/fuzz-corpus/<target>/) replayed. Long runs: bench/fuzz.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { corpus, runTarget } from "@conclave/test-support";
import { relayTargets } from "./fuzz-relay-targets.js";

const CORPUS_DIR = fileURLToPath(new URL("../../test/fuzz-corpus/", import.meta.url));

for (const target of relayTargets()) {
  test(`fuzz ${target.name}: ${target.reads} — parses consistently or is refused with a RelayError`, async () => {
    for (const { input } of corpus(CORPUS_DIR, target.name)) await target.check(input);
    const r = await runTarget(target, { numRuns: 3000, seed: 3550 });
    assert.equal(r.failure, null, r.failure ?? "");
  });
}
