// Run as a child process by relay-exit.test.ts. A subscriber answers with a wrong DTLS
// fingerprint, so the relay's subscribe connection fails and libdatachannel tears it down by
// itself; then everything is closed and the process must exit on its own (no process.exit).

import { PeerConnection, type Track } from "node-datachannel";
import { MediaRelay, type SubscribeOffer } from "../src/relay/index.js";
import { CHROMIUM_PUBLISH_OFFER } from "./relay-chromium-offer.js";

const relay = new MediaRelay({ listenAddress: "127.0.0.1" });
const room = relay.createRoom("exit-after-failure");
await room.addPeer("alice").handlePublishOffer(CHROMIUM_PUBLISH_OFFER);
const bob = room.addPeer("bob");

const client = new PeerConnection("bob-client", { iceServers: [], bindAddress: "127.0.0.1", disableAutoNegotiation: true });
const tracks: Track[] = [];
client.onStateChange(() => undefined);
client.onTrack((t) => {
  t.onClosed(() => undefined);
  tracks.push(t);
});
client.onLocalDescription((sdp) => {
  const wrong = sdp.replace(/a=fingerprint:sha-256 [0-9A-F]{2}/, (m) => `${m.slice(0, -2)}${m.endsWith("00") ? "11" : "00"}`);
  bob.handleSubscribeAnswer(wrong).catch((e: unknown) => console.log("answer refused:", String(e)));
});
client.onLocalCandidate((candidate, mid) => void bob.addIceCandidate("subscribe", candidate, mid).catch(() => undefined));
bob.on("localCandidate", (c) => client.addRemoteCandidate(c.candidate, c.mid));
bob.on("subscribeOffer", (o: SubscribeOffer) => {
  client.setRemoteDescription(o.sdp, "offer");
  client.setLocalDescription("answer");
});
const timer = setTimeout(() => console.log("subscribe connection never failed"), 20_000);
await new Promise<void>((resolve) =>
  bob.on("connectionState", (c) => {
    if (c.pc === "subscribe" && c.state === "closed") resolve();
  }),
);
clearTimeout(timer);
console.log("relay subscribe connection failed as intended");
// libdatachannel closes the failed connection's tracks on its own thread; the leak this fixture
// guards against needs those closures to reach JS before relay.close(). Not a wait for a result.
await new Promise((r) => setTimeout(r, 500));
relay.close();
for (const t of tracks) t.close();
client.close();
console.log("closed after failure; exit follows");
setTimeout(() => console.error("still alive:", process.getActiveResourcesInfo().join(", ")), 15_000).unref();
