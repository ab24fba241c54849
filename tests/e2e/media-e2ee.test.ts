import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, joinBot, waitForMediaFromAll, waitForAgreement } from "./support/harness.js";

test("three bots in an E2EE meeting decrypt each other's audio and video, with no decrypt failures and one code per epoch", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const bots = [await joinBot(server, meeting, "Ada"), await joinBot(server, meeting, "Bob"), await joinBot(server, meeting, "Cy")];
  t.after(() => bots.forEach((b) => b.leave()));

  const codesByEpoch = new Map<bigint, Set<string>>();
  for (const b of bots) b.on("epoch", (e) => {
    const set = codesByEpoch.get(e.epoch) ?? new Set();
    set.add(e.securityCode);
    codesByEpoch.set(e.epoch, set);
  });
  await waitForAgreement(bots.map((b) => b.session), 3, 20_000);
  await waitForMediaFromAll(bots, 20);

  for (const b of bots) {
    const s = b.stats();
    assert.equal(s.decryptFailures, 0, `${b.session.identity.displayName}: ${JSON.stringify(s)}`);
    assert.equal(s.remoteMembers, 2);
    assert.ok(s.framesSent > 0);
  }
  // Both audio and video arrived decrypted.
  const kinds = new Set<string>();
  await new Promise<void>((resolve) => {
    const off = bots[0]!.on("frame", (f) => {
      kinds.add(f.kind);
      if (kinds.size === 2) {
        off();
        resolve();
      }
    });
  });
  for (const [epoch, codes] of codesByEpoch) assert.equal(codes.size, 1, `epoch ${epoch} had ${codes.size} different codes`);
});
