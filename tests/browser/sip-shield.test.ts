// A real room system (baresip over SIP/TLS with SRTP) in a meeting with a real browser: the
// browser's shield turns partial and its exceptions name the device with "TLS + SRTP"; the
// people list shows the connector's kind; the security codes of browser, bot and connector match.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Baresip, makeDeviceCertificate, requireBaresip } from "@conclave/e2e-tests/dist/support/baresip.js";
import { OWNER, apiOk, setupOwner } from "./support/accounts.js";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, securityCode, startTestServer } from "./support/harness.js";

requireBaresip();
// Room systems' TLS certificate, trusted by the server for outbound calls (sipDeviceCa).
const certDir = mkdtempSync(join(tmpdir(), "conclave-devices-"));
const device = makeDeviceCertificate(certDir);
const server = await startTestServer({ sipListen: "127.0.0.1:0" }, { CONCLAVE_SIP_DEVICE_CA: device.certFile });
const browser = await launchBrowser(server);
after(async () => {
  await browser.close();
  await server.close();
  rmSync(certDir, { recursive: true, force: true });
});

test("with a room system dialed in over TLS + SRTP, the browser's shield is partial and its exceptions name the device with TLS + SRTP; every security code matches", { timeout: 150_000 }, async (t) => {
  const meeting = await server.createMeeting("enhanced");
  const p = await openPage(browser, server.link(meeting));
  await joinFromPage(p, "Ada");
  const bot = await joinBot(server, meeting, "Bot");
  const device = await Baresip.start({ user: "room4", mediaenc: "srtp-mand", transport: "tls" });
  t.after(async () => {
    bot.leave();
    await device.close();
    await p.context.close();
  });
  const tlsPort = server.server.sipListening.find((l) => l.transport === "tls")!.port;
  const joined = new Promise<{ securityCode?: string; memberId?: string }>((resolve) => server.server.sip!.on("call", (e) => e.event === "joined" && resolve(e)));
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${tlsPort};transport=tls`);
  await device.waitEvent("CALL_ESTABLISHED", 60_000);
  const call = await joined;

  await p.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "partial", undefined, { timeout: 30_000 });
  await p.page.getByTestId("encryption-shield").click();
  const item = p.page.locator(`[data-testid="shield-exception"][data-member-id="${call.memberId}"]`);
  await item.waitFor({ timeout: 10_000 });
  assert.equal(await item.getAttribute("data-protection"), "TLS + SRTP");
  const text = (await item.textContent()) ?? "";
  assert.match(text, /room4/);
  assert.match(text, /TLS \+ SRTP/);
  assert.match(text, /SIP\/TLS \+ SRTP AES_CM_128_HMAC_SHA1_80/);
  await p.page.keyboard.press("Escape");
  const list = (await p.page.getByTestId("participant-list").textContent()) ?? "";
  assert.match(list, /Connector · Room system · TLS \+ SRTP/);

  // Everyone's code for the epoch that added the device: the browser's, the bot's, the connector's.
  const code = await eventually("the browser's code to settle on the three-member epoch", 20_000, async () => {
    const c = await securityCode(p.page);
    return bot.session.securityCode === c && bot.session.groupMembers.length === 3 ? c : undefined;
  });
  assert.equal(code, call.securityCode);
});

test("the host calls a room system in from the meeting screen: it answers, joins as a visible connector, and the host sees it listed", { timeout: 150_000 }, async (t) => {
  const host = await openPage(browser, `${server.origin}/`);
  await setupOwner(host.page);
  const created = await apiOk<{ id: string; passcode: string }>(host.page, "POST", "/api/meetings", { encryption: "enhanced", waitingRoom: false, topic: "Board" });
  const room = await Baresip.start({ user: "boardroom", mediaenc: "srtp-mand", transport: "tls", autoAnswer: true, certificate: device.pem, video: false });
  t.after(async () => {
    await room.close();
    await host.context.close();
  });
  await host.page.goto(server.link({ id: created.id, passcode: created.passcode }));
  await joinFromPage(host, "Olive");
  await host.page.getByTestId("invite-room-system").waitFor();
  await host.page.getByTestId("invite-room-system-uri").fill(`sip:boardroom@127.0.0.1:${room.tlsPort};transport=tls`);
  await host.page.getByTestId("invite-room-system-name").fill("Boardroom");
  await host.page.getByTestId("invite-room-system-button").click();
  await room.waitEvent("CALL_ESTABLISHED", 60_000);
  // Listed first while joining (no protection claimed yet), then from its credential in the group.
  await host.page.waitForFunction(() => /Boardroom.*TLS \+ SRTP/.test(document.querySelector('[data-testid="participant-list"]')?.textContent ?? ""), undefined, { timeout: 30_000 });
  const list = (await host.page.getByTestId("participant-list").textContent()) ?? "";
  assert.match(list, /Boardroom.*Connector · Room system · TLS \+ SRTP/);
  await host.page.waitForFunction(() => document.querySelector('[data-testid="room-system-notice"]')?.getAttribute("data-code") === "ROOM_SYSTEM_JOINED", undefined, { timeout: 15_000 });
  assert.equal(await host.page.getByTestId("encryption-shield").getAttribute("data-state"), "partial");
});

test("a room system dialing an end-to-end encrypted meeting gets a SIP 403, joins nothing, and the host's screen says why", { timeout: 150_000 }, async (t) => {
  // Olive (the owner set up by the previous test) signs in on a fresh page and hosts an E2EE meeting.
  const host = await openPage(browser, `${server.origin}/`);
  await apiOk(host.page, "POST", "/api/auth/login", { email: OWNER.email, password: OWNER.password });
  const created = await apiOk<{ id: string; passcode: string }>(host.page, "POST", "/api/meetings", { encryption: "e2ee", waitingRoom: false, topic: "Private" });
  const room = await Baresip.start({ user: "room9", mediaenc: "srtp-mand", transport: "tls", video: false });
  t.after(async () => {
    await room.close();
    await host.context.close();
  });
  await host.page.goto(server.link({ id: created.id, passcode: created.passcode }));
  await joinFromPage(host, "Olive");
  await host.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "e2ee", undefined, { timeout: 30_000 });
  const tlsPort = server.server.sipListening.find((l) => l.transport === "tls")!.port;
  room.dial(`sip:${created.id}.${created.passcode}@127.0.0.1:${tlsPort};transport=tls`);
  assert.match(String((await room.waitEvent("CALL_CLOSED", 30_000)).param), /403/);
  // The host is told, in words, why the room system was refused.
  await host.page.waitForFunction(() => document.querySelector('[data-testid="room-system-notice"]')?.getAttribute("data-code") === "ROOM_SYSTEM_REFUSED", undefined, { timeout: 15_000 });
  const toast = await eventually("the host's toast", 10_000, async () => {
    const text = await host.page.locator(".toasts").textContent();
    return text && /end-to-end encrypted/.test(text) ? text : undefined;
  });
  assert.match(toast, /room9/);
  assert.equal(await host.page.getByTestId("encryption-shield").getAttribute("data-state"), "e2ee");
});
