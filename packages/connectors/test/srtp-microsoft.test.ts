// The Microsoft SIP profile's SRTP: AES_CM_128_HMAC_SHA1_32 (32-bit tag) and MKI, in our own
// RFC 3711 implementation (werift has neither), checked against RFC 3711's key derivation vectors
// and against independent implementations: ffmpeg's libavformat SRTP (32-bit tag, both ways).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { AesCmSrtp, deriveSessionKeys, type AesCmMasterKey } from "../src/microsoft/srtp-aes-cm.js";
import { decodeRtp, encodeRtp } from "../src/media/rtp.js";
import { decodeG711, encodeG711 } from "../src/media/g711.js";
import { isConnectorError } from "../src/errors.js";

const master = (mki?: number[]): AesCmMasterKey => ({ key: randomBytes(16), salt: randomBytes(14), ...(mki ? { mki: Uint8Array.from(mki) } : {}) });
const rtp = (seq: number, payload: Uint8Array, ssrc = 0x1234) => encodeRtp({ payloadType: 0, marker: false, sequenceNumber: seq, timestamp: seq * 160, ssrc }, payload);

function tonePower(x: ArrayLike<number>, rate: number, hz: number): number {
  let s = 0;
  let c = 0;
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i]! * Math.sin((2 * Math.PI * hz * i) / rate);
    c += x[i]! * Math.cos((2 * Math.PI * hz * i) / rate);
    e += x[i]! * x[i]!;
  }
  return e === 0 ? 0 : Math.sqrt(s * s + c * c) / Math.sqrt(e * (x.length / 2));
}

test("the key derivation matches RFC 3711 Appendix B.3", () => {
  const k = deriveSessionKeys({ key: Buffer.from("E1F97A0D3E018BE0D64FA32C06DE4139", "hex"), salt: Buffer.from("0EC675AD498AFEEBB6960B3AABE6", "hex") });
  assert.equal(k.rtpKey.toString("hex"), "c61e7a93744f39ee10734afe3ff7a087");
  assert.equal(k.rtpSalt.toString("hex"), "30cbbc08863d8c85d49db34a9ae1");
  assert.equal(k.rtpAuth.toString("hex"), "cebe321f6ff7716b6fd4ab49af256a156d38baa4");
});

test("SRTP with a 4-byte MKI and the 32-bit tag: packets carry MKI and tag, round-trip across a sequence wrap, and a forged, replayed or wrong-MKI packet is refused", () => {
  const a = master([0, 0, 0, 1]);
  const b = master([0, 0, 0, 1]);
  const alice = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", a, b);
  const bob = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", b, a);
  const payload = randomBytes(160);
  for (const seq of [0xfffd, 0xfffe, 0xffff, 0, 1, 2]) {
    const plain = rtp(seq, payload);
    const p = alice.protectRtp(undefined, payload, plain);
    assert.equal(p.length, plain.length + 4 + 4, "MKI (4) and tag (4) follow the payload");
    assert.deepEqual([...p.subarray(plain.length, plain.length + 4)], [0, 0, 0, 1]);
    assert.deepEqual(bob.unprotectRtp(p), plain);
    assert.throws(() => bob.unprotectRtp(p), (e) => isConnectorError(e, "SRTP_REPLAY"));
  }
  const p = alice.protectRtp(undefined, payload, rtp(3, payload));
  const forged = Buffer.from(p);
  forged[20]! ^= 1;
  assert.throws(() => bob.unprotectRtp(forged), (e) => isConnectorError(e, "SRTP_AUTH_FAILED"));
  const otherMki = Buffer.from(p);
  otherMki[p.length - 5]! ^= 2;
  assert.throws(() => bob.unprotectRtp(otherMki), (e) => isConnectorError(e, "SRTP_AUTH_FAILED"));
  // SRTCP: 80-bit tag even with the _32 suite, E flag and index, MKI.
  const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0x12, 0x34]);
  const srtcp = alice.protectRtcp(rr);
  assert.equal(srtcp.length, 8 + 4 + 4 + 10);
  assert.deepEqual(bob.unprotectRtcp(srtcp), rr);
  assert.throws(() => bob.unprotectRtcp(srtcp), (e) => isConnectorError(e, "SRTP_REPLAY"));
  // Without MKI and with the 80-bit tag the layout is the plain RFC 3711 one.
  const x = master();
  const y = master();
  const plain = rtp(7, payload);
  assert.equal(new AesCmSrtp("AES_CM_128_HMAC_SHA1_80", x, y).protectRtp(undefined, payload, plain).length, plain.length + 10);
  assert.throws(() => new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", { ...master(), mki: new Uint8Array(0) }, master()), (e) => isConnectorError(e, "SRTP_BAD_KEY"));
  assert.throws(() => new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", { key: randomBytes(15), salt: randomBytes(14) }, master()), (e) => isConnectorError(e, "SRTP_BAD_KEY"));
});

