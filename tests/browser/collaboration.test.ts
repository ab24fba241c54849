/**
 * Chat, private chat, reactions, raised hands, polls, files and breakout rooms in an E2EE
 * meeting, through the web app: two Chromium pages (the owner, signed in, hosts; a guest) and
 * Node bots, with a server-side tap over every signaling message that must never carry any of
 * the text, file bytes, poll questions or answers these tests use.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { encodeMessage, isProtocolError } from "@conclave/protocol";
import type { SignalingChannel } from "@conclave/client";
import { NodeParticipant } from "@conclave/client/node";
import { apiOk, setupOwner } from "./support/accounts.js";
import { eventually, joinFromPage, launchBrowser, openPage, securityCode, startTestServer, type Participant, type TestServer } from "./support/harness.js";
import { screenshotPath } from "./support/screenshots.js";

const tapped: string[] = [];
const secrets: string[] = [];
const secret = (s: string): string => (secrets.push(s), s);

let server: TestServer;
let browser: Browser;
let meeting: { id: string; passcode: string | null };
let olive: Participant;
let bea: Participant;
let robo: NodeParticipant;
const roboInject: { deliver?: (text: string) => void } = {};
const bots: NodeParticipant[] = [];

function tapBot(target: { deliver?: (text: string) => void }) {
  return (channel: SignalingChannel): SignalingChannel => ({
    ...channel,
    onMessage: (handler) => {
      target.deliver = handler;
      channel.onMessage(handler);
    },
  });
}

before(async () => {
  server = await startTestServer({}, {}, { signalingTap: (_d, text) => tapped.push(text) });
  browser = await launchBrowser(server);
  olive = await openPage(browser, `${server.origin}/`);
  await setupOwner(olive.page);
  const created = await apiOk<{ id: string; passcode: string }>(olive.page, "POST", "/api/meetings", { topic: "Planning", encryption: "e2ee", waitingRoom: false });
  meeting = { id: created.id, passcode: created.passcode };
  await olive.page.goto(server.link(meeting));
  await joinFromPage(olive, "Olive");
  bea = await openPage(browser, server.link(meeting));
  await joinFromPage(bea, "Bea");
  // Robo's client tries to open payloads sealed to others with its own key (an audit hook), so
  // the private-message test shows at the protocol level that a third member cannot decrypt one.
  robo = new NodeParticipant({ link: server.link(meeting), displayName: "Robo", ca: server.ca, channelTap: tapBot(roboInject), probeSealedToOthers: true });
  bots.push(robo);
  await robo.join();
  await agreed([olive.page, bea.page], [robo], 3);
});

after(async () => {
  for (const b of bots) b.leave();
  await browser?.close();
  await server?.close();
});

/** Waits until the pages and bots show one code for a group of `members`; returns it. */
async function agreed(pages: Page[], inBots: NodeParticipant[], members: number, notEqual?: string): Promise<string> {
  return eventually(`${pages.length} pages and ${inBots.length} bots to agree on a ${members}-member code`, 45_000, async () => {
    const codes = await Promise.all(pages.map((p) => securityCode(p)));
    for (const b of inBots) {
      if (b.session.groupMembers.length !== members) return null;
      codes.push(b.session.securityCode ?? "");
    }
    const first = codes[0];
    return first && codes.every((c) => c === first) && first !== notEqual ? first : null;
  });
}

async function openSide(page: Page, button: string, panel: string): Promise<void> {
  if (await page.getByTestId(panel).isVisible()) return;
  await page.getByTestId(button).click();
  await page.getByTestId(panel).waitFor({ state: "visible" });
}

async function chatTexts(page: Page): Promise<{ from: string; text: string; private: boolean }[]> {
  return page.$$eval('[data-testid="chat-message"]', (els) =>
    els.map((e) => ({ from: e.getAttribute("data-from") ?? "", text: e.querySelector('[data-testid="chat-text"]')?.textContent ?? "", private: e.hasAttribute("data-private") })),
  );
}

