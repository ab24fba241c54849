// Relay interop with a real browser: headless Chromium (fake camera and microphone) publishes
// VP8 + Opus through the relay, a second Chromium connection and a Node participant subscribe,
// and the Node participant publishes to Chromium. Skipped when Chromium is not installed.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { type Browser, launchChromium } from "./media-chromium-driver.js";
import { Bot, loadRelay, Participant, type RelayPeerLike, type SubscribeTrackLike, waitUntil } from "./media-harness.js";

const relayModule = await loadRelay();

// In the page: one RTCPeerConnection per relay connection ("<peer>/publish", "<peer>/subscribe"),
// set up and negotiated on request.
const PAGE_HELPERS = `
window.conclave = {
  pcs: {},
  async gathered(pc) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((r) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r()));
  },
  async publish(name) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const pc = (this.pcs[name] = new RTCPeerConnection());
    for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: "sendonly", streams: [stream] });
    await pc.setLocalDescription(await pc.createOffer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async applyAnswer(name, sdp) {
    await this.pcs[name].setRemoteDescription({ type: "answer", sdp });
  },
  async answer(name, sdp) {
    const pc = (this.pcs[name] ??= new RTCPeerConnection());
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async candidate(name, candidate, sdpMid) {
    await this.pcs[name].addIceCandidate({ candidate, sdpMid });
  },
  async stats(name) {
    const out = [];
    (await this.pcs[name].getStats()).forEach((s) => {
      if (["inbound-rtp", "outbound-rtp", "remote-inbound-rtp"].includes(s.type)) out.push({ ...s });
    });
    return out;
  },
};`;

interface RtpStats {
  type: string;
  kind: string;
  mid?: string;
  framesReceived?: number;
  framesDecoded?: number;
  packetsReceived?: number;
  pliCount?: number;
  roundTripTime?: number;
}

const allStates = new Map<string, string[]>();

/** Wires a relay peer to a page connection; failures land in `errors` with what was being done. */
function wireBrowserPeer(
  browser: Browser,
  peer: RelayPeerLike,
  errors: string[],
  onOffer?: (tracks: readonly SubscribeTrackLike[]) => void,
): void {
  const pcName = (pc: string): string => JSON.stringify(`${peer.id}/${pc}`);
  const states: string[] = [];
  peer.on("connectionState", (c: { pc: string; state: string }) => states.push(`${c.pc}:${c.state}@${Math.round(performance.now())}`));
  const fail = (what: string) => (e: unknown) =>
    errors.push(`${peer.id} ${what}: ${e instanceof Error ? e.message : String(e)} [now ${Math.round(performance.now())}]`);
  allStates.set(peer.id, states);
  peer.on("localCandidate", (c: { pc: string; candidate: string; mid: string }) => {
    browser
      .evaluate(`conclave.candidate(${pcName(c.pc)}, ${JSON.stringify(c.candidate)}, ${JSON.stringify(c.mid)})`)
      .catch(fail(`adding a relay ${c.pc} candidate`));
  });
  peer.on("subscribeOffer", (o: { sdp: string; tracks: readonly SubscribeTrackLike[] }) => {
    onOffer?.(o.tracks);
    browser
      .evaluate<string>(`conclave.answer(${pcName("subscribe")}, ${JSON.stringify(o.sdp)})`)
      .then((answer) => peer.handleSubscribeAnswer(answer), fail("answering a subscribe offer in the page"))
      .catch(fail("applying the page's subscribe answer"));
  });
}

