// The encryption shield is computed from the MLS member list; these are its states.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MemberIdentity } from "@conclave/protocol";
import { computeShield, connectorMeaning, exceptionDescription, exceptionReason, farLegProtectionLabel, protectionLabel } from "../src/meeting/shield.js";
import { setLocale } from "../src/i18n/i18n.js";

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `m-${name}`, displayName: name });
const connector = (name: string, c: "recording" | "sip" | "pstn" | "streaming" | "transcription"): MemberIdentity => ({
  kind: "connector",
  connector: c,
  memberId: `c-${name}`,
  displayName: name,
});

test("an E2EE meeting of people shows the lock with no exceptions", () => {
  const s = computeShield("e2ee", [person("Ada"), person("Bob")]);
  assert.equal(s.state, "e2ee");
  assert.deepEqual(s.exceptions, []);
});

test("an Enhanced meeting of people shows the green check", () => {
  assert.equal(computeShield("enhanced", [person("Ada")]).state, "encrypted");
});

test("phone, room-system and streaming connectors make it partial and are each listed by name", () => {
  const s = computeShield("enhanced", [person("Ada"), connector("Dial-in +1 555", "pstn"), connector("Room 4", "sip"), connector("Live", "streaming")]);
  assert.equal(s.state, "partial");
  assert.deepEqual(
    s.exceptions.map((x) => [x.displayName, x.connector]),
    [
      ["Dial-in +1 555", "pstn"],
      ["Room 4", "sip"],
      ["Live", "streaming"],
    ],
  );
  for (const x of s.exceptions) assert.ok(x.reason.length > 20);
});

test("recording and transcription connectors hold keys visibly but are not exceptions", () => {
  const s = computeShield("enhanced", [person("Ada"), connector("Recorder", "recording"), connector("Captions", "transcription")]);
  assert.equal(s.state, "encrypted");
  assert.deepEqual(s.exceptions, []);
  assert.deepEqual(s.keyHoldingConnectors.map((c) => c.displayName), ["Recorder", "Captions"]);
});

test("a connector that somehow appears in an E2EE group is never hidden: the shield drops to partial", () => {
  assert.equal(computeShield("e2ee", [person("Ada"), connector("Dial-in", "pstn")]).state, "partial");
});

