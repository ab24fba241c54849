/**
 * A meeting while people are in it: its participants, its MLS delivery service and its media room.
 *
 * Owner tree: MeetingRegistry -> LiveMeeting -> Participant (-> media peer). close() is
 * idempotent and cascades. Nothing here can read media or derive group secrets: the delivery
 * service sees MLS framing only, the media room forwards SFrame ciphertext.
 *
 * Waiting participants (joined, not yet added to the MLS group) get presence and their own state
 * only: no Welcome until a commit adds them, and no media peer until they are full group members.
 */
import {
  peekMessage,
  toBase64,
  fromBase64,
  type ClientMessage,
  type MemberIdentity,
  type MemberInfo,
  type ServerMessage,
  type TrackInfo,
} from "@conclave/protocol";
import { DeliveryService, type DeliveryOutput } from "./delivery-service.js";
import type { Meeting } from "../storage/meetings.js";
import { errorMessage } from "../errors.js";

/** How the meeting talks to one participant's connection. */
export interface ParticipantConnection {
  send(msg: ServerMessage): void;
  close(code: number, reason: string): void;
}

/** The media seam: a room in the relay, one peer per full group member. */
export interface MediaRoom {
  addPeer(memberId: string, events: MediaPeerEvents): MediaPeer;
  close(): void;
}

export interface MediaPeerEvents {
  subscribeOffer(sdp: string, tracks: TrackInfo[]): void;
  localCandidate(pc: "publish" | "subscribe", candidate: string, mid: string): void;
}

export interface PublishedTrack {
  mid: string;
  kind: "audio" | "video";
  source: "microphone" | "camera" | "screen";
}

export interface MediaPeer {
  handlePublishOffer(sdp: string, tracks: PublishedTrack[]): Promise<string>;
  handleSubscribeAnswer(sdp: string): Promise<void>;
  addIceCandidate(pc: "publish" | "subscribe", candidate: string, mid: string): Promise<void>;
  close(): void;
}

interface Participant {
  identity: MemberIdentity;
  connection: ParticipantConnection;
  inGroup: boolean;
  media: MediaPeer | null;
}

export interface LiveMeetingOptions {
  meeting: Meeting;
  media?: MediaRoom;
  commitTimeoutMs?: number;
  /** Called when the last participant leaves, so the registry can drop the meeting. */
  onEmpty?: () => void;
  /** Report of non-fatal internal problems (never contains secrets). */
  onWarning?: (message: string) => void;
}

export const MAX_PARTICIPANTS = 1000;

export class LiveMeeting {
  readonly meeting: Meeting;
  readonly #participants = new Map<string, Participant>();
  readonly #ds: DeliveryService;
  readonly #media: MediaRoom | undefined;
  readonly #opts: LiveMeetingOptions;
  #closed = false;

