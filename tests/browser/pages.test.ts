/**
 * The pages around the meeting: a clear not-found page for unknown addresses and malformed
 * meeting links (not the API's JSON), the unclaimed server's banner on the start page, and the
 * app in the browser's language (French here), with English as the fallback.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { MeetingLocalRecordings } from "@conclave/client";
import { apiOk, setupOwner } from "./support/accounts.js";
import { joinBot, joinFromPage, launchBrowser, openPage, startTestServer, type TestServer } from "./support/harness.js";
import { screenshotPath } from "./support/screenshots.js";

let server: TestServer;
let browser: Browser;

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("an unknown address and a malformed meeting link show a not-found page (HTTP 404), with a way back", async () => {
  const p = await openPage(browser, `${server.origin}/foo/bar`);
  const response = await p.page.goto(`${server.origin}/foo/bar`);
  assert.equal(response?.status(), 404);
  const notFound = p.page.getByTestId("not-found");
  await notFound.waitFor();
  assert.match((await notFound.textContent()) ?? "", /There is nothing here/);
  assert.equal(await notFound.getAttribute("data-meeting-link"), "false");
  assert.equal(await p.page.evaluate(() => document.activeElement?.tagName), "H1", "focus on the heading");
  await p.page.screenshot({ path: screenshotPath("not-found") });

  const bad = await p.page.goto(`${server.origin}/m/hello-world`);
  assert.equal(bad?.status(), 404);
  await notFound.waitFor();
  assert.match((await notFound.textContent()) ?? "", /This meeting link is not valid/);
  assert.match((await notFound.textContent()) ?? "", /followed by the meeting's number/);
  await notFound.getByRole("link", { name: "Start page" }).click();
  await p.page.waitForURL(`${server.origin}/`);
  // A fresh server: the start page says it must be claimed, and how.
  const banner = p.page.getByTestId("first-start-banner");
  await banner.waitFor();
  assert.match((await banner.textContent()) ?? "", /not been claimed yet.*anyone who can reach this server can claim it/);
  assert.deepEqual(p.consoleErrors.filter((e) => !/404/.test(e)), []);
  await p.context.close();
});

test("a browser that prefers French gets the app in French, the join screen and the meeting alike", async () => {
  const meeting = await server.createMeeting("e2ee");
  const p = await openPage(browser, server.link(meeting), undefined, { locale: "fr-FR" });
  assert.equal(await p.page.evaluate(() => document.documentElement.lang), "fr");
  await p.page.getByTestId("join-button").waitFor();
  assert.equal(await p.page.getByTestId("join-button").textContent(), "Rejoindre la réunion");
  assert.match((await p.page.locator("main").textContent()) ?? "", /Chiffré de bout en bout/);
  await p.page.getByTestId("display-name").fill("Amélie");
  await p.page.getByTestId("join-button").click();
  await p.page.waitForFunction(() => window.conclave?.phase() === "in-meeting", undefined, { timeout: 45_000 });
  // Join may be pressed before the microphone has opened (slow under load); the control is
  // disabled until it has, then it offers to mute.
  await p.page.locator('[data-testid="mic-button"]:not([disabled])').waitFor({ timeout: 30_000 });
  assert.equal(await p.page.getByTestId("mic-button").textContent(), "Couper le micro");
  assert.equal(await p.page.getByTestId("leave-button").textContent(), "Quitter");
  assert.equal(await p.page.getByTestId("encryption-shield").textContent(), "Chiffré de bout en bout");
  // Local recording is in French too: the button, and the notice when someone else records.
  assert.equal(await p.page.getByTestId("local-recording-button").textContent(), "Enregistrer sur cet appareil");
  const bot = await joinBot(server, meeting, "Bruno");
  const recordings = new MeetingLocalRecordings(bot.session);
  try {
    await recordings.setRecording(true);
    const notice = p.page.getByTestId("local-recording-notice");
    await notice.waitFor({ state: "visible", timeout: 30_000 });
    assert.equal(await notice.textContent(), "Bruno enregistre cette réunion sur son appareil. Tous les participants en sont informés.");
  } finally {
    recordings.close();
    bot.leave();
  }
  await p.page.getByTestId("leave-button").click();
  await p.page.getByText("Vous avez quitté la réunion").waitFor();
  await p.context.close();
});

test("at 360 and 414 px wide, the start page, the join screen and the not-found page fit without sideways scrolling", async () => {
  const meeting = await server.createMeeting("e2ee");
  const p = await openPage(browser, `${server.origin}/`, undefined, { viewport: { width: 360, height: 740 } });
  const fits = async (what: string) => {
    const m = await p.page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(m.scroll <= m.client, `${what}: the document is ${m.scroll} px wide in a ${m.client} px window`);
  };
  for (const width of [360, 414]) {
    await p.page.setViewportSize({ width, height: width === 360 ? 740 : 896 });
    await p.page.goto(`${server.origin}/`);
    await p.page.getByTestId("first-start-banner").waitFor();
    await fits(`start page at ${width} px`);
    await p.page.goto(server.link(meeting));
    await p.page.getByTestId("join-button").waitFor();
    await fits(`join screen at ${width} px`);
    const join = await p.page.getByTestId("join-button").boundingBox();
    assert.ok(join && join.x >= 0 && join.x + join.width <= width + 0.5 && join.height >= 40, `the join button at ${width} px: ${JSON.stringify(join)}`);
    await p.page.goto(`${server.origin}/m/hello-world`);
    await p.page.getByTestId("not-found").waitFor();
    await fits(`not-found page at ${width} px`);
  }
  await p.context.close();
});

// Last: it claims the server (the tests above need it unclaimed).
test("in French, a host's controls (room system, cloud recording, live stream, live captions) and the Recordings page are French too", { timeout: 120_000 }, async () => {
  const p = await openPage(browser, `${server.origin}/`, undefined, { locale: "fr-FR" });
  await setupOwner(p.page);
  const created = await apiOk<{ id: string; passcode: string | null }>(p.page, "POST", "/api/meetings", { encryption: "enhanced", waitingRoom: false });
  await p.page.goto(server.link({ id: created.id, passcode: created.passcode }));
  await joinFromPage(p, "Amélie");
  const invite = p.page.getByTestId("invite-room-system-button");
  await invite.waitFor({ state: "visible", timeout: 30_000 });
  assert.equal(await invite.textContent(), "Appeler le système de salle");
  assert.equal(await p.page.getByTestId("invite-room-system-name").getAttribute("placeholder"), "Salle du conseil");
  assert.match((await p.page.getByTestId("invite-room-system").textContent()) ?? "", /^Inviter un système de salle \(SIP\)Adresse SIP/);
  assert.equal(await p.page.getByTestId("recording-button").textContent(), "Démarrer l'enregistrement dans le cloud");
  assert.equal(await p.page.getByTestId("stream-start").textContent(), "Démarrer la diffusion en direct");
  assert.equal(await p.page.getByTestId("transcription-start").textContent(), "Activer les sous-titres en direct");
  // A word that is not a SIP address is refused here, in French; a real one is refused by this
  // server (it runs no SIP connector), and the server's refusal is said in French too.
  const notice = p.page.getByTestId("room-system-notice");
  await p.page.getByTestId("invite-room-system-uri").fill("salle");
  await invite.click();
  await p.page.waitForFunction(() => /^Saisissez une adresse SIP/.test(document.querySelector('[data-testid="room-system-notice"]')?.textContent ?? ""), undefined, { timeout: 5000 });
  await p.page.getByTestId("invite-room-system-uri").fill("sip:salle@192.0.2.10;transport=tls");
  await invite.click();
  await p.page.waitForFunction(() => document.querySelector('[data-testid="room-system-notice"]')?.getAttribute("data-code") === "SIP_DISABLED", undefined, { timeout: 15_000 });
  assert.match((await notice.textContent()) ?? "", /ne fait pas fonctionner le connecteur SIP/);

  await p.page.goto(`${server.origin}/#/recordings`);
  const empty = p.page.getByTestId("recordings-empty");
  await empty.waitFor({ timeout: 15_000 });
  assert.match((await empty.textContent()) ?? "", /^Aucun enregistrement pour l'instant/);
  assert.equal(await p.page.title(), "Enregistrements · Conclave");
  await p.context.close();
});
