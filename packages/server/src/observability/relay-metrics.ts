/**
 * Relay metrics read from the relay's own per-publication counters at scrape time, so the
 * forwarding path pays nothing extra. Closed publications' counts are kept in running totals so
 * the counters never go down.
 */
import type { MediaRelay } from "../relay/relay.js";
import type { Publication } from "../relay/publication.js";
import type { Metrics } from "./metrics.js";

export function instrumentRelay(relay: MediaRelay, metrics: Metrics): void {
  const live = new Set<Publication>();
  const closed = { packetsIn: 0, bytesIn: 0, packetsOut: 0, packetsDropped: 0 };
  relay.on("room", (room) => {
    room.on("publication", (pub) => {
      live.add(pub);
      pub.once("close", () => {
        live.delete(pub);
        closed.packetsIn += pub.stats.packetsIn;
        closed.bytesIn += pub.stats.bytesIn;
        closed.packetsOut += pub.stats.packetsOut;
        closed.packetsDropped += pub.stats.packetsDropped;
      });
    });
  });
  const sum = (key: keyof typeof closed): number => {
    let total = closed[key];
    for (const pub of live) total += pub.stats[key];
    return total;
  };
  metrics.counter<"direction">({
    name: "conclave_relay_packets_total",
    help: "RTP packets through the media relay: received from publishers (in), sent to subscribers (out), dropped.",
    labelNames: ["direction"],
    collect() {
      this.reset();
      this.inc({ direction: "in" }, sum("packetsIn"));
      this.inc({ direction: "out" }, sum("packetsOut"));
      this.inc({ direction: "dropped" }, sum("packetsDropped"));
    },
  });
  metrics.counter({
    name: "conclave_relay_received_bytes_total",
    help: "RTP bytes the media relay received from publishers (SFrame ciphertext it cannot read).",
    collect() {
      this.reset();
      this.inc(sum("bytesIn"));
    },
  });
  metrics.gauge({
    name: "conclave_relay_publications",
    help: "Tracks being published to the media relay now.",
    collect() {
      this.set(live.size);
    },
  });
  metrics.gauge({
    name: "conclave_relay_subscriptions",
    help: "Subscriptions the media relay forwards to now (one per track and receiving participant).",
    collect() {
      let n = 0;
      for (const pub of live) n += pub.subscriptions.size;
      this.set(n);
    },
  });
  metrics.gauge({
    name: "conclave_relay_peers",
    help: "Participants connected to the media relay now.",
    collect() {
      let n = 0;
      for (const room of relay.rooms.values()) n += room.peers.size;
      this.set(n);
    },
  });
}
