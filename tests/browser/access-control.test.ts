/**
 * Meeting access control in the browser, through the real server: a signed-in owner hosts their
 * scheduled meeting (waiting room on), and a participant who waits receives nothing of the
 * meeting — every signaling frame its page got before it was let in is checked — until the host
 * admits it. The host makes a co-host, locks the meeting, removes people (with and without
 * "allow to rejoin"; the group rekeys and the removed person is told why), and ends the meeting
 * for all. One browser process; a context per person, and Node bots where a browser adds nothing.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { NodeParticipant } from "@conclave/client/node";
import { auditControls } from "./support/a11y.js";
import { apiOk, invitedMember, setupOwner, type Person } from "./support/accounts.js";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, renderedFrames, securityCode, startTestServer, type Participant, type TestServer } from "./support/harness.js";
import { screenshotPath } from "./support/screenshots.js";

const PAT: Person = { email: "pat@example.com", name: "Pat Member", password: "pat's long password" };

let server: TestServer;
let browser: Browser;
let host: Participant;
let pat: Participant;
let meeting: { id: string; passcode: string | null };
const bots: NodeParticipant[] = [];
const others: Participant[] = [];

/** Records every text frame the page's WebSockets receive, with the time it arrived. */
async function recordSignaling(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const frames: { t: number; text: string }[] = [];
    (window as unknown as { __frames: typeof frames }).__frames = frames;
    const Native = window.WebSocket;
    class RecordingWebSocket extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener("message", (e: MessageEvent) => {
          if (typeof e.data === "string") frames.push({ t: Date.now(), text: e.data });
        });
      }
    }
    window.WebSocket = RecordingWebSocket;
  });
}

/**
 * The frames the page received, without `pong`s: those answer the page's own liveness pings and
 * carry nothing but the nonce it sent (checked here), so they say nothing about the meeting.
 */
async function framesOf(page: Page): Promise<{ t: number; text: string }[]> {
  const frames = await page.evaluate(() => [...(window as unknown as { __frames: { t: number; text: string }[] }).__frames]);
  return frames.filter((f) => {
    const msg = JSON.parse(f.text) as Record<string, unknown>;
    if (msg.type !== "pong") return true;
    assert.deepEqual(Object.keys(msg).sort(), ["nonce", "type"], f.text);
    return false;
  });
}

function typeOf(text: string): string {
  return (JSON.parse(text) as { type: string }).type;
}

function phase(page: Page): Promise<string | null> {
  return page.evaluate(() => window.conclave.phase());
}

function waitingEntry(page: Page, name: string) {
  return page.locator(`[data-testid="waiting-entry"][data-participant-name="${name}"]`);
}

/** The security codes of the host page, other pages and bots once they all agree on `members`. */
async function agreedCode(what: string, pages: Page[], botsInGroup: NodeParticipant[], members: number, notEqual?: string): Promise<string> {
  return eventually(what, 30_000, async () => {
    const codes = await Promise.all(pages.map((p) => securityCode(p)));
    for (const b of botsInGroup) {
      if (b.session.groupMembers.length !== members) return null;
      codes.push(b.session.securityCode ?? "");
    }
    const first = codes[0];
    if (!first || codes.some((c) => c !== first) || first === notEqual) return null;
    const counts = await Promise.all(pages.map((p) => p.evaluate(() => document.querySelectorAll('[data-testid="participant-list"] .participant.in').length)));
    return counts.every((n) => n === members) ? first : null;
  });
}

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
  // The owner signs in (the session cookie then rides on the meeting's WebSocket) and schedules
  // a meeting; meetings of signed-in users follow their settings: waiting room on by default.
  host = await openPage(browser, `${server.origin}/`);
  await setupOwner(host.page);
  const created = await apiOk<{ id: string; url: string; passcode: string }>(host.page, "POST", "/api/meetings", { topic: "Board meeting" });
  meeting = { id: created.id, passcode: created.passcode };
  const details = await apiOk<{ waitingRoom: boolean }>(host.page, "GET", `/api/meetings/${created.id}`);
  assert.equal(details.waitingRoom, true);
  pat = await openPage(browser, `${server.origin}/`, recordSignaling);
  await invitedMember(host.page, pat.page, PAT);
});

