import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  decodeVp8Descriptor,
  encodeVp8Descriptor,
  isMediaError,
  MAX_OPUS_FRAME,
  packetizeOpus,
  packetizeVp8,
  type RtpPayloadIn,
  Vp8Depacketizer,
  VP8_DESCRIPTOR_LENGTH,
} from "../src/media/index.js";

const code = (c: string) => (e: unknown) => isMediaError(e, c as never);

test("the descriptor round-trips: X=1, I=1, 15-bit PictureID, S on the first packet only", () => {
  for (const [start, pictureId] of [[true, 0], [false, 1], [true, 0x7fff], [false, 12345]] as const) {
    const bytes = encodeVp8Descriptor(start, pictureId);
    assert.equal(bytes.length, VP8_DESCRIPTOR_LENGTH);
    const d = decodeVp8Descriptor(Uint8Array.of(...bytes, 0x9d));
    assert.deepEqual(
      { start: d.start, pictureId: d.pictureId, partitionIndex: d.partitionIndex, nonReference: d.nonReference, length: d.length },
      { start, pictureId, partitionIndex: 0, nonReference: false, length: 4 },
    );
  }
  assert.throws(() => encodeVp8Descriptor(true, 0x8000), code("MEDIA_BAD_ARGUMENT"));
  assert.throws(() => encodeVp8Descriptor(true, -1), code("MEDIA_BAD_ARGUMENT"));
});

test("descriptors as other senders write them decode (RFC 7741 §4.2 examples)", () => {
  // Minimal: no extension, S=1, PID=0.
  assert.deepEqual(pick(decodeVp8Descriptor(Uint8Array.of(0x10, 0xaa))), { start: true, length: 1, pictureId: undefined });
  // 7-bit PictureID.
  assert.deepEqual(pick(decodeVp8Descriptor(Uint8Array.of(0x90, 0x80, 0x05, 0xaa))), { start: true, length: 3, pictureId: 5 });
  // I, L, T and K all present (PictureID 15-bit, TL0PICIDX, TID/Y/KEYIDX), N set, PID 2.
  const d = decodeVp8Descriptor(Uint8Array.of(0xa2, 0xf0, 0x81, 0x02, 0x33, 0x65, 0xaa));
  assert.deepEqual(
    [d.nonReference, d.start, d.partitionIndex, d.pictureId, d.tl0PicIdx, d.temporalLayer, d.layerSync, d.keyIndex, d.length],
    [true, false, 2, 0x102, 0x33, 1, true, 5, 6],
  );
  // Reserved bits are ignored, as receivers must (RFC 7741 §4.2).
  assert.equal(decodeVp8Descriptor(Uint8Array.of(0x58, 0xaa)).start, true);
});

test("truncated descriptors and descriptors without frame bytes are refused", () => {
  for (const bytes of [[], [0x80], [0x90, 0x80], [0x90, 0x80, 0x80], [0x90, 0x80, 0x80, 0x01], [0x10], [0x90, 0x40]]) {
    assert.throws(() => decodeVp8Descriptor(Uint8Array.from(bytes)), code("MEDIA_BAD_RTP"), JSON.stringify(bytes));
  }
});

function pick(d: ReturnType<typeof decodeVp8Descriptor>): object {
  return { start: d.start, length: d.length, pictureId: d.pictureId };
}

