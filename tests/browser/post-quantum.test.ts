/**
 * A post-quantum meeting (X-Wing MLS suite) with two Chromium participants and one Node bot,
 * through the real server, relay and web app: the browsers build X-Wing key packages from the
 * meeting's public facts, everyone shows the same security code, media decrypts both ways, and
 * the shield panel says the key exchange is post-quantum.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import type { NodeParticipant } from "@conclave/client/node";
import { MLS_SUITES } from "@conclave/protocol";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, renderedFrames, securityCode, startTestServer, type Participant, type TestServer } from "./support/harness.js";

let server: TestServer;
let browser: Browser;
let meeting: { id: string; passcode: string | null };
let ada: Participant;
let bea: Participant;
let bot: NodeParticipant;

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
  const created = await server.server.context.meetings.create({ encryption: "e2ee", postQuantum: true });
  meeting = { id: created.meeting.id, passcode: created.passcode };
  ada = await openPage(browser, server.link(meeting));
  // The join screen says what kind of key exchange the meeting uses, before anyone joins.
  await ada.page.getByTestId("join-post-quantum").waitFor({ timeout: 30_000 });
  await joinFromPage(ada, "Ada");
  bea = await openPage(browser, server.link(meeting));
  await joinFromPage(bea, "Bea");
  bot = await joinBot(server, meeting, "Robo");
});

after(async () => {
  bot?.leave();
  await browser?.close();
  await server?.close();
});

test("two browsers and a bot in a post-quantum meeting share one security code, decrypt each other, and the shield panel says post-quantum", async () => {
  const code = await eventually("a 3-member epoch everyone agrees on", 60_000, async () => {
    const botCode = bot.session.securityCode;
    if (!botCode || bot.session.groupMembers.length !== 3) return null;
    const codes = await Promise.all([securityCode(ada.page), securityCode(bea.page)]);
    return codes.every((c) => c === botCode) ? botCode : null;
  });
  assert.match(code, /^\d{5}( \d{5}){6}$/);
  assert.equal(bot.session.mlsSuite, MLS_SUITES.postQuantum, "the group runs the X-Wing suite");

  for (const [p, others] of [
    [ada, ["Bea", "Robo"]],
    [bea, ["Ada", "Robo"]],
  ] as const) {
    await eventually("10+ rendered frames per remote tile", 45_000, async () => {
      const counts = await renderedFrames(p.page, 1500);
      return others.every((n) => (counts[n] ?? 0) >= 10) ? counts : null;
    });
    const stats = await p.page.evaluate(() => window.conclave.stats());
    assert.ok(stats && stats.encrypted > 0 && stats.decrypted > 0, JSON.stringify(stats));
    assert.equal(stats.failed, 0, JSON.stringify(stats));

    await p.page.getByTestId("encryption-shield").click();
    const keyExchange = p.page.getByTestId("shield-key-exchange");
    await eventually("the shield panel's key exchange", 10_000, async () => (await keyExchange.getAttribute("data-post-quantum")) === "true");
    assert.match((await keyExchange.textContent()) ?? "", /Post-quantum: .*X-Wing \(ML-KEM-768 combined with X25519\)/);
    await p.page.keyboard.press("Escape");
  }
  await eventually("the bot decrypts both browsers", 30_000, () => {
    const per = bot.stats().perSender;
    const ids = bot.session.groupMembers.filter((m) => m.identity.memberId !== bot.memberId).map((m) => m.identity.memberId);
    return ids.length === 2 && ids.every((id) => (per[id] ?? 0) >= 20);
  });
  assert.equal(bot.stats().decryptFailures, 0);
});
