// Live streaming in the web app, in Chromium: the host starts a stream to Debian's nginx-rtmp from
// the host controls (URL + stream key), everyone sees LIVE and the shield names the destination
// and its unencrypted leg, a refused URL says so, and stopping clears it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { requireFfmpeg } from "@conclave/e2e-tests/dist/support/recording.js";
import { startNginxRtmp } from "@conclave/e2e-tests/dist/support/nginx-rtmp.js";
import { freePort } from "@conclave/e2e-tests/dist/support/pebble.js";
import { apiOk, setupOwner } from "./support/accounts.js";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, startTestServer } from "./support/harness.js";

requireFfmpeg();
const server = await startTestServer();
const browser = await launchBrowser(server);
// Started last, so that nothing that fails to start above leaves an nginx behind.
const nginx = await startNginxRtmp();
after(async () => {
  await browser.close();
  await server.close();
  await nginx.close();
});

test("a host streams an Enhanced meeting from the host controls: a refused URL is explained, then LIVE shows for everyone with the destination's unencrypted leg in the shield, and stopping clears it", { timeout: 180_000 }, async (t) => {
  const host = await openPage(browser, server.origin);
  await setupOwner(host.page);
  server.server.context.database.settings.writeAccount({ liveStreaming: { value: true } });
  const created = await apiOk<{ id: string; passcode: string | null }>(host.page, "POST", "/api/meetings", { encryption: "enhanced", waitingRoom: false });
  const meeting = { id: created.id, passcode: created.passcode };
  await host.page.goto(server.link(meeting));
  await joinFromPage(host, "Olive");
  const bot = await joinBot(server, meeting, "Bot");
  t.after(() => bot.leave());
  const key = "browser-key-3f9a7c";
  const page = host.page;

  // A port nothing listens on: the host is told the destination refused.
  await page.getByTestId("stream-url").waitFor({ state: "visible", timeout: 30_000 });
  await page.getByTestId("stream-url").fill(`rtmp://127.0.0.1:${await freePort()}/live`);
  await page.getByTestId("stream-key").fill(key);
  await page.getByTestId("stream-start").click();
  await eventually("the refusal to be shown", 60_000, async () => /refused the stream/.test((await page.getByTestId("stream-status").textContent()) ?? "")).catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}; the status says: ${await page.getByTestId("stream-status").textContent()}`);
  });
  assert.ok(!((await page.getByTestId("stream-status").textContent()) ?? "").includes(key), "the error does not show the key");

  // The real ingest.
  await page.getByTestId("stream-url").fill(nginx.url);
  await page.getByTestId("stream-start").click();
  await page.getByTestId("stream-indicator").waitFor({ state: "visible", timeout: 60_000 });
  assert.equal(await page.getByTestId("stream-key").inputValue(), "", "the key field is cleared once sent");
  await page.getByTestId("stream-stop").waitFor({ state: "visible" });
  assert.match((await page.getByTestId("participant-list").textContent()) ?? "", /Live stream to rtmp:\/\/127\.0\.0\.1/);
  await eventually("the bot to see the streaming member", 30_000, () => bot.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "streaming"));
  await page.getByTestId("encryption-shield").click();
  const item = page.locator('[data-testid="shield-exception"]');
  await item.waitFor({ timeout: 10_000 });
  assert.equal(await item.getAttribute("data-protection"), "unencrypted");
  const text = (await item.textContent()) ?? "";
  assert.ok(text.includes(`live stream to ${nginx.url}: unencrypted beyond the connector`), text);
  assert.ok(!text.includes(key));
  await page.keyboard.press("Escape");

  await page.getByTestId("stream-stop").click();
  await page.getByTestId("stream-indicator").waitFor({ state: "hidden", timeout: 60_000 });
  await page.getByTestId("stream-start").waitFor({ state: "visible" });
  await eventually("the host to be told the stream ended", 30_000, async () => /The stream has ended/.test((await page.getByTestId("stream-status").textContent()) ?? ""));
  assert.equal(server.server.streams!.active(meeting.id), undefined);
});
