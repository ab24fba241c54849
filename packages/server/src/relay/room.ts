// One meeting's media: its peers, and the rule that every peer subscribes to every other peer's
// publications.

import { EventEmitter } from "node:events";
import type { ConnectionOptions } from "./connection.js";
import { RelayError } from "./errors.js";
import { RelayPeer } from "./peer.js";
import type { Publication, PublicationInfo, RelayTap, TapSlot } from "./publication.js";

export type RelayRoomEvents = {
  peer: [RelayPeer];
  peerClosed: [string];
  publication: [Publication];
  publicationClosed: [PublicationInfo];
  close: [];
};

/** @internal What a room needs from its relay. */
export interface RoomContext {
  readonly options: ConnectionOptions;
  readonly keyframeRequestIntervalMs: number;
  readonly maxVideoBitrate: number;
}

export class RelayRoom extends EventEmitter<RelayRoomEvents> {
  readonly id: string;
  private readonly ctx: RoomContext;
  private readonly peerMap = new Map<string, RelayPeer>();
  private readonly pubs = new Map<string, Publication>();
  private readonly tap: TapSlot = { fn: null };
  private publicationCounter = 0;
  private _closed = false;

  /** @internal Use MediaRelay.createRoom. */
  constructor(id: string, ctx: RoomContext) {
    super();
    this.id = id;
    this.ctx = ctx;
  }

  get closed(): boolean {
    return this._closed;
  }

  get peers(): ReadonlyMap<string, RelayPeer> {
    return this.peerMap;
  }

  /** Every live publication in the room, by id. */
  get publications(): ReadonlyMap<string, Publication> {
    return this.pubs;
  }

  /**
   * Adds a participant. It is subscribed at once to every existing publication; its first
   * "subscribeOffer" follows asynchronously, so attach listeners right after this returns.
   */
  addPeer(peerId: string): RelayPeer {
    if (this._closed) throw new RelayError("RELAY_CLOSED", `room ${this.id}`);
    if (typeof peerId !== "string" || peerId.length === 0 || peerId.length > 256) {
      throw new RelayError("RELAY_BAD_ARGUMENT", "peer id must be a non-empty string of at most 256 characters");
    }
    if (this.peerMap.has(peerId)) throw new RelayError("RELAY_DUPLICATE_PEER", peerId);
    const peer = new RelayPeer(peerId, this.id, {
      options: this.ctx.options,
      tap: this.tap,
      keyframeRequestIntervalMs: this.ctx.keyframeRequestIntervalMs,
      maxVideoBitrate: this.ctx.maxVideoBitrate,
      newPublicationId: () => `pub-${++this.publicationCounter}`,
    });
    this.peerMap.set(peerId, peer);
    peer.on("publication", (pub) => {
      this.pubs.set(pub.id, pub);
      for (const other of this.peerMap.values()) other.subscribeTo(pub);
      this.emit("publication", pub);
    });
    peer.on("publicationClosed", (info) => {
      this.pubs.delete(info.publicationId);
      this.emit("publicationClosed", info);
    });
    peer.once("close", () => {
      this.peerMap.delete(peerId);
      this.emit("peerClosed", peerId);
    });
    for (const pub of this.pubs.values()) peer.subscribeTo(pub);
    this.emit("peer", peer);
    return peer;
  }

  getPeer(peerId: string): RelayPeer | undefined {
    return this.peerMap.get(peerId);
  }

  /** Closes and removes a peer; no-op for an unknown id. */
  removePeer(peerId: string): void {
    this.peerMap.get(peerId)?.close();
  }

  /**
   * Test and audit hook: `fn` sees every forwarded RTP payload with its publication id (pass null
   * to remove). It runs on the forwarding path, so keep it cheap.
   */
  setTap(fn: RelayTap | null): void {
    if (fn !== null && typeof fn !== "function") throw new RelayError("RELAY_BAD_ARGUMENT", "tap must be a function or null");
    this.tap.fn = fn;
  }

  /** Closes every peer. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const peer of [...this.peerMap.values()]) peer.close();
    this.peerMap.clear();
    this.pubs.clear();
    this.tap.fn = null;
    this.emit("close");
    this.removeAllListeners();
  }
}
