// DTLS-SRTP (RFC 5764) between two of our own associations over real UDP sockets, and the
// fingerprint check that makes it safe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { DtlsSrtpAssociation, createDtlsIdentity, fingerprintOf, isDtls } from "../src/media/dtls.js";
import { negotiateOffer, buildAnswer } from "../src/connectors/sip-room/negotiate.js";

async function udp(): Promise<Socket> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  return s;
}

test("two DTLS-SRTP associations agree on SRTP keys crosswise after checking each other's fingerprint", async (t) => {
  const [a, b] = [await udp(), await udp()];
  const [ida, idb] = [await createDtlsIdentity(), await createDtlsIdentity()];
  t.after(() => [a, b].forEach((s) => s.close()));
  const fp = (id: { fingerprint: string }) => ({ algorithm: "sha-256", value: id.fingerprint.split(" ")[1]! });
  const server = new DtlsSrtpAssociation({ socket: a, remote: { address: "127.0.0.1", port: b.address().port }, role: "server", identity: ida, remoteFingerprint: fp(idb) });
  const client = new DtlsSrtpAssociation({ socket: b, remote: { address: "127.0.0.1", port: a.address().port }, role: "client", identity: idb, remoteFingerprint: fp(ida) });
  a.on("message", (m) => isDtls(m) && server.feed(m));
  b.on("message", (m) => isDtls(m) && client.feed(m));
  const [ks, kc] = await Promise.all([server.keys, client.keys]);
  assert.deepEqual([ks.localKey, ks.localSalt], [kc.remoteKey, kc.remoteSalt]);
  assert.deepEqual([ks.remoteKey, ks.remoteSalt], [kc.localKey, kc.localSalt]);
  assert.equal(ks.localKey.length, 16);
  server.close();
  client.close();
});

test("a DTLS peer whose certificate is not the one its SDP announced is refused", async (t) => {
  const [a, b] = [await udp(), await udp()];
  const [ida, idb, other] = [await createDtlsIdentity(), await createDtlsIdentity(), await createDtlsIdentity()];
  t.after(() => [a, b].forEach((s) => s.close()));
  const server = new DtlsSrtpAssociation({ socket: a, remote: { address: "127.0.0.1", port: b.address().port }, role: "server", identity: ida, remoteFingerprint: { algorithm: "sha-256", value: other.fingerprint.split(" ")[1]! } });
  const client = new DtlsSrtpAssociation({ socket: b, remote: { address: "127.0.0.1", port: a.address().port }, role: "client", identity: idb, remoteFingerprint: { algorithm: "sha-256", value: ida.fingerprint.split(" ")[1]! } });
  a.on("message", (m) => isDtls(m) && server.feed(m));
  b.on("message", (m) => isDtls(m) && client.feed(m));
  await assert.rejects(server.keys, /does not match the fingerprint/);
  client.close();
  assert.equal(fingerprintOf(ida.certPem), ida.fingerprint.split(" ")[1]);
});

test("offer/answer: baresip's DTLS-SRTP offer is answered passive with our fingerprint; its far leg is TLS + DTLS-SRTP", async () => {
  const offer = readFileSync(new URL("../../test/fixtures/baresip-dtls-offer.sdp", import.meta.url), "utf8");
  const r = negotiateOffer(offer, { signaling: "tls", requireEncryption: true });
  assert.ok(r.ok);
  assert.deepEqual(r.negotiation.farLeg, { protocol: "SIP", signaling: "tls", media: "dtls-srtp", suite: "SRTP_AES128_CM_HMAC_SHA1_80" });
  assert.deepEqual(r.negotiation.audio.dtls?.role, "server");
  const id = await createDtlsIdentity();
  const answer = buildAnswer(r.negotiation, { address: "127.0.0.1", audioPort: 40000, videoPort: 40002 }, 1, 1, id.fingerprint);
  assert.match(answer, /m=audio 40000 UDP\/TLS\/RTP\/SAVPF 96/);
  assert.match(answer, /a=setup:passive/);
  assert.ok(answer.includes(`a=fingerprint:${id.fingerprint}`));
  // Over plain SIP the fingerprint could be swapped on the path: required encryption refuses it.
  const plain = negotiateOffer(offer, { signaling: "udp", requireEncryption: true });
  assert.equal(plain.ok ? null : plain.status, 488);
});
