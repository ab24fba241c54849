// Phone dial-in through a trunk with the Microsoft SIP profile (docs/operations.md §5c): Debian's
// baresip plays the Direct Routing SBC, calling over SIP/TLS with a client certificate from the
// CA configured as the trunk's `clientCa`, with mandatory SDES-SRTP. The phone leg then runs on
// our own RFC 3711 code (microsoft/srtp-aes-cm.ts) against baresip's (libre's) SRTP. baresip 1.0
// offers only AES_CM_128_HMAC_SHA1_80 without an MKI (its srtp module hard-codes the offered
// suite), so the 32-bit tag and the MKI are checked at the SDES/offer-answer level in the unit
// tests and at the SRTP level against ffmpeg and rtpengine (srtp-microsoft.test.ts), not here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decoder } from "@evan/opus";
import { loadConfig, startConclave, type ConclaveServer } from "@conclave/server";
import { NodeParticipant } from "@conclave/client/node";
import type { EpochEvent } from "@conclave/client";
import { requireSystemBinary } from "@conclave/test-support";
import { Baresip, requireBaresip, toneCorrelation, type BaresipOptions } from "./support/baresip.js";
import { waitFor } from "./support/harness.js";

interface SbcServer {
  server: ConclaveServer;
  dataDir: string;
  ca: string;
  /** cert + key PEM of the SBC, signed by the trunk's configured CA. */
  sbcCertificate: string;
  /** cert + key PEM signed by another CA (self-signed). */
  strangerCertificate: string;
  ivrEvents: { displayName: string; prompt: string; phase: string }[];
  close(): Promise<void>;
}

let s: SbcServer;

before(async () => {
  requireBaresip();
  requireSystemBinary("espeak-ng");
  requireSystemBinary("openssl");
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-pstn-ms-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dataDir, stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run(["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=Test SBC CA", "-keyout", "sbc-ca.key", "-out", "sbc-ca.pem"]);
  run(["req", ...ec, "-subj", "/CN=sbc.example.org", "-keyout", "sbc.key", "-out", "sbc.csr"]);
  run(["x509", "-req", "-in", "sbc.csr", "-CA", "sbc-ca.pem", "-CAkey", "sbc-ca.key", "-CAcreateserial", "-days", "1", "-out", "sbc.pem"]);
  run(["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=sbc.example.org", "-keyout", "stranger.key", "-out", "stranger.pem"]);
  const bundle = async (name: string) => {
    const file = join(dataDir, `${name}-bundle.pem`);
    await writeFile(file, (await readFile(join(dataDir, `${name}.pem`), "utf8")) + (await readFile(join(dataDir, `${name}.key`), "utf8")));
    return file;
  };
  // The trunk is 127.0.0.1, where the test's SBC calls from.
  const configFile = join(dataDir, "conclave.json");
  await writeFile(configFile, JSON.stringify({ sipTrunks: [{ address: "127.0.0.1", profile: "microsoft", clientCa: "sbc-ca.pem" }], dialInNumbers: ["+1 555 0100"] }));
  const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir, sipUdpListen: "127.0.0.1:0", sipListen: "127.0.0.1:0", config: configFile }, env: {} });
  const server = await startConclave(config, {
    logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) },
    relay: { listenAddress: "127.0.0.1" },
  });
  const ivrEvents: SbcServer["ivrEvents"] = [];
  server.sip!.on("ivr", (e) => ivrEvents.push(e));
  s = {
    server,
    dataDir,
    ca: await readFile(server.certFile, "utf8"),
    sbcCertificate: await bundle("sbc"),
    strangerCertificate: await bundle("stranger"),
    ivrEvents,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

after(() => s.close());

async function bot(meeting: { id: string; passcode: string | null }, name: string): Promise<{ p: NodeParticipant; epochs: EpochEvent[] }> {
  const p = new NodeParticipant({ link: `https://127.0.0.1:${s.server.port}/m/${meeting.id}${meeting.passcode ? `#pwd=${meeting.passcode}` : ""}`, displayName: name, ca: s.ca });
  const epochs: EpochEvent[] = [];
  p.on("epoch", (e) => epochs.push(e));
  await p.join();
  return { p, epochs };
}

function waitEpoch(b: { p: NodeParticipant; epochs: EpochEvent[] }, what: string, pred: (e: EpochEvent) => boolean, ms = 30_000): Promise<EpochEvent> {
  return waitFor(what, ms, (wake) => b.p.on("epoch", wake), () => {
    const e = b.epochs.at(-1);
    return e && pred(e) ? e : undefined;
  });
}

function prompt(displayName: string, id: string, phase: "start" | "end", ms = 30_000): Promise<unknown> {
  return waitFor(`the IVR to ${phase} prompt ${id} for ${displayName}`, ms, (wake) => {
    s.server.sip!.on("ivr", wake);
    return () => s.server.sip!.off("ivr", wake);
  }, () => (s.ivrEvents.some((e) => e.displayName === displayName && e.prompt === id && e.phase === phase) ? true : undefined));
}

function callEvent(meetingId: string, event: string, ms = 45_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} call event for ${meetingId}`)), ms);
    const on = (e: { meetingId: string; event: string }) => {
      if (e.meetingId === meetingId && e.event === event) {
        clearTimeout(timer);
        s.server.sip!.off("call", on);
        resolve(e as unknown as Record<string, unknown>);
      }
    };
    s.server.sip!.on("call", on);
  });
}

/** Waits until what `caller` has decoded so far holds a `hz` tone (correlation above 0.6). */
function phoneHearsTone(caller: Baresip, hz: number, ms: number): Promise<true> {
  let best = 0;
  return waitFor(`the phone to hear the ${hz} Hz tone`, ms, (wake) => {
    const poll = setInterval(wake, 250);
    return () => clearInterval(poll);
  }, () => {
    let heard: { rate: number; samples: Float64Array };
    try {
      heard = caller.receivedAudio();
    } catch {
      return undefined; // no decoded audio written yet
    }
    best = Math.max(best, toneCorrelation(heard.samples, heard.rate, hz));
    return best > 0.6 || undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}: best correlation ${best.toFixed(2)}`);
  });
}

