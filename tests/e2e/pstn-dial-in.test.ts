// Phone dial-in through a SIP trunk, with a real phone: Debian's baresip (UDP, PCMU, DTMF as RTP
// telephone events) calling the trunk address of the server's SIP gateway. The phone connector
// runs the IVR (espeak-ng prompts), then joins as a visible MLS member of kind `pstn`.
import { test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { Decoder } from "@evan/opus";
import { NodeParticipant } from "@conclave/client/node";
import type { EpochEvent } from "@conclave/client";
import { computeShield } from "@conclave/protocol";
import { requireSystemBinary } from "@conclave/test-support";
import { Baresip, requireBaresip, toneCorrelation, type BaresipOptions } from "./support/baresip.js";
import { waitFor } from "./support/harness.js";
import { phoneHearsTone, PhoneTrunkServer, voiceAtBot, waitEpoch } from "./support/phone-trunk.js";

let s: PhoneTrunkServer;
const PASSCODE_LIMIT = 5;

before(async () => {
  requireBaresip();
  requireSystemBinary("espeak-ng");
  // The trunk is 127.0.0.1 (where the test's phone calls from); 127.0.0.2 is "anywhere else".
  s = await PhoneTrunkServer.start({
    trunks: [{ address: "127.0.0.1" }],
    // A meeting is "under attack" after PASSCODE_LIMIT failures from anywhere (attempt-guard.ts).
    // A long window: the restart test's failures must all fall in one on a loaded machine.
    limits: { targetFailures: PASSCODE_LIMIT, windowMs: 600_000 },
  });
});

after(() => s.close());

const bot = (meeting: { id: string; passcode: string | null }, name: string) => s.bot(meeting, name);
const prompt = (...a: Parameters<PhoneTrunkServer["prompt"]>) => s.prompt(...a);
const callEvent = (...a: Parameters<PhoneTrunkServer["callEvent"]>) => s.callEvent(...a);

/** The error a web join gets (it must be refused). */
async function refusal(meeting: { id: string; passcode: string | null }, name: string): Promise<string> {
  const p = new NodeParticipant({ link: s.link(meeting), displayName: name, ca: s.ca });
  const error = new Promise<{ code: string }>((resolve) => p.on("error", resolve));
  void p.join().catch(() => undefined);
  const code = (await error).code;
  p.leave();
  return code;
}

async function phone(user: string, opts: Partial<BaresipOptions> = {}): Promise<Baresip> {
  return Baresip.start({ user, transport: "udp", mediaenc: "none", audioCodecs: "PCMU/8000/1", video: false, channels: 1, rate: 8000, toneHz: 1000, ...opts });
}

function dialTrunk(p: Baresip): void {
  // The gateway's port now (a restarted gateway listens on a new ephemeral port).
  p.dial(`sip:+15550100@127.0.0.1:${s.sipPort("udp")}`);
}

/**
 * An Enhanced meeting with a host (admin token) and a bot, and a phone ending in `last4` dialed in
 * through the IVR: returns once the gateway reports the phone joined.
 */
async function hostBotAndPhone(t: TestContext, last4: string) {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const hostP = new NodeParticipant({
    link: `https://127.0.0.1:${s.server.port}/m/${meeting.id}#pwd=${meeting.passcode}`,
    displayName: "Hostess",
    ca: s.ca,
    headers: { authorization: `Bearer ${s.server.adminToken}` },
  });
  const host = { p: hostP, epochs: [] as EpochEvent[] };
  hostP.on("epoch", (e) => host.epochs.push(e));
  await hostP.join();
  const other = await bot(meeting, "Bartholomew");
  const caller = await phone(`1555010${last4}`);
  t.after(async () => {
    hostP.leave();
    other.p.leave();
    await caller.close();
  });
  await waitEpoch(host, "host and bot in the group", (e) => e.members.length === 2);
  const name = `Phone \u2022\u2022\u2022 ${last4}`;
  dialTrunk(caller);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  caller.sendDtmf(`${meeting.id}#`);
  await prompt(name, "passcode", "start");
  const joined = callEvent(meeting.id, "joined");
  caller.sendDtmf(`${s.server.sip!.phonePasscode(meeting.id)!}#`);
  const connectorId = (await joined).memberId as string;
  return { meeting, hostP, host, other, caller, name, connectorId };
}

/** A rendered prompt (8 kHz, as a G.711 phone hears it). */
async function promptPcm(id: string): Promise<Float64Array> {
  const dir = join(s.dataDir, "prompts");
  const file = (await readdir(dir)).find((f) => f.startsWith(`${id}-`) && f.endsWith("-8000.s16"))!;
  const b = await readFile(join(dir, file));
  const out = new Float64Array(b.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2);
  return out;
}

/**
 * The best normalized cross-correlation of a 0.4 s piece of `reference` (8 kHz, from its first
 * loud sample) against `signal` (decimated to 8 kHz) at any lag: near 1 when the phone heard it.
 */
function heardPrompt(signal: Float64Array, rate: number, reference: Float64Array): number {
  const factor = Math.round(rate / 8000);
  const low = new Float64Array(Math.floor(signal.length / factor));
  for (let i = 0; i < low.length; i++) {
    let acc = 0;
    for (let k = 0; k < factor; k++) acc += signal[i * factor + k]!;
    low[i] = acc / factor;
  }
  const start = reference.findIndex((v) => Math.abs(v) > 2000);
  const piece = reference.subarray(start, start + 3200);
  let pieceEnergy = 0;
  for (const v of piece) pieceEnergy += v * v;
  let best = 0;
  for (let lag = 0; lag + piece.length <= low.length; lag += 1) {
    let dot = 0;
    let energy = 0;
    for (let i = 0; i < piece.length; i++) {
      const x = low[lag + i]!;
      dot += x * piece[i]!;
      energy += x * x;
    }
    if (energy <= 0) continue;
    const ncc = dot / Math.sqrt(energy * pieceEnergy);
    if (ncc > best) best = ncc;
  }
  return best;
}

test("a phone on the trunk dials in: a wrong meeting ID gets the 'not valid' prompt, the right ID and phone passcode get it in as 'Phone ••• 1234' (kind pstn, shield partial); bots decrypt its voice, it hears a bot's tone, and its hang-up rekeys the group", { timeout: 180_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const phonePasscode = s.server.sip!.phonePasscode(meeting.id)!;
  assert.match(phonePasscode, /^[0-9]{8}$/);
  const a = await bot(meeting, "Ada");
  const b = await bot(meeting, "Bob");
  const caller = await phone("15550101234");
  t.after(async () => {
    a.p.leave();
    b.p.leave();
    await caller.close();
  });
  await waitEpoch(a, "two bots in the group", (e) => e.members.length === 2);
  const name = "Phone \u2022\u2022\u2022 1234";

  dialTrunk(caller);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  caller.sendDtmf("99999999999#");
  await prompt(name, "badMeetingId", "end");
  caller.sendDtmf(`${meeting.id}#`);
  await prompt(name, "passcode", "start");
  const joined = callEvent(meeting.id, "joined");
  caller.sendDtmf(`${phonePasscode}#`);
  const joinedEvent = await joined;
  const connectorId = joinedEvent.memberId as string;

  // The phone is a visible member: kind pstn, the last four digits only, its trunk leg described.
  const three = await waitEpoch(a, "the phone in Ada's group", (e) => e.members.length === 3);
  const member = three.members.find((m) => m.identity.kind === "connector")!.identity;
  assert.equal(member.memberId, connectorId);
  assert.equal(member.displayName, name);
  assert.deepEqual(member.kind === "connector" ? [member.connector, member.farLeg] : [], ["pstn", { protocol: "SIP", signaling: "udp", media: "rtp" }]);
  const shield = computeShield(three.encryption, three.members.map((m) => m.identity));
  assert.equal(shield.state, "partial");
  assert.deepEqual(shield.exceptions.map((e) => [e.displayName, e.connector, e.protection]), [[name, "pstn", "unencrypted"]]);
  assert.match(shield.exceptions[0]!.reason, /phone/i);
  const bThree = await waitEpoch(b, "the phone in Bob's group", (e) => e.epoch === three.epoch);
  assert.equal(bThree.securityCode, three.securityCode);
  assert.equal(joinedEvent.securityCode, three.securityCode);

  // Bots decrypt the phone's voice (SFrame under the connector's key): baresip's 1000 Hz tone.
  const fromPhone: Int16Array[] = [];
  const decoder = new Decoder({ channels: 1, sample_rate: 48000 });
  a.p.on("frame", (f) => {
    if (f.ownerId === connectorId && f.kind === "audio" && fromPhone.length < 300) {
      const pcm = decoder.decode(f.frame);
      fromPhone.push(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1).slice());
    }
  });
  await waitFor("both bots to decrypt the phone's audio", 40_000, (wake) => {
    const offs = [a.p.on("frame", wake), b.p.on("frame", wake)];
    return () => offs.forEach((o) => o());
  }, () => [a, b].every((x) => (x.p.stats().bySender[connectorId]?.audio ?? 0) >= 150) || undefined);
  for (const x of [a, b]) assert.equal(x.p.stats().decryptFailures, 0);
  const voice = Float64Array.from(fromPhone.flatMap((f) => [...f]));
  assert.ok(toneCorrelation(voice, 48000, 1000) > 0.6, "the phone's 1000 Hz tone reaches the meeting");

  // The bots' tone reaches the phone (its decoded audio, read while the call goes on).
  await phoneHearsTone(caller, 440, 30_000);

  // Hanging up removes the member; the group rekeys without it.
  caller.hangup();
  await caller.waitEvent("CALL_CLOSED", 15_000);
  const after = await waitEpoch(a, "the group without the phone", (e) => e.members.length === 2 && e.epoch > three.epoch);
  assert.notEqual(after.securityCode, three.securityCode);

  // What the phone heard: the "not valid" prompt, and the bots' 440 Hz tone (cross-correlation).
  const heard = caller.receivedAudio();
  const notValid = heardPrompt(heard.samples, heard.rate, await promptPcm("badMeetingId"));
  const neverPlayed = heardPrompt(heard.samples, heard.rate, await promptPcm("e2ee"));
  assert.ok(notValid > 0.7, `the phone heard "that meeting ID is not valid" (correlation ${notValid.toFixed(2)})`);
  assert.ok(neverPlayed < notValid - 0.2, `a prompt never played correlates less (${neverPlayed.toFixed(2)})`);
  const tone = toneCorrelation(heard.samples, heard.rate, 440);
  assert.ok(tone > 0.6, `the bots' 440 Hz tone is in the phone's recording (correlation ${tone.toFixed(2)})`);
});