async function sendChat(page: Page, text: string, recipient?: string): Promise<void> {
  await openSide(page, "chat-button", "chat-panel");
  if (recipient) await page.getByTestId("chat-recipient").selectOption({ label: `${recipient} (privately)` });
  else await page.getByTestId("chat-recipient").selectOption({ index: 0 });
  await page.getByTestId("chat-input").fill(text);
  await page.getByTestId("chat-input").press("Enter");
}

test("group chat both ways, in order and with names, between two browsers and a bot", async () => {
  const o1 = secret("Olive: agenda item one is the budget");
  const o2 = secret("Olive: item two is hiring");
  const b1 = secret("Bea: thanks, I have questions on item one");
  await sendChat(olive.page, o1);
  await sendChat(olive.page, o2);
  await eventually("Bea's page to show Olive's two messages", 20_000, async () => (await chatTexts(bea.page)).length === 2);
  await sendChat(bea.page, b1);
  const r1 = secret("Robo: noted, I will keep the minutes");
  await eventually("Robo to read three messages", 20_000, () => robo.collaboration.chat.entries.length === 3);
  await robo.collaboration.chat.send(r1);
  const expected = [
    { from: "Olive", text: o1, private: false },
    { from: "Olive", text: o2, private: false },
    { from: "Bea", text: b1, private: false },
    { from: "Robo", text: r1, private: false },
  ];
  for (const p of [olive.page, bea.page]) {
    await eventually("four messages on the page", 20_000, async () => (await chatTexts(p)).length === 4);
    assert.deepEqual(await chatTexts(p), expected);
  }
  assert.deepEqual(robo.collaboration.chat.entries.map((e) => [e.fromName, e.text]), expected.map((e) => [e.from, e.text]));
  await olive.page.screenshot({ path: screenshotPath("chat") });
});

test("a private message shows only at its recipient, and a third member's client handed its ciphertext cannot open it", async () => {
  const words = secret("Bea, just between us: the offer is 5% higher");
  const beaId = await bea.page.evaluate(() => window.conclave.memberId());
  const from = tapped.length;
  await sendChat(olive.page, words, "Bea");
  await eventually("Bea to read the private message", 20_000, async () => (await chatTexts(bea.page)).some((m) => m.text === words && m.private));
  assert.ok((await chatTexts(olive.page)).some((m) => m.text === words && m.private), "Olive sees it as private");
  assert.ok(!robo.collaboration.chat.entries.some((e) => e.text === words), "Robo never received it");
  // The message Olive's page sent went to Bea alone; hand its ciphertext to Robo as a server would.
  const sent = tapped
    .slice(from)
    .map((t) => JSON.parse(t) as { type: string; to?: string[]; message?: string })
    .filter((m) => m.type === "appMessage" && m.to?.length === 1 && m.to[0] === beaId)
    .at(-1);
  assert.ok(sent?.message, "the tap saw Olive's private message leave for Bea");
  const oliveId = (await olive.page.evaluate(() => window.conclave.memberId()))!;
  const errors: string[] = [];
  const off = robo.on("error", (e) => errors.push(e.code));
  roboInject.deliver!(encodeMessage({ type: "appMessage", from: oliveId, message: sent.message }));
  // Robo decrypts the MLS envelope (same epoch), then fails to open what is sealed inside with its
  // own leaf key: HPKE decryption fails (MLS_MESSAGE_REJECTED), not just an addressing check.
  await eventually("Robo's client to fail to open it", 10_000, () => errors.includes("MLS_MESSAGE_REJECTED"));
  assert.ok(!errors.includes("APP_MESSAGE_NOT_FOR_YOU"), "it never opened");
  off();
  assert.ok(!robo.collaboration.chat.entries.some((e) => e.text === words), "Robo's client shows nothing");
});

