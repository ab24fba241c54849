/**
 * SRTP and SRTCP with AES_CM_128 and HMAC-SHA1 (RFC 3711), with the two things the Microsoft SIP
 * profile (Skype for Business, Teams Direct Routing) needs and werift's SrtpSession lacks: the
 * 32-bit authentication tag (AES_CM_128_HMAC_SHA1_32, RFC 4568 §6.2.2) and a Master Key
 * Identifier (MKI, RFC 3711 §3.1) in every packet. Written on node:crypto's AES-128-CTR, AES-ECB
 * and HMAC-SHA1; the key derivation is checked against RFC 3711 Appendix B.3, and the packets
 * against ffmpeg's libavformat SRTP (32-bit tag) and rtpengine (MKI) in the tests.
 *
 *   SRTP:  RTP header | encrypted payload | MKI (if any) | tag (80 or 32 bits)
 *   SRTCP: header (8) | encrypted rest | E=1, SRTCP index (31) | MKI (if any) | tag (80 bits)
 *
 * SRTCP keeps the 80-bit tag with the _32 suite (RFC 4568 §6.2.2, as libsrtp does). The replay
 * window is RFC 3711 §3.3.2's, updated only after a packet authenticates.
 */
import { createCipheriv, createHmac, timingSafeEqual } from "node:crypto";
import { ConnectorError } from "../errors.js";
import { ReplayWindow, type MediaProtection } from "../media/srtp.js";

export type AesCmSuite = "AES_CM_128_HMAC_SHA1_80" | "AES_CM_128_HMAC_SHA1_32";

/** One direction's master key (16 bytes), master salt (14) and, when in use, its MKI (1..4 bytes here). */
export interface AesCmMasterKey {
  key: Uint8Array;
  salt: Uint8Array;
  mki?: Uint8Array;
}

interface SessionKeys {
  rtpKey: Buffer;
  rtpAuth: Buffer;
  rtpSalt: Buffer;
  rtcpKey: Buffer;
  rtcpAuth: Buffer;
  rtcpSalt: Buffer;
}

/** RFC 3711 §4.3.1 with key_derivation_rate 0: AES-CM keystream under the master key. */
function prf(masterKey: Uint8Array, masterSalt: Uint8Array, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  Buffer.from(masterSalt).copy(iv, 0);
  // key_id = label || r (r = 0): the label lands at byte 7 of the 14-byte salt-sized value.
  iv[7]! ^= label;
  const c = createCipheriv("aes-128-ctr", masterKey, iv);
  return c.update(Buffer.alloc(length));
}

/** The six session keys of one master key (RFC 3711 §4.3.2, labels 0x00-0x05). */
export function deriveSessionKeys(master: AesCmMasterKey): SessionKeys {
  if (master.key.length !== 16) throw new ConnectorError("SRTP_BAD_KEY", "AES_CM_128 needs a 16-byte master key");
  if (master.salt.length !== 14) throw new ConnectorError("SRTP_BAD_KEY", "AES_CM_128 needs a 14-byte master salt");
  return {
    rtpKey: prf(master.key, master.salt, 0, 16),
    rtpAuth: prf(master.key, master.salt, 1, 20),
    rtpSalt: prf(master.key, master.salt, 2, 14),
    rtcpKey: prf(master.key, master.salt, 3, 16),
    rtcpAuth: prf(master.key, master.salt, 4, 20),
    rtcpSalt: prf(master.key, master.salt, 5, 14),
  };
}

/** RFC 3711 §4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16). */
function counter(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(ssrc >>> 0, 4);
  iv.writeUInt16BE(Number((index >> 32n) & 0xffffn), 8);
  iv.writeUInt32BE(Number(index & 0xffffffffn), 10);
  for (let i = 0; i < 14; i++) iv[i]! ^= salt[i]!;
  return iv;
}