test("a call from an address that is not a configured trunk is refused with 403", { timeout: 60_000 }, async (t) => {
  const outsider = await phone("15550109999", { address: "127.0.0.2" });
  t.after(() => outsider.close());
  dialTrunk(outsider);
  const closed = await outsider.waitEvent("CALL_CLOSED", 30_000);
  assert.match(String(closed.param), /403/);
  assert.equal(s.ivrEvents.filter((e) => e.displayName === "Phone \u2022\u2022\u2022 9999").length, 0, "no IVR ran for it");
});

test("too many wrong phone passcodes end the call, and they count against the meeting's guessing limit like web joins (then addresses that failed are refused, even with the right passcode)", { timeout: 120_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const caller = await phone("15550105555");
  t.after(() => caller.close());
  const name = "Phone \u2022\u2022\u2022 5555";
  dialTrunk(caller);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  caller.sendDtmf(`${meeting.id}#`);
  await prompt(name, "passcode", "start");
  caller.sendDtmf("11111111#");
  await prompt(name, "badPasscode", "start", 1);
  caller.sendDtmf("22222222#");
  await prompt(name, "badPasscode", "start", 2);
  caller.sendDtmf("33333333#");
  await prompt(name, "tooManyAttempts", "end");
  await caller.waitEvent("CALL_CLOSED", 15_000);

  // Three wrong phone passcodes + two wrong web passcodes reach the meeting's limit of five: the
  // meeting is under attack, and an address that failed is refused even with the right passcode.
  for (let i = 0; i < PASSCODE_LIMIT - 3; i++) {
    assert.equal(await refusal({ id: meeting.id, passcode: "wrongwrong" }, `Guess ${i}`), "WRONG_PASSCODE");
  }
  assert.equal(await refusal(meeting, "Ada"), "RATE_LIMITED", "the phone's failures counted: the meeting is under attack after only two web failures");
});

