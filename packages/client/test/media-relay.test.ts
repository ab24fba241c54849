// End-to-end: Node participants (werift) publishing and subscribing through the media relay
// (libdatachannel), over real ICE/DTLS-SRTP on loopback. Nothing here sleeps: every wait is for
// an event, with a generous timeout for a busy 2-core machine.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createCipheriv, randomBytes, randomInt } from "node:crypto";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Vp8Depacketizer } from "../src/media/index.js";
import {
  Bot,
  loadRelay,
  mismatches,
  nextEvent,
  Participant,
  type MediaRelayLike,
  type RelayRoomLike,
  type TapPacketLike,
  waitUntil,
} from "./media-harness.js";

const relayModule = await loadRelay();

function newRelay(): { relay: MediaRelayLike; room: RelayRoomLike } {
  const relay = new relayModule.MediaRelay({ listenAddress: "127.0.0.1" });
  return { relay, room: relay.createRoom("meeting-1") };
}

async function closeAll(relay: MediaRelayLike, ...ps: Participant[]): Promise<void> {
  for (const p of ps) p.bot?.stop();
  relay.close();
  await Promise.all(ps.map((p) => p.close()));
}

function noErrors(...ps: Participant[]): void {
  for (const p of ps) assert.deepEqual(p.errors, [], `${p.id} saw signaling errors`);
}

test("two participants receive each other's audio and video byte-identical, and a late joiner gets a keyframe request sent to publishers", async () => {
  const { relay, room } = newRelay();
  const a = new Participant(room, "alice");
  const b = new Participant(room, "bob");
  try {
    a.bot = new Bot(await a.publish("audio", "video")).start();
    b.bot = new Bot(await b.publish("audio", "video")).start();
    const enough = (p: Participant, from: Participant): boolean =>
      p.framesFrom(from.id, "video").length >= 40 && p.framesFrom(from.id, "audio").length >= 40;
    await Promise.all([
      waitUntil(a, "update", () => enough(a, b) || a.errors.length > 0, "alice receives bob's frames"),
      waitUntil(b, "update", () => enough(b, a) || b.errors.length > 0, "bob receives alice's frames"),
    ]);
    noErrors(a, b);
    for (const [p, from] of [
      [a, b],
      [b, a],
    ] as const) {
      assert.deepEqual(mismatches(p, from, "video"), []);
      assert.deepEqual(mismatches(p, from, "audio"), []);
    }
    // Large frames really were fragmented and put back together.
    assert.ok(a.framesFrom("bob", "video").some((f) => f.frame.length > 20_000), "some frames above 20 kB arrived whole");
    const tracks = [...room.publications.values()].map((p) => `${p.ownerId}/${p.kind}/${p.source}`).sort();
    assert.deepEqual(tracks, ["alice/audio/microphone", "alice/video/camera", "bob/audio/microphone", "bob/video/camera"]);

    // A third participant joins: each publisher must be asked for a keyframe, then carol decodes.
    const keyframeAsked = Promise.all([
      nextEvent(a.transport, "keyframeRequest", () => true, "PLI reaches alice"),
      nextEvent(b.transport, "keyframeRequest", () => true, "PLI reaches bob"),
    ]);
    const c = new Participant(room, "carol");
    try {
      await keyframeAsked;
      const hasKeyframeAndMore = (from: Participant): boolean => {
        const v = c.framesFrom(from.id, "video");
        const k = v.findIndex((f) => f.keyframe === true);
        return k >= 0 && v.length - k >= 10 && c.framesFrom(from.id, "audio").length >= 10;
      };
      await waitUntil(c, "update", () => (hasKeyframeAndMore(a) && hasKeyframeAndMore(b)) || c.errors.length > 0, "carol receives keyframes and frames");
      noErrors(a, b, c);
      for (const from of [a, b]) {
        assert.deepEqual(mismatches(c, from, "video"), []);
        assert.deepEqual(mismatches(c, from, "audio"), []);
      }
      assert.equal(c.framesFrom("carol", "video").length, 0, "nobody receives their own tracks");
    } finally {
      await c.close();
    }
  } finally {
    await closeAll(relay, a, b);
  }
});

