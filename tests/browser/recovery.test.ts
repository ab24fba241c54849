/**
 * A browser participant whose way into the group is sabotaged: Mallory (a scripted malicious
 * member, tests/e2e/support/mallory.ts) founds the meeting, so the delivery service asks her to
 * commit the browser's join, and she corrupts that commit. The honest members report it, the
 * service voids it and expels her, another member adds the browser again, and the browser's media
 * starts over the new epoch's keys in both directions.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import type { NodeParticipant } from "@conclave/client/node";
import { Mallory } from "@conclave/e2e-tests/dist/support/mallory.js";
import type { TestServer as E2eServer } from "@conclave/e2e-tests/dist/support/harness.js";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, renderedFrames, securityCode, startTestServer, type Participant, type TestServer } from "./support/harness.js";

let server: TestServer;
let browser: Browser;
const bots: NodeParticipant[] = [];
let dee: Participant | undefined;
let mallory: Mallory | undefined;

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
});

after(async () => {
  for (const b of bots) b.leave();
  mallory?.leave();
  await dee?.context.close();
  await browser?.close();
  await server?.close();
});

test("after a corrupted commit adding a browser participant is voided, the browser is added again and its media flows both ways", { timeout: 180_000 }, async () => {
  const meeting = await server.createMeeting("e2ee");
  const wsUrl = `${server.origin.replace(/^https:/, "wss:")}/ws`;
  mallory = await Mallory.connect({ wsUrl, ca: server.ca } as unknown as E2eServer);
  await mallory.join(meeting);
  await mallory.next((m: { type?: unknown }) => m.type === "createGroup");
  for (const name of ["Ada", "Bob"]) bots.push(await joinBot(server, meeting, name));
  await eventually("the bots in Mallory's group", 30_000, () => bots.every((b) => b.session.groupMembers.length === 3));

  // Mallory is asked to commit Dee's join, and flips the commit's last byte (its membership tag).
  mallory.plan = () => ({ kind: "flipLastByte" });
  dee = await openPage(browser, server.link(meeting));
  await joinFromPage(dee, "Dee", 90_000);
  const expelled = await mallory.next((m: { type?: unknown; code?: unknown }) => m.type === "error" && m.code === "BAD_COMMIT", 60_000);
  assert.equal(expelled.fatal, true);

  // One group without Mallory: the page and the bots show the same code for the same members.
  const page = dee.page;
  const deeId = await page.evaluate(() => window.conclave.memberId());
  assert.ok(deeId);
  await eventually("Dee, Ada and Bob in one group without Mallory, with one code", 60_000, async () => {
    const code = await securityCode(page);
    return (
      bots.every((b) => b.session.groupMembers.length === 3 && b.session.groupMembers.some((m) => m.identity.memberId === deeId) && b.session.securityCode === code) &&
      !bots.some((b) => b.session.groupMembers.some((m) => m.identity.memberId === mallory!.memberId))
    );
  });

  // Media both ways over the new keys: the page renders both bots' video, the bots decrypt Dee's.
  await eventually("Dee's page to render Ada's and Bob's video", 60_000, async () => {
    const frames = await renderedFrames(page, 1000);
    return (frames["Ada"] ?? 0) >= 5 && (frames["Bob"] ?? 0) >= 5;
  });
  const before = bots.map((b) => b.stats().perSender[deeId] ?? 0);
  await eventually("the bots to decrypt 20 more of Dee's frames", 60_000, () => bots.every((b, i) => (b.stats().perSender[deeId] ?? 0) >= before[i]! + 20));
  assert.deepEqual(dee.consoleErrors.filter((e) => /decrypt/i.test(e)), []);
});
