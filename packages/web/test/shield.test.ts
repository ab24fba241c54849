// The encryption shield is computed from the MLS member list; these are its states.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MemberIdentity } from "@conclave/protocol";
import { computeShield } from "../src/meeting/shield.js";

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