after(async () => {
  for (const b of bots) b.leave();
  await browser?.close();
  await server?.close();
});

test("a waiting participant receives nothing but its waiting state until the host admits it; then its security code matches the host's", async () => {
  await host.page.goto(server.link(meeting));
  await host.page.getByTestId("join-signed-in").waitFor();
  assert.match((await host.page.getByTestId("join-signed-in").textContent()) ?? "", /you are its host/);
  await joinFromPage(host, "Olive");
  await host.page.getByTestId("host-controls").waitFor();
  const hostCode0 = await securityCode(host.page);

  await pat.page.goto(server.link(meeting));
  await pat.page.getByTestId("display-name").fill("Pat");
  await pat.page.getByTestId("join-button").click();
  await pat.page.getByTestId("waiting-room").waitFor({ timeout: 20_000 });
  assert.equal(await phase(pat.page), "waiting-room");
  await waitingEntry(host.page, "Pat").waitFor({ timeout: 20_000 });

  // While Pat waits, a bot is let in: the group rekeys, and Pat must hear nothing of it.
  const robo = new NodeParticipant({ link: server.link(meeting), displayName: "Robo", ca: server.ca });
  bots.push(robo);
  const roboWaiting = robo.session.once("waiting");
  await robo.join();
  await roboWaiting;
  await waitingEntry(host.page, "Robo").waitFor({ timeout: 20_000 });
  assert.equal(await waitingEntry(host.page, "Robo").getAttribute("data-participant-name"), "Robo");
  await waitingEntry(host.page, "Robo").getByTestId("admit-button").click();
  const code2 = await agreedCode("the host and Robo in a 2-member epoch", [host.page], [robo], 2, hostCode0);
  // The host's view: Robo in the meeting, Pat in the waiting room (for the README).
  await eventually("Robo's video on the host's page", 30_000, async () => ((await renderedFrames(host.page, 500))["Robo"] ?? 0) > 0);
  await host.page.screenshot({ path: screenshotPath("waiting-room") });

  // Everything Pat's page received so far: its own waiting state, nothing else.
  const before = await framesOf(pat.page);
  assert.ok(before.length >= 1, "Pat received its waiting state");
  for (const f of before) {
    const msg = JSON.parse(f.text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(msg).sort(), ["meetingId", "reason", "type"], f.text);
    assert.equal(msg.type, "waiting");
    assert.equal(msg.reason, "waitingRoom");
  }
  assert.equal(await phase(pat.page), "waiting-room");
  assert.equal(await pat.page.evaluate(() => window.conclave.epoch()), null, "Pat holds no epoch");
  assert.equal(await pat.page.getByTestId("security-code").textContent(), "", "Pat has no security code");

  // The host admits Pat (the admit button inside Pat's waiting entry).
  const admittedAt = Date.now();
  await waitingEntry(host.page, "Pat").getByTestId("admit-button").click();
  await pat.page.waitForFunction(() => window.conclave.phase() === "in-meeting", undefined, { timeout: 30_000 });
  const code3 = await agreedCode("host, Pat and Robo in a 3-member epoch", [host.page, pat.page], [robo], 3, code2);
  assert.match(code3, /^\d{5}( \d{5}){6}$/);
  await waitingEntry(host.page, "Pat").waitFor({ state: "detached" });

  // Every frame before admission was a waiting state; the first other one came after the click.
  const all = await framesOf(pat.page);
  const firstOther = all.findIndex((f) => typeOf(f.text) !== "waiting");
  assert.ok(firstOther >= 1, "at least one waiting frame, then the rest");
  assert.equal(typeOf(all[firstOther]!.text), "joined");
  assert.ok(all[firstOther]!.t >= admittedAt, "nothing but waiting states arrived before the host admitted Pat");
  for (const f of all.slice(0, firstOther)) assert.equal(typeOf(f.text), "waiting");
  const kinds = new Set(all.slice(firstOther).map((f) => typeOf(f.text)));
  assert.ok(kinds.has("welcome"), `Pat got its Welcome after admission (${[...kinds].join(", ")})`);
});

