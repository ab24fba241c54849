// Phone dial-in through a trunk with the Microsoft SIP profile (docs/operations.md §5c): Debian's
// baresip plays the Direct Routing SBC, calling over SIP/TLS with a client certificate from the
// CA configured as the trunk's `clientCa`, with mandatory SDES-SRTP. The phone leg then runs on
// our own RFC 3711 code (microsoft/srtp-aes-cm.ts) against baresip's (libre's) SRTP. baresip 1.0
// offers only AES_CM_128_HMAC_SHA1_80 without an MKI (its srtp module hard-codes the offered
// suite), so the 32-bit tag and the MKI are checked at the SDES/offer-answer level in the unit
// tests and at the SRTP level against ffmpeg and rtpengine (srtp-microsoft.test.ts), not here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { Baresip, requireBaresip, toneCorrelation, type BaresipOptions } from "./support/baresip.js";
import { phoneHearsTone, PhoneTrunkServer, voiceAtBot, waitEpoch } from "./support/phone-trunk.js";
import { makeTestCa, type TestCa } from "./support/test-ca.js";

let s: PhoneTrunkServer;
const cas: TestCa[] = [];
/** cert + key PEM file of the SBC, signed by the trunk's configured CA. */
let sbcCertificate: string;
/** cert + key PEM file signed by another CA. */
let strangerCertificate: string;

before(async () => {
  requireBaresip();
  requireSystemBinary("espeak-ng");
  const trunkCa = await makeTestCa("Test SBC CA");
  const otherCa = await makeTestCa("Another CA");
  cas.push(trunkCa, otherCa);
  // baresip takes its client certificate and key in one PEM file.
  const bundle = async (ca: TestCa, name: string) => {
    const { cert, key } = await ca.issue(name, "DNS:sbc.example.org");
    const file = join(ca.dir, `${name}-bundle.pem`);
    await writeFile(file, cert + key);
    return file;
  };
  sbcCertificate = await bundle(trunkCa, "sbc");
  strangerCertificate = await bundle(otherCa, "stranger");
  // The trunk is 127.0.0.1, where the test's SBC calls from.
  s = await PhoneTrunkServer.start({ trunks: [{ address: "127.0.0.1", profile: "microsoft", clientCa: trunkCa.caFile }] });
});

after(async () => {
  await s?.close();
  for (const ca of cas) await ca.close();
});

/** The SBC: SIP over TLS, SRTP mandatory, G.711 µ-law (what Direct Routing SBCs send to a PSTN leg). */
function sbc(user: string, opts: Partial<BaresipOptions>): Promise<Baresip> {
  return Baresip.start({ user, transport: "tls", mediaenc: "srtp-mand", audioCodecs: "PCMU/8000/1", video: false, channels: 1, rate: 8000, toneHz: 1000, ...opts });
}

test("an SBC trunk with the Microsoft profile and mutual TLS: with a client certificate from the trunk's CA the call is answered, SRTP runs on our AES_CM code against baresip's both ways, and the phone joins as 'TLS + SRTP'", { timeout: 180_000 }, async (t) => {
  const created = await s.server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const a = await s.bot(meeting, "Adelheid");
  const caller = await sbc("15550103333", { certificate: sbcCertificate });
  t.after(async () => {
    a.p.leave();
    await caller.close();
  });
  await waitEpoch(a, "the bot in the group", (e) => e.members.length === 1);
  const name = "Phone \u2022\u2022\u2022 3333";
  caller.dial(`sip:+15550100@127.0.0.1:${s.sipPort("tls")};transport=tls`);
  await caller.waitEvent("CALL_ESTABLISHED", 30_000);
  const menc = await caller.waitEvent("CALL_MENC", 30_000);
  assert.match(String(menc.param), /audio,AES_CM_128_HMAC_SHA1_80$/, "baresip reports its audio secured with the AES_CM suite it offered");
  await s.prompt(name, "welcome", "start");
  caller.sendDtmf(`${meeting.id}#`);
  await s.prompt(name, "passcode", "start");
  const joined = s.callEvent(meeting.id, "joined");
  caller.sendDtmf(`${s.server.sip!.phonePasscode(meeting.id)!}#`);
  const joinedEvent = await joined;
  const connectorId = joinedEvent.memberId as string;
  assert.equal(joinedEvent.detail, "TLS + SRTP to the trunk");
  const two = await waitEpoch(a, "the phone in the group", (e) => e.members.length === 2);
  const member = two.members.find((m) => m.identity.kind === "connector")!.identity;
  assert.deepEqual(member.kind === "connector" ? [member.farLeg?.signaling, member.farLeg?.media, member.farLeg?.suite] : [], ["tls", "srtp", "AES_CM_128_HMAC_SHA1_80"]);

  // The SBC's 1000 Hz tone (SRTP from libre, unprotected by AesCmSrtp) reaches the bot.
  const fromPhone = await voiceAtBot(a, connectorId);
  const voice = toneCorrelation(fromPhone, 48000, 1000);
  assert.ok(voice > 0.6, `the SBC's tone reaches the meeting (correlation ${voice.toFixed(2)})`);
  // The bot's 440 Hz tone (protected by AesCmSrtp, unprotected by libre) reaches the SBC.
  await phoneHearsTone(caller, 440, 30_000);
  caller.hangup();
  await caller.waitEvent("CALL_CLOSED", 15_000);
});

test("from the trunk's address, a call over TLS with a certificate no configured CA signed, or over UDP, is refused with 403 and no IVR runs", { timeout: 90_000 }, async (t) => {
  const stranger = await sbc("15550104444", { certificate: strangerCertificate });
  const plain = await sbc("15550105555", { transport: "udp", mediaenc: "none" });
  t.after(async () => {
    await stranger.close();
    await plain.close();
  });
  stranger.dial(`sip:+15550100@127.0.0.1:${s.sipPort("tls")};transport=tls`);
  plain.dial(`sip:+15550100@127.0.0.1:${s.sipPort("udp")}`);
  for (const p of [stranger, plain]) {
    const closed = await p.waitEvent("CALL_CLOSED", 30_000);
    assert.match(String(closed.param), /403/);
  }
  assert.equal(s.ivrEvents.filter((e) => /4444|5555/.test(e.displayName)).length, 0, "no IVR ran for them");
});