/** The SBC: SIP over TLS, SRTP mandatory, G.711 µ-law (what Direct Routing SBCs send to a PSTN leg). */
function sbc(user: string, opts: Partial<BaresipOptions>): Promise<Baresip> {
  return Baresip.start({ user, transport: "tls", mediaenc: "srtp-mand", audioCodecs: "PCMU/8000/1", video: false, channels: 1, rate: 8000, toneHz: 1000, ...opts });
}

const port = (transport: "tls" | "udp") => s.server.sip!.listening.find((l) => l.transport === transport)!.port;

test("an SBC trunk with the Microsoft profile and mutual TLS: with a client certificate from the trunk's CA the call is answered, SRTP runs on our AES_CM code against baresip's both ways, and the phone joins as 'TLS + SRTP'", { timeout: 180_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await bot(meeting, "Adelheid");
  const caller = await sbc("15550103333", { certificate: s.sbcCertificate });
  t.after(async () => {
    a.p.leave();
    await caller.close();
  });
  await waitEpoch(a, "the bot in the group", (e) => e.members.length === 1);
  const name = "Phone \u2022\u2022\u2022 3333";
  caller.dial(`sip:+15550100@127.0.0.1:${port("tls")};transport=tls`);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  const menc = await caller.waitEvent("CALL_MENC", 30_000);
  assert.match(String(menc.param), /audio,AES_CM_128_HMAC_SHA1_80$/, "baresip reports its audio secured with the AES_CM suite it offered");
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
  assert.deepEqual(member.kind === "connector" ? [member.farLeg?.signaling, member.farLeg?.media, member.farLeg?.suite] : [], ["tls", "srtp", "AES_CM_128_HMAC_SHA1_80"]);

  // The SBC's 1000 Hz tone (SRTP from libre, unprotected by AesCmSrtp) reaches the bot.
  const fromPhone: number[] = [];
  const decoder = new Decoder({ channels: 1, sample_rate: 48000 });
  a.p.on("frame", (f) => {
    if (f.ownerId === connectorId && f.kind === "audio" && fromPhone.length < 48000 * 4) {
      const pcm = decoder.decode(f.frame);
      fromPhone.push(...new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1));
    }
  });
  await waitFor("the bot to decrypt the phone's audio", 40_000, (wake) => a.p.on("frame", wake), () => (a.p.stats().bySender[connectorId]?.audio ?? 0) >= 150 || undefined);
  const voice = toneCorrelation(Float64Array.from(fromPhone), 48000, 1000);
  assert.ok(voice > 0.6, `the SBC's tone reaches the meeting (correlation ${voice.toFixed(2)})`);
  // The bot's 440 Hz tone (protected by AesCmSrtp, unprotected by libre) reaches the SBC.
  await phoneHearsTone(caller, 440, 30_000);
  caller.hangup();
  await caller.waitEvent("CALL_CLOSED", 15_000);
});

test("from the trunk's address, a call over TLS with a certificate no configured CA signed, or over UDP, is refused with 403 and no IVR runs", { timeout: 90_000 }, async (t) => {
  const stranger = await sbc("15550104444", { certificate: s.strangerCertificate });
  const plain = await sbc("15550105555", { transport: "udp", mediaenc: "none" });
  t.after(async () => {
    await stranger.close();
    await plain.close();
  });
  stranger.dial(`sip:+15550100@127.0.0.1:${port("tls")};transport=tls`);
  plain.dial(`sip:+15550100@127.0.0.1:${port("udp")}`);
  for (const p of [stranger, plain]) {
    const closed = await p.waitEvent("CALL_CLOSED", 30_000);
    assert.match(String(closed.param), /403/);
  }
  assert.equal(s.ivrEvents.filter((e) => /4444|5555/.test(e.displayName)).length, 0, "no IVR ran for them");
});
