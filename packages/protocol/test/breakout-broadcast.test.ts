import { test } from "node:test";
import assert from "node:assert/strict";
import { BroadcastSigner, MAX_BROADCAST_BYTES, openBreakoutBroadcast, sealBreakoutBroadcast } from "../src/app-messages/breakout-broadcast.js";
import { isProtocolError } from "../src/errors.js";

async function setup() {
  const host = await BroadcastSigner.generate();
  const other = await BroadcastSigner.generate();
  const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const plan = { planId: "plan-0001", key, authorSignatureKey: host.publicKey, suite: host.suite };
  return { host, other, key, plan };
}

test("a broadcast signed by the plan's author opens with the plan's key", async () => {
  const { host, key, plan } = await setup();
  const bytes = await sealBreakoutBroadcast(host, "plan-0001", key, "Five minutes left ⏳");
  assert.equal(await openBreakoutBroadcast(plan, bytes), "Five minutes left ⏳");
  assert.ok(!Buffer.from(bytes).toString("utf8").includes("minutes"));
});

test("a broadcast signed by anyone else, for another plan, altered or malformed is BREAKOUT_BROADCAST_REJECTED", async () => {
  const { host, other, key, plan } = await setup();
  const rejected = (bytes: Uint8Array, p = plan) => assert.rejects(openBreakoutBroadcast(p, bytes), (e) => isProtocolError(e, "BREAKOUT_BROADCAST_REJECTED"));
  // A member who holds the broadcast key (everyone in the plan) but signs with a key of its own.
  await rejected(await sealBreakoutBroadcast(other, "plan-0001", key, "I am the host"));
  const good = await sealBreakoutBroadcast(host, "plan-0001", key, "hello");
  await rejected(good, { ...plan, planId: "plan-0002" });
  await rejected(good, { ...plan, key: globalThis.crypto.getRandomValues(new Uint8Array(32)) });
  for (const i of [0, 5, 20, good.length - 1]) {
    const t = good.slice();
    t[i]! ^= 1;
    await rejected(t);
  }
  await rejected(good.subarray(0, 14));
  await rejected(good.subarray(0, good.length - 17));
  await rejected(new Uint8Array(MAX_BROADCAST_BYTES + 1));
});

test("fuzz: random bytes never open and always fail by name", async () => {
  const { plan } = await setup();
  for (let i = 0; i < 300; i++) {
    const bytes = globalThis.crypto.getRandomValues(new Uint8Array(i % 200));
    if (i % 4 === 0 && bytes.length > 0) bytes[0] = 1;
    await assert.rejects(openBreakoutBroadcast(plan, bytes), (e) => isProtocolError(e, "BREAKOUT_BROADCAST_REJECTED"));
  }
});

test("a destroyed signer signs nothing more", async () => {
  const { host, key } = await setup();
  host.destroy();
  await assert.rejects(sealBreakoutBroadcast(host, "plan-0001", key, "after destroy"), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
});
