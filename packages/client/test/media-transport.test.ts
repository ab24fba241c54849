// NodeMediaTransport's checks that need no relay: arguments, negotiation order, frame rules.

import assert from "node:assert/strict";
import { test } from "node:test";
import { isMediaError, NodeMediaTransport } from "../src/media/index.js";

const code = (c: string) => (e: unknown) => isMediaError(e, c as never);

test("publish() checks kind and source, and a publish offer needs a track", async () => {
  const t = new NodeMediaTransport();
  try {
    assert.throws(() => t.publish("smell" as "audio", "microphone"), code("MEDIA_BAD_ARGUMENT"));
    assert.throws(() => t.publish("video", "microphone"), code("MEDIA_BAD_ARGUMENT"));
    assert.throws(() => t.publish("audio", "camera"), code("MEDIA_BAD_ARGUMENT"));
    await assert.rejects(t.createPublishOffer(), code("MEDIA_NEGOTIATION_STATE"));
    await assert.rejects(t.applyPublishAnswer("v=0\r\n"), code("MEDIA_NEGOTIATION_STATE"));
    const screenAudio = t.publish("audio", "screen");
    const video = t.publish("video", "camera");
    const offer = await t.createPublishOffer();
    assert.match(offer, /^v=0\r\n/);
    assert.match(offer, /a=rtpmap:96 VP8\/90000/);
    assert.match(offer, /a=rtpmap:111 opus\/48000\/2/);
    assert.doesNotMatch(offer, /transport-cc|a=extmap:|rtx\/|red\/|ulpfec/);
    assert.match(offer, /a=ssrc:\d+ /, "each m-section signals its SSRC");
    assert.deepEqual(
      t.publishTracks.map((x) => `${x.kind}/${x.source}`),
      ["audio/screen", "video/camera"],
    );
    assert.ok(screenAudio.mid !== undefined && video.mid !== undefined && screenAudio.mid !== video.mid);
    await assert.rejects(t.createPublishOffer(), code("MEDIA_NEGOTIATION_STATE"), "one offer at a time");
    await assert.rejects(t.applyPublishAnswer("not sdp"), code("MEDIA_BAD_SDP"));
  } finally {
    await t.close();
  }
});

test("sendFrame refuses bad frames and mismatched keyframe flags, and sends nothing before the connection is up", async () => {
  const t = new NodeMediaTransport();
  try {
    const video = t.publish("video", "camera");
    const audio = t.publish("audio", "microphone");
    const delta = Uint8Array.of(0x01, 2, 3);
    const key = Uint8Array.of(0x00, 2, 3);
    assert.equal(video.sendFrame(key, { keyframe: true }), false, "not connected yet");
    assert.equal(video.sendFrame(delta, { keyframe: false }), false);
    assert.throws(() => video.sendFrame(delta, { keyframe: true }), code("MEDIA_BAD_FRAME"));
    assert.throws(() => video.sendFrame(key, { keyframe: false }), code("MEDIA_BAD_FRAME"));
    assert.throws(() => video.sendFrame(new Uint8Array(0)), code("MEDIA_BAD_FRAME"));
    assert.throws(() => video.sendFrame(key, { rtpTimestamp: 2 ** 32 }), code("MEDIA_BAD_ARGUMENT"));
    assert.throws(() => video.sendFrame(key, { timestampIncrement: -1 }), code("MEDIA_BAD_ARGUMENT"));
    assert.throws(() => audio.sendFrame(new Uint8Array(5000)), code("MEDIA_BAD_FRAME"));
    video.close();
    video.close();
    assert.throws(() => video.sendFrame(key), code("MEDIA_CLOSED"));
    assert.ok(!t.localTracks.has(video.id));
  } finally {
    await t.close();
  }
});

test("a subscribe offer's track list must match its active m-sections", async () => {
  const t = new NodeMediaTransport();
  try {
    const sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:s0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:s1\r\n";
    const track = { mid: "s1", publicationId: "pub-1", ownerId: "alice", kind: "video", source: "camera" } as const;
    await assert.rejects(t.handleSubscribeOffer(sdp, [track]), code("MEDIA_BAD_SDP"), "s1 is rejected (port 0)");
    await assert.rejects(t.handleSubscribeOffer(sdp, [{ ...track, mid: "s0", kind: "loud" as "audio" }]), code("MEDIA_BAD_ARGUMENT"));
    await assert.rejects(t.handleSubscribeOffer("hello", []), code("MEDIA_BAD_SDP"));
    await assert.rejects(t.addRemoteCandidate("sideways" as "publish", ""), code("MEDIA_BAD_ARGUMENT"));
  } finally {
    await t.close();
  }
  await t.close();
  assert.throws(() => t.publish("audio", "microphone"), code("MEDIA_CLOSED"));
  await assert.rejects(t.createPublishOffer(), code("MEDIA_CLOSED"));
  await assert.rejects(t.handleSubscribeOffer("v=0\r\n", []), code("MEDIA_CLOSED"));
});