test("an end-to-end encrypted meeting refuses the phone with a spoken explanation and a hang-up", { timeout: 90_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "e2ee", passcode: true });
  const caller = await phone("15550107777");
  t.after(() => caller.close());
  const name = "Phone \u2022\u2022\u2022 7777";
  dialTrunk(caller);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  caller.sendDtmf(`${created.meeting.id}#`);
  await prompt(name, "e2ee", "end");
  await caller.waitEvent("CALL_CLOSED", 15_000);
  const heard = caller.receivedAudio();
  const e2ee = heardPrompt(heard.samples, heard.rate, await promptPcm("e2ee"));
  assert.ok(e2ee > 0.7, `the phone heard the end-to-end encryption explanation (correlation ${e2ee.toFixed(2)})`);
  assert.equal(s.ivrEvents.some((e) => e.displayName === name && e.prompt === "passcode"), false, "it was never asked for a passcode");
});

test("with the phoneDialIn setting off, the phone hears that dial-in is off for this meeting and the call ends, without being asked for a passcode", { timeout: 90_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const settings = s.server.context.database.settings;
  settings.writeAccount({ phoneDialIn: { value: false } });
  const caller = await phone("15550101357");
  t.after(async () => {
    settings.writeAccount({ phoneDialIn: { value: null, locked: false } });
    await caller.close();
  });
  const name = "Phone \u2022\u2022\u2022 1357";
  dialTrunk(caller);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  caller.sendDtmf(`${created.meeting.id}#`);
  await prompt(name, "dialInOff", "end");
  await caller.waitEvent("CALL_CLOSED", 15_000);
  const heard = caller.receivedAudio();
  const off = heardPrompt(heard.samples, heard.rate, await promptPcm("dialInOff"));
  assert.ok(off > 0.7, `the phone heard "phone dial in is turned off for this meeting" (correlation ${off.toFixed(2)})`);
  assert.equal(s.ivrEvents.some((e) => e.displayName === name && e.prompt === "passcode"), false, "it was never asked for a passcode");
});