test("frames are split into near-equal payloads no larger than the limit, and only the first starts the partition", () => {
  for (const size of [1, 1095, 1096, 1097, 5000, 30_000]) {
    const frame = randomBytes(size);
    const payloads = packetizeVp8(frame, 7, 1100);
    assert.equal(payloads.length, Math.ceil(size / 1096));
    const sizes = payloads.map((p) => p.length);
    assert.ok(Math.max(...sizes) <= 1100 && Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes.join(",")}`);
    assert.deepEqual(payloads.map((p) => decodeVp8Descriptor(p).start), payloads.map((_, i) => i === 0));
    assert.deepEqual(Buffer.concat(payloads.map((p) => p.subarray(VP8_DESCRIPTOR_LENGTH))), frame);
  }
  assert.throws(() => packetizeVp8(new Uint8Array(0), 1, 1100), code("MEDIA_BAD_FRAME"));
  assert.throws(() => packetizeVp8(new Uint8Array(10), 1, 4), code("MEDIA_BAD_ARGUMENT"));
});

/** RTP packets for a frame, as a sender would number them. */
function packets(frame: Uint8Array, ts: number, firstSeq: number, pictureId = 1): RtpPayloadIn[] {
  const payloads = packetizeVp8(frame, pictureId, 200);
  return payloads.map((payload, i) => ({ sequenceNumber: (firstSeq + i) & 0xffff, timestamp: ts >>> 0, marker: i === payloads.length - 1, payload }));
}

function frame(size: number, keyframe: boolean): Uint8Array {
  const f = randomBytes(size);
  f[0] = keyframe ? (f[0] as number) & 0xfe : (f[0] as number) | 1;
  return f;
}

test("the depacketizer puts frames back together in order, out of order, and across wrap-around", () => {
  const d = new Vp8Depacketizer();
  const f1 = frame(1000, true);
  const f2 = frame(777, false);
  const p1 = packets(f1, 0xfffffc00, 65533); // sequence numbers and timestamps wrap inside
  const p2 = packets(f2, 0xfffffc00 + 3000, 65533 + p1.length);
  const out1 = p1.reverse().flatMap((p) => d.push(p).frames);
  assert.equal(out1.length, 1);
  assert.deepEqual(Buffer.from(out1[0]?.data ?? []), Buffer.from(f1));
  assert.equal(out1[0]?.keyframe, true);
  const shuffled = [p2[2], p2[0], p2[4], p2[1], p2[3]].filter((p): p is RtpPayloadIn => p !== undefined);
  const out2 = shuffled.flatMap((p) => d.push(p).frames);
  assert.equal(out2.length, 1);
  assert.deepEqual(Buffer.from(out2[0]?.data ?? []), Buffer.from(f2));
  assert.equal(out2[0]?.keyframe, false);
  assert.equal(out2[0]?.timestamp, (0xfffffc00 + 3000) >>> 0);
  // Duplicates and packets of delivered frames are dropped.
  assert.deepEqual(d.push(p2[0] as RtpPayloadIn).frames, []);
  assert.equal(d.stats.packetsLate, 1);
});

test("a frame with a lost packet is dropped and reported when a newer frame completes", () => {
  const d = new Vp8Depacketizer();
  const f1 = frame(900, true);
  const f2 = frame(900, false);
  const p1 = packets(f1, 1000, 10);
  const p2 = packets(f2, 4000, 10 + p1.length);
  let lost = 0;
  const out = [...p1.filter((_, i) => i !== 2), ...p2].flatMap((p) => {
    const r = d.push(p);
    lost += r.lost;
    return r.frames;
  });
  assert.equal(out.length, 1, "only the complete frame comes out");
  assert.deepEqual(Buffer.from(out[0]?.data ?? []), Buffer.from(f2));
  assert.equal(lost, 1);
  // The missing packet arriving late changes nothing.
  assert.deepEqual(d.push(p1[2] as RtpPayloadIn), { frames: [], lost: 0 });
  // A frame whose start or end never came stays incomplete.
  const f3 = frame(600, false);
  const p3 = packets(f3, 7000, 100);
  for (const p of p3.slice(1)) assert.deepEqual(d.push(p).frames, []);
});

test("incomplete frames are bounded in number and size", () => {
  const d = new Vp8Depacketizer({ maxPendingFrames: 4, maxFrameBytes: 5000 });
  let lost = 0;
  for (let i = 0; i < 10; i++) lost += d.push((packets(frame(300, false), 100 + i * 3000, i * 10)[0]) as RtpPayloadIn).lost;
  assert.equal(lost, 6, "the oldest incomplete frames are given up beyond 4");
  const big = packets(frame(8000, true), 900_000, 1000);
  lost = 0;
  for (const p of big) lost += d.push(p).lost;
  assert.ok(lost >= 1, "a frame above maxFrameBytes is dropped");
  assert.equal(d.stats.framesOut, 0);
  // Malformed payloads are counted, not thrown.
  assert.deepEqual(d.push({ sequenceNumber: 1, timestamp: 2_000_000, marker: true, payload: Uint8Array.of(0x80) }).frames, []);
  assert.equal(d.stats.packetsMalformed, 1);
});

test("an Opus frame is its own payload, within the size a packet can carry", () => {
  const f = randomBytes(200);
  assert.equal(packetizeOpus(f), f);
  assert.throws(() => packetizeOpus(new Uint8Array(0)), code("MEDIA_BAD_FRAME"));
  assert.throws(() => packetizeOpus(new Uint8Array(MAX_OPUS_FRAME + 1)), code("MEDIA_BAD_FRAME"));
});