function rtpHeaderLength(p: Uint8Array): number {
  if (p.length < 12 || p[0]! >> 6 !== 2) throw new ConnectorError("SRTP_AUTH_FAILED", "not an RTP packet");
  let n = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) {
    if (p.length < n + 4) throw new ConnectorError("SRTP_AUTH_FAILED", "truncated header extension");
    n += 4 + 4 * ((p[n + 2]! << 8) | p[n + 3]!);
  }
  if (n > p.length) throw new ConnectorError("SRTP_AUTH_FAILED", "truncated header");
  return n;
}

interface ReceiveState {
  roc: number;
  highest: number;
  window: ReplayWindow;
}

export class AesCmSrtp implements MediaProtection {
  readonly encrypted = true;
  readonly suite: AesCmSuite;
  readonly #tagLength: number;
  readonly #local: SessionKeys;
  readonly #remote: SessionKeys;
  readonly #localMki: Buffer;
  readonly #remoteMki: Buffer;
  readonly #sendRoc = new Map<number, { roc: number; last: number }>();
  readonly #receive = new Map<number, ReceiveState>();
  #rtcpIndex = 0;
  readonly #rtcpWindows = new Map<number, ReplayWindow>();

  /**
   * `local` protects what we send, `remote` what we receive. Each direction's key has its own MKI
   * (or none): RFC 4568 §6.1 puts the MKI and its length in each side's own a=crypto line.
   */
  constructor(suite: AesCmSuite, local: AesCmMasterKey, remote: AesCmMasterKey) {
    for (const m of [local, remote]) {
      if (m.mki !== undefined && (m.mki.length < 1 || m.mki.length > 128)) throw new ConnectorError("SRTP_BAD_KEY", "MKI length: 1..128 bytes");
    }
    this.suite = suite;
    this.#tagLength = suite === "AES_CM_128_HMAC_SHA1_32" ? 4 : 10;
    this.#local = deriveSessionKeys(local);
    this.#remote = deriveSessionKeys(remote);
    this.#localMki = Buffer.from(local.mki ?? []);
    this.#remoteMki = Buffer.from(remote.mki ?? []);
  }

