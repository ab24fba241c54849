/**
 * The way into a meeting: the start page, the join screen, refusals and error messages, the
 * shield in Enhanced meetings (with and without an exception), and reconnecting after a blip.
 * One browser process; each test uses its own context.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { MeetingSession } from "@conclave/client";
import { connectNodeSignaling, type NodeParticipant } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { auditControls } from "./support/a11y.js";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, renderedFrames, securityCode, startTestServer, tileNames, type Participant, type TestServer } from "./support/harness.js";
import { screenshotPath } from "./support/screenshots.js";

let server: TestServer;
let browser: Browser;
const open: Participant[] = [];
const bots: NodeParticipant[] = [];

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
});

after(async () => {
  for (const b of bots) b.leave();
  await browser?.close();
  await server?.close();
});

async function page(url: string, init?: Parameters<typeof openPage>[2]): Promise<Participant> {
  const p = await openPage(browser, url, init);
  open.push(p);
  return p;
}

async function closeAll(): Promise<void> {
  for (const p of open.splice(0)) await p.context.close();
}

test("the join screen asks for a name and shows a camera preview and device choice; every control is keyboard-reachable and labelled", async () => {
  const meeting = await server.createMeeting("e2ee");
  const p = await page(server.link(meeting));
  await p.page.getByTestId("display-name").waitFor();
  // The preview plays the (fake) camera.
  await p.page.waitForFunction(() => {
    const v = document.querySelector<HTMLVideoElement>(".preview-video");
    return v !== null && v.readyState >= 2 && v.videoWidth > 0;
  }, undefined, { timeout: 20_000 });
  await eventually("device lists", 10_000, async () => (await p.page.locator("#camera-select option").count()) > 0 && (await p.page.locator("#microphone-select option").count()) > 0);
  assert.equal(await p.page.locator("label[for=display-name]").textContent(), "Your name");
  assert.match((await p.page.locator(".badge").textContent()) ?? "", /End-to-end encrypted/);
  assert.deepEqual(await auditControls(p.page), []);
  await p.page.getByTestId("display-name").fill("Ada Lovelace");
  await p.page.getByTestId("display-name").blur();
  await p.page.screenshot({ path: screenshotPath("join") });
  // The start page too: on a fresh server it offers to set up the owner account, and the admin
  // token form opens from its summary.
  await p.page.goto(`${server.origin}/`);
  await p.page.getByTestId("setup-form").waitFor();
  assert.equal(await p.page.getByTestId("admin-token").isVisible(), false, "the token form starts folded");
  await p.page.getByTestId("token-summary").click();
  await p.page.getByTestId("admin-token").waitFor();
  assert.deepEqual(await auditControls(p.page), []);
  await closeAll();
});

test("a browser without encoded transforms is refused an E2EE meeting before connecting: clear message, no signaling, no media", async () => {
  const meeting = await server.createMeeting("e2ee");
  const watcher = await joinBot(server, meeting, "Watcher");
  bots.push(watcher);
  const seen = new Set<string>();
  watcher.session.on("presence", (list) => list.forEach((m) => seen.add(m.displayName)));
  await eventually("the watcher in its group", 20_000, () => watcher.session.epoch !== null);

  const p = await page(server.link(meeting), async (context) => {
    await context.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      delete w.RTCRtpScriptTransform;
      delete (RTCRtpSender.prototype as unknown as Record<string, unknown>).createEncodedStreams;
      delete (RTCRtpReceiver.prototype as unknown as Record<string, unknown>).createEncodedStreams;
    });
  });
  const sockets: string[] = [];
  p.page.on("websocket", (ws) => sockets.push(ws.url()));
  await p.page.getByTestId("display-name").fill("Mallory");
  await p.page.getByTestId("join-button").click();
  const refusal = p.page.getByTestId("join-refused");
  await refusal.waitFor({ state: "visible", timeout: 10_000 });
  const text = (await refusal.textContent()) ?? "";
  assert.match(text, /cannot encrypt your media/i);
  assert.match(text, /Nothing was sent/);
  assert.match(text, /end-to-end encrypted meeting/i);
  assert.equal(await p.page.getByRole("alert").first().isVisible(), true);

  // Control: a normal browser joining now is seen by the watcher; the refused one never was.
  const control = await page(server.link(meeting));
  await joinFromPage(control, "Control");
  await eventually("the watcher to see Control", 20_000, () => seen.has("Control"));
  assert.deepEqual(sockets, [], "the refused page opened no WebSocket");
  assert.equal(seen.has("Mallory"), false);
  assert.equal(await p.page.evaluate(() => window.conclave.phase()), null, "no meeting was started");
  const room = server.server.relay?.getRoom(meeting.id);
  assert.ok(room, "the relay room exists");
  const owners = new Set([...room.publications.values()].map((pub) => pub.ownerId));
  const known = new Set([watcher.memberId, await control.page.evaluate(() => window.conclave.memberId())]);
  for (const o of owners) assert.ok(known.has(o), `publication by an unknown member ${o}`);
  for (const peer of room.peers.keys()) assert.ok(known.has(peer), `relay peer ${peer} is not a known member`);
  await closeAll();
  watcher.leave();
});

test("clear messages: meeting not found, missing and wrong passcode, camera blocked (and joining without a camera still works)", async () => {
  // Not found.
  const p = await page(`${server.origin}/m/99999999999`);
  const err = p.page.getByTestId("error");
  await err.waitFor({ timeout: 10_000 });
  assert.equal(await err.getAttribute("data-error-code"), "MEETING_NOT_FOUND");
  assert.match((await err.textContent()) ?? "", /Meeting not found/);

  // A link without the passcode asks for it; a wrong one says so and asks again.
  const meeting = await server.createMeeting("e2ee");
  await p.page.goto(`${server.origin}/m/${meeting.id}#pwd=wrong-passcode`);
  await p.page.getByTestId("display-name").fill("Eve");
  await p.page.getByTestId("join-button").click();
  const wrong = p.page.getByTestId("error");
  await eventually("the wrong-passcode message", 20_000, async () => (await wrong.getAttribute("data-error-code").catch(() => null)) === "WRONG_PASSCODE");
  assert.match((await wrong.textContent()) ?? "", /Wrong passcode/);
  await p.page.getByTestId("passcode").fill(meeting.passcode!);
  await p.page.getByTestId("join-button").click();
  await p.page.waitForFunction(() => window.conclave.phase() === "in-meeting", undefined, { timeout: 30_000 });
  await p.page.getByTestId("leave-button").click();

  const noPwd = await page(`${server.origin}/m/${meeting.id}`);
  await noPwd.page.getByTestId("passcode").waitFor({ timeout: 10_000 });
  assert.equal(await noPwd.page.locator("label[for=passcode]").textContent(), "Meeting passcode");

  // Camera blocked (the browser says NotAllowedError).
  const blocked = await page(server.link(meeting), async (context) => {
    await context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
    });
  });
  const camErr = blocked.page.locator('[data-error-code="CAMERA_DENIED"]');
  await camErr.waitFor({ timeout: 10_000 });
  assert.match((await camErr.textContent()) ?? "", /blocked/);
  // Joining without camera and microphone still works (to watch and listen).
  await joinFromPage(blocked, "No camera");
  assert.equal(await blocked.page.getByTestId("mic-button").isDisabled(), true);
  await closeAll();
});

test("the start page creates a meeting with the admin token from #token= and gives its link; an Enhanced meeting shows the green shield", async () => {
  const p = await page(`${server.origin}/#token=${encodeURIComponent(server.server.adminToken)}`);
  await p.page.getByTestId("admin-token").waitFor();
  assert.equal(await p.page.evaluate(() => location.hash), "", "the token is removed from the address bar");
  assert.equal(await p.page.evaluate(() => localStorage.getItem("conclave.adminToken")), null, "not remembered unless asked");
  await p.page.getByTestId("encryption-enhanced").check();
  await p.page.getByTestId("start-button").click();
  const link = await eventually("the meeting link", 10_000, async () => (await p.page.getByTestId("meeting-link").inputValue().catch(() => "")) || null);
  assert.match(link, /^https:\/\/[^/]+\/m\/\d{11}#pwd=.+$/);
  const id = /\/m\/(\d+)/.exec(link)![1]!;
  assert.equal(server.server.context.meetings.get(id)?.encryption, "enhanced");

  await p.page.getByRole("link", { name: "Join now" }).click();
  await joinFromPage(p, "Host");
  assert.equal(await p.page.getByTestId("encryption-shield").getAttribute("data-state"), "encrypted");
  await closeAll();
});

test("a phone dial-in connector in an Enhanced meeting turns the shield to partial and is listed by name as an exception", async () => {
  const meeting = await server.createMeeting("enhanced");
  const p = await page(server.link(meeting));
  await joinFromPage(p, "Host");
  const pstn = new MeetingSession({
    meetingId: meeting.id,
    passcode: meeting.passcode!,
    displayName: "Phone +1 555 0100",
    kind: { kind: "connector", connector: "pstn" },
    sframeCrypto: createNodeSFrameCrypto(),
  });
  await pstn.join(await connectNodeSignaling(`wss://127.0.0.1:${server.server.port}/ws`, { ca: server.ca }));
  try {
    await p.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "partial", undefined, { timeout: 30_000 });
    await p.page.getByTestId("encryption-shield").click();
    const exceptions = p.page.getByTestId("shield-exceptions");
    await exceptions.waitFor();
    assert.match((await exceptions.textContent()) ?? "", /Phone \+1 555 0100.*Phone dial-in/);
    await p.page.keyboard.press("Escape");
    const list = (await p.page.getByTestId("participant-list").textContent()) ?? "";
    assert.match(list, /Connector · Phone dial-in/);
    assert.match(list, /Person/);
  } finally {
    pstn.leave();
    await closeAll();
  }
});

test("after a network blip the page shows Reconnecting…, rejoins as a new member without a reload, and media and codes recover", async () => {
  const meeting = await server.createMeeting("e2ee");
  const bot = await joinBot(server, meeting, "Robo");
  bots.push(bot);
  const p = await page(server.link(meeting));
  await joinFromPage(p, "Ada");
  await eventually("Robo's tile rendering", 40_000, async () => ((await renderedFrames(p.page, 800))["Robo"] ?? 0) > 0);
  const firstId = await p.page.evaluate(() => window.conclave.memberId());
  await p.page.evaluate(() => (window as unknown as { __marker: boolean }).__marker = true);

  await p.page.evaluate(() => window.conclave.simulateNetworkBlip());
  await p.page.locator('.status-banner[data-phase="reconnecting"]').waitFor({ timeout: 5_000 });
  assert.match((await p.page.locator(".status-banner").textContent()) ?? "", /Reconnecting…/);

  await p.page.waitForFunction((id) => window.conclave.phase() === "in-meeting" && window.conclave.memberId() !== id, firstId, { timeout: 45_000 });
  assert.equal(await p.page.evaluate(() => (window as unknown as { __marker?: boolean }).__marker), true, "no page reload");
  await eventually("the same code as the bot", 20_000, async () => {
    const code = bot.session.securityCode;
    return code !== null && bot.session.groupMembers.length === 2 && (await securityCode(p.page)) === code;
  });
  assert.deepEqual(await tileNames(p.page), ["Robo"]);
  await eventually("Robo's video again", 40_000, async () => ((await renderedFrames(p.page, 1000))["Robo"] ?? 0) >= 5);
  await closeAll();
});

test("without RTCRtpScriptTransform, the createEncodedStreams fallback encrypts and decrypts every frame", async () => {
  const meeting = await server.createMeeting("e2ee");
  const bot = await joinBot(server, meeting, "Robo");
  bots.push(bot);
  const p = await page(server.link(meeting), async (context) => {
    await context.addInitScript(() => {
      delete (window as unknown as Record<string, unknown>).RTCRtpScriptTransform;
    });
  });
  await joinFromPage(p, "Ada");
  assert.equal(await p.page.evaluate(() => "RTCRtpScriptTransform" in window), false);
  await eventually("Robo's video rendered through the fallback", 40_000, async () => ((await renderedFrames(p.page, 1000))["Robo"] ?? 0) >= 5);
  const me = await p.page.evaluate(() => window.conclave.memberId());
  await eventually("the bot decrypts Ada's frames", 30_000, () => (bot.stats().perSender[me ?? ""] ?? 0) >= 20);
  const stats = await p.page.evaluate(() => window.conclave.stats());
  assert.ok(stats && stats.encrypted > 0 && stats.decrypted > 0, JSON.stringify(stats));
  await closeAll();
  bot.leave();
});

test("pressing Join before the camera and microphone open still publishes them once they do: the others decrypt this person's media", async () => {
  const meeting = await server.createMeeting("e2ee");
  const bot = await joinBot(server, meeting, "Robo");
  bots.push(bot);
  // getUserMedia answers only when the test says so (a slow permission prompt or device).
  const p = await page(server.link(meeting), async (context) => {
    await context.addInitScript(() => {
      const md = navigator.mediaDevices;
      const real = md.getUserMedia.bind(md);
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      (window as unknown as { __releaseDevices: () => void }).__releaseDevices = release;
      md.getUserMedia = async (c?: MediaStreamConstraints) => {
        await released;
        return real(c);
      };
    });
  });
  await joinFromPage(p, "Ada");
  const me = await p.page.evaluate(() => window.conclave.memberId());
  assert.ok(me);
  assert.equal(bot.stats().perSender[me] ?? 0, 0, "nothing to publish before the devices open");
  await p.page.evaluate(() => (window as unknown as { __releaseDevices: () => void }).__releaseDevices());
  await eventually("the bot decrypts Ada's late camera and microphone", 40_000, () => {
    const s = bot.stats().bySender[me];
    return s !== undefined && s.video >= 20 && s.audio >= 20;
  });
  await closeAll();
  bot.leave();
});

test("when the meeting ends, the page says so and does not try to reconnect", async () => {
  const meeting = await server.createMeeting("e2ee");
  const p = await page(server.link(meeting));
  await joinFromPage(p, "Ada");
  // What a host's "end for all" does: the record is marked ended and everyone is told.
  server.server.context.meetings.markEnded(meeting.id);
  server.server.registry.get(meeting.id)?.close("ended");
  const banner = p.page.locator('.status-banner[data-phase="ended"]');
  await banner.waitFor({ timeout: 20_000 });
  assert.match((await banner.textContent()) ?? "", /This meeting has ended/);
  assert.equal(await p.page.evaluate(() => window.conclave.phase()), "ended");
  await closeAll();
});