/** Runs ffmpeg to completion; rejects with its stderr. */
function ffmpeg(args: string[]): { done: Promise<void>; kill(): void } {
  const p = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return {
    done: new Promise((resolve, reject) => p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err}`))))),
    kill: () => p.kill("SIGTERM"),
  };
}

test("AES_CM_128_HMAC_SHA1_32 interoperates with ffmpeg's SRTP both ways (G.711 tone out and back)", { timeout: 60_000 }, async (t) => {
  requireSystemBinary("ffmpeg");
  const dir = await mkdtemp(join(tmpdir(), "conclave-srtp32-"));
  const ours = createSocket("udp4");
  await new Promise<void>((r) => ours.bind(0, "127.0.0.1", r));
  t.after(async () => {
    ours.close();
    await rm(dir, { recursive: true, force: true });
  });
  const toUs = master();
  const toFfmpeg = master();
  const inline = (m: AesCmMasterKey) => Buffer.concat([m.key, m.salt]).toString("base64");
  const session = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", toFfmpeg, toUs);

  // ffmpeg -> us: a 1000 Hz tone in PCMU, SRTP with the 32-bit tag.
  const received: Int16Array[] = [];
  let rejected = 0;
  ours.on("message", (m) => {
    try {
      const r = decodeRtp(session.unprotectRtp(m));
      if (r?.payloadType === 0) received.push(decodeG711(r.payload, "pcmu"));
    } catch {
      rejected += 1;
    }
  });
  const port = ours.address().port;
  await ffmpeg(["-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000:duration=2", "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-f", "rtp", "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_32", "-srtp_out_params", inline(toUs), `srtp://127.0.0.1:${port}?pkt_size=172`]).done;
  assert.ok(received.length >= 50, `we decrypted ffmpeg's packets (${received.length}, ${rejected} rejected)`);
  assert.equal(rejected, 0);
  const heard = Int16Array.from(received.flatMap((f) => [...f]));
  assert.ok(tonePower(heard, 8000, 1000) > 0.9, "ffmpeg's 1000 Hz tone");

  // us -> ffmpeg: a 440 Hz tone, ffmpeg decrypts and decodes it to raw PCM.
  const probe = createSocket("udp4");
  await new Promise<void>((r) => probe.bind(0, "127.0.0.1", r));
  const ffPort = probe.address().port;
  probe.close();
  const out = join(dir, "heard.raw");
  // ffmpeg's RTP demuxer takes SRTP keys from the SDP's a=crypto (RFC 4568), as a SIP peer would.
  const sdp = join(dir, "in.sdp");
  await writeFile(sdp, ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", `m=audio ${ffPort} RTP/SAVP 0`, "a=rtpmap:0 PCMU/8000", `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${inline(toFfmpeg)}`, ""].join("\r\n"));
  const reader = ffmpeg(["-protocol_whitelist", "file,udp,rtp,srtp", "-i", sdp, "-t", "1.5", "-f", "s16le", "-ar", "8000", "-ac", "1", out]);
  const tone = (seq: number) => encodeG711(Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * (seq * 160 + i)) / 8000))), "pcmu");
  let seq = 0;
  await new Promise<void>((resolve, reject) => {
    reader.done.then(resolve, reject);
    const timer = setInterval(() => {
      const payload = tone(seq);
      ours.send(session.protectRtp(undefined, payload, rtp(seq, payload, 0x5678)), ffPort, "127.0.0.1");
      seq += 1;
      if (seq > 600) {
        clearInterval(timer);
        reader.kill();
      }
    }, 20);
    reader.done.finally(() => clearInterval(timer)).catch(() => undefined);
  });
  const raw = await readFile(out);
  const pcm = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength >> 1);
  assert.ok(pcm.length >= 8000, `ffmpeg decoded ${pcm.length} samples of our SRTP`);
  assert.ok(tonePower(pcm, 8000, 440) > 0.9, "ffmpeg heard our 440 Hz tone");
});