  protectRtp(_h: unknown, _payload: Uint8Array, plain: Buffer): Buffer {
    const headerLength = rtpHeaderLength(plain);
    const ssrc = plain.readUInt32BE(8);
    const seq = plain.readUInt16BE(2);
    const st = this.#sendRoc.get(ssrc);
    let roc = st?.roc ?? 0;
    // The sender's rollover counter: +1 when the sequence number wraps (RFC 3711 §3.3.1).
    if (st && seq < st.last && st.last - seq > 0x8000) roc = (roc + 1) >>> 0;
    this.#sendRoc.set(ssrc, { roc, last: seq });
    const index = (BigInt(roc) << 16n) | BigInt(seq);
    const c = createCipheriv("aes-128-ctr", this.#local.rtpKey, counter(this.#local.rtpSalt, ssrc, index));
    const body = Buffer.concat([plain.subarray(0, headerLength), c.update(plain.subarray(headerLength))]);
    const tag = this.#rtpTag(this.#local.rtpAuth, body, roc);
    return Buffer.concat([body, this.#localMki, tag]);
  }

  #rtpTag(authKey: Buffer, authenticated: Uint8Array, roc: number): Buffer {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc >>> 0);
    return createHmac("sha1", authKey).update(authenticated).update(r).digest().subarray(0, this.#tagLength);
  }

  unprotectRtp(packet: Buffer): Buffer {
    const trailer = this.#remoteMki.length + this.#tagLength;
    if (packet.length < 12 + trailer) throw new ConnectorError("SRTP_AUTH_FAILED", "too short");
    const body = packet.subarray(0, packet.length - trailer);
    const headerLength = rtpHeaderLength(body);
    const mki = packet.subarray(body.length, body.length + this.#remoteMki.length);
    // An unknown MKI names a key we do not have (RFC 3711 §3.3): drop it like a forgery.
    if (!timingSafeEqual(mki, this.#remoteMki)) throw new ConnectorError("SRTP_AUTH_FAILED", "unknown MKI");
    const ssrc = body.readUInt32BE(8);
    const seq = body.readUInt16BE(2);
    const st = this.#receive.get(ssrc) ?? { roc: 0, highest: -1, window: new ReplayWindow() };
    // RFC 3711 Appendix A: guess the rollover counter from the highest sequence number so far.
    let v = st.roc;
    if (st.highest >= 0) {
      if (st.highest < 0x8000) {
        if (seq - st.highest > 0x8000 && st.roc > 0) v = st.roc - 1;
      } else if (st.highest - 0x8000 > seq) {
        v = (st.roc + 1) >>> 0;
      }
    }
    const index = v * 0x10000 + seq;
    if (!st.window.check(index)) throw new ConnectorError("SRTP_REPLAY");
    const expected = this.#rtpTag(this.#remote.rtpAuth, body, v);
    const tag = packet.subarray(packet.length - this.#tagLength);
    if (!timingSafeEqual(tag, expected)) throw new ConnectorError("SRTP_AUTH_FAILED");
    st.window.accept(index);
    if (v > st.roc) {
      st.roc = v;
      st.highest = seq;
    } else if (v === st.roc && seq > st.highest) {
      st.highest = seq;
    }
    this.#receive.set(ssrc, st);
    const c = createCipheriv("aes-128-ctr", this.#remote.rtpKey, counter(this.#remote.rtpSalt, ssrc, BigInt(index)));
    return Buffer.concat([body.subarray(0, headerLength), c.update(body.subarray(headerLength))]);
  }

  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < 8) throw new ConnectorError("SRTP_AUTH_FAILED", "RTCP too short");
    const index = this.#rtcpIndex;
    this.#rtcpIndex = (this.#rtcpIndex + 1) & 0x7fffffff;
    const ssrc = packet.readUInt32BE(4);
    const c = createCipheriv("aes-128-ctr", this.#local.rtcpKey, counter(this.#local.rtcpSalt, ssrc, BigInt(index)));
    const e = Buffer.alloc(4);
    e.writeUInt32BE((0x80000000 | index) >>> 0);
    const authenticated = Buffer.concat([packet.subarray(0, 8), c.update(packet.subarray(8)), e]);
    const tag = createHmac("sha1", this.#local.rtcpAuth).update(authenticated).digest().subarray(0, 10);
    return Buffer.concat([authenticated, this.#localMki, tag]);
  }

  unprotectRtcp(packet: Buffer): Buffer {
    const trailer = this.#remoteMki.length + 10;
    if (packet.length < 8 + 4 + trailer) throw new ConnectorError("SRTP_AUTH_FAILED", "SRTCP too short");
    const authenticated = packet.subarray(0, packet.length - trailer);
    const mki = packet.subarray(authenticated.length, authenticated.length + this.#remoteMki.length);
    if (!timingSafeEqual(mki, this.#remoteMki)) throw new ConnectorError("SRTP_AUTH_FAILED", "unknown MKI");
    const expected = createHmac("sha1", this.#remote.rtcpAuth).update(authenticated).digest().subarray(0, 10);
    if (!timingSafeEqual(packet.subarray(packet.length - 10), expected)) throw new ConnectorError("SRTP_AUTH_FAILED", "SRTCP");
    const word = authenticated.readUInt32BE(authenticated.length - 4);
    const index = word & 0x7fffffff;
    const ssrc = authenticated.readUInt32BE(4);
    const window = this.#rtcpWindows.get(ssrc) ?? new ReplayWindow();
    if (!window.check(index)) throw new ConnectorError("SRTP_REPLAY", "SRTCP");
    window.accept(index);
    this.#rtcpWindows.set(ssrc, window);
    const encrypted = authenticated.subarray(8, authenticated.length - 4);
    if ((word & 0x80000000) === 0) return Buffer.concat([authenticated.subarray(0, 8), encrypted]);
    const c = createCipheriv("aes-128-ctr", this.#remote.rtcpKey, counter(this.#remote.rtcpSalt, ssrc, BigInt(index)));
    return Buffer.concat([authenticated.subarray(0, 8), c.update(encrypted)]);
  }
}