test("a phone waits in the waiting room hearing a prompt and nothing of the meeting until a host admits it; *6 mutes and unmutes its voice", { timeout: 150_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true, waitingRoom: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const hostP = new NodeParticipant({
    link: `https://127.0.0.1:${s.server.port}/m/${meeting.id}#pwd=${meeting.passcode}`,
    displayName: "Host",
    ca: s.ca,
    headers: { authorization: `Bearer ${s.server.adminToken}` },
  });
  const host = { p: hostP, epochs: [] as EpochEvent[] };
  hostP.on("epoch", (e) => host.epochs.push(e));
  await hostP.join();
  const caller = await phone("15550103333");
  t.after(async () => {
    hostP.leave();
    await caller.close();
  });
  const name = "Phone \u2022\u2022\u2022 3333";
  await waitEpoch(host, "the host in the group", (e) => e.members.length === 1);
  dialTrunk(caller);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  caller.sendDtmf(`${meeting.id}#`);
  await prompt(name, "passcode", "start");
  caller.sendDtmf(`${s.server.sip!.phonePasscode(meeting.id)!}#`);

  // Waiting: the prompt, no keys, no member.
  await prompt(name, "waiting", "start");
  const waiting = await waitFor("the phone in the waiting list", 30_000, (wake) => hostP.session.on("waitingList", wake), () => hostP.session.waitingList.find((w) => w.displayName === name));
  assert.equal(host.epochs.at(-1)!.members.length, 1, "no keys while waiting");
  const joined = callEvent(meeting.id, "joined");
  hostP.session.admit(waiting.memberId);
  const connectorId = (await joined).memberId as string;
  await prompt(name, "joined", "start");
  await waitEpoch(host, "the phone admitted", (e) => e.members.length === 2);

  // Its voice reaches the host; *6 stops it (the connector sends nothing), *6 again resumes it.
  const frames = () => hostP.stats().bySender[connectorId]?.audio ?? 0;
  await waitFor("the phone's voice at the host", 30_000, (wake) => hostP.on("frame", wake), () => (frames() >= 50 ? true : undefined));
  caller.sendDtmf("*6");
  await prompt(name, "muted", "start");
  const atMute = frames();
  await prompt(name, "muted", "end");
  assert.ok(frames() - atMute < 10, `muted: ${frames() - atMute} frames reached the host while the 'muted' prompt played`);
  caller.sendDtmf("*6");
  await prompt(name, "unmuted", "start");
  const atUnmute = frames();
  await waitFor("the phone's voice again after *6", 30_000, (wake) => hostP.on("frame", wake), () => (frames() >= atUnmute + 50 ? true : undefined));
});

