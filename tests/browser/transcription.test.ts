// Live captions in the web app, in Chromium: the host starts live transcription from the meeting
// screen, the transcription connector joins visibly (the shield panel says the audio is processed
// on this server), a bot reads a LibriVox clip, and the captions area shows its words under the
// speaker's name; stopping removes the connector and the captions.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { NodeParticipant } from "@conclave/client/node";
import { requireSystemBinary } from "@conclave/test-support";
import { MODEL_LM, play, programme, requireSystemFile, TESTDATA } from "@conclave/e2e-tests/dist/support/transcription.js";
import { apiOk, setupOwner } from "./support/accounts.js";
import { eventually, joinFromPage, launchBrowser, openPage, startTestServer } from "./support/harness.js";

requireSystemBinary("pocketsphinx_continuous");
requireSystemFile(MODEL_LM);
requireSystemFile(`${TESTDATA}/transcription`);
const server = await startTestServer();
const browser = await launchBrowser(server);
after(async () => {
  await browser.close();
  await server.close();
});

test("a host starts live captions from the meeting screen: the connector joins visibly, a bot's speech shows as captions naming the speaker, and stopping removes them", { timeout: 180_000 }, async (t) => {
  const host = await openPage(browser, server.origin);
  await setupOwner(host.page);
  server.server.context.database.settings.writeAccount({ liveTranscription: { value: true } });
  const created = await apiOk<{ id: string; passcode: string | null }>(host.page, "POST", "/api/meetings", { encryption: "enhanced", waitingRoom: false });
  const meeting = { id: created.id, passcode: created.passcode };
  await host.page.goto(server.link(meeting));
  await joinFromPage(host, "Olive");
  const reader = new NodeParticipant({ link: server.link(meeting), displayName: "Reader Marianne", ca: server.ca, externalMedia: { audio: true, video: false } });
  t.after(() => reader.leave());
  await reader.join();

  const start = host.page.getByTestId("transcription-start");
  await start.waitFor({ state: "visible", timeout: 30_000 });
  await start.click();
  const stop = host.page.getByTestId("transcription-stop");
  await stop.waitFor({ state: "visible", timeout: 60_000 });
  assert.match((await host.page.getByTestId("participant-list").textContent()) ?? "", /Live transcription/);
  await host.page.getByTestId("encryption-shield").click();
  const holder = host.page.locator('[data-testid="shield-key-holder"][data-connector="transcription"]');
  await holder.waitFor({ timeout: 10_000 });
  assert.match((await holder.textContent()) ?? "", /audio processed on this server/);
  await host.page.keyboard.press("Escape");
  await eventually("the reader to see the transcription connector", 30_000, () =>
    reader.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "transcription"),
  );

  // "he might even have been made amiable himself" (pocketsphinx-testdata's reference).
  await play(reader, programme(["sense_and_sensibility_01_austen_64kb-0930"]));
  const captions = host.page.getByTestId("captions");
  await captions.waitFor({ state: "visible", timeout: 60_000 });
  await eventually("the caption of the clip", 60_000, async () => /Reader Marianne: .*\bmight even\b/.test((await captions.textContent()) ?? ""));
  assert.equal(await captions.locator(".caption-speaker").first().textContent(), "Reader Marianne: ");

  await stop.click();
  await start.waitFor({ state: "visible", timeout: 60_000 });
  await captions.waitFor({ state: "hidden", timeout: 30_000 });
});
