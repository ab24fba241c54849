/**
 * Two Chromium participants and one Node bot in an E2EE meeting, through the real server,
 * relay and web app: media flows decrypted both ways, everyone shows the same security code,
 * and a leave rekeys everyone within 2 s. One browser process, two contexts.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import type { NodeParticipant } from "@conclave/client/node";
import {
  eventually,
  joinBot,
  joinFromPage,
  launchBrowser,
  openPage,
  remoteAudioPeaks,
  renderedFrames,
  securityCode,
  startTestServer,
  tileNames,
  type Participant,
  type TestServer,
} from "./support/harness.js";
import { auditControls } from "./support/a11y.js";
import { screenshotPath } from "./support/screenshots.js";

let server: TestServer;
let browser: Browser;
let meeting: { id: string; passcode: string | null };
let ada: Participant;
let bea: Participant;
let bot: NodeParticipant;

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
  meeting = await server.createMeeting("e2ee");
  ada = await openPage(browser, server.link(meeting));
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

test("each browser renders and hears the other two participants, with the bot's security code and an e2ee shield", async () => {
  // Everyone reaches the same 3-member epoch.
  const code = await eventually("a 3-member epoch everyone agrees on", 45_000, async () => {
    const botCode = bot.session.securityCode;
    if (!botCode || bot.session.groupMembers.length !== 3) return null;
    const codes = await Promise.all([securityCode(ada.page), securityCode(bea.page)]);
    return codes.every((c) => c === botCode) ? botCode : null;
  });
  assert.match(code, /^\d{5}( \d{5}){6}$/);

  for (const [p, others] of [
    [ada, ["Bea", "Robo"]],
    [bea, ["Ada", "Robo"]],
  ] as const) {
    await eventually(`tiles for ${others.join(", ")}`, 30_000, async () => JSON.stringify(await tileNames(p.page)) === JSON.stringify(others));
    assert.equal(await p.page.getByTestId("encryption-shield").getAttribute("data-state"), "e2ee");
    // Video: every remote tile renders decrypted, decoded frames.
    const frames = await eventually("10+ rendered frames per remote tile", 40_000, async () => {
      const counts = await renderedFrames(p.page, 1500);
      return others.every((n) => (counts[n] ?? 0) >= 10) ? counts : null;
    });
    assert.ok(Object.keys(frames).length === 2, JSON.stringify(frames));
    // Audio: the fake microphone beeps, the bot sends a 440 Hz sine; both are well above silence.
    const peaks = await eventually("audible audio from every remote tile", 30_000, async () => {
      const rms = await remoteAudioPeaks(p.page, 2500);
      return others.every((n) => (rms[n] ?? 0) > 0.01) ? rms : null;
    });
    assert.ok(others.every((n) => (peaks[n] ?? 0) > 0.01), JSON.stringify(peaks));
    // The worker encrypted and decrypted everything: no frame failed to decrypt.
    const stats = await p.page.evaluate(() => window.conclave.stats());
    assert.ok(stats && stats.encrypted > 0 && stats.decrypted > 0, JSON.stringify(stats));
    assert.equal(stats.failed, 0, JSON.stringify(stats));
  }
  // The bot decrypts both browsers' media too.
  await eventually("the bot decrypts both browsers", 30_000, () => {
    const per = bot.stats().perSender;
    const ids = bot.session.groupMembers.filter((m) => m.identity.memberId !== bot.memberId).map((m) => m.identity.memberId);
    return ids.length === 2 && ids.every((id) => (per[id] ?? 0) >= 20);
  });
});

test("screenshots: the 3-person meeting, the shield panel and the security-code panel", async () => {
  const page = ada.page;
  await eventually("both remote tiles rendering", 30_000, async () => {
    const counts = await renderedFrames(page, 500);
    return Object.values(counts).length === 2 && Object.values(counts).every((n) => n > 0);
  });
  await page.screenshot({ path: screenshotPath("meeting") });

  await page.getByTestId("encryption-shield").click();
  const shield = page.getByTestId("shield-panel");
  await shield.waitFor({ state: "visible" });
  assert.match((await shield.textContent()) ?? "", /end-to-end encrypted/i);
  assert.match((await shield.textContent()) ?? "", /Exceptions\s*None/);
  await page.screenshot({ path: screenshotPath("shield") });
  await page.keyboard.press("Escape");
  await shield.waitFor({ state: "hidden" });
  // Focus returns to the shield button.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "encryption-shield");

  await page.getByTestId("security-code-button").click();
  const codePanel = page.getByTestId("security-code-panel");
  await codePanel.waitFor({ state: "visible" });
  assert.match((await codePanel.textContent()) ?? "", /Read it aloud/);
  await page.screenshot({ path: screenshotPath("security-code") });
  await page.keyboard.press("Escape");
  await codePanel.waitFor({ state: "hidden" });
});

test("every control in the meeting is keyboard-focusable and has an accessible name", async () => {
  const problems = await auditControls(ada.page);
  assert.deepEqual(problems, []);
  // The panels, opened: their controls too.
  for (const [button, panel] of [["encryption-shield", "shield-panel"], ["security-code-button", "security-code-panel"]] as const) {
    await ada.page.getByTestId(button).focus();
    await ada.page.keyboard.press("Enter");
    await ada.page.getByTestId(panel).waitFor({ state: "visible" });
    assert.equal(await ada.page.evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.contains(document.activeElement), panel), true, `focus moves into ${panel}`);
    assert.deepEqual(await auditControls(ada.page), [], panel);
    await ada.page.keyboard.press("Escape");
    await ada.page.getByTestId(panel).waitFor({ state: "hidden" });
  }
});

test("mute and camera-off reach the other page within 1 s, end-to-end encrypted, and unmuting clears them", async () => {
  const adaOnBea = bea.page.locator('[data-testid="video-tile"][data-participant-name="Ada"]');
  const micOnBea = adaOnBea.locator(".tile-mic");
  await eventually("Ada shown unmuted on Bea's screen", 15_000, async () => await micOnBea.isHidden());
  // The indicator follows Ada's own announcement (an MLS application message), not silence.
  const shown = (selector: string, visible: boolean) =>
    bea.page.waitForFunction(
      ([sel, want]) => {
        const el = document.querySelector(sel as string);
        return el !== null && (el.getClientRects().length > 0) === want;
      },
      [selector, visible] as const,
      { timeout: 5_000, polling: "raf" },
    );
  const mic = '[data-testid="video-tile"][data-participant-name="Ada"] .tile-mic';
  let start = Date.now();
  await ada.page.getByTestId("mic-button").click();
  await shown(mic, true);
  const muteMs = Date.now() - start;
  assert.equal(await ada.page.getByTestId("mic-button").textContent(), "Unmute");
  assert.equal(await micOnBea.getAttribute("aria-label"), "Muted");
  assert.ok(muteMs <= 1000, `mute reached Bea after ${muteMs} ms`);
  start = Date.now();
  await ada.page.getByTestId("mic-button").click();
  await shown(mic, false);
  assert.ok(Date.now() - start <= 1000, `unmute reached Bea after ${Date.now() - start} ms`);

  // Camera off: initials instead of a black tile; on again: video.
  start = Date.now();
  await ada.page.getByTestId("camera-button").click();
  await bea.page.waitForFunction(() => document.querySelector('[data-testid="video-tile"][data-participant-name="Ada"]')?.classList.contains("no-video") === true, undefined, { timeout: 5_000, polling: "raf" });
  assert.ok(Date.now() - start <= 1000, `camera-off reached Bea after ${Date.now() - start} ms`);
  assert.equal(await adaOnBea.locator(".avatar").isVisible(), true);
  assert.equal((await adaOnBea.locator(".avatar").textContent())?.trim(), "A");
  await ada.page.getByTestId("camera-button").click();
  await bea.page.waitForFunction(() => document.querySelector('[data-testid="video-tile"][data-participant-name="Ada"]')?.classList.contains("no-video") === false, undefined, { timeout: 5_000 });
  // The bot heard the same state, decrypted from the same messages.
  const adaId = await ada.page.evaluate(() => window.conclave.memberId());
  await eventually("the bot to hear Ada's camera on", 5_000, () => JSON.stringify(bot.remoteMediaStates.get(adaId!)) === JSON.stringify({ mic: true, camera: true, screen: false }), 20);
});

test("switching camera and microphone mid-meeting keeps the others receiving Ada's video and sound, without rejoining", async () => {
  const epochBefore = await ada.page.evaluate(() => window.conclave.epoch());
  const before = await ada.page.evaluate(() => window.conclave.devices());
  await ada.page.getByTestId("more-button").click();
  const panel = ada.page.getByTestId("more-panel");
  await panel.waitFor();
  const cameras = await panel.getByTestId("meeting-camera-select").locator("option").allTextContents();
  const mics = await panel.getByTestId("meeting-microphone-select").locator("option").allTextContents();
  assert.ok(cameras.length >= 3, `Chromium's fake devices offer three cameras: ${cameras.join(", ")}`);
  assert.ok(mics.length >= 2, `and several microphones: ${mics.join(", ")}`);
  // fake_device_1 is a depth camera WebRTC cannot encode (see the harness): switch 0 -> 2.
  assert.equal(before.camera, "fake_device_0");
  const otherCamera = "fake_device_2";
  const otherMic = mics.find((m) => m !== before.microphone)!;
  await panel.getByTestId("meeting-camera-select").selectOption({ label: otherCamera });
  await eventually("the camera switch", 10_000, async () => (await ada.page.evaluate(() => window.conclave.devices())).camera === otherCamera);
  await panel.getByTestId("meeting-microphone-select").selectOption({ label: otherMic });
  await eventually("the microphone switch", 10_000, async () => (await ada.page.evaluate(() => window.conclave.devices())).microphone === otherMic);
  const speakers = await panel.getByTestId("speaker-select").locator("option").allTextContents();
  assert.ok(speakers.length >= 2, speakers.join(", "));
  await panel.getByTestId("speaker-select").selectOption({ index: 1 });
  await panel.getByText("Speaker switched.").waitFor();
  await ada.page.keyboard.press("Escape");

  // Bea keeps rendering Ada's video and hearing her, and the bot keeps decrypting her frames.
  await eventually("Ada's new camera on Bea's page", 20_000, async () => ((await renderedFrames(bea.page, 1000))["Ada"] ?? 0) >= 5);
  await eventually("Ada's new microphone on Bea's page", 20_000, async () => ((await remoteAudioPeaks(bea.page, 1500))["Ada"] ?? 0) > 0.01);
  const adaId = (await ada.page.evaluate(() => window.conclave.memberId()))!;
  const decrypted = bot.stats().perSender[adaId] ?? 0;
  await eventually("the bot decrypting Ada's new tracks", 15_000, () => (bot.stats().perSender[adaId] ?? 0) > decrypted + 20);
  assert.equal(await ada.page.evaluate(() => window.conclave.epoch()), epochBefore, "no rejoin: the same epoch");
  const stats = await bea.page.evaluate(() => window.conclave.stats());
  assert.equal(stats?.failed, 0, JSON.stringify(stats));
});

test("keyboard shortcuts mute and unmute, turn the camera off and on, and are listed in a help dialog", async () => {
  const page = ada.page;
  await page.locator("body").click({ position: { x: 5, y: 300 } });
  await page.keyboard.press("m");
  assert.equal(await page.getByTestId("mic-button").textContent(), "Unmute");
  await page.keyboard.press("m");
  assert.equal(await page.getByTestId("mic-button").textContent(), "Mute");
  await page.keyboard.press("v");
  assert.equal(await page.getByTestId("camera-button").textContent(), "Start video");
  await page.keyboard.press("v");
  assert.equal(await page.getByTestId("camera-button").textContent(), "Stop video");
  await page.keyboard.press("?");
  const help = page.getByTestId("shortcuts-dialog");
  await help.waitFor();
  const text = (await help.textContent()) ?? "";
  for (const line of ["Mute or unmute your microphone", "Turn your camera off or on", "Leave the meeting"]) assert.ok(text.includes(line), line);
  // While a dialog is open, letters go nowhere.
  await page.keyboard.press("m");
  assert.equal(await page.getByTestId("mic-button").textContent(), "Mute");
  await page.keyboard.press("Escape");
  await help.waitFor({ state: "hidden" });
  // L asks before leaving; Cancel stays.
  await page.keyboard.press("l");
  await page.getByTestId("confirm-leave").getByTestId("confirm-cancel").click();
  assert.equal(await page.evaluate(() => window.conclave.phase()), "in-meeting");
});

test("a screen share reaches the others, encrypted, as its own tile, and goes away when stopped", async () => {
  const screenOnBea = bea.page.locator('[data-testid="screen-tile"][data-participant-name="Ada"]');
  // Twice: the second share re-enables the same m-section.
  for (let round = 1; round <= 2; round++) {
    await ada.page.getByTestId("screen-button").click();
    await screenOnBea.waitFor({ state: "visible", timeout: 30_000 });
    await eventually(`screen frames rendered (share ${round})`, 30_000, async () =>
      screenOnBea.evaluate(
        (el) =>
          new Promise<boolean>((resolve) => {
            const v = el.querySelector("video");
            if (!v) return resolve(false);
            let n = 0;
            const tick = (): void => {
              if (++n >= 3) resolve(true);
              else v.requestVideoFrameCallback(tick);
            };
            v.requestVideoFrameCallback(tick);
            setTimeout(() => resolve(false), 3000);
          }),
      ),
    );
    assert.deepEqual(await tileNames(bea.page), ["Ada", "Robo"], "the camera tiles are unchanged");
    await ada.page.getByTestId("screen-button").click();
    await screenOnBea.waitFor({ state: "detached", timeout: 15_000 });
  }
});

test("the pages printed no errors to the console", () => {
  assert.deepEqual(ada.consoleErrors, []);
  assert.deepEqual(bea.consoleErrors, []);
});

test("when a participant leaves, the others' security codes change and match again within 2 s, and its tile disappears", async () => {
  const before = await securityCode(ada.page);
  const leftAt = Date.now();
  await bea.page.getByTestId("leave-button").click();
  const code = await eventually("Ada and the bot to agree on a new code", 5_000, async () => {
    const a = await securityCode(ada.page);
    const b = bot.session.securityCode;
    return a !== before && a === b && bot.session.groupMembers.length === 2 ? a : null;
  }, 50);
  const elapsed = Date.now() - leftAt;
  assert.ok(elapsed <= 2_000, `codes matched again after ${elapsed} ms`);
  assert.notEqual(code, before);
  await eventually("Bea's tile to disappear", 5_000, async () => JSON.stringify(await tileNames(ada.page)) === JSON.stringify(["Robo"]));
});