  constructor(opts: LiveMeetingOptions) {
    this.meeting = opts.meeting;
    this.#opts = opts;
    this.#media = opts.media;
    this.#ds = new DeliveryService({
      groupIdBase: new TextEncoder().encode(`conclave:${opts.meeting.id}`),
      inspect: {
        peekCommit(bytes) {
          const m = peekMessage(bytes);
          return { groupId: m.groupId, epoch: m.epoch, isCommit: m.contentType === "commit" };
        },
      },
      emit: (out) => this.#deliver(out),
      ...(opts.commitTimeoutMs !== undefined ? { commitTimeoutMs: opts.commitTimeoutMs } : {}),
    });
  }

  get size(): number {
    return this.#participants.size;
  }

  /** The MLS epoch the delivery service has ordered up to (for tests and the audit). */
  get epoch(): bigint {
    return this.#ds.epoch;
  }

  has(memberId: string): boolean {
    return this.#participants.has(memberId);
  }

  /** Admits a validated participant. The caller checked passcode, key package and identity. */
  join(identity: MemberIdentity, keyPackage: Uint8Array, connection: ParticipantConnection): void {
    if (this.#closed) throw new Error("meeting is closed");
    const p: Participant = { identity, connection, inGroup: false, media: null };
    this.#participants.set(identity.memberId, p);
    connection.send({
      type: "joined",
      memberId: identity.memberId,
      meetingId: this.meeting.id,
      encryption: this.meeting.encryption,
      members: [...this.#participants.values()].map(info),
    });
    this.#broadcast({ type: "memberJoined", member: info(p) }, identity.memberId);
    this.#ds.join(identity.memberId, identity, keyPackage);
  }

  /** Handles one validated message from a joined participant. */
  async handle(memberId: string, msg: ClientMessage): Promise<void> {
    const p = this.#participants.get(memberId);
    if (!p) return;
    switch (msg.type) {
      case "join":
        p.connection.send({ type: "error", code: "ALREADY_JOINED", message: errorMessage("ALREADY_JOINED"), fatal: false });
        return;
      case "groupCreated": {
        const r = this.#ds.groupCreated(memberId, fromBase64(msg.groupId));
        if (!r.ok) p.connection.send({ type: "error", code: "GROUP_REJECTED", message: errorMessage("GROUP_REJECTED", r.reason), fatal: false });
        return;
      }
      case "commit":
        this.#ds.commit(memberId, {
          epoch: BigInt(msg.epoch),
          commit: fromBase64(msg.commit),
          ...(msg.welcome ? { welcome: fromBase64(msg.welcome) } : {}),
          ...(msg.ratchetTree ? { ratchetTree: fromBase64(msg.ratchetTree) } : {}),
          added: msg.added,
          removed: msg.removed,
        });
        return;
      case "welcomeProcessed":
        if (!this.#ds.welcomeProcessed(memberId)) {
          p.connection.send({ type: "error", code: "GROUP_REJECTED", message: errorMessage("GROUP_REJECTED", "no Welcome was pending"), fatal: false });
        }
        return;
      case "groupFailure":
        this.#ds.rejoin(memberId, fromBase64(msg.keyPackage));
        return;
      case "publishOffer": {
        const media = this.#requireMedia(p);
        if (!media) return;
        const sdp = await media.handlePublishOffer(msg.sdp, msg.tracks);
        if (p.media === media) p.connection.send({ type: "publishAnswer", sdp });
        return;
      }
      case "subscribeAnswer": {
        const media = this.#requireMedia(p);
        if (media) await media.handleSubscribeAnswer(msg.sdp);
        return;
      }
      case "ice": {
        const media = this.#requireMedia(p);
        if (media) await media.addIceCandidate(msg.pc, msg.candidate, msg.mid);
        return;
      }
      case "leave":
        this.leave(memberId, "left");
        p.connection.close(1000, "left");
        return;
      case "ping":
        p.connection.send({ type: "pong", nonce: msg.nonce });
        return;
      default: {
        const never: never = msg;
        throw new Error(`unhandled message ${(never as { type: string }).type}`);
      }
    }
  }

  /** A participant left or its connection dropped: the others rekey without it. */
  leave(memberId: string, reason: "left" | "disconnected" | "removed"): void {
    const p = this.#participants.get(memberId);
    if (!p) return;
    this.#participants.delete(memberId);
    p.media?.close();
    p.media = null;
    this.#ds.leave(memberId);
    this.#broadcast({ type: "memberLeft", memberId, reason });
    if (this.#participants.size === 0) this.#opts.onEmpty?.();
  }

  /** Ends the meeting for everyone. */
  close(reason = "meeting closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#participants.values()) {
      p.media?.close();
      p.connection.send({ type: "meetingEnded" });
      p.connection.close(1001, reason);
    }
    this.#participants.clear();
    this.#ds.close();
    this.#media?.close();
  }

  #requireMedia(p: Participant): MediaPeer | null {
    if (p.media) return p.media;
    p.connection.send({
      type: "error",
      code: "NOT_IN_GROUP",
      message: this.#media ? errorMessage("NOT_IN_GROUP") : errorMessage("NOT_IN_GROUP", "this server runs without a media relay"),
      fatal: false,
    });
    return null;
  }

  #deliver(out: DeliveryOutput): void {
    const p = this.#participants.get(out.to);
    if (!p) return;
    const send = (m: ServerMessage) => p.connection.send(m);
    switch (out.type) {
      case "create":
        send({ type: "createGroup", groupId: toBase64(out.groupId) });
        return;
      case "commitRequest":
        send({
          type: "commitRequest",
          epoch: out.epoch.toString(),
          add: out.add.map((a) => ({ memberId: a.memberId, keyPackage: toBase64(a.keyPackage) })),
          remove: out.remove,
        });
        return;
      case "commit":
        send({ type: "commit", epoch: out.epoch.toString(), commit: toBase64(out.commit), from: out.from });
        return;
      case "commitAccepted":
        send({ type: "commitAccepted", epoch: out.epoch.toString() });
        return;
      case "commitRejected":
        send({ type: "commitRejected", epoch: out.epoch.toString(), reason: out.reason });
        return;
      case "welcome":
        send({
          type: "welcome",
          epoch: out.epoch.toString(),
          welcome: toBase64(out.welcome),
          ...(out.ratchetTree ? { ratchetTree: toBase64(out.ratchetTree) } : {}),
        });
        return;
      case "inGroup":
        p.inGroup = true;
        this.#attachMedia(p);
        this.#broadcast({ type: "memberUpdated", member: info(p) });
        return;
      case "leftGroup":
        p.inGroup = false;
        p.media?.close();
        p.media = null;
        this.#broadcast({ type: "memberUpdated", member: info(p) });
        return;
      default: {
        const never: never = out;
        throw new Error(`unhandled output ${(never as { type: string }).type}`);
      }
    }
  }

  #attachMedia(p: Participant): void {
    if (!this.#media || p.media) return;
    p.media = this.#media.addPeer(p.identity.memberId, {
      subscribeOffer: (sdp, tracks) => p.connection.send({ type: "subscribeOffer", sdp, tracks }),
      localCandidate: (pc, candidate, mid) => p.connection.send({ type: "ice", pc, candidate, mid }),
    });
  }

  #broadcast(msg: ServerMessage, except?: string): void {
    for (const [id, p] of this.#participants) if (id !== except) p.connection.send(msg);
  }
}

function info(p: Participant): MemberInfo {
  const kind = p.identity.kind === "connector" ? { kind: "connector" as const, connector: p.identity.connector } : { kind: "person" as const };
  return { memberId: p.identity.memberId, displayName: p.identity.displayName, kind, inGroup: p.inGroup };
}