/** bencode (the rtpengine NG protocol's encoding) of strings, numbers, lists and dictionaries. */
function bencode(v: unknown): string {
  if (typeof v === "number") return `i${v}e`;
  if (typeof v === "string") return `${Buffer.byteLength(v)}:${v}`;
  if (Array.isArray(v)) return `l${v.map(bencode).join("")}e`;
  const o = v as Record<string, unknown>;
  return `d${Object.keys(o).sort().map((k) => bencode(k) + bencode(o[k])).join("")}e`;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  s.close();
  return port;
}

test("rtpengine (an independent SRTP gateway) decrypts our SRTP with a 4-byte MKI and the 32-bit tag to plain RTP, refuses it without the MKI or with a forged tag, and we decrypt its 32-bit-tag SRTP (its answer carries no MKI)", { timeout: 60_000 }, async (t) => {
  requireSystemBinary("rtpengine");
  const ngPort = await freeUdpPort();
  const base = 20000 + 2 * Math.floor(Math.random() * 10000);
  const engine = spawn("rtpengine", ["--table=-1", "--interface=127.0.0.1", `--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${base}`, `--port-max=${base + 99}`, "--foreground", "--log-stderr", "--log-level=6"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  engine.stderr.on("data", (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    engine.once("exit", (code) => reject(new Error(`rtpengine exited ${code}: ${log}`)));
    const check = () => (log.includes("Startup complete") ? resolve() : undefined);
    engine.stderr.on("data", check);
  });
  const ng = createSocket("udp4");
  const a = createSocket("udp4"); // us: SRTP with MKI and the 32-bit tag
  const b = createSocket("udp4"); // the plain-RTP side
  for (const s of [ng, a, b]) await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  t.after(() => {
    for (const s of [ng, a, b]) s.close();
    engine.kill("SIGTERM");
  });
  const command = (msg: Record<string, unknown>): Promise<string> =>
    new Promise((resolve) => {
      const cookie = randomBytes(4).toString("hex");
      const on = (m: Buffer) => {
        if (!m.toString().startsWith(cookie)) return;
        ng.off("message", on);
        resolve(m.toString());
      };
      ng.on("message", on);
      ng.send(`${cookie} ${bencode(msg)}`, ngPort, "127.0.0.1");
    });
  const sdp = (port: number, proto: string, extra: string[] = []) => ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", `m=audio ${port} ${proto} 0`, "a=rtpmap:0 PCMU/8000", "a=sendrecv", ...extra, ""].join("\r\n");

  // Our offer: AES_CM_128_HMAC_SHA1_32 with MKI 1 of 4 bytes (RFC 4568 §6.1 "|1:4").
  const ours: AesCmMasterKey = { ...master(), mki: Uint8Array.of(0, 0, 0, 1) };
  const inline = Buffer.concat([ours.key, ours.salt]).toString("base64");
  const offered = await command({ command: "offer", "call-id": "mki", "from-tag": "a", "transport-protocol": "RTP/AVP", sdp: sdp(a.address().port, "RTP/SAVP", [`a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${inline}|2^31|1:4`]) });
  assert.match(offered, /result2:ok/, offered);
  const toPlainPort = Number(/m=audio (\d+) RTP\/AVP/.exec(offered)![1]);
  const answered = await command({ command: "answer", "call-id": "mki", "from-tag": "a", "to-tag": "b", sdp: sdp(b.address().port, "RTP/AVP") });
  assert.match(answered, /result2:ok/, answered);
  const toSrtpPort = Number(/m=audio (\d+) RTP\/SAVP/.exec(answered)![1]);
  const crypto = /a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:([A-Za-z0-9+/=]{40})(?:\|[^|\r\n]*)?(?:\|(\d+):(\d+))?/.exec(answered);
  assert.ok(crypto, `rtpengine answered AES_CM_128_HMAC_SHA1_32: ${answered}`);
  const theirsRaw = Buffer.from(crypto[1]!, "base64");
  const theirs: AesCmMasterKey = { key: theirsRaw.subarray(0, 16), salt: theirsRaw.subarray(16, 30), ...(crypto[2] ? { mki: mkiBytes(Number(crypto[2]), Number(crypto[3])) } : {}) };
  const session = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", ours, theirs);

  // us -> rtpengine -> plain side: rtpengine checks our MKI and 32-bit tag, decrypts, forwards.
  const plainIn: Buffer[] = [];
  b.on("message", (m) => plainIn.push(m));
  const srtpIn: Buffer[] = [];
  let rejected = 0;
  a.on("message", (m) => {
    try {
      srtpIn.push(session.unprotectRtp(m));
    } catch {
      rejected += 1;
    }
  });
  const payloads = Array.from({ length: 30 }, () => randomBytes(160));
  for (let i = 0; i < payloads.length; i++) {
    a.send(session.protectRtp(undefined, payloads[i]!, rtp(100 + i, payloads[i]!, 0xabc)), toSrtpPort, "127.0.0.1");
    b.send(rtp(500 + i, payloads[i]!, 0xdef), toPlainPort, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 20)); // paced like a 20 ms audio stream
  }
  await waitUntil(() => plainIn.length === payloads.length && srtpIn.length === payloads.length, 10_000, () => `plain ${plainIn.length}, srtp ${srtpIn.length}, rejected ${rejected}\n${log.slice(-2000)}`);
  const sent = new Set(payloads.map((p) => p.toString("hex")));
  assert.ok(plainIn.every((m) => sent.has(Buffer.from(decodeRtp(m)!.payload).toString("hex"))), "rtpengine decrypted our packets to the payloads we sent");
  assert.ok(srtpIn.every((m) => sent.has(Buffer.from(decodeRtp(m)!.payload).toString("hex"))), "we decrypted rtpengine's SRTP (32-bit tag) to the payloads the plain side sent");
  assert.equal(rejected, 0);
  // rtpengine reads the MKI where RFC 3711 puts it: the same key without the MKI, or with a
  // forged tag, does not get through (rtpengine does not check the MKI's value, only its length).
  const before = plainIn.length;
  const noMki = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", { key: ours.key, salt: ours.salt }, theirs);
  a.send(noMki.protectRtp(undefined, payloads[0]!, rtp(200, payloads[0]!, 0xabc)), toSrtpPort, "127.0.0.1");
  const forged = session.protectRtp(undefined, payloads[2]!, rtp(201, payloads[2]!, 0xabc));
  forged[forged.length - 1]! ^= 0x01;
  a.send(forged, toSrtpPort, "127.0.0.1");
  const good = session.protectRtp(undefined, payloads[1]!, rtp(202, payloads[1]!, 0xabc));
  a.send(good, toSrtpPort, "127.0.0.1");
  await waitUntil(() => plainIn.length > before, 5000, () => "the good packet after the bad ones");
  assert.equal(Buffer.from(decodeRtp(plainIn.at(-1)!)!.payload).toString("hex"), payloads[1]!.toString("hex"), "only the properly protected packet came through");
  assert.equal(plainIn.length, before + 1);
});

function mkiBytes(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

function waitUntil(pred: () => boolean, ms: number, what: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = setInterval(() => {
      if (pred()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(tick);
        reject(new Error(`timed out: ${what()}`));
      }
    }, 20);
  });
}

