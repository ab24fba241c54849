import { test } from "node:test";
import assert from "node:assert/strict";
import { AttemptGuard, addressKey } from "../src/http/attempt-guard.js";

test("addresses are counted per IPv4 address and per IPv6 /64; IPv4-mapped IPv6 is IPv4", () => {
  assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("2001:db8:1:2:aaaa::1"), addressKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"));
  assert.notEqual(addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"));
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
});

test("an address that fails too often is refused; a target under attack refuses only addresses that failed", async () => {
  let now = 0;
  const g = new AttemptGuard({ failuresPerAddress: 3, targetFailures: 4, slowStepMs: 0, now: () => now });
  const trips: string[] = [];
  g.onTrip = (t) => trips.push(`${t.reason}:${t.address}:${t.target ?? ""}`);
  for (const a of ["10.0.0.1", "10.0.0.2"]) {
    for (let i = 0; i < 2; i++) {
      assert.equal(g.attempt(a, "meeting:1"), null);
      await g.failure(a, "meeting:1");
    }
  }
  // Four failures on meeting 1: those two addresses are refused for it, a clean one is not.
  assert.equal(g.attempt("10.0.0.1", "meeting:1"), "target");
  assert.equal(g.attempt("10.0.0.1", "meeting:2"), null, "other meetings still work for it");
  assert.equal(g.attempt("10.0.0.3", "meeting:1"), null);
  await g.failure("10.0.0.1");
  assert.equal(g.attempt("10.0.0.1"), "failures", "three failures: the address is refused everywhere");
  assert.deepEqual(trips, ["target:10.0.0.1:meeting:1", "failures:10.0.0.1:"]);
  now += 60_000;
  assert.equal(g.attempt("10.0.0.1", "meeting:1"), null, "a new window forgives");
});

test("failed answers slow down after the first few failures of an address", async () => {
  const g = new AttemptGuard({ slowAfter: 1, slowStepMs: 5_000, failuresPerAddress: 100 });
  const settled = async (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
  assert.equal(await settled(g.failure("10.0.0.9")), true, "the first failure is answered at once");
  assert.equal(await settled(g.failure("10.0.0.9")), false, "the second waits");
});
