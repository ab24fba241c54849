// A phone (Debian's baresip on the configured trunk address, SIP over UDP, PCMU, RFC 4733 DTMF)
// dials into a meeting a real browser is in: the browser's shield turns partial and its
// exceptions name "Phone ••• 1234" with its unencrypted leg; when the phone hangs up the shield
// clears and the group rekeys. A host renames a phone from the People list and removes it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Baresip, requireBaresip } from "@conclave/e2e-tests/dist/support/baresip.js";
import { requireSystemBinary } from "@conclave/test-support";
import { apiOk, setupOwner } from "./support/accounts.js";
import { joinFromPage, launchBrowser, openPage, securityCode, startTestServer } from "./support/harness.js";

requireBaresip();
requireSystemBinary("espeak-ng");
const dir = mkdtempSync(join(tmpdir(), "conclave-pstn-browser-"));
const configFile = join(dir, "conclave.json");
writeFileSync(configFile, JSON.stringify({ sipTrunks: [{ address: "127.0.0.1" }], dialInNumbers: ["+1 555 0100"] }));
const server = await startTestServer({ sipUdpListen: "127.0.0.1:0", config: configFile });
const browser = await launchBrowser(server);
const ivr: { displayName: string; prompt: string; phase: string }[] = [];
const wakers = new Set<() => void>();
server.server.sip!.on("ivr", (e) => {
  ivr.push(e);
  for (const w of wakers) w();
});
after(async () => {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function promptStarted(name: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${id} prompt for ${name}; the IVR so far: ${ivr.map((e) => `${e.prompt} ${e.phase}`).join(", ")}`)), 30_000);
    const check = () => {
      if (ivr.some((e) => e.displayName === name && e.prompt === id && e.phase === "start")) {
        clearTimeout(timer);
        wakers.delete(check);
        resolve();
      }
    };
    wakers.add(check);
    check();
  });
}

test("with a phone dialed in, the browser's shield is partial and its exceptions name 'Phone ••• 1234' as unencrypted; its hang-up clears the shield and changes the security code", { timeout: 150_000 }, async (t) => {
  const meeting = await server.createMeeting("enhanced");
  const phonePasscode = server.server.sip!.phonePasscode(meeting.id)!;
  const p = await openPage(browser, server.link(meeting));
  await joinFromPage(p, "Ada");
  const phone = await Baresip.start({ user: "15550101234", transport: "udp", mediaenc: "none", audioCodecs: "PCMU/8000/1", video: false, channels: 1, rate: 8000 });
  t.after(async () => {
    await phone.close();
    await p.context.close();
  });
  const name = "Phone \u2022\u2022\u2022 1234";
  const udpPort = server.server.sipListening.find((l) => l.transport === "udp")!.port;
  const joined = new Promise<{ memberId?: string }>((resolve) => server.server.sip!.on("call", (e) => e.event === "joined" && resolve(e)));
  phone.dial(`sip:+15550100@127.0.0.1:${udpPort}`);
  await phone.waitEvent("CALL_ESTABLISHED", 60_000);
  await promptStarted(name, "welcome");
  phone.sendDtmf(`${meeting.id}#`);
  await promptStarted(name, "passcode");
  phone.sendDtmf(`${phonePasscode}#`);
  const call = await joined;
  const before = await securityCode(p.page);

  await p.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "partial", undefined, { timeout: 30_000 });
  await p.page.getByTestId("encryption-shield").click();
  const item = p.page.locator(`[data-testid="shield-exception"][data-member-id="${call.memberId}"]`);
  await item.waitFor({ timeout: 10_000 });
  assert.equal(await item.getAttribute("data-protection"), "unencrypted");
  const text = (await item.textContent()) ?? "";
  assert.ok(text.includes(name), `the exception names the phone: ${text}`);
  assert.match(text, /Phone dial-in/);
  assert.match(text, /SIP\/UDP \+ RTP \(unencrypted\)/);
  assert.doesNotMatch(text, /15550101234|555010/, "only the last four digits of the number");
  await p.page.keyboard.press("Escape");
  const list = (await p.page.getByTestId("participant-list").textContent()) ?? "";
  assert.ok(list.includes(name), "the phone is in the people list");
  assert.match(list, /Phone dial-in/);

  phone.hangup();
  await phone.waitEvent("CALL_CLOSED", 15_000);
  await p.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "encrypted", undefined, { timeout: 30_000 });
  const afterCode = await securityCode(p.page);
  assert.notEqual(afterCode, before, "the group rekeyed without the phone");
});

