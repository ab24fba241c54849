// One participant in a relay room: its publish and subscribe connections. Signaling is the
// caller's business: RelayPeer takes descriptions and candidates through methods and hands out
// its own through events.

import { EventEmitter } from "node:events";
import type { ConnectionOptions, PcName } from "./connection.js";
import { RelayError } from "./errors.js";
import type { Publication, PublicationInfo, TapSlot } from "./publication.js";
import { PublishConnection, type PublishTrackInfo } from "./publish-connection.js";
import { SubscribeConnection, type SubscribeOffer } from "./subscribe-connection.js";
import type { Subscription } from "./subscription.js";

export interface LocalCandidate {
  readonly pc: PcName;
  /** "candidate:..." (no "a=" prefix), as RTCIceCandidateInit.candidate. */
  readonly candidate: string;
  readonly mid: string;
}

export interface ConnectionStateChange {
  readonly pc: PcName;
  /** new, connecting, connected, disconnected, failed, closed */
  readonly state: string;
}

export type RelayPeerEvents = {
  /** A new subscribe offer to deliver to the participant; answer with handleSubscribeAnswer. */
  subscribeOffer: [SubscribeOffer];
  /**
   * A relay ICE candidate to deliver to the participant. Publish candidates follow the answer
   * returned by handlePublishOffer; subscribe candidates follow the participant's answer (sending
   * them with the offer lets a fast peer start DTLS before the relay knows its fingerprint).
   */
  localCandidate: [LocalCandidate];
  /** This peer started publishing a track. */
  publication: [Publication];
  /** One of this peer's publications ended. */
  publicationClosed: [PublicationInfo];
  connectionState: [ConnectionStateChange];
  /** The subscribe connection could not produce an offer (the peer should be dropped). */
  negotiationFailed: [Error];
  close: [];
};

/** @internal What a peer needs from its room. */
export interface PeerContext {
  readonly options: ConnectionOptions;
  readonly tap: TapSlot;
  readonly keyframeRequestIntervalMs: number;
  readonly maxVideoBitrate: number;
  readonly newPublicationId: () => string;
}

export class RelayPeer extends EventEmitter<RelayPeerEvents> {
  readonly id: string;
  readonly roomId: string;
  private readonly publish: PublishConnection;
  private readonly subscribe: SubscribeConnection;
  private readonly pubs = new Map<string, Publication>();
  private _closed = false;

  /** @internal Use RelayRoom.addPeer. */
  constructor(id: string, roomId: string, ctx: PeerContext) {
    super();
    this.id = id;
    this.roomId = roomId;
    const hooks = (pc: PcName) => ({
      localCandidate: (candidate: string, mid: string) => this.emit("localCandidate", { pc, candidate, mid }),
      stateChange: (state: string) => this.emit("connectionState", { pc, state }),
    });
    this.publish = new PublishConnection({
      peerId: id,
      options: ctx.options,
      hooks: hooks("publish"),
      tap: ctx.tap,
      keyframeRequestIntervalMs: ctx.keyframeRequestIntervalMs,
      maxVideoBitrate: ctx.maxVideoBitrate,
      newPublicationId: ctx.newPublicationId,
      published: (pub) => this.onPublished(pub),
    });
    this.subscribe = new SubscribeConnection({
      peerId: id,
      options: ctx.options,
      hooks: hooks("subscribe"),
      offer: (offer) => this.emit("subscribeOffer", offer),
      failed: (err) => this.emit("negotiationFailed", err),
    });
  }

  get closed(): boolean {
    return this._closed;
  }

  /** This peer's live publications by id. */
  get publications(): ReadonlyMap<string, Publication> {
    return this.pubs;
  }

  /** This peer's live subscriptions by publication id. */
  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.subscribe.subscriptions;
  }

  /** Native connection states, for monitoring. */
  get connectionStates(): Readonly<Record<PcName, string>> {
    return { publish: this.publish.state, subscribe: this.subscribe.state };
  }

  /**
   * Applies the participant's publish offer and returns the relay's answer. Sending m-sections
   * become publications (event "publication"); m-sections that stopped sending end theirs.
   * `tracks` names the source of each m-section (default: audio microphone, video camera).
   * Rejects with RELAY_BAD_SDP or RELAY_UNSUPPORTED_MEDIA without touching other peers.
   */
  async handlePublishOffer(sdp: string, tracks: readonly PublishTrackInfo[] = []): Promise<string> {
    this.assertOpen();
    return this.publish.handleOffer(sdp, tracks);
  }

  /** Applies the participant's answer to the latest "subscribeOffer". */
  async handleSubscribeAnswer(sdp: string): Promise<void> {
    this.assertOpen();
    this.subscribe.handleAnswer(sdp);
  }

  /** Adds a participant ICE candidate ("candidate:..." or "a=candidate:..."; "" = end of candidates). */
  async addIceCandidate(pc: PcName, candidate: string, mid?: string): Promise<void> {
    this.assertOpen();
    if (pc === "publish") this.publish.addIceCandidate(candidate, mid);
    else if (pc === "subscribe") this.subscribe.addIceCandidate(candidate, mid);
    else throw new RelayError("RELAY_BAD_ARGUMENT", 'pc must be "publish" or "subscribe"');
  }

  /** Ends one of this peer's publications from the server side (e.g. a host mute). */
  closePublication(publicationId: string): void {
    this.assertOpen();
    const pub = this.pubs.get(publicationId);
    if (!pub) throw new RelayError("RELAY_UNKNOWN_PUBLICATION", publicationId);
    pub.close();
  }

  /** @internal Called by the room for every publication of another peer. */
  subscribeTo(pub: Publication): void {
    if (this._closed || pub.closed || pub.ownerId === this.id) return;
    this.subscribe.subscribe(pub);
  }

  private onPublished(pub: Publication): void {
    this.pubs.set(pub.id, pub);
    pub.once("close", () => {
      this.pubs.delete(pub.id);
      this.emit("publicationClosed", pub.info);
    });
    this.emit("publication", pub);
  }

  private assertOpen(): void {
    if (this._closed) throw new RelayError("RELAY_CLOSED", `peer ${this.id}`);
  }

  /** Ends this peer's publications (others' subscriptions to them) and both connections. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.subscribe.close();
    this.publish.close();
    this.emit("close");
    this.removeAllListeners();
  }
}
