// Test harness: Node participants (NodeMediaTransport) talking to the server's media relay
// in-process, with signaling done by direct calls.
//
// The relay is loaded from the server package's *compiled* output at runtime: packages may not
// import each other's sources (each compiles on its own), and the client package has no
// dependency on the server. The interfaces below describe the part of the relay API these tests
// use; TypeScript checks the tests against them, and the tests check the relay against the tests.

import { randomBytes, randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { type LocalTrack, NodeMediaTransport, type ReceivedFrame } from "../src/media/index.js";

export type PcName = "publish" | "subscribe";

export interface TapPacketLike {
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: "audio" | "video";
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly marker: boolean;
  readonly payload: Uint8Array;
  readonly forwardedTo: number;
}

export interface PublicationLike {
  readonly id: string;
  readonly ownerId: string;
  readonly kind: "audio" | "video";
  readonly source: string;
  readonly closed: boolean;
  readonly subscriptions: ReadonlyMap<string, unknown>;
}

export interface SubscribeTrackLike {
  readonly mid: string;
  readonly publicationId: string;
  readonly ownerId: string;
  readonly kind: "audio" | "video";
  readonly source: "microphone" | "camera" | "screen";
}

export interface RelayPeerLike extends EventEmitter {
  readonly id: string;
  readonly closed: boolean;
  readonly publications: ReadonlyMap<string, PublicationLike>;
  readonly subscriptions: ReadonlyMap<string, unknown>;
  readonly connectionStates: Readonly<Record<PcName, string>>;
  handlePublishOffer(sdp: string, tracks?: readonly { mid: string; source: string }[]): Promise<string>;
  handleSubscribeAnswer(sdp: string): Promise<void>;
  addIceCandidate(pc: PcName, candidate: string, mid?: string): Promise<void>;
  closePublication(id: string): void;
  close(): void;
}

export interface RelayRoomLike extends EventEmitter {
  readonly id: string;
  readonly closed: boolean;
  readonly peers: ReadonlyMap<string, RelayPeerLike>;
  readonly publications: ReadonlyMap<string, PublicationLike>;
  addPeer(id: string): RelayPeerLike;
  removePeer(id: string): void;
  setTap(fn: ((p: TapPacketLike) => void) | null): void;
  close(): void;
}

export interface MediaRelayLike extends EventEmitter {
  readonly closed: boolean;
  readonly rooms: ReadonlyMap<string, RelayRoomLike>;
  createRoom(id: string): RelayRoomLike;
  close(): void;
}

export interface RelayModule {
  MediaRelay: new (options?: { listenAddress?: string; keyframeRequestIntervalMs?: number }) => MediaRelayLike;
  isRelayError(err: unknown, code?: string): boolean;
}

export async function loadRelay(): Promise<RelayModule> {
  const url = new URL("../../../server/dist/src/relay/index.js", import.meta.url);
  return (await import(url.href)) as RelayModule;
}

/** Resolves once `cond()` holds, re-checking on every `event` of `emitter`; rejects after `ms`. */
export function waitUntil(
  emitter: EventEmitter,
  event: string,
  cond: () => boolean,
  label: string,
  ms = 30_000,
): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for: ${label}`));
    }, ms);
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, check);
    };
    emitter.on(event, check);
  });
}

/** Waits for the next `event` of `emitter` whose payload satisfies `match`. */
export function nextEvent<T>(emitter: EventEmitter, event: string, match: (v: T) => boolean, label: string, ms = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (v: T): void => {
      if (!match(v)) return;
      cleanup();
      resolve(v);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for: ${label}`));
    }, ms);
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, on);
    };
    emitter.on(event, on);
  });
}

/**
 * A participant: a relay peer and a transport wired together, recording every frame it
 * receives and checking each against what its sender sent.
 */
export class Participant extends EventEmitter {
  readonly id: string;
  readonly peer: RelayPeerLike;
  readonly transport: NodeMediaTransport;
  readonly errors: unknown[] = [];
  /** Frames received, by publication id. */
  readonly received = new Map<string, ReceivedFrame[]>();
  readonly ended = new Set<string>();
  subscribeOffers = 0;
  lastSubscribeTracks: readonly SubscribeTrackLike[] = [];
  bot: Bot | undefined;

  constructor(room: RelayRoomLike, id: string) {
    super();
    this.id = id;
    this.peer = room.addPeer(id);
    this.transport = new NodeMediaTransport();
    this.peer.on("subscribeOffer", (offer: { sdp: string; tracks: readonly SubscribeTrackLike[] }) => {
      this.subscribeOffers++;
      this.lastSubscribeTracks = offer.tracks;
      void (async () => {
        const answer = await this.transport.handleSubscribeOffer(offer.sdp, offer.tracks);
        await this.peer.handleSubscribeAnswer(answer);
        this.emit("negotiated");
      })().catch((e: unknown) => this.fail(e));
    });
    this.peer.on("localCandidate", (c: { pc: PcName; candidate: string; mid: string }) => {
      this.transport.addRemoteCandidate(c.pc, c.candidate, c.mid).catch((e: unknown) => this.fail(e));
    });
    this.transport.on("localCandidate", (c) => {
      this.peer.addIceCandidate(c.pc, c.candidate, c.mid).catch((e: unknown) => this.fail(e));
    });
    this.transport.on("frame", (f) => {
      let list = this.received.get(f.publicationId);
      if (!list) this.received.set(f.publicationId, (list = []));
      list.push(f);
      this.emit("update");
    });
    this.transport.on("remoteTrackEnded", (info) => {
      this.ended.add(info.publicationId);
      this.emit("update");
    });
  }