test("a reaction appears on the sender's tile for the others; raised hands queue in order for the host, who lowers them", async () => {
  const roboSaw = new Promise<string>((resolve) => robo.on("reaction", (r) => r.fromName === "Bea" && resolve(r.emoji)));
  await bea.page.getByTestId("reactions-button").click();
  await bea.page.locator('[data-testid="reaction-button"][data-emoji="👏"]').click();
  await olive.page.locator('[data-testid="video-tile"][data-participant-name="Bea"] [data-testid="tile-reaction"][data-emoji="👏"]').waitFor({ timeout: 10_000 });
  assert.equal(await roboSaw, "👏");

  await bea.page.getByTestId("raise-hand-button").click();
  await openSide(olive.page, "participants-button", "side-panel");
  await olive.page.locator('[data-testid="hand-entry"][data-participant-name="Bea"]').waitFor({ timeout: 10_000 });
  await robo.collaboration.reactions.raiseHand();
  await olive.page.locator('[data-testid="hand-entry"][data-participant-name="Robo"]').waitFor({ timeout: 10_000 });
  const queue = await olive.page.$$eval('[data-testid="hand-entry"]', (els) => els.map((e) => e.getAttribute("data-participant-name")));
  assert.deepEqual(queue, ["Bea", "Robo"], "the host sees hands in the order they went up");
  assert.equal(await olive.page.locator('[data-testid="video-tile"][data-participant-name="Bea"] [data-testid="tile-hand"]').isVisible(), true);

  await olive.page.locator('[data-testid="hand-entry"][data-participant-name="Bea"] [data-testid="lower-hand-button"]').click();
  await eventually("Bea's hand to come down on her page", 10_000, async () => (await bea.page.getByTestId("raise-hand-button").getAttribute("aria-pressed")) === "false");
  await eventually("the host's queue to hold Robo alone", 10_000, async () =>
    JSON.stringify(await olive.page.$$eval('[data-testid="hand-entry"]', (els) => els.map((e) => e.getAttribute("data-participant-name")))) === '["Robo"]',
  );
  await robo.collaboration.reactions.lowerHand();
});

test("a poll launched from the host's page: everyone votes once, the host sees the results live, and shares them", async () => {
  const question = secret("Which venue for the offsite?");
  const options = [secret("Lakeside lodge"), secret("City hotel"), secret("Mountain hut")];
  await openSide(olive.page, "polls-button", "polls-panel");
  await olive.page.getByTestId("poll-question").fill(question);
  await olive.page.getByTestId("poll-add-option").click();
  for (const [i, o] of options.entries()) await olive.page.getByTestId("poll-option-input").nth(i).fill(o);
  await olive.page.getByTestId("poll-anonymous").check();
  await olive.page.getByTestId("poll-launch").click();

  await openSide(bea.page, "polls-button", "polls-panel");
  const beaCard = bea.page.getByTestId("poll-card").filter({ hasText: question });
  await beaCard.waitFor({ timeout: 10_000 });
  await beaCard.locator('[data-testid="poll-choice"][data-option="1"]').check();
  await beaCard.getByTestId("poll-vote").click();
  await beaCard.getByTestId("poll-voted").waitFor();
  const poll = await eventually("Robo to get the poll", 10_000, () => robo.collaboration.polls.polls.find((p) => p.question === question));
  await robo.collaboration.polls.vote(poll.pollId, [1]);
  await assert.rejects(robo.collaboration.polls.vote(poll.pollId, [0]), "a second vote is refused");
  const oliveCard = olive.page.getByTestId("poll-card").filter({ hasText: question });
  await oliveCard.locator('[data-testid="poll-choice"][data-option="2"]').check();
  await oliveCard.getByTestId("poll-vote").click();

  const count = (page: Page, i: number) => page.getByTestId("poll-card").filter({ hasText: question }).locator(`[data-testid="poll-result"][data-option="${i}"]`).getAttribute("data-count");
  await eventually("the host's live results to count three votes", 15_000, async () => (await oliveCard.getByTestId("poll-results").getAttribute("data-voters")) === "3");
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => count(olive.page, i))), ["0", "2", "1"]);
  assert.equal(await beaCard.getByTestId("poll-results").count(), 0, "Bea sees no results before they are shared");
  await olive.page.screenshot({ path: screenshotPath("polls") });

  await oliveCard.getByTestId("poll-end").click();
  await oliveCard.getByTestId("poll-share").click();
  await beaCard.getByTestId("poll-results").waitFor({ timeout: 10_000 });
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => count(bea.page, i))), ["0", "2", "1"]);
  await eventually("Robo to get the shared results", 10_000, () => robo.collaboration.polls.poll(poll.pollId)?.results?.voters === 3);
});

