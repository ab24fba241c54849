// The relay's object tree without a live client: publish offers come from a captured Chromium
// offer (the relay answers it; no media flows), which is enough to create publications,
// subscriptions and subscribe offers, and to check how close() cascades.

import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { isRelayError, MediaRelay, type RelayPeer, type SubscribeOffer } from "../src/relay/index.js";
import { parseSdp } from "../src/relay/sdp.js";
import { CHROMIUM_PUBLISH_OFFER } from "./relay-chromium-offer.js";

const code = (c: string) => (e: unknown) => isRelayError(e) && e.code === c;

function nextOffer(peer: RelayPeer): Promise<SubscribeOffer> {
  return once(peer, "subscribeOffer").then(([o]) => o as SubscribeOffer);
}

test("publications fan out to every other peer, subscribe offers describe them, and close() cascades once", async () => {
  const relay = new MediaRelay({ listenAddress: "127.0.0.1" });
  const room = relay.createRoom("m1");
  const closes: string[] = [];
  room.on("close", () => closes.push("room"));
  relay.on("close", () => closes.push("relay"));
  const alice = room.addPeer("alice");
  const published: string[] = [];
  room.on("publication", (p) => published.push(`${p.ownerId}/${p.kind}/${p.source}`));

  const answer = await alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER, [{ mid: "1", source: "screen" }]);
  const answered = parseSdp(answer);
  assert.deepEqual(answered.media.map((m) => `${m.kind}:${m.formats.join(",")}:${m.direction}`), ["audio:111:recvonly", "video:96:recvonly"]);
  assert.deepEqual(published, ["alice/audio/microphone", "alice/video/screen"]);
  assert.equal(alice.publications.size, 2);

  // A peer that joins later is subscribed to both, in one offer.
  const bob = room.addPeer("bob");
  const offer = await nextOffer(bob);
  assert.deepEqual(
    offer.tracks.map((t) => `${t.ownerId}/${t.kind}/${t.source}`),
    ["alice/audio/microphone", "alice/video/screen"],
  );
  const sdp = parseSdp(offer.sdp);
  const byMid = new Map(sdp.media.map((m) => [m.mid, m]));
  assert.equal(sdp.media[0]?.direction, "inactive", "the first m-section is the permanent placeholder");
  const ssrcs = new Set<number>();
  for (const t of offer.tracks) {
    const m = byMid.get(t.mid);
    assert.ok(m, `m-section ${t.mid} is in the SDP`);
    assert.equal(m.direction, "sendonly");
    assert.equal(m.port !== 0, true);
    assert.deepEqual(m.formats, [t.kind === "video" ? "96" : "111"]);
    assert.equal(m.ssrcs.length, 1);
    ssrcs.add(m.ssrcs[0] as number);
    assert.ok(!m.lines.some((l) => l.includes("transport-cc")));
    if (t.kind === "video") assert.ok(m.lines.includes("a=rtcp-fb:96 nack pli"));
  }
  const pubSsrcs = [...alice.publications.values()].map((p) => p.ssrc);
  assert.ok(pubSsrcs.every((s) => !ssrcs.has(s)), "subscribers see their own SSRCs, not the publisher's");
  assert.equal(bob.subscriptions.size, 2);
  for (const p of alice.publications.values()) assert.deepEqual([...p.subscriptions.keys()], ["bob"]);

  // An answer that is not SDP is refused; the offer stays open for a proper one.
  await assert.rejects(bob.handleSubscribeAnswer("v=0\r\n"), code("RELAY_BAD_SDP"));

  // Server-side unpublish ends the publication for everyone.
  const audio = [...alice.publications.values()].find((p) => p.kind === "audio");
  assert.ok(audio);
  const closedInfo = once(room, "publicationClosed");
  alice.closePublication(audio.id);
  assert.deepEqual((await closedInfo)[0], { publicationId: audio.id, ownerId: "alice", kind: "audio", source: "microphone" });
  assert.ok(audio.closed && !bob.subscriptions.has(audio.id) && !room.publications.has(audio.id));
  assert.throws(() => alice.closePublication(audio.id), code("RELAY_UNKNOWN_PUBLICATION"));

  // Closing bob releases his subscriptions; closing the relay closes the rest, once.
  bob.close();
  bob.close();
  assert.ok(bob.closed && !room.peers.has("bob"));
  for (const p of alice.publications.values()) assert.equal(p.subscriptions.size, 0);
  const pubs = [...alice.publications.values()];
  relay.close();
  relay.close();
  assert.deepEqual(closes, ["room", "relay"]);
  assert.ok(alice.closed && room.closed && relay.closed && pubs.every((p) => p.closed));
  assert.equal(relay.rooms.size, 0);
  assert.deepEqual(alice.connectionStates, { publish: "closed", subscribe: "closed" });

  // Every method of a closed object fails with RELAY_CLOSED.
  assert.throws(() => relay.createRoom("m2"), code("RELAY_CLOSED"));
  assert.throws(() => room.addPeer("carol"), code("RELAY_CLOSED"));
  await assert.rejects(alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER), code("RELAY_CLOSED"));
  await assert.rejects(alice.handleSubscribeAnswer("v=0\r\n"), code("RELAY_CLOSED"));
  await assert.rejects(alice.addIceCandidate("publish", ""), code("RELAY_CLOSED"));
  assert.throws(() => alice.closePublication("pub-1"), code("RELAY_CLOSED"));
});

