import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildPli,
  buildRemb,
  extractSenderReport,
  isRtcp,
  readUint32,
  ReceptionStats,
  rtcpRequestsKeyframe,
  rtpPayloadBounds,
} from "../src/relay/rtp.js";

function rtp(opts: { pt?: number; marker?: boolean; csrcs?: number; extWords?: number; padding?: number; payload?: number[] } = {}): Buffer {
  const csrcs = opts.csrcs ?? 0;
  const ext = opts.extWords === undefined ? [] : [0xbe, 0xde, 0, opts.extWords, ...new Array<number>(4 * opts.extWords).fill(7)];
  const pad = opts.padding ? [...new Array<number>(opts.padding - 1).fill(0), opts.padding] : [];
  const b0 = 0x80 | (opts.padding ? 0x20 : 0) | (opts.extWords !== undefined ? 0x10 : 0) | csrcs;
  const b1 = (opts.marker ? 0x80 : 0) | (opts.pt ?? 96);
  return Buffer.from([b0, b1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, ...new Array<number>(4 * csrcs).fill(9), ...ext, ...(opts.payload ?? [1, 2, 3]), ...pad]);
}

test("RTCP is told apart from RTP by the second byte, as RFC 5761 §4 multiplexing requires", () => {
  assert.equal(isRtcp(rtp({ pt: 96, marker: true })), false);
  assert.equal(isRtcp(rtp({ pt: 111, marker: true })), false);
  assert.equal(isRtcp(rtp({ pt: 111 })), false);
  for (const type of [200, 201, 205, 206]) assert.equal(isRtcp(Buffer.from([0x80, type, 0, 1, 0, 0, 0, 0])), true);
  assert.equal(isRtcp(Buffer.from([0x80])), false);
});

test("the RTP payload is found past CSRCs and header extensions and before padding", () => {
  const cases: [Buffer, number[]][] = [
    [rtp(), [1, 2, 3]],
    [rtp({ csrcs: 2 }), [1, 2, 3]],
    [rtp({ extWords: 2 }), [1, 2, 3]],
    [rtp({ padding: 4 }), [1, 2, 3]],
    [rtp({ csrcs: 1, extWords: 1, padding: 2, payload: [5] }), [5]],
  ];
  for (const [packet, payload] of cases) {
    const b = rtpPayloadBounds(packet);
    assert.ok(b);
    assert.deepEqual([...packet.subarray(b.start, b.end)], payload);
  }
  assert.equal(rtpPayloadBounds(Buffer.alloc(11, 0x80)), undefined, "shorter than a header");
  assert.equal(rtpPayloadBounds(Buffer.from([0x40, 96, ...new Array<number>(12).fill(0)])), undefined, "version 1");
  const ext = rtp({ extWords: 1 });
  ext[15] = 50; // extension longer than the packet
  assert.equal(rtpPayloadBounds(ext), undefined);
  const pad = rtp({ padding: 2 });
  pad[pad.length - 1] = 0;
  assert.equal(rtpPayloadBounds(pad), undefined, "padding count 0");
  pad[pad.length - 1] = 200;
  assert.equal(rtpPayloadBounds(pad), undefined, "padding longer than the packet");
});

const RR = [0x81, 201, 0, 7, ...new Array<number>(28).fill(1)];
const SDES = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 1, 65, 0];

test("a PLI or a FIR anywhere in a compound packet asks for a keyframe; NACK, REMB and reports do not", () => {
  const pli = [...buildPli(1, 2)];
  const fir = [0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 7, 0, 0, 0];
  const nack = [0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 10, 0, 0];
  assert.equal(rtcpRequestsKeyframe(Buffer.from([...RR, ...pli])), true);
  assert.equal(rtcpRequestsKeyframe(Buffer.from([...RR, ...fir])), true);
  assert.equal(rtcpRequestsKeyframe(Buffer.from([...RR, ...SDES, ...nack])), false);
  assert.equal(rtcpRequestsKeyframe(buildRemb(1, 1_000_000, 2)), false);
  assert.equal(rtcpRequestsKeyframe(Buffer.from([...RR, ...pli.slice(0, 8)])), false, "a truncated PLI is ignored");
});

test("a sender report is cut down to its sender info, without report blocks", () => {
  const sender = [0x81, 200, 0, 12, 0, 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 0, 0, 0, 0, 9, 0, 0, 1, 1];
  const block = new Array<number>(24).fill(3);
  const sr = extractSenderReport(Buffer.from([...sender, ...block, ...SDES]));
  assert.ok(sr);
  assert.equal(sr.length, 28);
  assert.deepEqual([...sr.subarray(0, 4)], [0x80, 200, 0, 6], "RC=0, length 6 words");
  assert.deepEqual([...sr.subarray(4)], sender.slice(4), "SSRC, NTP, RTP timestamp and counts unchanged");
  assert.equal(extractSenderReport(Buffer.from([...RR, ...SDES])), undefined);
});

test("REMB encodes its bitrate as exponent and 18-bit mantissa, and PLI names the media SSRC", () => {
  for (const bitrate of [0, 1000, 262_143, 262_144, 2_500_000, 100_000_000]) {
    const b = buildRemb(7, bitrate, 0xdeadbeef);
    assert.equal(b.toString("latin1", 12, 16), "REMB");
    const exp = (b[17] as number) >> 2;
    const mantissa = (((b[17] as number) & 3) << 16) | ((b[18] as number) << 8) | (b[19] as number);
    const decoded = mantissa * 2 ** exp;
    assert.ok(decoded <= bitrate && decoded > bitrate * 0.99999 - 1, `${bitrate} -> ${decoded}`);
    assert.equal(readUint32(b, 20), 0xdeadbeef);
  }
  const pli = buildPli(0x01020304, 0xfffffffe);
  assert.deepEqual([...pli.subarray(0, 4)], [0x81, 206, 0, 2]);
  assert.equal(readUint32(pli, 4), 0x01020304);
  assert.equal(readUint32(pli, 8), 0xfffffffe);
});

test("receiver reports count loss per interval and overall, across sequence number wrap-around", () => {
  const stats = new ReceptionStats();
  // 100 packets from 65500 through the wrap to 63, every tenth lost (never the first: RFC 3550 counts from the first received).
  for (let s = 65500; s < 65536 + 64; s++) if (s % 10 !== 5) stats.update(s & 0xffff);
  const rr = stats.receiverReport(1, 2, 0x11223344, 5);
  assert.deepEqual([...rr.subarray(0, 4)], [0x81, 201, 0, 7]);
  assert.equal(readUint32(rr, 8), 2, "about the publisher's SSRC");
  const expected = 100;
  const lost = 10;
  assert.equal(rr[12], Math.floor((lost * 256) / expected), "fraction lost");
  assert.equal(((rr[13] as number) << 16) | ((rr[14] as number) << 8) | (rr[15] as number), lost, "cumulative lost");
  assert.equal(readUint32(rr, 16), 65536 + 63, "extended highest sequence number counts the wrap");
  assert.equal(readUint32(rr, 24), 0x11223344, "LSR");
  assert.equal(readUint32(rr, 28), 5, "DLSR");
  for (let s = 64; s < 74; s++) stats.update(s);
  assert.equal(stats.receiverReport(1, 2, 0, 0)[12], 0, "no loss in the next interval");
});
