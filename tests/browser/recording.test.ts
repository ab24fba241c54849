// Cloud recording in the web app, in Chromium: the host starts it from the meeting screen,
// everyone sees the indicator (a late joiner the notice), the shield panel says what it means,
// and the recording plays and seeks from the Recordings page (decrypted on the fly, ranges).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeetingLocalRecordings } from "@conclave/client";
import { decodeErrors, execFileAsync, probe, requireFfmpeg } from "@conclave/e2e-tests/dist/support/recording.js";
import { apiOk, setupOwner } from "./support/accounts.js";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, startTestServer } from "./support/harness.js";

requireFfmpeg();
const server = await startTestServer();
const browser = await launchBrowser(server);
after(async () => {
  await browser.close();
  await server.close();
});

test("a host records an Enhanced meeting from the meeting screen: everyone sees the recorder, a late joiner gets the notice, and the recording plays and seeks in Chromium from the Recordings page", { timeout: 180_000 }, async (t) => {
  const host = await openPage(browser, server.origin);
  await setupOwner(host.page);
  server.server.context.database.settings.writeAccount({ cloudRecording: { value: true } });
  const created = await apiOk<{ id: string; passcode: string | null }>(host.page, "POST", "/api/meetings", { encryption: "enhanced", waitingRoom: false });
  const meeting = { id: created.id, passcode: created.passcode };
  await host.page.goto(server.link(meeting));
  await joinFromPage(host, "Olive");
  const bot = await joinBot(server, meeting, "Bot");
  t.after(() => bot.leave());

  // The host starts cloud recording; the recorder joins as a visible member.
  const button = host.page.getByTestId("recording-button");
  await button.waitFor({ state: "visible", timeout: 30_000 });
  assert.equal(await button.getAttribute("data-recording"), "false");
  await button.click();
  await host.page.getByTestId("recording-indicator").waitFor({ state: "visible", timeout: 60_000 });
  await host.page.getByTestId("recording-notice").waitFor({ state: "visible" });
  assert.match((await host.page.getByTestId("participant-list").textContent()) ?? "", /Cloud recording/);
  await eventually("the bot to see the recorder in its MLS group", 30_000, () =>
    bot.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "recording"),
  );
  await host.page.getByTestId("encryption-shield").click();
  const holder = host.page.locator('[data-testid="shield-key-holder"][data-connector="recording"]');
  await holder.waitFor({ timeout: 10_000 });
  assert.match((await holder.textContent()) ?? "", /stored encrypted at rest on this server/);
  await host.page.keyboard.press("Escape");

  // Someone joining later is told at once.
  const late = await openPage(browser, server.link(meeting));
  t.after(() => late.context.close());
  await joinFromPage(late, "Lena");
  await late.page.getByTestId("recording-notice").waitFor({ state: "visible", timeout: 30_000 });
  assert.match((await late.page.getByTestId("recording-notice").textContent()) ?? "", /being recorded/);
  assert.ok(await late.page.getByTestId("recording-indicator").isVisible());

  // Record a few seconds of the meeting, then stop (the answer comes once it is finalized).
  const recording = await eventually("the recorder to write frames", 30_000, () => server.server.recordings!.active(meeting.id)?.status === "recording" || undefined);
  assert.ok(recording);
  await eventually("six seconds of recording", 20_000, () => {
    const a = server.server.recordings!.active(meeting.id);
    return a?.startedAt && Date.now() - a.startedAt > 6000 ? true : undefined;
  }, 250);
  await button.click();
  await eventually("the host's screen to say the recording is saved", 60_000, async () => /Recording saved/.test((await host.page.getByTestId("recording-control-status").textContent()) ?? ""));
  await late.page.getByTestId("recording-indicator").waitFor({ state: "hidden", timeout: 30_000 });

  // The Recordings page: play it, seek in it.
  await host.page.goto(`${server.origin}/#/recordings`);
  const item = host.page.locator('[data-testid="recording-item"][data-status="ready"]');
  await item.waitFor({ timeout: 30_000 });
  const player = item.getByTestId("recording-player");
  const played = await player.evaluate(async (el) => {
    const v = el as HTMLVideoElement;
    v.muted = true;
    await v.play();
    const deadline = Date.now() + 20_000;
    while (v.currentTime < 1 && Date.now() < deadline && !v.error) await new Promise((r) => setTimeout(r, 100));
    const reached = v.currentTime;
    v.pause();
    const seekTo = Math.min(v.duration - 0.5, 4);
    await new Promise<void>((resolve) => {
      v.addEventListener("seeked", () => resolve(), { once: true });
      v.currentTime = seekTo;
    });
    return { reached, width: v.videoWidth, height: v.videoHeight, duration: v.duration, seekTo, after: v.currentTime, error: v.error?.message ?? null };
  });
  assert.equal(played.error, null, "the player reports no error");
  assert.ok(played.reached >= 1, `the video plays (reached ${played.reached} s)`);
  assert.ok(played.width > 0 && played.height > 0, "video frames decoded");
  assert.ok(played.duration >= 5, `the duration is known from the seek index (${played.duration} s)`);
  assert.ok(Math.abs(played.after - played.seekTo) < 0.5, `seeking lands where asked (${played.after} s for ${played.seekTo} s)`);
  const download = await item.getByTestId("recording-download").getAttribute("href");
  assert.match(download ?? "", /^\/api\/recordings\/[a-f0-9]{32}\/recording\.webm\?download=1$/);
});