test("the host makes a co-host and locks the meeting: a newcomer is refused with a plain message until it is unlocked", async () => {
  const robo = bots[0]!;
  await host.page.getByRole("button", { name: "Manage Robo" }).click();
  const dialog = host.page.getByTestId("manage-participant-dialog");
  await dialog.waitFor();
  assert.equal(await host.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "cohost-toggle", "focus starts on the first action");
  await dialog.getByTestId("cohost-toggle").click();
  await dialog.waitFor({ state: "detached" });
  await eventually("Robo to be a co-host", 10_000, () => robo.session.role === "cohost");
  await eventually("the host's list to say so", 10_000, async () => /Robo.*Co-host/s.test((await host.page.getByTestId("participant-list").textContent()) ?? ""));

  await host.page.getByTestId("lock-meeting").check();
  await eventually("everyone to see the lock", 10_000, async () => robo.session.locked && (await pat.page.getByTestId("meeting-locked").isVisible()));
  const late = await openPage(browser, server.link(meeting));
  others.push(late);
  await late.page.getByTestId("display-name").fill("Late");
  await late.page.getByTestId("join-button").click();
  const refused = late.page.locator('[data-testid="error"][data-error-code="MEETING_LOCKED"]');
  await refused.waitFor({ timeout: 20_000 });
  assert.match((await refused.textContent()) ?? "", /This meeting is locked/);

  await host.page.getByTestId("lock-meeting").uncheck();
  await eventually("the lock to be lifted", 10_000, async () => !robo.session.locked && !(await host.page.getByTestId("meeting-locked").isVisible()));
  await late.context.close();
});

test("the host removes Pat without letting them back: the others rekey and match, Pat is told why and cannot rejoin", async () => {
  const robo = bots[0]!;
  const before = await securityCode(host.page);
  await host.page.getByRole("button", { name: "Manage Pat" }).click();
  const dialog = host.page.getByTestId("manage-participant-dialog");
  await dialog.waitFor();
  assert.equal(await dialog.getByTestId("allow-rejoin").isChecked(), false, "not allowed back unless chosen");
  await dialog.getByTestId("remove-participant").click();

  const exit = pat.page.getByTestId("meeting-exit");
  await exit.waitFor({ timeout: 20_000 });
  assert.equal(await exit.getByTestId("error").getAttribute("data-error-code"), "REMOVED_BY_HOST");
  assert.match((await exit.textContent()) ?? "", /The host removed you from the meeting/);
  await agreedCode("the host and Robo to agree on a new code", [host.page], [robo], 2, before);

  // Pat tries again: refused, with the reason.
  await exit.getByRole("link", { name: "Join again" }).click();
  await pat.page.getByTestId("join-button").click();
  const banned = pat.page.locator('[data-testid="error"][data-error-code="BANNED"]');
  await banned.waitFor({ timeout: 20_000 });
  assert.match((await banned.textContent()) ?? "", /did not allow you back/);
});

test("removed with \"allow to rejoin\", a participant may ask to join again", async () => {
  const robo = bots[0]!;
  const before = await securityCode(host.page);
  const told = robo.session.once("error", (e) => e.fatal).then((e) => e.code);
  await host.page.getByRole("button", { name: "Manage Robo" }).click();
  const dialog = host.page.getByTestId("manage-participant-dialog");
  await dialog.getByTestId("allow-rejoin").check();
  await dialog.getByTestId("remove-participant").click();
  assert.equal(await told, "REMOVED_BY_HOST");
  await eventually("the host alone with a new code", 20_000, async () => {
    const code = await securityCode(host.page);
    return code !== before && code !== "" && (await host.page.locator('[data-testid="participant-list"] .participant.in').count()) === 1;
  });
  const again = await joinBot(server, meeting, "Robo again");
  bots.push(again);
  await waitingEntry(host.page, "Robo again").waitFor({ timeout: 20_000 });
});