test("a 5 MB file shared from one page downloads intact on the other (hash compared), decrypted in the browser", async () => {
  const data = randomBytes(5 * 1024 * 1024);
  const marker = secret("BROWSER-FILE-MARKER-7f3a9c");
  Buffer.from(marker).copy(data, 12_345);
  secrets.push(data.subarray(100_000, 100_048).toString("base64"));
  const name = secret("board-pack-q3.bin");
  await openSide(bea.page, "chat-button", "chat-panel");
  await bea.page.getByTestId("chat-recipient").selectOption({ index: 0 });
  await bea.page.getByTestId("chat-file-input").setInputFiles({ name, mimeType: "application/octet-stream", buffer: data });
  await openSide(olive.page, "chat-button", "chat-panel");
  const link = olive.page.locator(`[data-testid="file-download"][data-file-name="${name}"]`);
  await link.waitFor({ timeout: 30_000 });
  const [download] = await Promise.all([olive.page.waitForEvent("download"), link.click()]);
  const got = await readFile((await download.path())!);
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  assert.equal(got.length, data.length);
  assert.equal(sha(got), sha(data));
  // The bot downloads and decrypts it too.
  const entry = await eventually("Robo to see the file", 20_000, () => robo.collaboration.chat.entries.find((e) => e.file?.name === name));
  assert.equal(sha(await robo.collaboration.chat.download(entry.id)), sha(data));
});

test("breakout rooms from the host's page: each room's members share a code unlike the main meeting's, bots in different rooms do not decrypt each other's media, a broadcast reaches every room, and everyone returns on close", async () => {
  const robo2 = new NodeParticipant({ link: server.link(meeting), displayName: "Robo Two", ca: server.ca });
  bots.push(robo2);
  await robo2.join();
  const main = await agreed([olive.page, bea.page], [robo, robo2], 4);

  await openSide(olive.page, "breakout-button", "breakout-panel");
  await olive.page.getByTestId("breakout-room-name").nth(0).fill(secret("Design corner"));
  await olive.page.getByTestId("breakout-room-name").nth(1).fill(secret("Numbers room"));
  await olive.page.getByTestId("breakout-room-count").press("Tab");
  await olive.page.locator('[data-testid="breakout-assign"][data-member-name="Bea"]').selectOption("0");
  await olive.page.locator('[data-testid="breakout-assign"][data-member-name="Robo"]').selectOption("0");
  await olive.page.locator('[data-testid="breakout-assign"][data-member-name="Robo Two"]').selectOption("1");
  await olive.page.getByTestId("breakout-open").click();

  await bea.page.getByTestId("breakout-banner").waitFor({ timeout: 20_000 });
  assert.match((await bea.page.getByTestId("breakout-banner").textContent()) ?? "", /Design corner/);
  const room1 = await agreed([bea.page], [robo], 2, main);
  await eventually("Robo Two alone in room 2", 20_000, () => robo2.session.room === "room2" && robo2.session.groupMembers.length === 1);
  assert.notEqual(room1, robo2.session.securityCode);
  await olive.page.screenshot({ path: screenshotPath("breakout-rooms") });

  // Media: Robo decrypts Bea (same room) and nothing more of Robo Two (other room).
  const before = { ...robo.stats().perSender };
  const beaId = (await bea.page.evaluate(() => window.conclave.memberId()))!;
  await eventually("Robo to decrypt Bea's frames in their room", 30_000, () => (robo.stats().perSender[beaId] ?? 0) - (before[beaId] ?? 0) >= 20);
  assert.equal((robo.stats().perSender[robo2.memberId] ?? 0) - (before[robo2.memberId] ?? 0), 0, "nothing from the other room");
  const frame = new Uint8Array(200).fill(9);
  frame[0] = 0x10;
  await assert.rejects(robo.session.unprotect("vp8", await robo2.session.protect("vp8", frame)));

  // The host's broadcast reaches every room; then the host visits room 2.
  const heard = robo2.collaboration.breakout.once("broadcast");
  await olive.page.getByTestId("breakout-broadcast-input").fill(secret("Five minutes left, please wrap up"));
  await olive.page.getByTestId("breakout-broadcast-send").click();
  await bea.page.getByTestId("breakout-broadcast-toast").waitFor({ timeout: 10_000 });
  assert.match((await bea.page.getByTestId("breakout-broadcast-toast").textContent()) ?? "", /Five minutes left/);
  assert.equal((await heard).text, "Five minutes left, please wrap up");
  await olive.page.locator('[data-testid="breakout-visit"][data-room-id="room2"]').click();
  const visit = await agreed([olive.page], [robo2], 2);
  assert.notEqual(visit, room1);

  await openSide(olive.page, "breakout-button", "breakout-panel");
  await olive.page.getByTestId("breakout-close").click();
  const back = await agreed([olive.page, bea.page], [robo, robo2], 4, main);
  assert.ok(![main, room1, visit].includes(back));
  await bea.page.getByTestId("breakout-banner").waitFor({ state: "hidden" });
});

