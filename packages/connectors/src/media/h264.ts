/**
 * H.264 over RTP (RFC 6184, packetization-mode 1) and Annex B byte streams, for room systems that
 * only do H.264 (their video goes through an ffmpeg transcoder to and from the meeting's VP8).
 *
 * - Depacketizer: single NAL unit packets, STAP-A (type 24) and FU-A (type 28) in, one access unit
 *   (Annex B, start codes) out per RTP timestamp, on the marker bit. A gap in sequence numbers
 *   drops the access unit (the caller asks for a key frame). Malformed packets are dropped.
 * - Packetizer: an access unit's NAL units out as single NAL unit packets or FU-A fragments, the
 *   marker on the last packet.
 * - Annex B: splits a byte stream on start codes (00 00 01 / 00 00 00 01); access units are
 *   delimited by AUD NAL units (type 9), which the encoder is told to write.
 */

export interface H264AccessUnit {
  data: Uint8Array;
  timestamp: number;
  keyframe: boolean;
}

const START = Uint8Array.of(0, 0, 0, 1);

export class H264Depacketizer {
  #nals: Uint8Array[] = [];
  #timestamp: number | undefined;
  #lastSeq: number | undefined;
  #broken = false;
  #fu: Uint8Array[] | undefined;

  /** Feeds one RTP payload; returns a complete access unit when the marker bit closes one. */
  push(p: { sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }): { unit: H264AccessUnit | undefined; lost: boolean } {
    let lost = false;
    if (this.#lastSeq !== undefined && ((this.#lastSeq + 1) & 0xffff) !== p.sequenceNumber) {
      this.#broken = true;
      lost = true;
    }
    this.#lastSeq = p.sequenceNumber;
    if (this.#timestamp !== undefined && p.timestamp !== this.#timestamp) this.#reset();
    this.#timestamp = p.timestamp;
    const payload = p.payload;
    if (payload.length < 1) return { unit: undefined, lost };
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.#nals.push(payload);
    } else if (type === 24) {
      // STAP-A: 16-bit sizes, NAL units.
      let off = 1;
      while (off + 2 <= payload.length) {
        const size = (payload[off]! << 8) | payload[off + 1]!;
        off += 2;
        if (size === 0 || off + size > payload.length) {
          this.#broken = true;
          break;
        }
        this.#nals.push(payload.subarray(off, off + size));
        off += size;
      }
    } else if (type === 28) {
      if (payload.length < 3) return { unit: undefined, lost };
      const fuHeader = payload[1]!;
      const start = (fuHeader & 0x80) !== 0;
      const end = (fuHeader & 0x40) !== 0;
      if (start) this.#fu = [Uint8Array.of((payload[0]! & 0xe0) | (fuHeader & 0x1f)), payload.subarray(2)];
      else if (this.#fu) this.#fu.push(payload.subarray(2));
      else this.#broken = true;
      if (end && this.#fu) {
        this.#nals.push(concat(this.#fu));
        this.#fu = undefined;
      }
    } else {
      this.#broken = true; // STAP-B, MTAP, FU-B: not in packetization-mode 1 from devices we know
    }
    if (!p.marker) return { unit: undefined, lost };
    const nals = this.#nals;
    const broken = this.#broken;
    this.#reset();
    if (broken || nals.length === 0) return { unit: undefined, lost: true };
    const keyframe = nals.some((n) => (n[0]! & 0x1f) === 5);
    const parts: Uint8Array[] = [];
    for (const n of nals) parts.push(START, n);
    return { unit: { data: concat(parts), timestamp: p.timestamp, keyframe }, lost };
  }

  #reset(): void {
    this.#nals = [];
    this.#fu = undefined;
    this.#broken = false;
  }
}

/**
 * RFC 6184 §5.6 / §5.8: NAL units of one access unit into RTP payloads of at most `mtu` bytes.
 * In packetization mode 0 only single NAL unit packets exist: a larger NAL unit is dropped (the
 * encoder is asked for slices that fit).
 */
export function packetizeH264(nals: Uint8Array[], mtu: number, mode: 0 | 1 = 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const nal of nals) {
    if (nal.length === 0) continue;
    if (nal.length <= mtu) {
      out.push(nal);
      continue;
    }
    if (mode === 0) continue;
    const header = nal[0]!;
    const indicator = (header & 0xe0) | 28;
    const type = header & 0x1f;
    let off = 1;
    while (off < nal.length) {
      const size = Math.min(mtu - 2, nal.length - off);
      const first = off === 1;
      const last = off + size >= nal.length;
      const pkt = new Uint8Array(2 + size);
      pkt[0] = indicator;
      pkt[1] = (first ? 0x80 : 0) | (last ? 0x40 : 0) | type;
      pkt.set(nal.subarray(off, off + size), 2);
      out.push(pkt);
      off += size;
    }
  }
  return out;
}

/**
 * Splits an Annex B byte stream into NAL units, across chunk boundaries; returns access units,
 * each closed by the next access unit delimiter (type 9).
 */
export class AnnexBReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #unit: Uint8Array[] = [];

  push(chunk: Uint8Array): Uint8Array[][] {
    this.#buffer = concat([this.#buffer, chunk]);
    const units: Uint8Array[][] = [];
    const starts: { at: number; len: number }[] = [];
    for (let i = 0; i + 2 < this.#buffer.length; i++) {
      if (this.#buffer[i] === 0 && this.#buffer[i + 1] === 0) {
        if (this.#buffer[i + 2] === 1) {
          starts.push({ at: i, len: 3 });
          i += 2;
        } else if (this.#buffer[i + 2] === 0 && this.#buffer[i + 3] === 1) {
          starts.push({ at: i, len: 4 });
          i += 3;
        }
      }
    }
    if (starts.length < 2) return units;
    // Every NAL unit between two start codes is complete; the last one may not be yet.
    for (let k = 0; k + 1 < starts.length; k++) {
      const nal = this.#buffer.subarray(starts[k]!.at + starts[k]!.len, starts[k + 1]!.at);
      if (nal.length === 0) continue;
      if ((nal[0]! & 0x1f) === 9 && this.#unit.length > 0) {
        units.push(this.#unit);
        this.#unit = [];
      }
      if ((nal[0]! & 0x1f) !== 9) this.#unit.push(nal.slice());
    }
    this.#buffer = this.#buffer.slice(starts[starts.length - 1]!.at);
    return units;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
