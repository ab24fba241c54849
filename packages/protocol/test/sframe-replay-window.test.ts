// The per-KID anti-replay bitmap on its own: sliding, jumps, and sizes that are not a multiple
// of the 32-bit words it is stored in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ReplayWindow } from "../src/sframe/replay-window.js";
import { prng, throwsWithCode } from "./sframe-support.js";

test("each counter is accepted once; check() does not record anything", () => {
  const w = new ReplayWindow(64);
  assert.ok(w.check(5n));
  assert.ok(w.check(5n));
  w.accept(5n);
  assert.ok(!w.check(5n));
  throwsWithCode(() => w.accept(5n), "SFRAME_REPLAY");
});

test("a jump larger than the window forgets everything older", () => {
  const w = new ReplayWindow(64);
  for (let c = 0n; c < 64n; c++) w.accept(c);
  w.accept(10_000n);
  assert.ok(!w.check(63n));
  assert.ok(w.check(10_000n - 63n));
  assert.ok(!w.check(10_000n - 64n));
  assert.ok(!w.check(10_000n));
});

test("the window matches a reference set model under random traffic, for odd sizes too", () => {
  for (const size of [1, 31, 32, 33, 100, 1024]) {
    const w = new ReplayWindow(size);
    const seen = new Set<bigint>();
    let highest = -1n;
    const rnd = prng(size);
    let base = 0n;
    for (let i = 0; i < 5000; i++) {
      base += BigInt(Math.floor(rnd() * 3));
      const ctr = base + BigInt(Math.floor(rnd() * size * 2)) - BigInt(size);
      if (ctr < 0n) continue;
      const expected = !seen.has(ctr) && (ctr > highest || highest - ctr < BigInt(size));
      assert.equal(w.check(ctr), expected, `size ${size}, ctr ${ctr}, highest ${highest}`);
      if (expected) {
        w.accept(ctr);
        seen.add(ctr);
        if (ctr > highest) highest = ctr;
      }
    }
  }
});

test("counters near 2^64-1 are handled", () => {
  const w = new ReplayWindow(16);
  const max = 0xffff_ffff_ffff_ffffn;
  w.accept(max - 3n);
  w.accept(max);
  assert.ok(!w.check(max));
  assert.ok(w.check(max - 1n));
  assert.ok(!w.check(max - 3n));
  assert.ok(!w.check(max - 16n));
});

test("a window size outside 1 … 2^20 is refused", () => {
  throwsWithCode(() => new ReplayWindow(0), "INVALID_ARGUMENT");
  throwsWithCode(() => new ReplayWindow(1.5), "INVALID_ARGUMENT");
  throwsWithCode(() => new ReplayWindow(2 ** 20 + 1), "INVALID_ARGUMENT");
});