test("host controls are keyboard-reachable and labelled, in the People panel and its dialogs; the waiting room page too", async () => {
  assert.deepEqual(await auditControls(host.page), []);
  // The manage dialog is only offered for people in the meeting: let the waiting bot in.
  await waitingEntry(host.page, "Robo again").getByTestId("admit-button").focus();
  await host.page.keyboard.press("Enter");
  const manage = host.page.getByRole("button", { name: "Manage Robo again" });
  await manage.waitFor({ timeout: 30_000 });
  await manage.focus();
  await host.page.keyboard.press("Enter");
  await host.page.getByTestId("manage-participant-dialog").waitFor();
  assert.deepEqual(await auditControls(host.page), [], "manage dialog");
  await host.page.keyboard.press("Escape");
  await host.page.getByTestId("manage-participant-dialog").waitFor({ state: "detached" });
  assert.equal(await host.page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Manage Robo again", "focus returns to the Manage button");

  // Someone in the waiting room: their page is audited too.
  const waiting = await openPage(browser, server.link(meeting));
  others.push(waiting);
  await waiting.page.getByTestId("display-name").fill("Wren");
  await waiting.page.getByTestId("join-button").click();
  await waiting.page.getByTestId("waiting-room").waitFor({ timeout: 20_000 });
  assert.deepEqual(await auditControls(waiting.page), [], "waiting room page");
  await waitingEntry(host.page, "Wren").getByTestId("deny-button").click();
  const denied = waiting.page.locator('[data-testid="error"][data-error-code="NOT_ADMITTED"]');
  await denied.waitFor({ timeout: 20_000 });
  assert.match((await denied.textContent()) ?? "", /The host did not let you in/);
  await waiting.context.close();
});

test("the host mutes a guest, asks them to unmute (only the guest can), and spotlights them for everyone; all end-to-end encrypted", async () => {
  const gus = await openPage(browser, server.link(meeting));
  others.push(gus);
  await gus.page.getByTestId("display-name").fill("Gus");
  await gus.page.getByTestId("join-button").click();
  await waitingEntry(host.page, "Gus").getByTestId("admit-button").click();
  await gus.page.waitForFunction(() => window.conclave.phase() === "in-meeting", undefined, { timeout: 30_000 });
  const gusTile = host.page.locator('[data-testid="video-tile"][data-participant-name="Gus"]');
  await gusTile.waitFor({ timeout: 30_000 });
  await eventually("Gus's state to reach the host", 15_000, async () => (await gusTile.getAttribute("data-muted")) === null && (await gus.page.getByTestId("mic-button").textContent()) === "Mute");

  // Mute: Gus's own app mutes itself, and every tile shows it.
  await gusTile.getByTestId("tile-menu-button").click();
  await host.page.getByTestId("tile-menu").getByTestId("mute-participant").click();
  await eventually("Gus muted", 10_000, async () => (await gus.page.getByTestId("mic-button").textContent()) === "Unmute");
  await eventually("the host sees Gus muted", 10_000, async () => (await gusTile.getAttribute("data-muted")) !== null);

  // Ask to unmute: Gus is asked, and stays muted until Gus says yes.
  await gusTile.getByTestId("tile-menu-button").click();
  await host.page.getByTestId("tile-menu").getByTestId("ask-unmute").click();
  const request = gus.page.getByTestId("unmute-request");
  await request.waitFor({ timeout: 10_000 });
  assert.match((await request.textContent()) ?? "", /asks you to unmute/);
  assert.equal(await gus.page.getByTestId("mic-button").textContent(), "Unmute", "nobody unmutes Gus but Gus");
  await request.getByTestId("unmute-request-accept").click();
  await eventually("the host sees Gus unmuted", 10_000, async () => (await gusTile.getAttribute("data-muted")) === null);

  // Spotlight for everyone: Gus is the main tile on the other pages too.
  await gusTile.getByTestId("tile-menu-button").click();
  await host.page.getByTestId("tile-menu").getByTestId("spotlight-button").click();
  const robo = bots[bots.length - 1]!;
  const gusId = await gus.page.evaluate(() => window.conclave.memberId());
  await eventually("the bot to hear the spotlight", 10_000, () => robo.spotlight.includes(gusId!));
  await eventually("Gus on the host's main tile", 10_000, async () => (await host.page.locator('[data-testid="video-tile"].main').getAttribute("data-participant-name").catch(() => null)) === "Gus");
  await gusTile.getByTestId("tile-menu-button").click();
  await host.page.getByTestId("tile-menu").getByTestId("spotlight-button").click();
  await eventually("the spotlight ended", 10_000, () => robo.spotlight.length === 0);
});

test("two guests on the same address: the host removes one without allowing back; that browser is refused, the other guest joins", async () => {
  const gus = others[others.length - 1]!;
  const before = await securityCode(host.page);
  await host.page.getByRole("button", { name: "Manage Gus" }).click();
  const dialog = host.page.getByTestId("manage-participant-dialog");
  await dialog.waitFor();
  await dialog.getByTestId("remove-participant").click();
  const exit = gus.page.getByTestId("meeting-exit");
  await exit.waitFor({ timeout: 20_000 });
  await eventually("a new code without Gus", 20_000, async () => (await securityCode(host.page)) !== before);
  // Gus's browser (same device token, even under a new name) is refused.
  await exit.getByRole("link", { name: "Join again" }).click();
  await gus.page.getByTestId("display-name").fill("Not Gus");
  await gus.page.getByTestId("join-button").click();
  await gus.page.locator('[data-testid="error"][data-error-code="BANNED"]').waitFor({ timeout: 20_000 });

  // Gia: another guest on 127.0.0.1, another browser: let in as usual.
  const gia = await openPage(browser, server.link(meeting));
  others.push(gia);
  await gia.page.getByTestId("display-name").fill("Gia");
  await gia.page.getByTestId("join-button").click();
  await waitingEntry(host.page, "Gia").waitFor({ timeout: 20_000 });
  await waitingEntry(host.page, "Gia").getByTestId("admit-button").click();
  await gia.page.waitForFunction(() => window.conclave.phase() === "in-meeting", undefined, { timeout: 30_000 });
  await eventually("Gia and the host on one code", 30_000, async () => {
    const [a, b] = await Promise.all([securityCode(host.page), securityCode(gia.page)]);
    return a !== "" && a === b;
  });
});

test("\"End meeting for all\" asks first, then ends the meeting for everyone", async () => {
  const robo = bots[bots.length - 1]!;
  const closed = robo.session.once("closed");
  await host.page.getByTestId("end-meeting-button").click();
  const confirm = host.page.getByTestId("confirm-end-meeting");
  await confirm.waitFor();
  assert.equal(await host.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "confirm-cancel", "focus starts on Cancel");
  assert.deepEqual(await auditControls(host.page), [], "confirmation dialog");
  await confirm.getByTestId("confirm-cancel").click();
  await confirm.waitFor({ state: "detached" });
  assert.equal(await phase(host.page), "in-meeting", "cancel keeps the meeting going");

  await host.page.getByTestId("end-meeting-button").click();
  await host.page.getByTestId("confirm-end-meeting").getByTestId("confirm-ok").click();
  // With a deadline: a bot that was never let in (an earlier failure) must fail this, not hang it.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    closed,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("the bot was not told the meeting ended within 30 s")), 30_000))),
  ]).finally(() => clearTimeout(timer));
  await host.page.locator('.status-banner[data-phase="ended"]').waitFor({ timeout: 20_000 });
  assert.equal(server.server.context.meetings.get(meeting.id)?.endedAt !== undefined, true, "the meeting's record says it ended");
});

test("the host's page printed no errors to the console", () => {
  assert.deepEqual(host.consoleErrors, []);
});