test("the host renames the phone from the People list (everyone's list and shield show the new name) and removes it: the call is hung up and the shield clears", { timeout: 150_000 }, async (t) => {
  const host = await openPage(browser, `${server.origin}/`);
  t.after(() => host.context.close());
  await setupOwner(host.page);
  const created = await apiOk<{ id: string; passcode: string }>(host.page, "POST", "/api/meetings", { topic: "Front desk sync", encryption: "enhanced", waitingRoom: false });
  const meeting = { id: created.id, passcode: created.passcode };
  await host.page.goto(server.link(meeting));
  await joinFromPage(host, "Olive");
  await host.page.getByTestId("host-controls").waitFor();
  const phone = await Baresip.start({ user: "15550107777", transport: "udp", mediaenc: "none", audioCodecs: "PCMU/8000/1", video: false, channels: 1, rate: 8000 });
  t.after(() => phone.close());
  const name = "Phone \u2022\u2022\u2022 7777";
  const udpPort = server.server.sipListening.find((l) => l.transport === "udp")!.port;
  const joined = new Promise<{ memberId?: string }>((resolve) => server.server.sip!.on("call", (e) => e.event === "joined" && e.meetingId === meeting.id && resolve(e)));
  phone.dial(`sip:+15550100@127.0.0.1:${udpPort}`);
  await phone.waitEvent("CALL_ESTABLISHED", 60_000);
  await promptStarted(name, "welcome");
  phone.sendDtmf(`${meeting.id}#`);
  await promptStarted(name, "passcode");
  phone.sendDtmf(`${server.server.sip!.phonePasscode(meeting.id)!}#`);
  const call = await joined;
  const row = host.page.locator(`[data-testid="participant-list"] li[data-member-id="${call.memberId}"]`);
  await row.waitFor({ timeout: 30_000 });
  await host.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "partial", undefined, { timeout: 30_000 });

  // Rename: the dialog offers it for a phone; the new name shows in the list and the shield.
  await row.getByTestId("manage-participant").click();
  const dialog = host.page.getByTestId("manage-participant-dialog");
  await dialog.waitFor();
  assert.equal(await dialog.getByTestId("rename-input").inputValue(), name);
  await dialog.getByTestId("rename-input").fill("Front desk");
  await dialog.getByTestId("rename-button").click();
  await dialog.waitFor({ state: "detached" });
  await host.page.waitForFunction((id) => document.querySelector(`[data-testid="participant-list"] li[data-member-id="${id}"] .participant-name`)?.textContent === "Front desk", call.memberId, { timeout: 20_000 });
  await host.page.getByTestId("encryption-shield").click();
  const item = host.page.locator(`[data-testid="shield-exception"][data-member-id="${call.memberId}"]`);
  await item.waitFor({ timeout: 10_000 });
  assert.match((await item.textContent()) ?? "", /Front desk/);
  await host.page.keyboard.press("Escape");

  // Remove: the phone's call ends and the shield clears.
  const before = await securityCode(host.page);
  await row.getByTestId("manage-participant").click();
  await dialog.waitFor();
  await dialog.getByTestId("remove-participant").click();
  await phone.waitEvent("CALL_CLOSED", 30_000);
  await host.page.waitForFunction(() => document.querySelector('[data-testid="encryption-shield"]')?.getAttribute("data-state") === "encrypted", undefined, { timeout: 30_000 });
  await row.waitFor({ state: "detached", timeout: 10_000 });
  assert.notEqual(await securityCode(host.page), before, "the group rekeyed without the phone");
});