test("a host's mute request mutes the phone: its voice stops reaching the others, everyone sees it muted, it hears why; a non-host's request is ignored; *6 unmutes; a host muting everyone mutes the phone too", { timeout: 180_000 }, async (t) => {
  const { hostP, host, other, caller, name, connectorId } = await hostBotAndPhone(t, "4444");
  await waitEpoch(other, "the phone in the bot's group", (e) => e.members.length === 3);
  await waitEpoch(host, "the phone in the host's group", (e) => e.members.length === 3);

  // What the bot sees of the phone: its decrypted voice frames and its announced mic state.
  const frames = () => other.p.stats().bySender[connectorId]?.audio ?? 0;
  const micOf = new Map<string, boolean>();
  const stateChanges: (() => void)[] = [];
  other.p.on("mediaState", ({ memberId, state }) => {
    micOf.set(memberId, state.mic);
    for (const wake of stateChanges) wake();
  });
  const hostSees = new Map<string, boolean>();
  hostP.on("mediaState", ({ memberId, state }) => hostSees.set(memberId, state.mic));
  const phoneMic = (mic: boolean, ms = 30_000) =>
    waitFor(`the bot to see the phone's mic ${mic ? "on" : "off"}`, ms, (wake) => {
      stateChanges.push(wake);
      return () => stateChanges.splice(stateChanges.indexOf(wake), 1);
    }, () => (micOf.get(connectorId) === mic ? true : undefined));
  const voiceFlows = async (what: string) => {
    const from = frames();
    await waitFor(what, 30_000, (wake) => other.p.on("frame", wake), () => (frames() >= from + 50 ? true : undefined));
  };
  await voiceFlows("the phone's voice at the bot");

  // A member who is not a host asks the phone to mute: ignored (the voice keeps flowing).
  other.p.requestMute(connectorId, "mute");
  await voiceFlows("the phone's voice after a non-host's mute request");
  await voiceFlows("the phone's voice still after a non-host's mute request");
  assert.notEqual(micOf.get(connectorId), false, "a non-host's request did not mute the phone");

  // The host mutes the phone: the caller hears why, the voice stops, everyone sees it muted.
  hostP.requestMute(connectorId, "mute");
  await prompt(name, "hostMuted", "start");
  const atMute = frames();
  await phoneMic(false);
  await prompt(name, "hostMuted", "end");
  assert.ok(frames() - atMute < 10, `host-muted: ${frames() - atMute} frames of the phone reached the bot during the prompt`);
  await waitFor("the host to see the phone muted", 30_000, (wake) => hostP.on("mediaState", wake), () => (hostSees.get(connectorId) === false ? true : undefined));

  // The host asks it to unmute: a prompt only (the caller decides); still muted.
  hostP.requestMute(connectorId, "askUnmute");
  await prompt(name, "askUnmute", "end");
  assert.ok(frames() - atMute < 20, "asking to unmute does not unmute the phone");
  assert.equal(micOf.get(connectorId), false);

  // The caller unmutes with *6: the voice flows again and everyone sees it unmuted.
  caller.sendDtmf("*6");
  await prompt(name, "unmuted", "start");
  await phoneMic(true);
  await voiceFlows("the phone's voice after *6");

  // "Mute everyone": the host sends every other member a mute request; the phone obeys like the bot.
  for (const m of host.epochs.at(-1)!.members) if (m.identity.memberId !== hostP.memberId) hostP.requestMute(m.identity.memberId, "mute");
  await prompt(name, "hostMuted", "start", 2);
  const atMuteAll = frames();
  await phoneMic(false);
  await waitFor("the host to see the bot muted", 30_000, (wake) => hostP.on("mediaState", wake), () => (hostSees.get(other.p.memberId) === false ? true : undefined));
  await prompt(name, "hostMuted", "end", 2);
  assert.ok(frames() - atMuteAll < 10, `muted with everyone: ${frames() - atMuteAll} frames of the phone reached the bot`);

  // The phone heard the host's mute prompt (cross-correlation with its rendering).
  caller.hangup();
  await caller.waitEvent("CALL_CLOSED", 15_000);
  const heard = caller.receivedAudio();
  const hostMuted = heardPrompt(heard.samples, heard.rate, await promptPcm("hostMuted"));
  assert.ok(hostMuted > 0.7, `the phone heard "the host muted you" (correlation ${hostMuted.toFixed(2)})`);
});