/** Polls the page's getStats until `ok` holds (no event exists for stats). */
async function statsUntil(browser: Browser, name: string, ok: (s: RtpStats[]) => boolean, label: string, ms = 45_000): Promise<RtpStats[]> {
  const started = Date.now();
  for (;;) {
    const stats = await browser.evaluate<RtpStats[]>(`conclave.stats(${JSON.stringify(name)})`);
    if (ok(stats)) return stats;
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${label}: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Frames shaped like VP8 on the wire: a keyframe's clear prefix carries the start code and 640x480. */
function vp8LikeFrame(kind: "audio" | "video", keyframe: boolean): Uint8Array {
  const f = randomBytes(kind === "video" ? (keyframe ? 12_000 : 3_000) : 120);
  if (kind === "video") {
    f[0] = keyframe ? 0x10 : 0x11; // P bit 0 = keyframe, show_frame
    if (keyframe) f.set([0x9d, 0x01, 0x2a, 640 & 0xff, 640 >> 8, 480 & 0xff, 480 >> 8], 3);
  }
  return f;
}

test("Chromium publishes through the relay to Chromium and to a Node participant, and receives a Node participant's frames", async () => {
  const relay = new relayModule.MediaRelay({ listenAddress: "127.0.0.1" });
  const room = relay.createRoom("interop");
  const browser = await launchChromium(PAGE_HELPERS);
  const node = new Participant(room, "node");
  try {
    node.bot = new Bot(await node.publish("video"), vp8LikeFrame).start(33);

    const errors: string[] = [];
    const subPeer = room.addPeer("chrome-sub");
    let subTracks: readonly SubscribeTrackLike[] = [];
    wireBrowserPeer(browser, subPeer, errors, (t) => (subTracks = t));
    const pubPeer = room.addPeer("chrome-pub");
    wireBrowserPeer(browser, pubPeer, errors);
    const offer = await browser.evaluate<string>(`conclave.publish("chrome-pub/publish")`);
    const answer = await pubPeer.handlePublishOffer(offer);
    await browser.evaluate(`conclave.applyAnswer("chrome-pub/publish", ${JSON.stringify(answer)})`);
    assert.deepEqual(
      [...pubPeer.publications.values()].map((p) => `${p.kind}/${p.source}`).sort(),
      ["audio/microphone", "video/camera"],
    );

    // Chromium -> relay -> Node: real VP8 and Opus frames, reassembled, starting from a keyframe.
    await waitUntil(
      node,
      "update",
      () => node.framesFrom("chrome-pub", "video").some((f) => f.keyframe) && node.framesFrom("chrome-pub", "audio").length >= 20,
      "Node receives Chromium's keyframe and audio",
    );
    assert.deepEqual(node.errors, []);
    assert.deepEqual(errors, [], JSON.stringify([...allStates]));
    const key = node.framesFrom("chrome-pub", "video").find((f) => f.keyframe);
    assert.deepEqual([...(key?.frame.subarray(3, 6) ?? [])], [0x9d, 0x01, 0x2a], "a VP8 keyframe start code, byte-exact");

    // Chromium -> relay -> Chromium decodes; Node -> relay -> Chromium is assembled by
    // Chromium's own VP8 depacketizer (random bytes do not decode, but frames are received).
    const midOf = (ownerId: string, kind: string): string | undefined => subTracks.find((t) => t.ownerId === ownerId && t.kind === kind)?.mid;
    const sub = await statsUntil(
      browser,
      "chrome-sub/subscribe",
      (s) =>
        s.some((x) => x.type === "inbound-rtp" && x.kind === "video" && x.mid === midOf("chrome-pub", "video") && (x.framesDecoded ?? 0) >= 30) &&
        s.some((x) => x.type === "inbound-rtp" && x.kind === "audio" && x.mid === midOf("chrome-pub", "audio") && (x.packetsReceived ?? 0) >= 50) &&
        s.some((x) => x.type === "inbound-rtp" && x.kind === "video" && x.mid === midOf("node", "video") && (x.framesReceived ?? 0) >= 20),
      "Chromium subscriber decoding Chromium and receiving Node frames",
    );
    assert.ok(sub.length >= 3);

    // The publisher got the relay's PLI, and RTT from the relay's receiver reports.
    await statsUntil(
      browser,
      "chrome-pub/publish",
      (s) =>
        s.some((x) => x.type === "outbound-rtp" && x.kind === "video" && (x.pliCount ?? 0) >= 1) &&
        s.some((x) => x.type === "remote-inbound-rtp" && x.kind === "video" && typeof x.roundTripTime === "number"),
      "PLI and receiver reports at the Chromium publisher",
    );
    assert.deepEqual(errors, []);
  } finally {
    node.bot?.stop();
    relay.close();
    await node.close();
    await browser.close();
  }
});
