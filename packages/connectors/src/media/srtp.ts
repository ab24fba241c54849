/**
 * The far leg's media protection: SRTP (RFC 3711) with SDES keys, or plain RTP when the device
 * offers no SRTP and the meeting allows it. werift's SrtpSession and SrtcpSession do the
 * ciphers (AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM; they interoperate with libsrtp); they keep
 * no replay list, so this module adds the RFC 3711 §3.3.2 replay window, updated only after a
 * packet authenticates.
 */
import { SrtcpSession, SrtpSession, RtpHeader } from "werift";
import { ConnectorError } from "../errors.js";
import { SRTP_SUITES, type SrtpKeyMaterial } from "./sdes.js";

export interface MediaProtection {
  readonly encrypted: boolean;
  protectRtp(h: { payloadType: number; marker: boolean; sequenceNumber: number; timestamp: number; ssrc: number }, payload: Uint8Array, plain: Buffer): Buffer;
  /** Returns the plain RTP packet; throws SRTP_AUTH_FAILED or SRTP_REPLAY. */
  unprotectRtp(packet: Buffer): Buffer;
  protectRtcp(packet: Buffer): Buffer;
  unprotectRtcp(packet: Buffer): Buffer;
}

export const PLAIN_RTP: MediaProtection = {
  encrypted: false,
  protectRtp: (_h, _p, plain) => plain,
  unprotectRtp: (p) => p,
  protectRtcp: (p) => p,
  unprotectRtcp: (p) => p,
};

const REPLAY_WINDOW = 128;

/** RFC 3711 §3.3.2: a sliding window of the last REPLAY_WINDOW packet indices per SSRC. */
export class ReplayWindow {
  #highest = -1;
  #seen = new Set<number>();

  /** Whether `index` would be accepted (not seen, not too old). */
  check(index: number): boolean {
    if (this.#highest < 0 || index > this.#highest) return true;
    if (this.#highest - index >= REPLAY_WINDOW) return false;
    return !this.#seen.has(index);
  }

  /** Records an authenticated packet's index. */
  accept(index: number): void {
    if (index > this.#highest) {
      this.#highest = index;
      for (const i of this.#seen) if (this.#highest - i >= REPLAY_WINDOW) this.#seen.delete(i);
    }
    this.#seen.add(index);
  }
}

export class SrtpProtection implements MediaProtection {
  readonly encrypted = true;
  readonly #srtp: SrtpSession;
  readonly #srtcp: SrtcpSession;
  readonly #windows = new Map<number, { window: ReplayWindow; roc: number; last: number }>();

  constructor(local: SrtpKeyMaterial, remote: SrtpKeyMaterial) {
    if (local.suite !== remote.suite) throw new ConnectorError("SRTP_BAD_KEY", "both directions must use the same suite");
    // werift has neither the 32-bit tag nor the MKI: those keys belong to microsoft/srtp-aes-cm.ts.
    if (local.suite === "AES_CM_128_HMAC_SHA1_32" || local.mki || remote.mki) throw new ConnectorError("SRTP_BAD_KEY", "the 32-bit tag and the MKI need the Microsoft profile's SRTP");
    const profile = SRTP_SUITES[local.suite].profile;
    const keys = { localMasterKey: local.key, localMasterSalt: local.salt, remoteMasterKey: remote.key, remoteMasterSalt: remote.salt };
    this.#srtp = new SrtpSession({ keys, profile });
    this.#srtcp = new SrtcpSession({ keys, profile });
  }

  protectRtp(h: { payloadType: number; marker: boolean; sequenceNumber: number; timestamp: number; ssrc: number }, payload: Uint8Array, _plain?: Buffer): Buffer {
    const header = new RtpHeader({ payloadType: h.payloadType, marker: h.marker, sequenceNumber: h.sequenceNumber, timestamp: h.timestamp, ssrc: h.ssrc });
    return this.#srtp.encrypt(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), header);
  }

  unprotectRtp(packet: Buffer): Buffer {
    if (packet.length < 12) throw new ConnectorError("SRTP_AUTH_FAILED", "too short");
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const state = this.#windows.get(ssrc) ?? { window: new ReplayWindow(), roc: 0, last: -1 };
    // Our own estimate of the packet index (RFC 3711 §3.3.1), for the replay check only.
    let roc = state.roc;
    if (state.last >= 0) {
      if (seq < 0x1000 && state.last > 0xf000) roc += 1;
      else if (seq > 0xf000 && state.last < 0x1000 && roc > 0) roc -= 1;
    }
    const index = roc * 0x10000 + seq;
    if (!state.window.check(index)) throw new ConnectorError("SRTP_REPLAY");
    let plain: Buffer;
    try {
      plain = this.#srtp.decrypt(packet);
    } catch {
      throw new ConnectorError("SRTP_AUTH_FAILED");
    }
    state.window.accept(index);
    if (index > state.roc * 0x10000 + Math.max(state.last, 0) || state.last < 0) {
      state.roc = roc;
      state.last = seq;
    }
    this.#windows.set(ssrc, state);
    return plain;
  }

  protectRtcp(packet: Buffer): Buffer {
    return this.#srtcp.encrypt(packet);
  }

  unprotectRtcp(packet: Buffer): Buffer {
    try {
      return this.#srtcp.decrypt(packet);
    } catch {
      throw new ConnectorError("SRTP_AUTH_FAILED", "SRTCP");
    }
  }
}
