/**
 * A lighter flood than bench/flood.mjs (which runs the full 300 stalled frames and 2,000 idle
 * connections; its figures are in docs/security-testing.md): the same attack shapes against a real
 * `conclave serve` process, checking the same outcomes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runFlood } from "./support/flood.js";

test("a flood of stalled frames and idle connections: participants still join, every flood connection is cut by the server, and memory comes back within 20% of its baseline", async () => {
  const r = await runFlood({ stalled: 60, idle: 400, idleFromOneAddress: 300, settleMs: 60_000, log: (line) => console.log(`# ${line}`) });
  console.log(`# flood: before the warm-up ${r.coldRssMb.toFixed(1)} MB, baseline ${r.baselineRssMb.toFixed(1)} MB, peak ${r.peakRssMb.toFixed(1)} MB, after ${r.afterRssMb.toFixed(1)} MB; join during flood ${r.joinDuringFloodMs} ms`);
  assert.equal(r.floodClosed, r.floodOpened, "every flood connection was closed by the server");
  assert.ok(r.joinDuringFloodMs > 0);
  // The security log shows the refusals: the address over its connection cap, the frames too large
  // for a connection that has not joined, the frames that never finished.
  console.log(`# security events: ${JSON.stringify(r.securityEvents)}`);
  for (const e of ["connection_cap", "message_too_large", "message_timeout"]) assert.ok((r.securityEvents[e] ?? 0) > 0, `no ${e} in the security log`);
  assert.ok(r.recoveredAfterMs !== null, `memory stayed at ${r.afterRssMb.toFixed(1)} MB (baseline ${r.baselineRssMb.toFixed(1)} MB)`);
});
