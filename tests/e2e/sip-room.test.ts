// Room systems (SIP) in meetings, with a real SIP peer: Debian's baresip, driven headless through
// ctrl_tcp, dialing the server's SIP gateway; the connector joins as a visible MLS member.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import { Decoder } from "@evan/opus";
import { loadConfig, startConclave, type ConclaveServer } from "@conclave/server";
import { NodeParticipant } from "@conclave/client/node";
import type { EpochEvent } from "@conclave/client";
import { Baresip, makeDeviceCertificate, requireBaresip, toneCorrelation } from "./support/baresip.js";
import { startTestServer, waitFor } from "./support/harness.js";
import { api } from "./support/recording.js";

interface SipServer {
  server: ConclaveServer;
  ca: string;
  tlsPort: number;
  udpPort: number;
  tcpPort: number;
  /** The room systems' TLS certificate, which the server trusts for outbound calls (sipDeviceCa). */
  deviceCertificate: string;
  close(): Promise<void>;
}

let sip: SipServer;

before(async () => {
  requireBaresip();
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-sip-"));
  const device = makeDeviceCertificate(dataDir);
  const config = loadConfig({
    flags: { port: 0, host: "127.0.0.1", data: dataDir, sipListen: "127.0.0.1:0", sipUdpListen: "127.0.0.1:0", sipTcpListen: "127.0.0.1:0" },
    env: { CONCLAVE_SIP_DEVICE_CA: device.certFile },
  });
  const server = await startConclave(config, { logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) }, relay: { listenAddress: "127.0.0.1" } });
  const ca = await readFile(server.certFile, "utf8");
  sip = {
    server,
    ca,
    tlsPort: server.sipListening.find((l) => l.transport === "tls")!.port,
    udpPort: server.sipListening.find((l) => l.transport === "udp")!.port,
    tcpPort: server.sipListening.find((l) => l.transport === "tcp")!.port,
    deviceCertificate: device.pem,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

after(() => sip.close());

/** A bot that records every epoch (code and members) it sees. */
async function bot(meeting: { id: string; passcode: string | null }, name: string, opts: { host?: boolean } = {}): Promise<{ p: NodeParticipant; epochs: EpochEvent[] }> {
  const p = new NodeParticipant({
    link: `https://127.0.0.1:${sip.server.port}/m/${meeting.id}${meeting.passcode ? `#pwd=${meeting.passcode}` : ""}`,
    displayName: name,
    ca: sip.ca,
    ...(opts.host ? { headers: { authorization: `Bearer ${sip.server.adminToken}` } } : {}),
  });
  const epochs: EpochEvent[] = [];
  p.on("epoch", (e) => epochs.push(e));
  await p.join();
  return { p, epochs };
}

function lastEpoch(b: { p: NodeParticipant; epochs: EpochEvent[] }): EpochEvent | undefined {
  return b.epochs.at(-1);
}

function membersOf(e: EpochEvent | undefined): string[] {
  return (e?.members ?? []).map((m) => m.identity.displayName).sort();
}

function waitEpoch(b: { p: NodeParticipant; epochs: EpochEvent[] }, what: string, pred: (e: EpochEvent) => boolean, ms = 30_000): Promise<EpochEvent> {
  return waitFor(what, ms, (wake) => b.p.on("epoch", wake), () => {
    const e = lastEpoch(b);
    return e && pred(e) ? e : undefined;
  });
}

function sipCall(meetingId: string, event: string, ms = 30_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no SIP ${event} event for ${meetingId}`)), ms);
    const on = (e: { meetingId: string; event: string }) => {
      if (e.meetingId === meetingId && e.event === event) {
        clearTimeout(timer);
        sip.server.sip!.off("call", on);
        resolve(e as unknown as Record<string, unknown>);
      }
    };
    sip.server.sip!.on("call", on);
  });
}

test("a room system dials in over SIP/TLS with SRTP: bots decrypt its audio and video, it hears a bot's tone, every security code matches, and its hang-up rekeys the group", { timeout: 120_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Ada");
  const b = await bot(meeting, "Bob");
  const device = await Baresip.start({ user: "room4", mediaenc: "srtp-mand", transport: "tls", toneHz: 1000 });
  t.after(async () => {
    a.p.leave();
    b.p.leave();
    await device.close();
  });
  await waitEpoch(a, "two bots in the group", (e) => e.members.length === 2);

  // Decode what the connector sends from the device, to check it is the device's own tone.
  const fromDevice: Int16Array[] = [];
  const decoder = new Decoder({ channels: 1, sample_rate: 48000 });
  const connector: { id?: string } = {};
  a.p.on("frame", (f) => {
    if (f.ownerId === connector.id && f.kind === "audio" && fromDevice.length < 400) {
      const pcm = decoder.decode(f.frame);
      fromDevice.push(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1).slice());
    }
  });

  const joined = sipCall(meeting.id, "joined");
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const joinedEvent = await joined;
  const connectorId = joinedEvent.memberId as string;
  connector.id = connectorId;

  // The device is a visible member with its far leg, in everyone's member list.
  const three = await waitEpoch(a, "the room system in Ada's group", (e) => e.members.length === 3);
  const room = three.members.find((m) => m.identity.kind === "connector")!.identity;
  assert.equal(room.kind, "connector");
  assert.equal(room.memberId, connectorId);
  assert.equal(room.displayName, "room4");
  assert.deepEqual(room.kind === "connector" ? [room.connector, room.farLeg] : [], ["sip", { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" }]);
  const bThree = await waitEpoch(b, "the room system in Bob's group", (e) => e.epoch === three.epoch);
  // Security codes: both bots and the connector agree on the epoch that added the device.
  assert.equal(bThree.securityCode, three.securityCode);
  assert.equal(joinedEvent.securityCode, three.securityCode);

  // Bots decrypt the device's audio and video (SFrame under the connector's own key).
  await waitFor("both bots to decrypt the device's audio and video", 40_000, (wake) => {
    const offs = [a.p.on("frame", wake), b.p.on("frame", wake)];
    return () => offs.forEach((o) => o());
  }, () => [a, b].every((x) => {
    const s = x.p.stats().bySender[connectorId];
    return s !== undefined && s.audio >= 100 && s.video >= 15;
  }) || undefined);
  for (const x of [a, b]) assert.equal(x.p.stats().decryptFailures, 0);
  const deviceAudio = Float64Array.from(fromDevice.flatMap((f) => [...f]));
  assert.ok(toneCorrelation(deviceAudio, 48000, 1000) > 0.6, "the device's 1000 Hz tone reaches the meeting");
  // The device sees the active speaker's camera: VP8 passed through, decoded by baresip itself.
  await waitFor("the device to decode the meeting's VP8 video", 40_000, (wake) => {
    const i = setInterval(wake, 250);
    return () => clearInterval(i);
  }, () => /receiving with resolution \d+ x \d+/.test(device.log) || undefined);
  assert.match(device.log, /Set video decoder: VP8/);

  // Hang up on the device: the connector leaves, the group rekeys without it.
  device.hangup();
  await device.waitEvent("CALL_CLOSED", 15_000);
  const after = await waitEpoch(a, "the group without the room system", (e) => e.members.length === 2 && e.epoch > three.epoch);
  assert.deepEqual(membersOf(after), ["Ada", "Bob"]);
  assert.notEqual(after.securityCode, three.securityCode);
  await sipCall(meeting.id, "ended", 15_000).catch(() => undefined);

  // What the device heard: the bots' 440 Hz tone (cross-correlation), never its own 1000 Hz.
  const heard = device.receivedAudio();
  const bots = toneCorrelation(heard.samples, heard.rate, 440);
  const own = toneCorrelation(heard.samples, heard.rate, 1000);
  assert.ok(bots > 0.6, `the bots' 440 Hz tone is in the device's recording (correlation ${bots.toFixed(2)})`);
  assert.ok(own < 0.3, `the device does not hear itself (correlation ${own.toFixed(2)})`);
  // The operator sees the call in the metrics.
  const metrics = await sip.server.context.metrics.render();
  assert.match(metrics, /conclave_sip_call_events_total\{event="joined"\} [1-9]/);
  assert.match(metrics, /conclave_sip_gateway_up 1/);
});

/** `conclave bot --json` as a separate process (the CLI's own bin), collecting its JSON lines. */
function cliBot(url: string, name: string): { events: Record<string, unknown>[]; until(what: string, pred: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>; stop(): Promise<void> } {
  const bin = fileURLToPath(new URL("../../../packages/cli/bin/conclave.js", import.meta.url));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CONCLAVE_")) env[k] = v;
  const child = spawn(process.execPath, [bin, "bot", "--url", url, "--json", "--ca", sip.server.certFile, "--name", name], { env, stdio: ["ignore", "pipe", "pipe"] });
  const events: Record<string, unknown>[] = [];
  const wakers = new Set<() => void>();
  createInterface({ input: child.stdout }).on("line", (line) => {
    events.push(JSON.parse(line) as Record<string, unknown>); // every line must be JSON
    for (const w of wakers) w();
  });
  child.stderr.resume();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    events,
    until: (what, pred, ms = 45_000) =>
      waitFor(what, ms, (wake) => {
        wakers.add(wake);
        return () => wakers.delete(wake);
      }, () => [...events].reverse().find(pred)),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

test("`conclave bot --json` with room systems in the meeting: members list them as sip connectors with their far legs, the shield is partial with each one an exception (TLS + SRTP, unencrypted), and stats.bySender counts their frames", { timeout: 120_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const settings = sip.server.context.database.settings;
  settings.writeAccount({ requireEncryptedThirdParty: { value: false } });
  const cli = cliBot(`https://127.0.0.1:${sip.server.port}/m/${meeting.id}#pwd=${meeting.passcode}`, "Cleo");
  const secure = await Baresip.start({ user: "room7", mediaenc: "srtp-mand", transport: "tls" });
  const plain = await Baresip.start({ user: "softphone7", mediaenc: "none", transport: "udp", video: false });
  t.after(async () => {
    settings.writeAccount({ requireEncryptedThirdParty: { value: null, locked: false } });
    await cli.stop();
    await secure.close();
    await plain.close();
  });
  const joined = await cli.until("the bot's joined event", (e) => e.event === "joined");
  const alone = await cli.until("the bot's first epoch", (e) => e.event === "epoch");
  assert.equal(alone.shield, "encrypted");
  assert.deepEqual(alone.exceptions, []);
  assert.deepEqual(alone.members, [{ memberId: joined.memberId, name: "Cleo", kind: "person" }]);

  const secureJoined = sipCall(meeting.id, "joined");
  secure.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  await secure.waitEvent("CALL_ESTABLISHED", 45_000);
  const secureId = (await secureJoined).memberId as string;
  const plainJoined = sipCall(meeting.id, "joined");
  plain.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.udpPort}`);
  await plain.waitEvent("CALL_ESTABLISHED", 45_000);
  const plainId = (await plainJoined).memberId as string;

  const three = await cli.until("an epoch with both room systems", (e) => e.event === "epoch" && (e.members as unknown[]).length === 3);
  const byId = (id: unknown) => (three.members as Record<string, unknown>[]).find((m) => m.memberId === id);
  assert.deepEqual(byId(joined.memberId), { memberId: joined.memberId, name: "Cleo", kind: "person" });
  assert.deepEqual(byId(secureId), { memberId: secureId, name: "room7", kind: "connector", connectorKind: "sip", farLeg: "SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80", protection: "TLS + SRTP" });
  assert.deepEqual(byId(plainId), { memberId: plainId, name: "softphone7", kind: "connector", connectorKind: "sip", farLeg: "SIP/UDP + RTP (unencrypted)", protection: "unencrypted" });
  assert.equal(three.shield, "partial");
  const exceptions = (three.exceptions as { memberId: string; name: string; protection: string }[]).map((x) => [x.memberId, x.name, x.protection]).sort();
  assert.deepEqual(exceptions, [[secureId, "room7", "TLS + SRTP"], [plainId, "softphone7", "unencrypted"]].sort());

  // Frames decrypted per sender: the TLS device's audio and video, the softphone's audio.
  const counted = await cli.until("stats counting both devices' frames", (e) => {
    if (e.event !== "stats") return false;
    const by = e.bySender as Record<string, { audio: number; video: number }>;
    return (by[secureId]?.audio ?? 0) >= 50 && (by[secureId]?.video ?? 0) >= 5 && (by[plainId]?.audio ?? 0) >= 50;
  }, 60_000);
  assert.equal((counted.bySender as Record<string, { audio: number; video: number }>)[plainId]!.video, 0);
  assert.equal(counted.decryptFailures, 0);

  // Both hang up: the shield is back to encrypted with no exceptions.
  secure.hangup();
  plain.hangup();
  const back = await cli.until("an epoch without the room systems", (e) => e.event === "epoch" && (e.members as unknown[]).length === 1 && (e.epoch as number) > (three.epoch as number));
  assert.equal(back.shield, "encrypted");
  assert.deepEqual(back.exceptions, []);
});

test("with 'Require encryption for 3rd-party endpoints' on, a device without TLS and SRTP gets 488 and joins nothing; turned off, it joins and is listed as unencrypted", { timeout: 90_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Ada");
  t.after(() => a.p.leave());
  await waitEpoch(a, "Ada in the group", (e) => e.members.length === 1);
  const settings = sip.server.context.database.settings;
  t.after(() => settings.writeAccount({ requireEncryptedThirdParty: { value: null, locked: false } }));

  // The default is on (catalog): plain SIP over UDP and RTP is refused.
  const plain = await Baresip.start({ user: "softphone", mediaenc: "none", transport: "udp", video: false });
  t.after(() => plain.close());
  const refused = sipCall(meeting.id, "refused");
  plain.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.udpPort}`);
  const closed = await plain.waitEvent("CALL_CLOSED", 20_000);
  assert.match(String(closed.param), /488/);
  assert.match(String((await refused).detail), /Media encryption is required/);
  assert.equal(membersOf(lastEpoch(a)).length, 1, "nothing joined");
  assert.equal(sip.server.registry.get(meeting.id)?.size, 1);

  // Turned off at account level: the same device joins, and everyone sees its leg as unencrypted.
  settings.writeAccount({ requireEncryptedThirdParty: { value: false } });
  const joined = sipCall(meeting.id, "joined");
  plain.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.udpPort}`);
  await plain.waitEvent("CALL_ESTABLISHED", 45_000);
  await joined;
  const withPhone = await waitEpoch(a, "the softphone in the group", (e) => e.members.length === 2);
  const phone = withPhone.members.find((m) => m.identity.kind === "connector")!.identity;
  assert.deepEqual(phone.kind === "connector" ? phone.farLeg : undefined, { protocol: "SIP", signaling: "udp", media: "rtp" });
  plain.hangup();
  await waitEpoch(a, "the softphone gone", (e) => e.members.length === 1);
});

test("a device dials in over plain SIP/TCP (--sip-tcp-listen): refused with 488 while encryption is required; allowed, it joins with a tcp + RTP far leg, bots decrypt its audio, and its hang-up removes it", { timeout: 90_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Ada");
  t.after(() => a.p.leave());
  await waitEpoch(a, "Ada in the group", (e) => e.members.length === 1);
  const settings = sip.server.context.database.settings;
  t.after(() => settings.writeAccount({ requireEncryptedThirdParty: { value: null, locked: false } }));
  const dialString = `sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tcpPort};transport=tcp`;

  const phone = await Baresip.start({ user: "tcpphone", mediaenc: "none", transport: "tcp", video: false });
  t.after(() => phone.close());
  const refused = sipCall(meeting.id, "refused");
  phone.dial(dialString);
  assert.match(String((await phone.waitEvent("CALL_CLOSED", 20_000)).param), /488/);
  assert.match(String((await refused).detail), /Media encryption is required/);
  assert.equal(sip.server.registry.get(meeting.id)?.size, 1, "nothing joined");

  settings.writeAccount({ requireEncryptedThirdParty: { value: false } });
  const audioFrames = new Map<string, number>();
  a.p.on("frame", (f) => {
    if (f.kind === "audio") audioFrames.set(f.ownerId, (audioFrames.get(f.ownerId) ?? 0) + 1);
  });
  const joined = sipCall(meeting.id, "joined");
  phone.dial(dialString);
  await phone.waitEvent("CALL_ESTABLISHED", 45_000);
  const connectorId = (await joined).memberId as string;
  const withPhone = await waitEpoch(a, "the TCP phone in the group", (e) => e.members.length === 2);
  const member = withPhone.members.find((m) => m.identity.kind === "connector")!.identity;
  assert.equal(member.memberId, connectorId);
  assert.deepEqual(member.kind === "connector" ? member.farLeg : undefined, { protocol: "SIP", signaling: "tcp", media: "rtp" });
  await waitFor("Ada decrypts the TCP phone's audio", 30_000, (wake) => a.p.on("frame", wake), () => ((audioFrames.get(connectorId) ?? 0) >= 25 ? true : undefined));
  phone.hangup();
  await waitEpoch(a, "the TCP phone gone", (e) => e.members.length === 1);
});

test("the setting follows the meeting owner's levels with locks: an account lock beats the user's own 'off'", { timeout: 90_000 }, async (t) => {
  const { users, settings } = sip.server.context.database;
  const owner = users.create({ email: "olive@example.com", name: "Olive", role: "member", passwordHash: "x" });
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true, ownerUserId: owner.id });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  t.after(() => {
    settings.writeAccount({ requireEncryptedThirdParty: { value: null, locked: false } });
    users.delete(owner.id);
  });
  // The owner turns it off for themselves, but the account locks it on: refused.
  settings.writeUser(owner.id, { requireEncryptedThirdParty: { value: false } });
  settings.writeAccount({ requireEncryptedThirdParty: { value: true, locked: true } });
  const phone = await Baresip.start({ user: "g722phone", mediaenc: "none", transport: "udp", video: false, audioCodecs: "G722/16000/1", channels: 1, rate: 16000 });
  t.after(() => phone.close());
  phone.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.udpPort}`);
  assert.match(String((await phone.waitEvent("CALL_CLOSED", 20_000)).param), /488/);
  // The account lifts its lock: the owner's own "off" applies, and the device joins (with G.722).
  settings.writeAccount({ requireEncryptedThirdParty: { value: null, locked: false } });
  const a = await bot(meeting, "Ada");
  t.after(() => a.p.leave());
  await waitEpoch(a, "Ada in the group", (e) => e.members.length === 1);
  const joined = sipCall(meeting.id, "joined");
  const before = phone.events.length;
  phone.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.udpPort}`);
  await phone.waitEvent("CALL_ESTABLISHED", 45_000, () => phone.events.length > before);
  const { memberId } = await joined;
  // G.722 both ways (through ffmpeg): the bot decrypts the device's audio, re-encoded to Opus.
  await waitFor("Ada to decrypt the G.722 device's audio", 30_000, (wake) => a.p.on("frame", wake), () => (a.p.stats().bySender[memberId as string]?.audio ?? 0) >= 50 || undefined);
  phone.hangup();
  await phone.waitEvent("CALL_CLOSED", 15_000, () => phone.events.length > before);
  // What the device decoded was wideband: G.722 was negotiated, not a G.711 fallback.
  assert.equal(phone.receivedAudio().rate, 16000, "the device decoded G.722 (16 kHz)");
  await waitEpoch(a, "the phone gone", (e) => e.members.length === 1 && e.epoch > 1n);
});

test("an end-to-end encrypted meeting refuses a room system with 403 and tells its host why", { timeout: 60_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "e2ee", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const host = await bot(meeting, "Host", { host: true });
  const notices: { code: string; message: string }[] = [];
  host.p.session.on("notice", (n) => notices.push(n));
  const device = await Baresip.start({ user: "room5", mediaenc: "srtp-mand", transport: "tls", video: false });
  t.after(async () => {
    host.p.leave();
    await device.close();
  });
  await waitEpoch(host, "the host in the group", (e) => e.members.length === 1);
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  const closed = await device.waitEvent("CALL_CLOSED", 20_000);
  assert.match(String(closed.param), /403/);
  await waitFor("the host's notice", 10_000, (wake) => host.p.session.on("notice", wake), () => notices.find((n) => n.code === "ROOM_SYSTEM_REFUSED"));
  assert.match(notices.find((n) => n.code === "ROOM_SYSTEM_REFUSED")!.message, /end-to-end encrypted/);
  assert.deepEqual(membersOf(lastEpoch(host)), ["Host"]);
});

test("a host invites a room system by SIP URI; it joins as a visible member; removing it hangs up the device, and the device hanging up removes it; each rekeys", { timeout: 90_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const host = await bot(meeting, "Host", { host: true });
  const device = await Baresip.start({ user: "boardroom", mediaenc: "srtp-mand", transport: "tls", autoAnswer: true, certificate: sip.deviceCertificate });
  t.after(async () => {
    host.p.leave();
    await device.close();
  });
  await waitEpoch(host, "the host in the group", (e) => e.members.length === 1);
  const joined = sipCall(meeting.id, "joined", 45_000);
  host.p.session.inviteRoomSystem(`sip:boardroom@127.0.0.1:${device.tlsPort};transport=tls`, "Boardroom");
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const { memberId } = await joined;
  const two = await waitEpoch(host, "the boardroom in the group", (e) => e.members.length === 2);
  const room = two.members.find((m) => m.identity.memberId === memberId)!.identity;
  assert.equal(room.kind, "connector");
  assert.equal(room.displayName, "Boardroom");
  // The host removes it: the device gets a BYE, and the group rekeys without it.
  host.p.session.remove(memberId as string, true);
  await device.waitEvent("CALL_CLOSED", 20_000);
  const after = await waitEpoch(host, "the group without the boardroom", (e) => e.members.length === 1 && e.epoch > two.epoch);
  assert.notEqual(after.securityCode, two.securityCode);

  // Called in again, this time the device hangs up: its member leaves and the group rekeys.
  const before = device.events.length;
  const again = sipCall(meeting.id, "joined", 45_000);
  host.p.session.inviteRoomSystem(`sip:boardroom@127.0.0.1:${device.tlsPort};transport=tls`, "Boardroom");
  await device.waitEvent("CALL_ESTABLISHED", 45_000, () => device.events.length > before);
  const second = await again;
  const back = await waitEpoch(host, "the boardroom back in the group", (e) => e.members.length === 2 && e.epoch > after.epoch);
  assert.ok(back.members.some((m) => m.identity.memberId === second.memberId && m.identity.kind === "connector"));
  device.hangup();
  const gone = await waitEpoch(host, "the group after the device hung up", (e) => e.members.length === 1 && e.epoch > back.epoch);
  assert.deepEqual(membersOf(gone), ["Host"]);
  assert.notEqual(gone.securityCode, back.securityCode);
});

test("an H.264-only room system: its camera reaches the meeting as VP8 and the meeting's video reaches it as H.264, through ffmpeg", { timeout: 120_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Ada");
  const device = await Baresip.start({ user: "h264room", mediaenc: "srtp-mand", transport: "tls", videoCodecs: "H264" });
  t.after(async () => {
    a.p.leave();
    await device.close();
  });
  await waitEpoch(a, "Ada in the group", (e) => e.members.length === 1);
  const joined = sipCall(meeting.id, "joined");
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const { memberId } = await joined;
  await waitFor("Ada to decrypt the device's video, transcoded to VP8", 60_000, (wake) => a.p.on("frame", wake), () => (a.p.stats().bySender[memberId as string]?.video ?? 0) >= 15 || undefined);
  await waitFor("the device to decode the meeting's H.264", 60_000, (wake) => {
    const i = setInterval(wake, 250);
    return () => clearInterval(i);
  }, () => /receiving with resolution 640 x 360/.test(device.log) || undefined);
  assert.match(device.log, /Set video (en|de)coder: H264/);
});

test("a room system with DTLS-SRTP over TLS: its far leg is TLS + DTLS-SRTP, bots decrypt its audio, and it hears the meeting", { timeout: 120_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Ada");
  const device = await Baresip.start({ user: "dtlsroom", mediaenc: "dtls_srtp", transport: "tls", video: false, toneHz: 1000 });
  t.after(async () => {
    a.p.leave();
    await device.close();
  });
  await waitEpoch(a, "Ada in the group", (e) => e.members.length === 1);
  const joined = sipCall(meeting.id, "joined");
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const { memberId } = await joined;
  const two = await waitEpoch(a, "the device in the group", (e) => e.members.length === 2);
  const room = two.members.find((m) => m.identity.memberId === memberId)!.identity;
  assert.deepEqual(room.kind === "connector" ? room.farLeg : undefined, { protocol: "SIP", signaling: "tls", media: "dtls-srtp", suite: "SRTP_AES128_CM_HMAC_SHA1_80" });
  await waitFor("Ada to decrypt the DTLS-SRTP device's audio", 40_000, (wake) => a.p.on("frame", wake), () => (a.p.stats().bySender[memberId as string]?.audio ?? 0) >= 100 || undefined);
  device.hangup();
  await device.waitEvent("CALL_CLOSED", 15_000);
  const heard = device.receivedAudio();
  assert.ok(toneCorrelation(heard.samples, heard.rate, 440) > 0.6, "the device heard Ada's tone over DTLS-SRTP");
});

/** The call connector processes the SIP gateway runs now (children of the gateway's pid). */
async function callProcesses(): Promise<number[]> {
  const gateway = sip.server.sip!.gatewayPid;
  assert.ok(gateway !== undefined, "the gateway runs");
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (ppid === gateway && cmdline.includes("call-main.js")) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test("a call connector that dies takes nothing else down: the meeting rekeys without it, the device gets a BYE, and the next call works", { timeout: 120_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Ada");
  const b = await bot(meeting, "Bob");
  const device = await Baresip.start({ user: "crashroom", mediaenc: "srtp-mand", transport: "tls", video: false });
  t.after(async () => {
    a.p.leave();
    b.p.leave();
    await device.close();
  });
  await waitEpoch(a, "two bots", (e) => e.members.length === 2);
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const three = await waitEpoch(a, "the device in the group", (e) => e.members.length === 3);
  const [pid] = await callProcesses();
  assert.ok(pid !== undefined);
  process.kill(pid, "SIGKILL");
  // The device is told, the group rekeys without the connector, and the bots carry on.
  await device.waitEvent("CALL_CLOSED", 30_000);
  const after = await waitEpoch(a, "the group without the connector", (e) => e.members.length === 2 && e.epoch > three.epoch, 45_000);
  const sent = b.p.stats().framesSent;
  const decrypted = a.p.stats().bySender[b.p.memberId]?.audio ?? 0;
  await waitFor("Ada to keep decrypting Bob", 20_000, (wake) => a.p.on("frame", wake), () => (a.p.stats().bySender[b.p.memberId]?.audio ?? 0) > decrypted + 50 || undefined);
  assert.ok(b.p.stats().framesSent > sent);
  assert.equal(after.members.every((m) => m.identity.kind === "person"), true);
  // The gateway is still up and takes the next call.
  const before = device.events.length;
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  await device.waitEvent("CALL_ESTABLISHED", 45_000, () => device.events.length > before);
  await waitEpoch(a, "the device back", (e) => e.members.length === 3);
});

test("a room system dialing a meeting with a waiting room rings until a host admits it, then joins", { timeout: 120_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true, waitingRoom: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const host = await bot(meeting, "Host", { host: true });
  const device = await Baresip.start({ user: "lobbyroom", mediaenc: "srtp-mand", transport: "tls", video: false });
  t.after(async () => {
    host.p.leave();
    await device.close();
  });
  await waitEpoch(host, "the host in the group", (e) => e.members.length === 1);
  device.dial(`sip:${meeting.id}.${meeting.passcode}@127.0.0.1:${sip.tlsPort};transport=tls`);
  const waiting = await waitFor("the room system in the waiting list", 45_000, (wake) => host.p.session.on("waitingList", wake), () => host.p.session.waitingList.find((w) => w.displayName === "lobbyroom"));
  await device.waitEvent("CALL_RINGING", 15_000);
  assert.equal(device.events.some((e) => e.type === "CALL_ESTABLISHED"), false, "not answered while waiting");
  assert.equal(lastEpoch(host)!.members.length, 1, "no keys while waiting");
  host.p.session.admit(waiting.memberId);
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const two = await waitEpoch(host, "the room system admitted", (e) => e.members.length === 2);
  assert.equal(two.members.find((m) => m.identity.kind === "connector")?.identity.displayName, "lobbyroom");
});

/** A JSON call to the SIP test server's HTTP API; `body` a string is sent as it is. */
function http(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = opts.body === undefined ? undefined : Buffer.from(typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: sip.server.port,
        method,
        path,
        ca: sip.ca,
        headers: { ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}), ...opts.headers },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const adminAuth = (): Record<string, string> => ({ authorization: `Bearer ${sip.server.adminToken}` });

/** The headers of a browser signed in as this user (session cookie and its CSRF token). */
function signedIn(userId: string, opts: { csrf?: boolean } = {}): Record<string, string> {
  const s = sip.server.context.database.sessions.create(userId);
  return { cookie: `conclave_session=${s.sessionId}; conclave_csrf=${s.csrfToken}`, ...(opts.csrf === false ? {} : { "x-csrf-token": s.csrfToken }) };
}

function errorCode(r: { json: Record<string, unknown> }): string | undefined {
  return (r.json.error as { code?: string } | undefined)?.code;
}

function notices(b: { p: NodeParticipant }): { code: string; message: string }[] {
  const seen: { code: string; message: string }[] = [];
  b.p.session.on("notice", (n) => seen.push(n));
  return seen;
}

test("POST /api/meetings/:id/sip-invites refuses, each with its documented status and code, callers who may not manage the meeting, an E2EE meeting, an ended or unknown meeting and malformed bodies, and calls nobody; the admin token's invite calls the device in as a visible sip member", { timeout: 90_000 }, async (t) => {
  const { users } = sip.server.context.database;
  const owner = users.create({ email: "owen@example.com", name: "Owen", role: "member", passwordHash: "x" });
  const other = users.create({ email: "mona@example.com", name: "Mona", role: "member", passwordHash: "x" });
  const meetings = sip.server.context.meetings;
  const created = await meetings.create({ encryption: "enhanced", passcode: true, ownerUserId: owner.id });
  const e2ee = await meetings.create({ encryption: "e2ee", passcode: true, ownerUserId: owner.id });
  const ended = await meetings.create({ encryption: "enhanced", passcode: true, ownerUserId: owner.id });
  meetings.markEnded(ended.meeting.id);
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const host = await bot(meeting, "Host", { host: true });
  const hostNotices = notices(host);
  const device = await Baresip.start({ user: "apiroom", mediaenc: "srtp-mand", transport: "tls", autoAnswer: true, certificate: sip.deviceCertificate, video: false });
  t.after(async () => {
    host.p.leave();
    await device.close();
    users.delete(owner.id);
    users.delete(other.id);
  });
  await waitEpoch(host, "the host in the group", (e) => e.members.length === 1);
  const uri = `sip:apiroom@127.0.0.1:${device.tlsPort};transport=tls`;
  const invite = (id: string, body: unknown, headers: Record<string, string>) => http("POST", `/api/meetings/${id}/sip-invites`, { body, headers });
  const expect = async (what: string, r: Promise<{ status: number; json: Record<string, unknown> }>, status: number, code: string) => {
    const res = await r;
    assert.deepEqual([res.status, errorCode(res)], [status, code], `${what}: ${JSON.stringify(res.json)}`);
  };

  // Who may ask: the owner, admins and the admin token (docs/api.md); everyone else is refused.
  await expect("no credentials", invite(meeting.id, { uri }, {}), 401, "UNAUTHENTICATED");
  await expect("a signed-in member who does not own the meeting", invite(meeting.id, { uri }, signedIn(other.id)), 403, "FORBIDDEN");
  await expect("the owner's cookie without its CSRF token", invite(meeting.id, { uri }, signedIn(owner.id, { csrf: false })), 403, "CSRF_FAILED");
  // An end-to-end encrypted meeting admits no connector, even when its owner asks.
  await expect("an E2EE meeting", invite(e2ee.meeting.id, { uri }, signedIn(owner.id)), 403, "CONNECTOR_NOT_ALLOWED");
  await expect("an E2EE meeting, admin token", invite(e2ee.meeting.id, { uri }, adminAuth()), 403, "CONNECTOR_NOT_ALLOWED");
  await expect("an ended meeting", invite(ended.meeting.id, { uri }, adminAuth()), 410, "MEETING_ENDED");
  await expect("an unknown meeting", invite("1234567890", { uri }, adminAuth()), 404, "MEETING_NOT_FOUND");
  // Malformed bodies: 400, with BAD_REQUEST naming the field (MALFORMED_JSON for a body that is no JSON at all).
  const malformed: [string, unknown, string][] = [
    ["no body", undefined, "BAD_REQUEST"],
    ["not JSON", "uri=sip:apiroom@127.0.0.1", "MALFORMED_JSON"],
    ["an array", [uri], "BAD_REQUEST"],
    ["no uri", { displayName: "Boardroom" }, "BAD_REQUEST"],
    ["an https: URI", { uri: "https://127.0.0.1/room" }, "BAD_REQUEST"],
    ["a URI with a space", { uri: "sip:apiroom @127.0.0.1" }, "BAD_REQUEST"],
    ["a URI with a line break", { uri: "sip:apiroom@127.0.0.1\r\nX-Injected: yes" }, "BAD_REQUEST"],
    ["an unknown field", { uri, displayname: "Boardroom" }, "BAD_REQUEST"],
    ["an empty display name", { uri, displayName: "" }, "BAD_REQUEST"],
    ["a display name of 65 characters", { uri, displayName: "x".repeat(65) }, "BAD_REQUEST"],
    ["a display name with a line break", { uri, displayName: "Boardroom\r\nX-Injected: yes" }, "BAD_REQUEST"],
    ["a display name with a bidi override", { uri, displayName: "Board\u202eroom" }, "BAD_REQUEST"],
  ];
  for (const [what, body, code] of malformed) await expect(what, invite(meeting.id, body, adminAuth()), 400, code);
  assert.deepEqual(device.events.filter((e) => e.type.startsWith("CALL_")), [], "no refused invite called the device");
  assert.equal(lastEpoch(host)!.members.length, 1);

  // The admin token's invite: 202 with an id; the gateway calls the device, which joins as a
  // visible sip member with the display name asked for and its far leg, and the host is told.
  const joined = sipCall(meeting.id, "joined", 45_000);
  const accepted = await invite(meeting.id, { uri, displayName: "API Room" }, adminAuth());
  assert.equal(accepted.status, 202, JSON.stringify(accepted.json));
  const inviteId = accepted.json.inviteId;
  assert.match(String(inviteId), /^[A-Za-z0-9_-]{16}$/);
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const joinedEvent = await joined;
  assert.equal(joinedEvent.inviteId, inviteId, "the call that joined is the one the API started");
  const two = await waitEpoch(host, "the invited room system in the host's group", (e) => e.members.length === 2);
  const room = two.members.find((m) => m.identity.memberId === joinedEvent.memberId)?.identity;
  assert.ok(room);
  assert.deepEqual(room.kind === "connector" ? [room.displayName, room.connector, room.farLeg] : room, ["API Room", "sip", { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" }]);
  assert.equal(joinedEvent.securityCode, two.securityCode);
  await waitFor("the host's ROOM_SYSTEM_JOINED notice", 10_000, (wake) => host.p.session.on("notice", wake), () => hostNotices.find((n) => n.code === "ROOM_SYSTEM_JOINED"));
  assert.match(hostNotices.find((n) => n.code === "ROOM_SYSTEM_JOINED")!.message, /API Room joined by SIP \(TLS \+ SRTP\)/);
  // (An auto-answering baresip reports an incoming call as the offer it received.)
  const offers = device.events.filter((e) => e.type === "CALL_REMOTE_SDP" && e.param === "offer");
  assert.equal(offers.length, 1, "the device was called once: by the accepted invite");
  assert.equal(offers[0]!.peerdisplayname, "API Room", "the INVITE's From header carries the display name asked for");
});

test("POST /api/meetings/:id/sip-invites without a SIP listener: 409 SIP_DISABLED", async (t) => {
  const plain = await startTestServer();
  t.after(() => plain.close());
  const meeting = await plain.createMeeting("enhanced");
  const r = await api(plain.server.port, plain.ca, plain.server.adminToken, "POST", `/api/meetings/${meeting.id}/sip-invites`, { body: { uri: "sip:room@127.0.0.1;transport=tls" } });
  assert.equal(r.status, 409);
  assert.equal(r.json<{ error: { code: string } }>().error.code, "SIP_DISABLED");
});

test("the meeting's owner, a signed-in member, invites a room system through the API: it joins as a visible sip member, the host is told, and its hang-up removes it and rekeys", { timeout: 90_000 }, async (t) => {
  const { users } = sip.server.context.database;
  const owner = users.create({ email: "oda@example.com", name: "Oda", role: "member", passwordHash: "x" });
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true, ownerUserId: owner.id });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const host = await bot(meeting, "Host", { host: true });
  const guest = await bot(meeting, "Guest");
  const hostNotices = notices(host);
  const device = await Baresip.start({ user: "ownerroom", mediaenc: "srtp-mand", transport: "tls", autoAnswer: true, certificate: sip.deviceCertificate, video: false });
  t.after(async () => {
    host.p.leave();
    guest.p.leave();
    await device.close();
    users.delete(owner.id);
  });
  await waitEpoch(host, "host and guest in the group", (e) => e.members.length === 2);
  const joined = sipCall(meeting.id, "joined", 45_000);
  const accepted = await http("POST", `/api/meetings/${meeting.id}/sip-invites`, { body: { uri: `sips:ownerroom@127.0.0.1:${device.tlsPort}`, displayName: "Owner's room" }, headers: signedIn(owner.id) });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.json));
  await device.waitEvent("CALL_ESTABLISHED", 45_000);
  const { memberId, inviteId } = await joined;
  assert.equal(inviteId, accepted.json.inviteId);
  // Both members see it in their own MLS member list, as a sip connector, on one epoch and code.
  const three = await waitEpoch(host, "the room system in the host's group", (e) => e.members.length === 3);
  const guestThree = await waitEpoch(guest, "the room system in the guest's group", (e) => e.epoch === three.epoch);
  assert.equal(guestThree.securityCode, three.securityCode);
  for (const e of [three, guestThree]) {
    const room = e.members.find((m) => m.identity.memberId === memberId)?.identity;
    assert.deepEqual(room && room.kind === "connector" ? [room.displayName, room.connector, room.farLeg?.signaling, room.farLeg?.media] : room, ["Owner's room", "sip", "tls", "srtp"]);
  }
  await waitFor("the host's ROOM_SYSTEM_JOINED notice", 10_000, (wake) => host.p.session.on("notice", wake), () => hostNotices.find((n) => n.code === "ROOM_SYSTEM_JOINED"));
  // The device hangs up: the member leaves everyone's group, the group rekeys, the host is told.
  device.hangup();
  await device.waitEvent("CALL_CLOSED", 15_000);
  const after = await waitEpoch(host, "the group without the room system", (e) => e.members.length === 2 && e.epoch > three.epoch);
  assert.deepEqual(membersOf(after), ["Guest", "Host"]);
  assert.notEqual(after.securityCode, three.securityCode);
  await waitFor("the host's ROOM_SYSTEM_ENDED notice", 10_000, (wake) => host.p.session.on("notice", wake), () => hostNotices.find((n) => n.code === "ROOM_SYSTEM_ENDED"));
});

test("a host's invite over signaling whose display name carries a line break: the device is called under the name without it (nothing reaches the SIP headers) and joins with it", { timeout: 90_000 }, async (t) => {
  const created = await sip.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const host = await bot(meeting, "Host", { host: true });
  const device = await Baresip.start({ user: "crlfroom", mediaenc: "srtp-mand", transport: "tls", autoAnswer: true, certificate: sip.deviceCertificate, video: false });
  t.after(async () => {
    host.p.leave();
    await device.close();
  });
  await waitEpoch(host, "the host in the group", (e) => e.members.length === 1);
  const joined = sipCall(meeting.id, "joined", 45_000);
  // (The signaling message allows any 1-64 characters; the HTTP API refuses such a name, above.)
  host.p.session.inviteRoomSystem(`sip:crlfroom@127.0.0.1:${device.tlsPort};transport=tls`, "Board\r\nX-Injected: yes");
  const established = await device.waitEvent("CALL_ESTABLISHED", 45_000);
  // The From header of the INVITE the device got: the name without the line break.
  assert.equal(established.peerdisplayname, "BoardX-Injected: yes");
  const { memberId, displayName } = await joined;
  assert.equal(displayName, "BoardX-Injected: yes");
  const two = await waitEpoch(host, "the room system in the group", (e) => e.members.length === 2);
  assert.equal(two.members.find((m) => m.identity.memberId === memberId)?.identity.displayName, "BoardX-Injected: yes");
});