test("local recording in an E2EE meeting: the browser records what it sees and hears into a playable WebM saved on the device, sends nothing to the server, and everyone (a late joiner too) is told while it records", { timeout: 180_000 }, async (t) => {
  const meeting = await server.createMeeting("e2ee");
  const p = await openPage(browser, server.link(meeting));
  const bot = await joinBot(server, meeting, "Bot");
  const botRecorders = new MeetingLocalRecordings(bot.session);
  const dir = await mkdtemp(join(tmpdir(), "conclave-local-rec-"));
  const other = await openPage(browser, server.link(meeting));
  let late: Awaited<ReturnType<typeof openPage>> | null = null;
  t.after(async () => {
    botRecorders.close();
    bot.leave();
    await p.context.close();
    await other.context.close();
    await late?.context.close();
    await rm(dir, { recursive: true, force: true });
  });
  await joinFromPage(p, "Ada");
  await joinFromPage(other, "Ben");
  const notice = (page: typeof p) => page.page.getByTestId("local-recording-notice");
  assert.equal(await notice(other).isVisible(), false, "nobody records yet");
  // The bot's video is playing on the page before recording starts.
  await p.page.waitForFunction(() => [...document.querySelectorAll<HTMLVideoElement>(".tiles video")].some((v) => v.videoWidth > 0 && !v.classList.contains("mirror")), undefined, { timeout: 30_000 });
  const requests: string[] = [];
  p.page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
  const button = p.page.getByTestId("local-recording-button");
  await button.click();
  assert.equal(await button.getAttribute("data-recording"), "true");

  // Everyone is told, through the MLS group: Ben's screen names Ada, in the notice and the people list.
  await notice(other).waitFor({ state: "visible", timeout: 30_000 });
  assert.match((await notice(other).textContent()) ?? "", /Ada is recording this meeting on their device/);
  const adaRow = other.page.locator('[data-testid="participant-list"] li', { hasText: "Ada" });
  await adaRow.getByTestId("participant-local-recording").waitFor({ timeout: 10_000 });
  assert.equal(await other.page.getByTestId("participant-local-recording").count(), 1, "only Ada is marked as recording");
  await eventually("the bot's SDK to list Ada as recording", 30_000, () => botRecorders.recorders.some((r) => r.displayName === "Ada") || undefined);
  assert.equal(await notice(p).isVisible(), false, "the recorder's own screen shows its status, not the others' notice");

  // Someone who joins while Ada records is told too (Ada's app announces it to newcomers).
  late = await openPage(browser, server.link(meeting));
  await joinFromPage(late, "Cleo");
  await notice(late).waitFor({ state: "visible", timeout: 30_000 });
  assert.match((await notice(late).textContent()) ?? "", /Ada is recording/);

  await p.page.waitForTimeout(5000); // five more seconds of meeting recorded
  const downloaded = p.page.waitForEvent("download");
  await button.click();
  const download = await downloaded;
  assert.match(download.suggestedFilename(), /^conclave-local-.*\.webm$/);

  // Stopping is announced too: the notices and the tag go away.
  await notice(other).waitFor({ state: "hidden", timeout: 30_000 });
  await notice(late).waitFor({ state: "hidden", timeout: 30_000 });
  assert.equal(await other.page.getByTestId("participant-local-recording").count(), 0);
  await eventually("the bot's SDK to drop Ada", 30_000, () => botRecorders.recorders.length === 0 || undefined);

  const file = join(dir, "local.webm");
  await download.saveAs(file);
  const probed = await probe(file);
  assert.deepEqual(probed.streams.map((s) => s.codec_name).sort(), ["opus", "vp8"]);
  assert.equal(await decodeErrors(file), "", "the local recording decodes without an error");
  const { stdout } = await execFileAsync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file]);
  assert.ok(Number(stdout.trim()) >= 30, `the recording holds video frames (${stdout.trim()})`);
  // Nothing went to the server: no HTTP request at all while recording and saving (the file is a
  // blob: URL; the announcements are MLS application messages on the open WebSocket).
  assert.deepEqual(requests.filter((r) => !r.includes(" blob:")), [], "no request left the page while it recorded");
});