test("a host renames the phone for everyone (a non-host cannot, and a person cannot be renamed) and removes it: the caller hears why, the call is hung up and the group rekeys without it", { timeout: 150_000 }, async (t) => {
  const { meeting, hostP, host, other, caller, name, connectorId } = await hostBotAndPhone(t, "4321");
  const three = await waitEpoch(other, "the phone in the bot's group", (e) => e.members.length === 3);
  await waitEpoch(host, "the phone in the host's group", (e) => e.epoch === three.epoch);

  const errors = (p: NodeParticipant) => {
    const seen: string[] = [];
    p.on("error", (e) => seen.push(e.code));
    return seen;
  };
  const hostErrors = errors(hostP);
  const otherErrors = errors(other.p);
  const nameOf = (p: NodeParticipant, id: string) => p.session.presence.find((m) => m.memberId === id)?.displayName;
  const presenceName = (p: NodeParticipant, id: string, want: string) =>
    waitFor(`${want} in presence`, 30_000, (wake) => p.session.on("presence", wake), () => (nameOf(p, id) === want ? true : undefined));
  assert.equal(nameOf(other.p, connectorId), name);

  // Someone who is not a host cannot rename the phone; a host cannot rename a person.
  other.p.session.renameMember(connectorId, "Not yours to name");
  await waitFor("NOT_HOST for the bot", 30_000, (wake) => other.p.on("error", wake), () => (otherErrors.includes("NOT_HOST") ? true : undefined));
  hostP.session.renameMember(other.p.memberId, "Someone else");
  await waitFor("RENAME_NOT_ALLOWED for the host", 30_000, (wake) => hostP.on("error", wake), () => (hostErrors.includes("RENAME_NOT_ALLOWED") ? true : undefined));
  assert.equal(nameOf(other.p, connectorId), name, "the phone keeps its name after a non-host's attempt");
  assert.equal(nameOf(hostP, other.p.memberId), "Bartholomew", "a person keeps the name they chose");

  // The host renames the phone: everyone sees the new name, newcomers too; its credential is unchanged.
  hostP.session.renameMember(connectorId, "Front desk");
  await presenceName(other.p, connectorId, "Front desk");
  await presenceName(hostP, connectorId, "Front desk");
  const late = await bot(meeting, "Cornelius");
  t.after(() => late.p.leave());
  await presenceName(late.p, connectorId, "Front desk");
  const four = await waitEpoch(late, "the newcomer in the group", (e) => e.members.length === 4);
  const credential = four.members.find((m) => m.identity.memberId === connectorId)!.identity;
  assert.equal(credential.displayName, name, "the MLS credential still names the caller's last digits");

  // The host removes the phone: the caller hears why, the call is hung up, the group rekeys without it.
  const ended = callEvent(meeting.id, "ended");
  hostP.session.remove(connectorId, false);
  await prompt(name, "removed", "end");
  await caller.waitEvent("CALL_CLOSED", 30_000);
  await ended;
  const heard = caller.receivedAudio();
  const removed = heardPrompt(heard.samples, heard.rate, await promptPcm("removed"));
  assert.ok(removed > 0.7, `the phone heard "the host removed you" (correlation ${removed.toFixed(2)})`);
  const after = await waitEpoch(other, "the group without the phone", (e) => e.members.length === 3 && e.epoch > four.epoch && !e.members.some((m) => m.identity.memberId === connectorId));
  const lateAfter = await waitEpoch(late, "the newcomer on the same epoch", (e) => e.epoch === after.epoch);
  assert.equal(lateAfter.securityCode, after.securityCode);
  assert.notEqual(after.securityCode, four.securityCode);
  assert.equal(nameOf(other.p, connectorId), undefined, "the phone is gone from presence");
});