test("chat turned off at account level with a lock: gone from every page, refused by the SDK, and refused by receivers when sent anyway", async () => {
  await apiOk(olive.page, "PATCH", "/api/settings/account", { inMeetingChat: { value: false, locked: true }, privateChat: { value: false, locked: true } });
  for (const p of [olive.page, bea.page]) await p.getByTestId("chat-button").waitFor({ state: "hidden", timeout: 10_000 });
  await eventually("Robo to hear chat is off", 10_000, () => !robo.session.features.inMeetingChat);
  await assert.rejects(robo.collaboration.chat.send("x"), (e) => isProtocolError(e, "FEATURE_DISABLED"));
  // A modified app that believes chat is on: the pages refuse what it sends.
  roboInject.deliver!(encodeMessage({ type: "meetingState", locked: false, features: { ...robo.session.features, inMeetingChat: true } }));
  await eventually("Robo's app to believe chat is on", 5_000, () => robo.session.features.inMeetingChat);
  const before = (await olive.page.evaluate(() => window.conclave.errors())).filter((c) => c === "FEATURE_DISABLED").length;
  await robo.collaboration.chat.send(secret("this should never show"));
  await eventually("Olive's page to refuse it", 10_000, async () => (await olive.page.evaluate(() => window.conclave.errors())).filter((c) => c === "FEATURE_DISABLED").length > before);
  await openSide(olive.page, "participants-button", "side-panel");
  assert.equal(await olive.page.locator('[data-testid="chat-message"]').filter({ hasText: "this should never show" }).count(), 0);
  await apiOk(olive.page, "PATCH", "/api/settings/account", { inMeetingChat: { value: null, locked: false }, privateChat: { value: null, locked: false } });
  await olive.page.getByTestId("chat-button").waitFor({ state: "visible", timeout: 10_000 });
});

test("the server-side tap over every signaling message saw none of the chat text, file bytes, poll questions or answers, room names or broadcasts", () => {
  assert.ok(tapped.length > 200, `${tapped.length} frames`);
  const everything = tapped.join("\n");
  for (const s of secrets) assert.ok(!everything.includes(s) && !everything.includes(JSON.stringify(s).slice(1, -1)), `a signaling message carries "${s.slice(0, 40)}"`);
});
