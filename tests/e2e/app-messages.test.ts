/**
 * End-to-end encrypted application messages through the real server (docs/protocol.md §6.1):
 * members read each other's, the server relays them without being able to read them, targeted
 * messages reach only their targets, waiting people get none, and a scripted malicious member's
 * oversized, foreign, non-application, flooded and replayed messages are refused with clear codes
 * while everyone else carries on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MlsSession, encodeMessage, toBase64, type AppMessage } from "@conclave/protocol";
import { MeetingMediaState, type AppMessageEvent, type MeetingSession } from "@conclave/client";
import { joinBot, joinSession, startTestServer, waitFor, waitForAgreement } from "./support/harness.js";

function received(s: MeetingSession): AppMessageEvent[] {
  const got: AppMessageEvent[] = [];
  s.on("appMessage", (m) => got.push(m));
  return got;
}

function errorsOf(s: MeetingSession): string[] {
  const codes: string[] = [];
  s.on("error", (e) => codes.push(e.code));
  return codes;
}

test("application messages reach the group (or only their targets) decrypted and attributed, while the server relays ciphertext", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const frames = { ada: [] as string[], bob: [] as string[], cy: [] as string[] };
  const ada = await joinSession(server, meeting, "Ada", { record: frames.ada });
  const bob = await joinSession(server, meeting, "Bob", { record: frames.bob });
  const cy = await joinSession(server, meeting, "Cy", { record: frames.cy });
  t.after(() => [ada, bob, cy].forEach((s) => s.leave()));
  await waitForAgreement([ada, bob, cy], 3);
  const [atBob, atCy, atAda] = [received(bob), received(cy), received(ada)];

  const mute: AppMessage = { v: 1, type: "mediaState", mic: false, camera: true, screen: false };
  await ada.sendAppMessage(mute);
  await waitFor("Bob and Cy to read Ada's state", 10_000, (wake) => {
    const offs = [bob.on("appMessage", wake), cy.on("appMessage", wake)];
    return () => offs.forEach((o) => o());
  }, () => atBob.length === 1 && atCy.length === 1);
  for (const got of [atBob[0]!, atCy[0]!]) {
    assert.equal(got.from, ada.memberId);
    assert.equal(got.fromName, "Ada");
    assert.deepEqual(got.message, mute);
    assert.equal(got.epoch, ada.epoch);
  }
  assert.equal(atAda.length, 0, "the sender does not get its own message back");

  // To Cy only: Bob gets nothing.
  const spot: AppMessage = { v: 1, type: "spotlight", memberIds: [cy.memberId] };
  await ada.sendAppMessage(spot, [cy.memberId]);
  await waitFor("Cy to read the targeted message", 10_000, (wake) => cy.on("appMessage", wake), () => atCy.length === 2);
  assert.deepEqual(atCy[1]!.message, spot);
  // Bob's connection carries on in order: a later broadcast arrives, the targeted one never did.
  await ada.sendAppMessage(mute);
  await waitFor("Bob to read the next broadcast", 10_000, (wake) => bob.on("appMessage", wake), () => atBob.length === 2);
  assert.ok(atBob.every((m) => m.message.type === "mediaState"));

  // What the server relayed is ciphertext: no receiver's raw frames carry the payload's words.
  const relayed = [...frames.bob, ...frames.cy].filter((f) => f.includes('"appMessage"'));
  assert.ok(relayed.length >= 3);
  for (const f of relayed) {
    assert.deepEqual(Object.keys(JSON.parse(f) as object).sort(), ["from", "message", "type"]);
    assert.ok(!/mediaState|spotlight|camera/.test(Buffer.from((JSON.parse(f) as { message: string }).message, "base64").toString("latin1")));
  }
});

test("a malicious member's oversized, non-application, foreign, garbage, flooded and replayed messages are refused by name; the others carry on", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const raw: { send?: (text: string) => void } = {};
  const mallory = await joinSession(server, meeting, "Mallory", { raw });
  const adaFrames: string[] = [];
  const ada = await joinSession(server, meeting, "Ada", { record: adaFrames });
  t.after(() => [mallory, ada].forEach((s) => s.leave()));
  await waitForAgreement([mallory, ada], 2);
  const malloryErrors = errorsOf(mallory);
  const adaErrors = errorsOf(ada);
  const atAda = received(ada);
  const send = (message: string) => raw.send!(encodeMessage({ type: "appMessage", message }));
  const nextError = (code: string) => waitFor(`Mallory to be told ${code}`, 10_000, (wake) => mallory.on("error", wake), () => malloryErrors.includes(code));

  send(toBase64(new Uint8Array(64 * 1024)));
  await nextError("APP_MESSAGE_TOO_LARGE");
  send(toBase64(new Uint8Array([1, 2, 3, 4])));
  await nextError("APP_MESSAGE_REJECTED");
  const rejections = () => malloryErrors.filter((c) => c === "APP_MESSAGE_REJECTED").length;
  // A handshake message (a commit, a PublicMessage) smuggled in as application data, and a real
  // application message of another group: framing the server can check without any key.
  const foreign = await MlsSession.create(new TextEncoder().encode("another group"), { kind: "person", memberId: "x1", displayName: "X" });
  const commit = await foreign.commit({});
  send(toBase64(commit.commit));
  await waitFor("the commit to be refused", 10_000, (wake) => mallory.on("error", wake), () => rejections() >= 2);
  await foreign.applyPendingCommit();
  send(toBase64(await foreign.encryptApplicationMessage(new Uint8Array([1]))));
  await waitFor("the foreign message to be refused", 10_000, (wake) => mallory.on("error", wake), () => rejections() >= 3);
  assert.equal(atAda.length, 0, "nothing refused reached Ada");

  // A valid message, then its replay: the server cannot tell, Ada's MLS layer refuses it.
  await mallory.sendAppMessage({ v: 1, type: "mediaState", mic: true, camera: false, screen: false });
  await waitFor("Ada to read it", 10_000, (wake) => ada.on("appMessage", wake), () => atAda.length === 1);
  const captured = adaFrames.map((f) => JSON.parse(f) as { type: string; message?: string }).find((m) => m.type === "appMessage")?.message;
  assert.ok(captured);
  send(captured);
  await waitFor("Ada to refuse the replay", 10_000, (wake) => ada.on("error", wake), () => adaErrors.includes("MLS_REPLAY"));
  assert.equal(atAda.length, 1);

  // A flood: beyond 100 in 10 s the server refuses (the sender is told once per message).
  for (let i = 0; i < 110; i++) send(toBase64(new Uint8Array([i])));
  await nextError("APP_MESSAGE_RATE_LIMITED");

  // Ada is unharmed: still in the group, same epoch as Mallory, and Mallory's socket is open.
  assert.equal(ada.state, "inGroup");
  await waitForAgreement([mallory, ada], 2);
});

test("a waiting participant receives no application messages", async (t) => {
  const server = await startTestServer({ meetingPolicy: () => ({ waitingRoom: true, joinBeforeHost: true }) });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const ada = await joinSession(server, meeting, "Ada", { asHost: true });
  const frames: string[] = [];
  const wren = await joinSession(server, meeting, "Wren", { record: frames });
  t.after(() => [host, ada, wren].forEach((s) => s.leave()));
  await wren.once("waiting");
  await waitForAgreement([host, ada], 2);
  const atAda = received(ada);
  await host.sendAppMessage({ v: 1, type: "mediaState", mic: false, camera: false, screen: false });
  await waitFor("Ada to read it", 10_000, (wake) => ada.on("appMessage", wake), () => atAda.length === 1);
  // (`pong`s answer Wren's own liveness pings: not meeting traffic.)
  assert.deepEqual(frames.map((f) => (JSON.parse(f) as { type: string }).type).filter((type) => type !== "pong"), ["waiting"]);
});

test("host requests and spotlights count only from hosts: a participant's are refused and ignored, a host's mute mutes a bot", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const bot = await joinBot(server, meeting, "Bot", { sendMedia: true });
  const eve = await joinSession(server, meeting, "Eve");
  t.after(() => [host, eve].forEach((s) => s.leave()));
  t.after(() => bot.leave());
  await waitForAgreement([host, bot.session, eve], 3);
  const errors: string[] = [];
  bot.on("error", (e) => errors.push(e.code));
  const eveState = new MeetingMediaState(eve, { mic: true, camera: true, screen: false });
  const hostState = new MeetingMediaState(host, { mic: true, camera: true, screen: false });
  t.after(() => [eveState, hostState].forEach((s) => s.close()));

  // Eve is no host: her mute request and spotlight are refused by name and change nothing.
  eveState.request(bot.memberId, "mute");
  eveState.setSpotlight([eve.memberId]);
  await waitFor("the bot to refuse both", 10_000, (wake) => bot.on("error", wake), () => errors.filter((c) => c === "APP_MESSAGE_NOT_ALLOWED").length >= 2);
  assert.deepEqual(bot.spotlight, []);
  // The host's mute: the bot mutes itself and tells everyone (encrypted).
  const muted = waitFor("the host to see the bot muted", 10_000, (wake) => hostState.on("remote", wake), () => hostState.remote.get(bot.memberId)?.mic === false);
  hostState.request(bot.memberId, "mute");
  await muted;
  hostState.setSpotlight([bot.memberId]);
  await waitFor("the bot to follow the spotlight", 10_000, (wake) => bot.session.on("appMessage", wake), () => bot.spotlight.includes(bot.memberId));
  assert.deepEqual(bot.spotlight, [bot.memberId]);
});
