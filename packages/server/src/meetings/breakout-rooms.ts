/**
 * A live meeting with its breakout rooms (docs/protocol.md §6.5).
 *
 * The main room and every breakout room are LiveMeetings of their own — each with its own MLS
 * delivery service (its own group id, epochs, keys and so security code) and its own relay room —
 * so a room is exactly the machinery of a meeting, reused. This object sits in front of them:
 *
 * - it routes each participant's messages to the room it is in;
 * - it moves participants between rooms: a leave from one group (which rekeys without it) and a
 *   join to the other with the fresh key package the participant sent (which rekeys with it);
 * - it keeps host controls meeting-wide (let in, lock, end, remove, roles), wherever host and
 *   target are;
 * - it tells everyone where the rooms stand (`breakoutState`) and relays a host's encrypted
 *   broadcasts to every room.
 *
 * It sees which room each participant is in (it routes their media), never what they say: room
 * names and broadcasts travel end-to-end encrypted (app-messages/breakout-broadcast.ts).
 *
 * Owner tree: MeetingRegistry -> BreakoutMeeting -> LiveMeeting (main, rooms). close() is
 * idempotent and cascades; the rooms' timer is owned here and cleared on close.
 */
import { MLS_SUITES, fromBase64, isProtocolError, peekKeyPackage, type ClientMessage, type MeetingFeatures, type ServerMessage } from "@conclave/protocol";
import {
  LiveMeeting,
  OPEN_POLICY,
  type HostControlMessage,
  type JoinRequest,
  type JoinResult,
  type LiveMeetingOptions,
  type MediaRoom,
  type ParticipantInfo,
  logIdentity,
} from "./live-meeting.js";
import type { Meeting } from "../storage/meetings.js";
import { errorMessage, type ServerErrorCode } from "../errors.js";
import { RateLimiter } from "../http/rate-limit.js";

export interface BreakoutMeetingOptions extends Omit<LiveMeetingOptions, "roomId" | "hostElsewhere" | "onEmpty"> {
  /* onParticipant (the participant log) hears who enters and leaves the MEETING: moves between rooms are not logged. */
  /** Creates a breakout room's relay room (the main room's comes as `media`). */
  createRoomMedia?: (relayRoomId: string) => MediaRoom;
  /** Called when nobody is left in the main room or any breakout room. */
  onEmpty?: () => void;
  /** A participant left the meeting for good (not a move between rooms). */
  onParticipantGone?: (memberId: string) => void;
  /** A group chat message to keep (Enhanced meetings whose settings save chat). */
  onChatArchive?: (message: { memberId: string; displayName: string; text: string; room: string | null }) => void;
}

/** Chat messages a participant may hand over for saving, per minute. */
const ARCHIVED_PER_MINUTE = 120;

/** Host broadcasts per host per minute: plenty for people, nothing for a flood. */
const BROADCASTS_PER_MINUTE = 20;

type BreakoutMessage = Extract<ClientMessage, { type: "moveRoom" | "breakoutOpen" | "breakoutClose" | "breakoutBroadcast" }>;

export class BreakoutMeeting {
  readonly meeting: Meeting;
  readonly main: LiveMeeting;
  readonly #opts: BreakoutMeetingOptions;
  /** Breakout rooms by id (open ones, and closed ones someone is still in). */
  readonly #rooms = new Map<string, LiveMeeting>();
  /** Where each participant in a breakout room is (absent: the main room). */
  readonly #where = new Map<string, string>();
  /** The rooms a host opened, and who is assigned to each; null when none are open. */
  #plan: { assigned: Map<string, Set<string>>; endsAt: number | null; timer: ReturnType<typeof setTimeout> | null } | null = null;
  /** Whether breakout rooms were ever opened (from then on everyone hears where they stand). */
  #used = false;
  #moving = 0;
  #closed = false;
  readonly #broadcasts = new RateLimiter({ limit: BROADCASTS_PER_MINUTE, windowMs: 60_000 });
  readonly #archived = new RateLimiter({ limit: ARCHIVED_PER_MINUTE, windowMs: 60_000 });
  /** Each participant's file token, the same in every room it moves to. */
  readonly #fileTokens = new Map<string, string>();
  readonly #fileTokenFor: ((memberId: string) => string | undefined) | undefined;