test("a bad publish offer leaves the peer able to publish, and a second concurrent offer is refused", async () => {
  const relay = new MediaRelay({ listenAddress: "127.0.0.1" });
  try {
    const room = relay.createRoom("m1");
    const alice = room.addPeer("alice");
    await assert.rejects(alice.handlePublishOffer("v=0\r\nnonsense\r\n"), code("RELAY_BAD_SDP"));
    await assert.rejects(
      alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER, [{ mid: "0", source: "camera" }]),
      code("RELAY_BAD_ARGUMENT"),
      "an audio m-section cannot be a camera",
    );
    const first = alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER);
    await assert.rejects(alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER), code("RELAY_NEGOTIATION_STATE"));
    await first;
    assert.equal(room.publications.size, 2);
    // Re-offering the same m-sections keeps the same publications.
    const ids = [...room.publications.keys()];
    await alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER);
    assert.deepEqual([...room.publications.keys()], ids);
    // Candidates: early ones wait for the description; junk is refused.
    await alice.addIceCandidate("publish", "a=candidate:1 1 UDP 2114977791 127.0.0.1 40000 typ host", "0");
    await assert.rejects(alice.addIceCandidate("publish", "candidate:garbage"), code("RELAY_BAD_CANDIDATE"));
    await assert.rejects(alice.addIceCandidate("sideways" as "publish", ""), code("RELAY_BAD_ARGUMENT"));
  } finally {
    relay.close();
  }
});

test("ids and options are validated", () => {
  assert.throws(() => new MediaRelay({ listenAddress: "not-an-ip" }), code("RELAY_BAD_ARGUMENT"));
  assert.throws(() => new MediaRelay({ portRange: { min: 50000, max: 40000 } }), code("RELAY_BAD_ARGUMENT"));
  assert.throws(() => new MediaRelay({ keyframeRequestIntervalMs: -1 }), code("RELAY_BAD_ARGUMENT"));
  const relay = new MediaRelay({ announcedAddress: "203.0.113.7", portRange: { min: 40000, max: 40100 } });
  const room = relay.createRoom("m1");
  assert.throws(() => relay.createRoom("m1"), code("RELAY_DUPLICATE_ROOM"));
  assert.throws(() => relay.createRoom(""), code("RELAY_BAD_ARGUMENT"));
  room.addPeer("alice");
  assert.throws(() => room.addPeer("alice"), code("RELAY_DUPLICATE_PEER"));
  assert.throws(() => room.setTap("yes" as unknown as null), code("RELAY_BAD_ARGUMENT"));
  room.removePeer("alice");
  room.removePeer("nobody");
  assert.equal(room.peers.size, 0);
  relay.close();
});

test("relay candidates carry the announced address", async () => {
  const relay = new MediaRelay({ listenAddress: "127.0.0.1", announcedAddress: "203.0.113.7" });
  try {
    const alice = relay.createRoom("m1").addPeer("alice");
    const candidate = once(alice, "localCandidate");
    const answer = await alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER);
    const [c] = (await candidate) as [{ pc: string; candidate: string }];
    assert.equal(c.pc, "publish");
    assert.match(c.candidate, /^candidate:\S+ 1 UDP \d+ 203\.0\.113\.7 \d+ typ host/);
    assert.doesNotMatch(answer, /a=candidate:\S+ \d+ \S+ \d+ 127\.0\.0\.1 /);
  } finally {
    relay.close();
  }
});

test("a relay whose port range is full refuses the next connection with RELAY_PORTS_EXHAUSTED instead of aborting", async () => {
  // libjuice aborts the process when it finds no free port, so the relay must refuse first. A
  // random 2-port window above Linux's ephemeral range keeps other sockets out of it.
  const min = 63_000 + 2 * Math.floor(Math.random() * 1000);
  const relay = new MediaRelay({ listenAddress: "127.0.0.1", portRange: { min, max: min + 1 } });
  try {
    const room = relay.createRoom("m1");
    const alice = room.addPeer("alice");
    await alice.handlePublishOffer(CHROMIUM_PUBLISH_OFFER); // port 1: alice's publish connection
    const bob = room.addPeer("bob");
    await nextOffer(bob); // port 2: bob's subscribe connection
    await assert.rejects(bob.handlePublishOffer(CHROMIUM_PUBLISH_OFFER), code("RELAY_PORTS_EXHAUSTED"));

    const carol = room.addPeer("carol");
    const [failure] = (await once(carol, "negotiationFailed")) as [Error];
    assert.ok(isRelayError(failure, "RELAY_PORTS_EXHAUSTED"), String(failure));

    // Closing a peer returns its port: carol can publish.
    bob.close();
    await carol.handlePublishOffer(CHROMIUM_PUBLISH_OFFER);
    assert.equal(room.publications.size, 4);
  } finally {
    relay.close();
  }
});