test("the relay forwards exactly the payload bytes given to sendFrame, and plaintext never reaches it", async () => {
  const { relay, room } = newRelay();
  // A stand-in for SFrame: a clear codec prefix (10 bytes for VP8 keyframes, 3 for delta frames,
  // 1 for Opus), then AES-256-GCM ciphertext of a plaintext that contains a marker. The marker is
  // in what the application had, never in what it sent.
  const marker = Buffer.from("CONCLAVE-PLAINTEXT-MARKER-7f3a9c");
  const key = randomBytes(32);
  let counter = 0;
  const plaintexts: Buffer[] = [];
  const encryptFrame = (kind: "audio" | "video", keyframe: boolean): Uint8Array => {
    const plaintext = Buffer.concat([marker, randomBytes(kind === "video" ? randomInt(100, 20_000) : randomInt(20, 300)), marker]);
    if (plaintexts.length < 4) plaintexts.push(plaintext);
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(++counter, 8);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const prefix = randomBytes(kind === "audio" ? 1 : keyframe ? 10 : 3);
    if (kind === "video") prefix[0] = keyframe ? (prefix[0] as number) & 0xfe : (prefix[0] as number) | 1;
    return Buffer.concat([prefix, ciphertext]);
  };
  const taps: TapPacketLike[] = [];
  room.setTap((p) => taps.push(p));
  const a = new Participant(room, "alice");
  const b = new Participant(room, "bob");
  try {
    a.bot = new Bot(await a.publish("audio", "video"), encryptFrame).start();
    await waitUntil(
      b,
      "update",
      () => (b.framesFrom("alice", "video").length >= 30 && b.framesFrom("alice", "audio").length >= 30) || b.errors.length > 0,
      "bob receives alice's frames",
    );
    room.setTap(null);
    const tapped = taps.length;
    noErrors(a, b);
    assert.deepEqual(mismatches(b, a, "video"), []);
    assert.deepEqual(mismatches(b, a, "audio"), []);

    // The check can fail: it finds the marker in a plaintext.
    const containsMarker = (bytes: Uint8Array): boolean => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(marker);
    assert.ok(plaintexts.length > 0 && plaintexts.every(containsMarker));
    assert.ok(tapped > 100, `the tap saw ${tapped} packets`);
    assert.equal(taps.filter((p) => containsMarker(p.payload)).length, 0, "no forwarded payload contains plaintext");

    const sent = a.bot.sent;
    // Audio: each forwarded payload is one whole frame exactly as sent.
    const audio = taps.filter((p) => p.kind === "audio" && p.forwardedTo > 0);
    assert.ok(audio.length >= 30);
    for (const p of audio) {
      const original = sent.audio.get(p.timestamp);
      assert.ok(original, `tapped audio at ts ${p.timestamp} was sent`);
      assert.equal(Buffer.compare(Buffer.from(original), Buffer.from(p.payload)), 0);
    }
    // Video: the forwarded payloads are VP8 descriptors plus fragments that put back together
    // are exactly the frames sent, and hold no plaintext across fragment boundaries either.
    const depacketizer = new Vp8Depacketizer();
    let rebuilt = 0;
    for (const p of taps.filter((t) => t.kind === "video" && t.forwardedTo > 0)) {
      for (const f of depacketizer.push(p).frames) {
        rebuilt++;
        const original = sent.video.get(f.timestamp);
        assert.ok(original, `tapped video at ts ${f.timestamp} was sent`);
        assert.equal(Buffer.compare(Buffer.from(original), Buffer.from(f.data)), 0);
        assert.ok(!containsMarker(f.data));
      }
    }
    assert.ok(rebuilt >= 30, `rebuilt ${rebuilt} video frames from the tap`);
    assert.ok(taps.every((p) => p.ownerId === "alice"));
  } finally {
    await closeAll(relay, a, b);
  }
});

test("unpublishing and leaving remove tracks from the others' subscribe connections, and a closed peer releases everything", async () => {
  const { relay, room } = newRelay();
  const a = new Participant(room, "alice");
  const b = new Participant(room, "bob");
  const c = new Participant(room, "carol");
  try {
    const tracks = await a.publish("audio", "video", "screen");
    a.bot = new Bot(tracks).start();
    const screenTrack = tracks[2];
    assert.ok(screenTrack);
    const pubs = () => [...room.publications.values()].filter((p) => p.ownerId === "alice");
    await waitUntil(room, "publication", () => pubs().length === 3, "alice's three publications");
    const screen = pubs().find((p) => p.source === "screen");
    const camera = pubs().find((p) => p.source === "camera");
    assert.ok(screen && camera);
    for (const p of [b, c]) {
      await waitUntil(p, "update", () => (p.received.get(camera.id)?.length ?? 0) >= 5 || p.errors.length > 0, `${p.id} receives the camera`);
      assert.deepEqual(
        p.lastSubscribeTracks.map((t) => t.source).sort(),
        ["camera", "microphone", "screen"],
        `${p.id}'s subscribe offer lists alice's three tracks`,
      );
    }

    // Unpublish the screen share: a new publish offer with that m-section inactive.
    screenTrack.close();
    await a.renegotiatePublish();
    for (const p of [b, c]) {
      await waitUntil(p, "update", () => p.ended.has(screen.id) || p.errors.length > 0, `${p.id} sees the screen track end`);
      assert.ok(!p.peer.subscriptions.has(screen.id));
      assert.ok(!p.lastSubscribeTracks.some((t) => t.publicationId === screen.id));
    }
    assert.ok(screen.closed && !room.publications.has(screen.id));
    // The camera keeps flowing after the renegotiation.
    const before = b.received.get(camera.id)?.length ?? 0;
    await waitUntil(b, "update", () => (b.received.get(camera.id)?.length ?? 0) >= before + 10, "camera frames after renegotiation");

    // Alice leaves.
    const alicePubs = [...a.peer.publications.values()];
    assert.equal(alicePubs.length, 2);
    await a.close();
    for (const p of [b, c]) {
      await waitUntil(p, "update", () => alicePubs.every((x) => p.ended.has(x.id)) || p.errors.length > 0, `${p.id} sees alice's tracks end`);
      assert.equal(p.peer.subscriptions.size, 0);
    }
    assert.ok(a.peer.closed);
    assert.deepEqual(a.peer.connectionStates, { publish: "closed", subscribe: "closed" });
    assert.ok(alicePubs.every((x) => x.closed && x.subscriptions.size === 0));
    assert.ok(!room.peers.has("alice"));
    assert.equal(room.publications.size, 0);
    await assert.rejects(a.peer.handlePublishOffer("v=0\r\n"), (e: unknown) => relayModule.isRelayError(e, "RELAY_CLOSED"));
    await assert.rejects(a.peer.addIceCandidate("publish", "candidate:1 1 UDP 1 127.0.0.1 9 typ host"), (e: unknown) =>
      relayModule.isRelayError(e, "RELAY_CLOSED"),
    );

    // With every m-section of bob's subscribe connection removed, a new publisher still reaches him.
    const d = new Participant(room, "dave");
    try {
      d.bot = new Bot(await d.publish("audio")).start();
      await waitUntil(b, "update", () => b.framesFrom("dave", "audio").length >= 10 || b.errors.length > 0, "bob receives dave");
      assert.deepEqual(mismatches(b, d, "audio"), []);
      noErrors(b, c, d);
    } finally {
      await d.close();
    }
  } finally {
    await closeAll(relay, a, b, c);
  }
});

