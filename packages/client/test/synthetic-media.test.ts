import { test } from "node:test";
import assert from "node:assert/strict";
import { SyntheticMedia } from "../src/synthetic/synthetic-media.js";
import { parseIvf } from "../src/synthetic/ivf.js";
import { parseOggOpus } from "../src/synthetic/ogg-opus.js";

test("the bundled synthetic video is VP8 starting with a key frame, with periodic key frames", () => {
  const m = SyntheticMedia.load();
  assert.ok(m.videoFrames.length >= 30);
  const keyframes = m.videoFrames.filter((f) => (f[0]! & 1) === 0).length;
  assert.ok(keyframes >= 2);
  assert.equal(m.fps, 15);
  // RFC 6386 §9.1: a key frame carries the start code 9d 01 2a after the 3-byte tag.
  assert.deepEqual([...m.videoFrames[0]!.subarray(3, 6)], [0x9d, 0x01, 0x2a]);
});

test("the bundled synthetic audio is 20 ms Opus packets (no Ogg header packets)", () => {
  const m = SyntheticMedia.load();
  assert.ok(m.audioFrames.length >= 150);
  for (const f of m.audioFrames.slice(0, 20)) {
    const config = f[0]! >> 3; // RFC 6716 §3.1 TOC
    assert.ok(config <= 31);
    assert.ok(!String.fromCharCode(...f.subarray(0, 4)).startsWith("Opus"));
  }
});

test("truncated or foreign containers are refused", () => {
  assert.throws(() => parseIvf(new Uint8Array(10)), /IVF/);
  assert.throws(() => parseOggOpus(new Uint8Array([1, 2, 3, 4, 5])), /Ogg/);
  const m = new Uint8Array(40);
  m.set([0x44, 0x4b, 0x49, 0x46], 0); // DKIF
  m[6] = 32;
  m[32] = 200; // a frame claiming 200 bytes
  assert.throws(() => parseIvf(m), /truncated/);
});

test("a key frame request restarts the video loop at a key frame", async () => {
  const m = SyntheticMedia.load();
  const frames: { keyframe: boolean; ts: number }[] = [];
  await new Promise<void>((resolve) => {
    m.start({
      video: (f) => {
        frames.push({ keyframe: f.keyframe, ts: f.rtpTimestamp });
        if (frames.length === 3) m.requestKeyframe();
        if (frames.length === 4) resolve();
      },
    });
  });
  m.stop();
  assert.equal(frames[0]!.keyframe, true);
  assert.equal(frames[1]!.keyframe, false);
  assert.equal(frames[3]!.keyframe, true);
  assert.equal((frames[1]!.ts - frames[0]!.ts) >>> 0, 6000);
});