test("the MKI/32-bit-tag SRTP decoder takes 10^4 random and mutated packets: nothing authenticates, only ConnectorErrors are thrown", () => {
  const a = master([0, 0, 0, 7]);
  const b = master([0, 0, 0, 7]);
  const sender = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", a, b);
  const receiver = new AesCmSrtp("AES_CM_128_HMAC_SHA1_32", b, a);
  const payload = randomBytes(160);
  const valid = sender.protectRtp(undefined, payload, rtp(1, payload));
  const validRtcp = sender.protectRtcp(Buffer.from([0x80, 201, 0, 1, 0, 0, 0x12, 0x34]));
  for (let i = 0; i < 10_000; i++) {
    let input: Buffer;
    if (i % 2 === 0) {
      input = randomBytes(i % 200);
      if (input.length > 0) input[0] = 0x80 | (input[0]! & 0x3f);
    } else {
      input = Buffer.from(i % 4 === 1 ? valid : validRtcp);
      const at = i % input.length;
      input[at]! ^= 1 + (i % 255);
    }
    for (const f of [() => receiver.unprotectRtp(input), () => receiver.unprotectRtcp(input)]) {
      try {
        f();
        assert.fail("a random or altered packet authenticated");
      } catch (e) {
        assert.ok(isConnectorError(e), String(e));
      }
    }
  }
});
