// Phone dial-in in the web app's invitations: on a server with a SIP trunk and dial-in numbers,
// scheduling an Enhanced meeting shows the numbers to call and the meeting's phone passcode (the
// one the IVR accepts), a new passcode shows the new phone passcode, and neither is shown for an
// E2EE meeting (which refuses phones) or when the phoneDialIn setting is off.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { apiOk, setupOwner } from "./support/accounts.js";
import { launchBrowser, openPage, startTestServer } from "./support/harness.js";

requireSystemBinary("espeak-ng");
const dir = mkdtempSync(join(tmpdir(), "conclave-dial-in-invite-"));
const configFile = join(dir, "conclave.json");
writeFileSync(configFile, JSON.stringify({ sipTrunks: [{ address: "127.0.0.1" }], dialInNumbers: ["+1 555 0100", "+44 20 7946 0000"] }));
const server = await startTestServer({ sipUdpListen: "127.0.0.1:0", config: configFile });
const browser = await launchBrowser(server);
after(async () => {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("scheduling shows the dial-in numbers and the phone passcode the IVR accepts for Enhanced meetings only, a new passcode shows the new phone passcode, and the phoneDialIn setting turns them off", { timeout: 120_000 }, async (t) => {
  const owner = await openPage(browser, server.origin);
  t.after(() => owner.context.close());
  await setupOwner(owner.page);
  await owner.page.goto(`${server.origin}/#/meetings`);
  const schedule = async (topic: string, encryption: "e2ee" | "enhanced") => {
    const form = owner.page.getByTestId("schedule-form");
    await form.waitFor();
    await form.getByTestId(`schedule-encryption-${encryption}`).check();
    await form.getByTestId("meeting-topic").fill(topic);
    await form.getByTestId("schedule-submit").click();
    const created = owner.page.getByTestId("meeting-created");
    await created.filter({ hasText: encryption === "e2ee" ? /end-to-end/i : /enhanced encryption/i }).waitFor({ timeout: 15_000 });
    await owner.page.locator(`[data-testid="meeting-item"][data-topic="${topic}"]`).waitFor();
    const link = await created.getByTestId("created-link").inputValue();
    return { created, id: /\/m\/(\d{11})/.exec(link)![1]! };
  };

  // Enhanced: the configured numbers, and the phone passcode the server's IVR expects.
  const enhanced = await schedule("Phone-friendly", "enhanced");
  const numbers = enhanced.created.getByTestId("dial-in-numbers");
  await numbers.waitFor();
  assert.deepEqual(await numbers.locator("li").allTextContents(), ["+1 555 0100", "+44 20 7946 0000"]);
  const phonePasscode = (await enhanced.created.getByTestId("phone-passcode").textContent()) ?? "";
  assert.match(phonePasscode, /^[0-9]{8}$/);
  assert.equal(phonePasscode, server.server.sip!.phonePasscode(enhanced.id), "the phone passcode shown is the one dial-in accepts");

  // A new passcode changes the phone passcode too; the new one is shown with it.
  const item = owner.page.locator(`[data-testid="meeting-item"][data-meeting-id="${enhanced.id}"]`);
  await item.getByTestId("meeting-reset-passcode").click();
  await owner.page.getByTestId("confirm-passcode").getByTestId("confirm-ok").click();
  const fresh = item.getByTestId("new-passcode");
  await fresh.waitFor();
  const freshPhone = (await fresh.getByTestId("phone-passcode").textContent()) ?? "";
  assert.equal(freshPhone, server.server.sip!.phonePasscode(enhanced.id));
  assert.notEqual(freshPhone, phonePasscode, "the old phone passcode no longer applies");
  assert.deepEqual(await fresh.getByTestId("dial-in-numbers").locator("li").allTextContents(), ["+1 555 0100", "+44 20 7946 0000"]);

  // E2EE meetings refuse phones: no numbers, no phone passcode.
  const e2ee = await schedule("Keys on devices", "e2ee");
  assert.ok(await e2ee.created.getByTestId("created-passcode").isVisible(), "the meeting passcode is still shown");
  assert.equal(await e2ee.created.getByTestId("dial-in-numbers").count(), 0);
  assert.equal(await e2ee.created.getByTestId("phone-passcode").count(), 0);

  // An admin turns phone dial-in off: new Enhanced meetings offer no dial-in either.
  await apiOk(owner.page, "PATCH", "/api/settings/account", { phoneDialIn: { value: false, locked: true } });
  const off = await schedule("No phones", "enhanced");
  assert.equal(await off.created.getByTestId("dial-in-numbers").count(), 0);
  assert.equal(await off.created.getByTestId("phone-passcode").count(), 0);
});