  private fail(e: unknown): void {
    if (this.peer.closed || this.transport.closed) return;
    this.errors.push(e);
    this.emit("update");
  }

  /** Publishes the given tracks and completes the publish negotiation. */
  async publish(...specs: ("audio" | "video" | "screen")[]): Promise<LocalTrack[]> {
    const tracks = specs.map((s) =>
      s === "audio"
        ? this.transport.publish("audio", "microphone")
        : s === "video"
          ? this.transport.publish("video", "camera")
          : this.transport.publish("video", "screen"),
    );
    await this.renegotiatePublish();
    return tracks;
  }

  async renegotiatePublish(): Promise<void> {
    const offer = await this.transport.createPublishOffer();
    const answer = await this.peer.handlePublishOffer(offer, this.transport.publishTracks);
    await this.transport.applyPublishAnswer(answer);
  }

  /** Frames received from `ownerId` of `kind`. */
  framesFrom(ownerId: string, kind: "audio" | "video"): ReceivedFrame[] {
    const out: ReceivedFrame[] = [];
    for (const list of this.received.values()) for (const f of list) if (f.ownerId === ownerId && f.kind === kind) out.push(f);
    return out;
  }

  async close(): Promise<void> {
    this.bot?.stop();
    this.peer.close();
    await this.transport.close();
  }
}

/**
 * Sends random "encrypted-looking" frames on a participant's tracks at a steady pace: video
 * frames of 100..30000 bytes (first byte a VP8 tag: bit 0 clear on keyframes), audio frames of
 * 20..400 bytes. Remembers every frame it managed to send, by RTP timestamp, and answers
 * keyframe requests with a keyframe on the next tick.
 */
export class Bot {
  readonly sent = { audio: new Map<number, Uint8Array>(), video: new Map<number, Uint8Array>() };
  keyframeRequests = 0;
  keyframesSent = 0;
  private readonly video: LocalTrack | undefined;
  private readonly audio: LocalTrack | undefined;
  private readonly makeFrame: (kind: "audio" | "video", keyframe: boolean) => Uint8Array;
  private timer: NodeJS.Timeout | undefined;
  private n = 0;
  private wantKeyframe = true;
  private videoTs = randomInt(0, 2 ** 32);
  private audioTs = randomInt(0, 2 ** 32);

  constructor(
    tracks: readonly LocalTrack[],
    makeFrame: (kind: "audio" | "video", keyframe: boolean) => Uint8Array = randomFrame,
  ) {
    this.video = tracks.find((t) => t.kind === "video");
    this.audio = tracks.find((t) => t.kind === "audio");
    this.makeFrame = makeFrame;
    this.video?.on("keyframeRequest", () => {
      this.keyframeRequests++;
      this.wantKeyframe = true;
    });
  }

  start(intervalMs = 40): this {
    this.timer ??= setInterval(() => this.tick(), intervalMs);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.n++;
    if (this.video && !this.video.closed) {
      const keyframe = this.wantKeyframe || this.n % 100 === 0;
      const frame = this.makeFrame("video", keyframe);
      this.videoTs = (this.videoTs + 3000) >>> 0;
      if (this.video.sendFrame(frame, { rtpTimestamp: this.videoTs, keyframe })) {
        remember(this.sent.video, this.videoTs, frame);
        if (keyframe) {
          this.wantKeyframe = false;
          this.keyframesSent++;
        }
      }
    }
    if (this.audio && !this.audio.closed) {
      const frame = this.makeFrame("audio", false);
      this.audioTs = (this.audioTs + 960 * 2) >>> 0;
      if (this.audio.sendFrame(frame, { rtpTimestamp: this.audioTs })) remember(this.sent.audio, this.audioTs, frame);
    }
  }
}

function remember(map: Map<number, Uint8Array>, ts: number, frame: Uint8Array): void {
  map.set(ts, frame);
  if (map.size > 4000) map.delete(map.keys().next().value as number);
}

export function randomFrame(kind: "audio" | "video", keyframe: boolean): Uint8Array {
  const frame = randomBytes(kind === "video" ? randomInt(100, 30_001) : randomInt(20, 401));
  if (kind === "video") frame[0] = keyframe ? (frame[0] as number) & 0xfe : (frame[0] as number) | 0x01;
  return frame;
}

/** Checks every frame `p` received from `sender` against what `sender`'s bot sent. */
export function mismatches(p: Participant, sender: Participant, kind: "audio" | "video"): string[] {
  const bad: string[] = [];
  const sent = sender.bot?.sent[kind];
  for (const f of p.framesFrom(sender.id, kind)) {
    const original = sent?.get(f.rtpTimestamp);
    if (!original) bad.push(`${kind} frame at ts ${f.rtpTimestamp} was never sent`);
    else if (Buffer.compare(Buffer.from(original), Buffer.from(f.frame)) !== 0) {
      bad.push(`${kind} frame at ts ${f.rtpTimestamp}: ${f.frame.length} bytes received, ${original.length} sent, contents differ`);
    }
    if (kind === "video" && f.keyframe !== (((f.frame[0] as number) & 1) === 0)) bad.push("keyframe flag disagrees with the frame tag");
  }
  return bad;
}