test("an exception names its far leg's protection, from the connector's credential", () => {
  const room: MemberIdentity = {
    kind: "connector",
    connector: "sip",
    memberId: "c-room",
    displayName: "Room 4",
    farLeg: { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" },
  };
  const phone: MemberIdentity = { kind: "connector", connector: "sip", memberId: "c-soft", displayName: "Softphone", farLeg: { protocol: "SIP", signaling: "udp", media: "rtp" } };
  const s = computeShield("enhanced", [person("Ada"), room, phone]);
  assert.equal(s.state, "partial");
  assert.deepEqual(s.exceptions.map((x) => [x.displayName, x.protection, x.description]), [
    ["Room 4", "TLS + SRTP", "SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80"],
    ["Softphone", "unencrypted", "SIP/UDP + RTP (unencrypted)"],
  ]);
});

test("a recording connector in an E2EE group cannot show the lock", () => {
  assert.equal(computeShield("e2ee", [person("Ada"), connector("Recorder", "recording")]).state, "encrypted");
});

test("a live stream's exception names its destination and whether its leg is TLS (rtmps) or unencrypted (rtmp)", () => {
  const stream = (name: string, tls: boolean): MemberIdentity => ({
    kind: "connector",
    connector: "streaming",
    memberId: `c-${name}`,
    displayName: name,
    farLeg: { protocol: tls ? "RTMPS" : "RTMP", signaling: tls ? "tls" : "tcp", media: "none" },
  });
  const plain = computeShield("enhanced", [person("Ada"), stream("Live stream to rtmp://ingest.example/app", false)]).exceptions[0]!;
  assert.equal(plain.protection, "unencrypted");
  assert.equal(plain.farLegEncrypted, false);
  assert.equal(plain.description, "RTMP/TCP (unencrypted)");
  assert.match(plain.reason, /^live stream to rtmp:\/\/ingest\.example\/app: unencrypted beyond the connector/);
  const tls = computeShield("enhanced", [person("Ada"), stream("Live stream to rtmps://ingest.example/app", true)]);
  assert.equal(tls.state, "partial", "a TLS leg still ends at a service outside the meeting's encryption");
  const x = tls.exceptions[0]!;
  assert.equal(x.protection, "TLS");
  assert.equal(x.farLegEncrypted, true);
  assert.equal(x.description, "RTMPS/TLS");
  assert.match(x.reason, /^live stream to rtmps:\/\/ingest\.example\/app: encrypted \(TLS\) only as far as the streaming service/);
});

// The web app says the shield's texts in the reader's language, from the exception's stable
// fields; in English they are exactly the protocol's words (which `conclave bot --json` prints).
const farLegCases: MemberIdentity[] = [
  { kind: "connector", connector: "sip", memberId: "c-1", displayName: "Room 4", farLeg: { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" } },
  { kind: "connector", connector: "sip", memberId: "c-2", displayName: "Room 5", farLeg: { protocol: "SIP", signaling: "tls", media: "dtls-srtp" } },
  { kind: "connector", connector: "sip", memberId: "c-3", displayName: "Softphone", farLeg: { protocol: "SIP", signaling: "udp", media: "rtp" } },
  { kind: "connector", connector: "sip", memberId: "c-4", displayName: "Leaky", farLeg: { protocol: "SIP", signaling: "tcp", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" } },
  { kind: "connector", connector: "sip", memberId: "c-5", displayName: "Leaky DTLS", farLeg: { protocol: "SIP", signaling: "udp", media: "dtls-srtp" } },
  { kind: "connector", connector: "sip", memberId: "c-6", displayName: "Old room" },
  { kind: "connector", connector: "sip", memberId: "c-7", displayName: "H.323 room", farLeg: { protocol: "H.323", signaling: "none", media: "rtp" } },
  { kind: "connector", connector: "pstn", memberId: "c-8", displayName: "+1 555 0100", farLeg: { protocol: "PSTN", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" } },
  { kind: "connector", connector: "pstn", memberId: "c-9", displayName: "+1 555 0101", farLeg: { protocol: "PSTN", signaling: "udp", media: "rtp" } },
  { kind: "connector", connector: "pstn", memberId: "c-10", displayName: "+1 555 0102" },
  { kind: "connector", connector: "streaming", memberId: "c-11", displayName: "Live stream to rtmps://ingest.example/app", farLeg: { protocol: "RTMPS", signaling: "tls", media: "none" } },
  { kind: "connector", connector: "streaming", memberId: "c-12", displayName: "Live stream to rtmp://ingest.example/app", farLeg: { protocol: "RTMP", signaling: "tcp", media: "none" } },
  { kind: "connector", connector: "streaming", memberId: "c-13", displayName: "Live stream to rtmp://very-long-ingest-name.example/a…", farLeg: { protocol: "RTMP", signaling: "tcp", media: "none" } },
];

test("in English the web app's shield texts are the protocol's words", () => {
  setLocale("en");
  const s = computeShield("enhanced", farLegCases);
  assert.equal(s.exceptions.length, farLegCases.length);
  for (const x of s.exceptions) {
    assert.equal(exceptionReason(x), x.reason, x.displayName);
    assert.equal(exceptionDescription(x), x.description, x.displayName);
    assert.equal(protectionLabel(x.protection), x.protection, x.displayName);
  }
  const room = farLegCases[2]!;
  assert.equal(farLegProtectionLabel(room.kind === "connector" ? room.farLeg : undefined), "unencrypted");
  assert.equal(connectorMeaning("recording"), "Recording: stored encrypted at rest on this server; the meeting's owner and admins can play it.");
});

test("in French the shield's reasons, far legs and meanings are French", () => {
  setLocale("fr");
  try {
    const s = computeShield("enhanced", farLegCases);
    for (const x of s.exceptions) {
      const reason = exceptionReason(x);
      assert.notEqual(reason, x.reason, x.displayName);
      assert.doesNotMatch(reason, /\b(encrypted|unencrypted|the connector|can hear|end to end)\b/, `${x.displayName}: ${reason}`);
      assert.doesNotMatch(exceptionDescription(x), /unencrypted|not described/, x.displayName);
      assert.doesNotMatch(protectionLabel(x.protection), /unencrypted/);
    }
    const [room, , soft, leaky, , old] = s.exceptions;
    assert.equal(exceptionDescription(room!), "SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80", "technical names stay");
    assert.equal(protectionLabel(room!.protection), "TLS + SRTP");
    assert.equal(exceptionDescription(soft!), "SIP/UDP + RTP (non chiffré)");
    assert.equal(protectionLabel(soft!.protection), "non chiffré");
    assert.equal(exceptionDescription(leaky!), "SIP/TCP + SRTP AES_CM_128_HMAC_SHA1_80 (non chiffré : clés SRTP envoyées sans TLS)");
    assert.equal(exceptionDescription(old!), "liaison distante non décrite (non chiffrée)");
    assert.match(exceptionReason(room!), /^Système de salle \(SIP\/H\.323\) : chiffré \(TLS \+ SRTP\) seulement jusqu'à l'appareil/);
    const stream = s.exceptions.find((x) => x.displayName === "Live stream to rtmp://ingest.example/app")!;
    assert.match(exceptionReason(stream), /^diffusion en direct vers rtmp:\/\/ingest\.example\/app : non chiffrée au-delà du connecteur/);
    assert.equal(exceptionDescription(stream), "RTMP/TCP (non chiffré)");
    assert.match(connectorMeaning("transcription"), /^Transcription : l'audio est traité sur ce serveur/);
    assert.equal(connectorMeaning("something-new"), "Détient les clés de la réunion sur ce serveur.");
  } finally {
    setLocale("en");
  }
});