test("a malformed or unsupported publish offer is rejected with a clear error, and other peers are unaffected", async () => {
  const { relay, room } = newRelay();
  const a = new Participant(room, "alice");
  const b = new Participant(room, "bob");
  const m = new Participant(room, "mallory");
  try {
    a.bot = new Bot(await a.publish("audio", "video")).start();
    await waitUntil(b, "update", () => b.framesFrom("alice", "video").length >= 5 || b.errors.length > 0, "bob receives alice");
    const code = (c: string) => (e: unknown) => relayModule.isRelayError(e, c) && e instanceof Error && e.message.length > 20;

    await assert.rejects(m.peer.handlePublishOffer("this is not SDP"), code("RELAY_BAD_SDP"));
    await assert.rejects(m.peer.handlePublishOffer("v=0\r\ns=-\r\nm=video nine UDP 96\r\n"), code("RELAY_BAD_SDP"));
    m.transport.publish("video", "camera");
    const offer = await m.transport.createPublishOffer();
    await assert.rejects(m.peer.handlePublishOffer(offer.replaceAll("VP8/90000", "H264/90000")), code("RELAY_UNSUPPORTED_MEDIA"));
    await assert.rejects(m.peer.handlePublishOffer(offer.replace(/a=ssrc:.*\r\n/g, "")), code("RELAY_UNSUPPORTED_MEDIA"));
    // Structurally fine for our parser, refused by libdatachannel (no DTLS fingerprint).
    await assert.rejects(m.peer.handlePublishOffer(offer.replace(/a=fingerprint:.*\r\n/g, "")), code("RELAY_BAD_SDP"));
    await assert.rejects(m.peer.handlePublishOffer(offer, [{ mid: "nope", source: "screen" }]), code("RELAY_BAD_ARGUMENT"));
    await assert.rejects(m.peer.handleSubscribeAnswer(offer), code("RELAY_NEGOTIATION_STATE"));
    await assert.rejects(m.peer.addIceCandidate("publish", "not a candidate"), code("RELAY_BAD_CANDIDATE"));
    assert.equal(room.publications.size, 2, "nothing was published by the rejected offers");

    // The same peer recovers with its real offer; the others never noticed.
    const answer = await m.peer.handlePublishOffer(offer, m.transport.publishTracks);
    await m.transport.applyPublishAnswer(answer);
    const track = [...m.transport.localTracks.values()];
    m.bot = new Bot(track).start();
    await waitUntil(b, "update", () => b.framesFrom("mallory", "video").length >= 5 || b.errors.length > 0, "bob receives mallory");
    const before = b.framesFrom("alice", "video").length;
    await waitUntil(b, "update", () => b.framesFrom("alice", "video").length >= before + 10, "alice's frames keep flowing");
    noErrors(a, b, m);
    assert.deepEqual(mismatches(b, a, "video"), []);
    assert.deepEqual(mismatches(b, m, "video"), []);
  } finally {
    await closeAll(relay, a, b, m);
  }
});

test("after the relay and the transports close, the process exits on its own (no leaked sockets, timers or native callbacks)", async () => {
  const fixture = fileURLToPath(new URL("./media-exit-fixture.js", import.meta.url));
  const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = (await new Promise((resolve) => child.once("exit", (c, s) => resolve([c, s])))) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `the fixture had to be killed; output:\n${output}`);
  assert.equal(code, 0, `fixture failed:\n${output}`);
  assert.match(output, /frames exchanged/);
  assert.match(output, /closed after frames; exit follows/);
  assert.doesNotMatch(output, /still alive/);
});