  constructor(opts: BreakoutMeetingOptions) {
    this.meeting = opts.meeting;
    this.#opts = opts;
    const grant = opts.fileTokenFor;
    this.#fileTokenFor = grant && ((memberId) => {
      let token = this.#fileTokens.get(memberId);
      if (token === undefined) {
        token = grant(memberId);
        if (token !== undefined) this.#fileTokens.set(memberId, token);
      }
      return token;
    });
    const { createRoomMedia: _c, onParticipantGone: _g, fileTokenFor: _f, onChatArchive: _a, ...mainOpts } = opts;
    this.main = new LiveMeeting({
      ...mainOpts,
      ...(this.#fileTokenFor ? { fileTokenFor: this.#fileTokenFor } : {}),
      onEnded: () => {
        opts.onEnded?.();
        this.#closeRooms("ended by the host", true);
      },
      onEmpty: () => this.#maybeEmpty(),
      hostElsewhere: () => [...this.#rooms.values()].some((r) => r.hasHost),
    });
  }

  /** Everyone connected: in the main room (also waiting) and in breakout rooms. */
  get size(): number {
    let n = this.main.size;
    for (const r of this.#rooms.values()) n += r.size;
    return n;
  }

  get locked(): boolean {
    return this.main.locked;
  }

  /** The main room's MLS epoch. */
  get epoch(): bigint {
    return this.main.epoch;
  }

  get features(): MeetingFeatures {
    return this.main.features;
  }

  /** The breakout room with this id, if it exists (for tests and the audit). */
  room(roomId: string): LiveMeeting | undefined {
    return this.#rooms.get(roomId);
  }

  /** Where a participant is: a breakout room id, null for the main room, undefined if not here. */
  whereIs(memberId: string): string | null | undefined {
    const roomId = this.#where.get(memberId);
    if (roomId !== undefined) return roomId;
    return this.main.has(memberId) ? null : undefined;
  }

  has(memberId: string): boolean {
    return this.whereIs(memberId) !== undefined;
  }

  join(req: JoinRequest): JoinResult {
    const result = this.main.join(req);
    if (result.ok && result.state === "joined" && this.#used) this.#sendState(req.identity.memberId);
    return result;
  }

  isWaiting(memberId: string): boolean {
    return this.main.isWaiting(memberId);
  }

  handleWaiting(memberId: string, msg: ClientMessage): void {
    this.main.handleWaiting(memberId, msg);
  }

  /** Tells the hosts and co-hosts, wherever they are, something about the meeting (e.g. a refused room system). */
  notifyHosts(code: string, message: string): void {
    this.main.notifyHosts(code, message);
    for (const r of this.#rooms.values()) r.notifyHosts(code, message);
  }

  /** New effective feature settings, for the main room and every breakout room. */
  setFeatures(features: MeetingFeatures): void {
    this.main.setFeatures(features);
    for (const r of this.#rooms.values()) r.setFeatures(features);
    if (!features.breakoutRooms && this.#plan) this.#closePlan();
  }

  /** Handles one validated message from a participant let in (wherever it is). */
  async handle(memberId: string, msg: ClientMessage): Promise<void> {
    const here = this.#roomOf(memberId);
    const me = here?.participant(memberId);
    if (!here || !me) return;
    switch (msg.type) {
      case "moveRoom":
      case "breakoutOpen":
      case "breakoutClose":
      case "breakoutBroadcast":
        this.#breakout(memberId, me, msg);
        return;
      case "admit":
      case "deny":
      case "remove":
      case "lockMeeting":
      case "endMeeting":
      case "setRole":
      case "renameMember":
      case "inviteRoomSystem":
        this.#hostControl(me, msg);
        return;
      case "leave":
        this.leave(memberId, "left");
        me.connection.close(1000, "left");
        return;
      case "chatArchive":
        this.#archive(memberId, me, here, msg.text);
        return;
      default:
        await here.handle(memberId, msg);
    }
  }

  /**
   * A participant left or its connection dropped, wherever it was. Called (again) whenever its
   * connection closes, so what it was granted for the meeting (its file token) always goes.
   */
  leave(memberId: string, reason: "left" | "disconnected" | "removed"): void {
    this.#fileTokens.delete(memberId);
    this.#opts.onParticipantGone?.(memberId);
    const roomId = this.#where.get(memberId);
    if (roomId !== undefined) {
      this.#where.delete(memberId);
      const room = this.#rooms.get(roomId);
      const who = room?.participant(memberId);
      if (who) this.#opts.onParticipant?.({ event: "left", ...logIdentity(who.identity), reason });
      room?.leave(memberId, reason);
      this.#unassign(memberId);
      this.#sendState();
      this.#roomMaybeDone(roomId); // (the room's onEmpty also checks whether the meeting is empty)
      return;
    }
    this.main.leave(memberId, reason);
    if (this.#unassign(memberId)) this.#sendState();
  }

  /** Ends the meeting for everyone in every room (see LiveMeeting.close). */
  close(reason = "meeting closed", endedByHost = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeRooms(reason, endedByHost);
    this.main.close(reason, endedByHost);
  }

  // ---- breakout rooms ----------------------------------------------------------------------

  #breakout(memberId: string, me: ParticipantInfo, msg: BreakoutMessage): void {
    const refuse = (code: ServerErrorCode, detail?: string) =>
      me.connection.send({ type: "error", code, message: errorMessage(code, detail), fatal: false });
    const isHost = me.role === "host" || me.role === "cohost";
    switch (msg.type) {
      case "moveRoom":
        this.#move(memberId, me, msg.roomId, msg.keyPackage, refuse);
        return;
      case "breakoutOpen": {
        if (!isHost) return refuse("NOT_HOST");
        if (!this.main.features.breakoutRooms) return refuse("FEATURE_DISABLED", "breakoutRooms is off");
        const assigned = new Map<string, Set<string>>();
        const seen = new Set<string>();
        for (const room of msg.rooms) {
          const members = new Set<string>();
          for (const id of room.members) {
            if (seen.has(id)) return refuse("REQUEST_FAILED", "a participant is assigned to two rooms");
            seen.add(id);
            // People who left meanwhile are dropped; the host sees the result in breakoutState.
            if (this.has(id) && !this.main.isWaiting(id)) members.add(id);
          }
          assigned.set(room.roomId, members);
        }
        if (this.#plan?.timer) clearTimeout(this.#plan.timer);
        const endsAt = msg.durationSec === undefined ? null : Date.now() + msg.durationSec * 1000;
        const timer = msg.durationSec === undefined ? null : setTimeout(() => this.#closePlan(), msg.durationSec * 1000);
        timer?.unref?.();
        this.#plan = { assigned, endsAt, timer };
        this.#used = true;
        for (const roomId of assigned.keys()) this.#room(roomId);
        // Rooms dropped from the plan go as soon as nobody is in them.
        for (const roomId of [...this.#rooms.keys()]) this.#roomMaybeDone(roomId);
        this.#sendState();
        return;
      }
      case "breakoutClose":
        if (!isHost) return refuse("NOT_HOST");
        if (!this.#plan) return refuse("BREAKOUT_NOT_OPEN");
        this.#closePlan();
        return;
      case "breakoutBroadcast": {
        if (!isHost) return refuse("NOT_HOST");
        if (!this.#plan) return refuse("BREAKOUT_NOT_OPEN");
        if (this.#broadcasts.isLimited(memberId)) return refuse("RATE_LIMITED", "broadcasts to the rooms");
        this.#broadcasts.record(memberId);
        const out: ServerMessage = { type: "breakoutBroadcast", from: memberId, message: msg.message };
        this.main.sendToAll(out);
        for (const r of this.#rooms.values()) r.sendToAll(out);
        return;
      }
      default: {
        const never: never = msg;
        throw new Error(`unhandled breakout message ${(never as { type: string }).type}`);
      }
    }
  }

  /**
   * Moves a participant to a breakout room (or back to the main room, `roomId` null): it joins
   * the target group with the key package it sent, then leaves its current group. Participants
   * may go to the room they are assigned to while rooms are open, and back to the main room;
   * hosts and co-hosts may visit any open room.
   */
  #move(memberId: string, me: ParticipantInfo, roomId: string | null, keyPackageB64: string, refuse: (code: ServerErrorCode, detail?: string) => void): void {
    const from = this.#where.get(memberId) ?? null;
    if (roomId === from) return refuse("MOVE_NOT_ALLOWED", "you are already there");
    const isHost = me.role === "host" || me.role === "cohost";
    if (roomId !== null) {
      if (!this.main.features.breakoutRooms) return refuse("FEATURE_DISABLED", "breakoutRooms is off");
      if (!this.#plan || !this.#plan.assigned.has(roomId)) return refuse("ROOM_NOT_FOUND");
      if (!isHost && !this.#plan.assigned.get(roomId)!.has(memberId)) return refuse("MOVE_NOT_ALLOWED");
    }
    const keyPackage = fromBase64(keyPackageB64);
    try {
      const peeked = peekKeyPackage(keyPackage);
      // Every room uses the meeting's suite (post-quantum meetings have post-quantum rooms).
      const suite = this.meeting.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default;
      if (peeked.suite !== suite) return refuse("BAD_KEY_PACKAGE", "it uses an MLS cipher suite this meeting does not");
      const id = peeked.identity;
      if (id.memberId !== me.identity.memberId || id.displayName !== me.identity.displayName || id.kind !== me.identity.kind) {
        return refuse("BAD_KEY_PACKAGE", "its credential names someone else");
      }
    } catch (e) {
      return refuse("BAD_KEY_PACKAGE", isProtocolError(e) ? e.code : "unreadable");
    }
    const source = from === null ? this.main : this.#rooms.get(from);
    const target = roomId === null ? this.main : this.#room(roomId);
    if (!source) return refuse("ROOM_NOT_FOUND");
    this.#moving += 1;
    try {
      // Join first, then leave: the meeting is never empty in between.
      const joined = target.join({ identity: me.identity, keyPackage, connection: me.connection, role: me.role, banKey: me.banKey, admitted: true, wantsMedia: me.wantsMedia });
      if (!joined.ok) return refuse("MOVE_NOT_ALLOWED", joined.code);
      source.leave(memberId, "moved");
      if (roomId === null) this.#where.delete(memberId);
      else this.#where.set(memberId, roomId);
    } finally {
      this.#moving -= 1;
    }
    if (from !== null) this.#roomMaybeDone(from);
    this.#sendState();
  }

  /** Closes the rooms: everyone is told, and their apps bring them back to the main room. */
  #closePlan(): void {
    if (!this.#plan) return;
    if (this.#plan.timer) clearTimeout(this.#plan.timer);
    this.#plan = null;
    for (const roomId of [...this.#rooms.keys()]) this.#roomMaybeDone(roomId);
    this.#sendState();
  }

  /** The breakout room with this id, created on first use. */
  #room(roomId: string): LiveMeeting {
    let room = this.#rooms.get(roomId);
    if (room) return room;
    const o = this.#opts;
    room = new LiveMeeting({
      meeting: o.meeting,
      policy: OPEN_POLICY,
      roomId,
      features: this.main.features,
      ...(o.createRoomMedia ? { media: o.createRoomMedia(`${o.meeting.id}/room:${roomId}`) } : {}),
      ...(o.commitTimeoutMs !== undefined ? { commitTimeoutMs: o.commitTimeoutMs } : {}),
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
      ...(o.metrics ? { metrics: o.metrics } : {}),
      ...(o.iceServersFor ? { iceServersFor: o.iceServersFor } : {}),
      ...(this.#fileTokenFor ? { fileTokenFor: this.#fileTokenFor } : {}),
      onEmpty: () => {
        this.#roomMaybeDone(roomId);
        this.#maybeEmpty();
      },
    });
    this.#rooms.set(roomId, room);
    return room;
  }

  /** A room that is no longer in the plan goes once nobody is in it. */
  #roomMaybeDone(roomId: string): void {
    const room = this.#rooms.get(roomId);
    if (!room || room.size > 0 || this.#plan?.assigned.has(roomId)) return;
    this.#rooms.delete(roomId);
    room.close("breakout room closed");
  }

  #closeRooms(reason: string, endedByHost: boolean): void {
    if (this.#plan?.timer) clearTimeout(this.#plan.timer);
    this.#plan = null;
    for (const r of this.#rooms.values()) r.close(reason, endedByHost);
    this.#rooms.clear();
    this.#where.clear();
  }

  #unassign(memberId: string): boolean {
    let changed = false;
    for (const members of this.#plan?.assigned.values() ?? []) changed = members.delete(memberId) || changed;
    return changed;
  }

  #maybeEmpty(): void {
    if (this.#moving > 0 || this.#closed) return;
    if (this.size === 0) this.#opts.onEmpty?.();
  }

  #roomOf(memberId: string): LiveMeeting | undefined {
    const roomId = this.#where.get(memberId);
    return roomId === undefined ? this.main : this.#rooms.get(roomId);
  }

  /** Where the rooms stand, to everyone let in (or just to `only`). */
  #sendState(only?: string): void {
    if (!this.#used) return;
    const plan = this.#plan;
    const present = new Map<string, string[]>();
    for (const [memberId, roomId] of this.#where) present.set(roomId, [...(present.get(roomId) ?? []), memberId]);
    const roomIds = new Set([...(plan?.assigned.keys() ?? []), ...this.#rooms.keys()]);
    const rooms = [...roomIds].map((roomId) => ({
      roomId,
      assigned: [...(plan?.assigned.get(roomId) ?? [])],
      present: present.get(roomId) ?? [],
    }));
    const send = (memberId: string, room: LiveMeeting) =>
      room.participant(memberId)?.connection.send({
        type: "breakoutState",
        open: plan !== null,
        rooms,
        endsAt: plan?.endsAt ?? null,
        room: this.#where.get(memberId) ?? null,
      });
    if (only !== undefined) {
      const r = this.#roomOf(only);
      if (r) send(only, r);
      return;
    }
    for (const id of this.main.participantIds) send(id, this.main);
    for (const r of this.#rooms.values()) for (const id of r.participantIds) send(id, r);
  }

  /**
   * A copy of a group chat message for the saved chat: only in an Enhanced meeting whose
   * settings keep chat, only from a member holding the group's keys, attributed to the sender's
   * connection (a member can save only what it says itself).
   */
  #archive(memberId: string, me: ParticipantInfo, here: LiveMeeting, text: string): void {
    const refuse = (code: ServerErrorCode, detail?: string) => me.connection.send({ type: "error", code, message: errorMessage(code, detail), fatal: false });
    if (this.meeting.encryption !== "enhanced" || !this.main.features.chatHistory) return refuse("FEATURE_DISABLED", "this meeting does not save chat");
    if (!here.isGroupMember(memberId)) return refuse("NOT_IN_GROUP");
    if (this.#archived.isLimited(memberId)) return refuse("RATE_LIMITED", "saved chat messages");
    this.#archived.record(memberId);
    this.#opts.onChatArchive?.({ memberId, displayName: me.identity.displayName, text, room: here.roomId ?? null });
  }

  // ---- host controls, meeting-wide ---------------------------------------------------------

  #hostControl(issuer: ParticipantInfo, msg: HostControlMessage): void {
    const targetRoomId = "memberId" in msg ? this.#where.get(msg.memberId) : undefined;
    const targetRoom = targetRoomId === undefined ? undefined : this.#rooms.get(targetRoomId);
    if (!targetRoom || (msg.type !== "remove" && msg.type !== "setRole" && msg.type !== "renameMember")) {
      this.main.control(issuer, msg);
      return;
    }
    const refuse = (code: "NOT_HOST" | "MEMBER_NOT_FOUND" | "RENAME_NOT_ALLOWED") => issuer.connection.send({ type: "error", code, message: errorMessage(code), fatal: false });
    if (issuer.role === "participant") return refuse("NOT_HOST");
    const target = targetRoom.participant(msg.memberId);
    if (!target) return refuse("MEMBER_NOT_FOUND");
    if (msg.type === "renameMember") {
      const refused = targetRoom.rename(msg.memberId, msg.displayName);
      if (refused) refuse(refused);
      return;
    }
    if (msg.type === "setRole") {
      if (!targetRoom.updateRole(msg.memberId, msg.role)) refuse("NOT_HOST");
      return;
    }
    if (target.role === "host" && issuer.role !== "host") return refuse("NOT_HOST");
    if (!msg.allowRejoin) this.main.ban(target.banKey);
    this.leave(msg.memberId, "removed");
    target.connection.send({ type: "error", code: "REMOVED_BY_HOST", message: errorMessage("REMOVED_BY_HOST"), fatal: true });
    target.connection.close(4403, "REMOVED_BY_HOST");
  }
}