test("a caller's wrong passcodes still count after the SIP gateway restarts: once the meeting is under attack the same number is refused before its passcode, a new number is asked for it", { timeout: 180_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const guesser = await phone("15550106666");
  const newcomer = await phone("15550108888");
  t.after(async () => {
    await guesser.close();
    await newcomer.close();
  });
  const name = "Phone \u2022\u2022\u2022 6666";
  dialTrunk(guesser);
  await guesser.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(name, "welcome", "start");
  guesser.sendDtmf(`${meeting.id}#`);
  await prompt(name, "passcode", "start");
  for (const [i, wrong] of ["11111111", "22222222"].entries()) {
    guesser.sendDtmf(`${wrong}#`);
    await prompt(name, "badPasscode", "start", i + 1);
  }
  guesser.sendDtmf("33333333#");
  await prompt(name, "tooManyAttempts", "end");
  await guesser.waitEvent("CALL_CLOSED", 15_000);

  // The gateway dies and the supervisor starts a new one (a new process, a new listening port).
  const oldPid = s.server.sip!.gatewayPid!;
  const oldListening = s.server.sip!.listening;
  process.kill(oldPid, "SIGKILL");
  await waitFor("the SIP gateway to restart and listen", 60_000, (wake) => {
    const poll = setInterval(wake, 100);
    return () => clearInterval(poll);
  }, () => (s.server.sip!.gatewayPid !== undefined && s.server.sip!.gatewayPid !== oldPid && s.server.sip!.listening !== oldListening ? true : undefined));

  // Two wrong web passcodes: with the phone's three the meeting is under attack.
  for (let i = 0; i < PASSCODE_LIMIT - 3; i++) {
    assert.equal(await refusal({ id: meeting.id, passcode: "wrongwrong" }, `Guesser ${i}`), "WRONG_PASSCODE");
  }

  // The same number calls again with the right passcode: the new gateway process keys it the same
  // way, so the server knows it failed and refuses it as soon as it names the meeting.
  const before = guesser.events.length;
  dialTrunk(guesser);
  await guesser.waitEvent("CALL_ESTABLISHED", 30_000, (e) => guesser.events.indexOf(e) >= before);
  await prompt(name, "welcome", "start", 2);
  guesser.sendDtmf(`${meeting.id}#`);
  await prompt(name, "tooManyAttempts", "end", 2);
  await guesser.waitEvent("CALL_CLOSED", 15_000, (e) => guesser.events.indexOf(e) >= before);
  assert.equal(s.ivrEvents.filter((e) => e.displayName === name && e.prompt === "passcode" && e.phase === "start").length, 1, "the refused caller was not asked for a passcode again");

  // A number that never failed is still asked for the passcode (the meeting is not locked; only
  // numbers that failed are refused). It stops there: this test's web guesses came from the
  // address the phone connector joins from, which the meeting under attack refuses too.
  const other = "Phone \u2022\u2022\u2022 8888";
  dialTrunk(newcomer);
  await newcomer.waitEvent("CALL_ESTABLISHED", 30_000);
  await prompt(other, "welcome", "start");
  newcomer.sendDtmf(`${meeting.id}#`);
  await prompt(other, "passcode", "start");
  newcomer.hangup();
  await newcomer.waitEvent("CALL_CLOSED", 15_000);
});

test("a phone trunk over TLS with SDES-SRTP and G.722: the phone joins as 'encrypted only as far as the phone trunk', bots decrypt its voice and it hears their tone in wideband", { timeout: 180_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Adelheid");
  // G.722 only (16 kHz mono), SRTP mandatory, SIP over TLS: nothing else can be negotiated.
  const caller = await phone("15550102222", { transport: "tls", mediaenc: "srtp-mand", audioCodecs: "G722/16000/1", rate: 16000 });
  t.after(async () => {
    a.p.leave();
    await caller.close();
  });
  await waitEpoch(a, "the bot in the group", (e) => e.members.length === 1);
  const name = "Phone \u2022\u2022\u2022 2222";
  const tlsPort = s.server.sip!.listening.find((l) => l.transport === "tls")!.port;
  caller.dial(`sip:+15550100@127.0.0.1:${tlsPort};transport=tls`);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  const menc = await caller.waitEvent("CALL_MENC", 30_000);
  assert.match(String(menc.param), /audio,(AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM)$/, "baresip reports its audio secured with SRTP");
  await prompt(name, "welcome", "start");
  caller.sendDtmf(`${meeting.id}#`);
  await prompt(name, "passcode", "start");
  const joined = callEvent(meeting.id, "joined");
  caller.sendDtmf(`${s.server.sip!.phonePasscode(meeting.id)!}#`);
  const joinedEvent = await joined;
  const connectorId = joinedEvent.memberId as string;
  assert.equal(joinedEvent.detail, "TLS + SRTP to the trunk");

  const two = await waitEpoch(a, "the phone in the group", (e) => e.members.length === 2);
  const member = two.members.find((m) => m.identity.kind === "connector")!.identity;
  assert.equal(member.kind === "connector" ? member.farLeg?.signaling : undefined, "tls");
  assert.equal(member.kind === "connector" ? member.farLeg?.media : undefined, "srtp");
  const shield = computeShield(two.encryption, two.members.map((m) => m.identity));
  assert.equal(shield.state, "partial");
  assert.deepEqual(shield.exceptions.map((e) => [e.displayName, e.protection]), [[name, "TLS + SRTP"]]);
  assert.match(shield.exceptions[0]!.reason, /only as far as the phone trunk/);

  // The phone's 1000 Hz tone, decoded from G.722 and re-encoded to Opus, reaches the bot.
  const fromPhone = await voiceAtBot(a, connectorId);
  assert.equal(a.p.stats().decryptFailures, 0);
  const voice = toneCorrelation(fromPhone, 48000, 1000);
  assert.ok(voice > 0.6, `the phone's tone reaches the meeting through G.722 (correlation ${voice.toFixed(2)})`);
  // The bot's tone reaches the phone (its decoded audio, read while the call goes on).
  await phoneHearsTone(caller, 440, 30_000);

  caller.hangup();
  await caller.waitEvent("CALL_CLOSED", 15_000);
  // What the phone decoded (G.722, 16 kHz): the bot's 440 Hz tone, over SRTP.
  const heard = caller.receivedAudio();
  assert.equal(heard.rate, 16000, "the phone decoded wideband audio (G.722)");
  const tone = toneCorrelation(heard.samples, heard.rate, 440);
  assert.ok(tone > 0.6, `the bot's 440 Hz tone is in the phone's recording (correlation ${tone.toFixed(2)})`);
});
