/**
 * The live meetings of this server, by meeting id, and the join checks in front of them:
 * the meeting exists and has not ended, the passcode is right (guessing limited per address,
 * http/attempt-guard.ts), the key package verifies and names the participant, and the meeting's
 * encryption type allows the participant's kind.
 */
import { createHash } from "node:crypto";
import { MLS_SUITES, checkKeyPackage, isProtocolError, type ClientMessage, type MeetingFeatures, type MemberIdentity } from "@conclave/protocol";
import { fromBase64 } from "@conclave/protocol";
import {
  MAX_PARTICIPANTS,
  OPEN_POLICY,
  type MediaRoom,
  type MeetingConnectors,
  type MeetingPolicy,
  type ParticipantConnection,
  type ParticipantLogEvent,
} from "./live-meeting.js";
import { BreakoutMeeting } from "./breakout-rooms.js";
import type { MeetingFiles } from "../files/meeting-files.js";
import type { Meeting } from "../storage/meetings.js";
import type { MeetingStore } from "../storage/meetings.js";
import type { ConnectorTickets } from "../connectors/tickets.js";
import type { ConnectorKind } from "@conclave/protocol";
import { AttemptGuard, type AttemptLimits } from "../http/attempt-guard.js";
import type { Logger } from "../observability/logger.js";
import { errorMessage, type ServerErrorCode } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { IceServerInfo } from "@conclave/protocol";
import { serverMetrics, type ServerMetrics } from "../observability/server-metrics.js";

export interface MeetingRegistryOptions {
  store: MeetingStore;
  /**
   * Creates a relay room: the meeting's (its id) or a breakout room's (`<id>/room:<roomId>`);
   * omitted, meetings have signaling only.
   */
  createMediaRoom?: (relayRoomId: string) => MediaRoom;
  /** The meeting's effective feature settings (chat, polls, …), resolved when it goes live. */
  featuresFor?: (meeting: Meeting) => MeetingFeatures;
  /** Where files shared in meetings are kept (ciphertext), and the participants' tokens for them. */
  files?: MeetingFiles;
  /** A group chat message to keep after the meeting (Enhanced meetings whose settings save chat). */
  onChatArchive?: (meetingId: string, message: { memberId: string; displayName: string; text: string; room: string | null }) => void;
  commitTimeoutMs?: number;
  ackTimeoutMs?: number;
  /** The guessing budget shared with HTTP lookups and sign-ins; default: its own, with `limits`. */
  attempts?: AttemptGuard;
  limits?: AttemptLimits;
  /** The security log (failed joins, refused commits, host removals); never given a secret. */
  security?: Logger;
  /** How a meeting admits people (waiting room, join before host); default OPEN_POLICY. */
  policyFor?: (meeting: Meeting) => MeetingPolicy;
  /** Whether a signed-in user is the meeting's host (its owner). */
  isOwner?: (meeting: Meeting, userId: string) => boolean;
  /** Where meetings, participants, joins and MLS commits are counted (conclave_*). */
  metrics?: Metrics;
  /** TURN servers with fresh credentials for an admitted participant. */
  iceServersFor?: (memberId: string) => IceServerInfo[];
  /** Someone was admitted to or left a meeting (the sealed participant log). */
  onParticipant?: (meetingId: string, event: ParticipantLogEvent) => void;
  /** Join tickets of connectors the server starts (they replace the passcode). */
  tickets?: ConnectorTickets;
  /** The server's connector services (the SIP gateway), looked up when a meeting needs them. */
  connectors?: () => MeetingConnectors | undefined;
}

/** Who is asking to join, as far as the server can tell from the connection. */
export interface JoinContext {
  /** The client's network address (rate limits, and bans of anonymous participants). */
  address: string;
  /** The signed-in user, if the connection carries a session. */
  userId: string | null;
  /** The connection presented the admin API token: it hosts every meeting. */
  admin: boolean;
}


export type JoinOutcome =
  | { ok: true; meeting: BreakoutMeeting; memberId: string }
  | { ok: false; code: JoinErrorCode; message: string };

export type JoinErrorCode = Extract<
  ServerErrorCode,
  | "MEETING_NOT_FOUND"
  | "MEETING_ENDED"
  | "WRONG_PASSCODE"
  | "RATE_LIMITED"
  | "BAD_KEY_PACKAGE"
  | "MLS_SUITE_MISMATCH"
  | "MEMBER_ID_TAKEN"
  | "MEETING_FULL"
  | "CONNECTOR_NOT_ALLOWED"
  | "SERVER_CLOSED"
  | "MEETING_LOCKED"
  | "BANNED"
  | "BAD_TICKET"
>;

export class MeetingRegistry {
  readonly #opts: MeetingRegistryOptions;
  readonly #live = new Map<string, BreakoutMeeting>();
  readonly #attempts: AttemptGuard;
  #closed = false;
  readonly #metrics: ServerMetrics | undefined;

  constructor(opts: MeetingRegistryOptions) {
    this.#opts = opts;
    this.#attempts = opts.attempts ?? new AttemptGuard(opts.limits);
    this.#metrics = opts.metrics ? serverMetrics(opts.metrics) : undefined;
    const live = this.#live;
    opts.metrics?.gauge({
      name: "conclave_meetings_live",
      help: "Meetings with at least one participant connected.",
      collect() {
        this.set(live.size);
      },
    });
    opts.metrics?.gauge({
      name: "conclave_participants_live",
      help: "Participants connected to live meetings (in the meeting or waiting to be let in).",
      collect() {
        let n = 0;
        for (const m of live.values()) n += m.size;
        this.set(n);
      },
    });
  }

  /** The live meeting with this id (its main room and breakout rooms), if anyone is in it. */
  get(meetingId: string): BreakoutMeeting | undefined {
    return this.#live.get(meetingId);
  }

  /** Resolves every live meeting's feature settings again (an admin changed settings). */
  refreshFeatures(): void {
    const featuresFor = this.#opts.featuresFor;
    if (!featuresFor) return;
    for (const live of this.#live.values()) live.setFeatures(featuresFor(live.meeting));
  }

  async join(msg: Extract<ClientMessage, { type: "join" }>, who: JoinContext, connection: ParticipantConnection): Promise<JoinOutcome> {
    const outcome = await this.#join(msg, who, connection);
    if (this.#metrics) {
      const result = outcome.ok ? (outcome.meeting.isWaiting(outcome.memberId) ? "waiting" : "joined") : outcome.code;
      this.#metrics.joins.inc({ result });
      if (!outcome.ok && outcome.code === "RATE_LIMITED") this.#metrics.rateLimitRefusals.inc({ where: "join" });
    }
    return outcome;
  }

  async #join(msg: Extract<ClientMessage, { type: "join" }>, who: JoinContext, connection: ParticipantConnection): Promise<JoinOutcome> {
    const address = who.address;
    if (this.#closed) return fail("SERVER_CLOSED");
    // Per address, and per meeting only for addresses that have failed (attempt-guard.ts): a
    // newcomer with the right passcode is never locked out by someone else's guessing.
    const refused = this.#attempts.attempt(address, `meeting:${msg.meetingId}`);
    if (refused !== null) return fail("RATE_LIMITED", refused === "attempts" ? "join attempts from your address" : "failed attempts from your address");

    const record = this.#opts.store.get(msg.meetingId);
    if (!record) {
      // Unknown ids count as failures: guessing meeting ids is rate limited like passcodes.
      this.#opts.security?.warn("join refused: unknown meeting", undefined, { event: "join_failed", reason: "unknown_meeting", ip: address, meetingId: msg.meetingId });
      await this.#attempts.failure(address);
      return fail("MEETING_NOT_FOUND");
    }
    if (record.endedAt !== undefined) return fail("MEETING_ENDED");

    // The meeting's host (its owner signed in, or the admin-token bearer) needs no passcode.
    const host = who.admin || (who.userId !== null && (this.#opts.isOwner?.(record, who.userId) ?? false));
    // A connector the server started presents its ticket instead (checked against its credential below).
    const grant = msg.connectorTicket !== undefined ? (this.#opts.tickets?.redeem(msg.connectorTicket, record.id) ?? null) : undefined;
    if (grant === null) {
      this.#opts.security?.warn("join refused: forged or reused connector ticket", undefined, { event: "join_failed", reason: "bad_ticket", ip: address, meetingId: record.id });
      await this.#attempts.failure(address, `meeting:${record.id}`);
      return fail("BAD_TICKET");
    }
    if (record.passcodeRequired && !host && grant === undefined) {
      const ok = msg.passcode !== undefined && (await this.#opts.store.verifyPasscodeAsync(record.id, msg.passcode));
      if (!ok) {
        this.#opts.security?.warn("join refused: wrong passcode", undefined, { event: "join_failed", reason: "wrong_passcode", ip: address, meetingId: record.id });
        await this.#attempts.failure(address, `meeting:${record.id}`);
        return fail("WRONG_PASSCODE");
      }
    }

    const keyPackage = fromBase64(msg.keyPackage);
    let identity: MemberIdentity;
    try {
      // Decoded and its signatures verified here, so a forged one never reaches a committer.
      const peeked = await checkKeyPackage(keyPackage);
      // The group's suite is the meeting's: a key package for another one could never be added.
      const suite = record.postQuantum ? MLS_SUITES.postQuantum : MLS_SUITES.default;
      if (peeked.suite !== suite) return fail("MLS_SUITE_MISMATCH", `this meeting uses ${suite}, the key package ${peeked.suite}`);
      identity = peeked.identity;
    } catch (e) {
      return fail("BAD_KEY_PACKAGE", isProtocolError(e) ? e.code : "unreadable");
    }
    if (identity.memberId !== msg.memberId || identity.displayName !== msg.displayName) {
      return fail("BAD_KEY_PACKAGE", "its credential names someone else");
    }
    if (identity.kind === "connector" && record.encryption === "e2ee") {
      return fail("CONNECTOR_NOT_ALLOWED");
    }
    if (grant !== undefined && (identity.kind !== "connector" || identity.connector !== grant.connector)) {
      return fail("BAD_TICKET", "the ticket is for another kind of member");
    }

    let live = this.#live.get(record.id);
    if (!live) {
      const id = record.id;
      const files = this.#opts.files;
      const createMediaRoom = this.#opts.createMediaRoom;
      live = new BreakoutMeeting({
        meeting: record,
        policy: this.#opts.policyFor?.(record) ?? OPEN_POLICY,
        ...(this.#opts.featuresFor ? { features: this.#opts.featuresFor(record) } : {}),
        // Ending keeps only the meeting's record: the live state (members, MLS ordering, media) goes.
        onEnded: () => {
          this.#opts.store.markEnded(id);
          this.#live.delete(id);
          void files?.endMeeting(id);
        },
        ...(createMediaRoom ? { media: createMediaRoom(id), createRoomMedia: createMediaRoom } : {}),
        ...(files ? { fileTokenFor: (memberId: string) => files.grant(id, memberId), onParticipantGone: (memberId: string) => files.revoke(id, memberId) } : {}),
        ...(this.#opts.commitTimeoutMs !== undefined ? { commitTimeoutMs: this.#opts.commitTimeoutMs } : {}),
        ...(this.#opts.ackTimeoutMs !== undefined ? { ackTimeoutMs: this.#opts.ackTimeoutMs } : {}),
        ...(this.#opts.security ? { security: this.#opts.security.child({ meetingId: id }) } : {}),
        ...(this.#metrics ? { metrics: this.#metrics } : {}),
        ...(this.#opts.iceServersFor ? { iceServersFor: this.#opts.iceServersFor } : {}),
        ...(this.#opts.onParticipant ? { onParticipant: (e: ParticipantLogEvent) => this.#opts.onParticipant?.(id, e) } : {}),
        ...(this.#opts.onChatArchive ? { onChatArchive: (m: { memberId: string; displayName: string; text: string; room: string | null }) => this.#opts.onChatArchive?.(id, m) } : {}),
        ...(this.#opts.connectors ? { connectors: lateConnectors(this.#opts.connectors) } : {}),
        onEmpty: () => {
          const current = this.#live.get(id);
          if (current && current.size === 0) {
            this.#live.delete(id);
            current.close();
            // Everyone has gone: the meeting's shared files go too (only ciphertext, but no one needs it).
            void files?.endMeeting(id);
          }
        },
      });
      this.#live.set(record.id, live);
    }
    if (live.size >= MAX_PARTICIPANTS) return fail("MEETING_FULL", `${MAX_PARTICIPANTS} participants`);
    const result = live.join({
      identity,
      keyPackage,
      connection,
      role: host ? "host" : "participant",
      banKey: grant !== undefined ? `connector:${identity.memberId}` : banKey(who, msg.deviceToken),
      ...(grant?.invitedByHost ? { invitedByHost: true } : {}),
      ...(msg.media === false ? { wantsMedia: false } : {}),
    });
    if (!result.ok) return fail(result.code);
    return { ok: true, meeting: live, memberId: identity.memberId };
  }

  /**
   * A connector asks, on behalf of a device, to bring it into a meeting (a room system that dialed
   * `<meetingId>.<passcode>@host`). Checks the meeting, its encryption (no connector in an e2ee
   * meeting) and the passcode, with the same rate limits as joins; on success issues a ticket.
   */
  async authorizeConnector(req: { meetingId: string; passcode?: string; address: string; connector: ConnectorKind }): Promise<
    { ok: true; ticket: string; meeting: Meeting } | { ok: false; code: JoinErrorCode | "BAD_TICKET"; message: string }
  > {
    // `address` is the device's ("sip:192.0.2.7"): a device guessing meeting ids or passcodes
    // spends the same per-address attempt budget as a browser (http/attempt-guard.ts).
    const address = req.address;
    if (this.#closed) return fail("SERVER_CLOSED");
    if (!this.#opts.tickets) return fail("SERVER_CLOSED", "connectors are not enabled");
    const refused = this.#attempts.attempt(address, `meeting:${req.meetingId}`);
    if (refused !== null) return fail("RATE_LIMITED", refused === "attempts" ? "join attempts from your address" : "failed attempts from your address");
    const record = this.#opts.store.get(req.meetingId);
    if (!record) {
      this.#opts.security?.warn("room system refused: unknown meeting", undefined, { event: "join_failed", reason: "unknown_meeting", ip: address, meetingId: req.meetingId });
      await this.#attempts.failure(address);
      return fail("MEETING_NOT_FOUND");
    }
    if (record.endedAt !== undefined) return fail("MEETING_ENDED");
    if (record.encryption === "e2ee") return fail("CONNECTOR_NOT_ALLOWED");
    if (record.passcodeRequired) {
      const ok = req.passcode !== undefined && (await this.#opts.store.verifyPasscodeAsync(record.id, req.passcode));
      if (!ok) {
        this.#opts.security?.warn("room system refused: wrong passcode", undefined, { event: "join_failed", reason: "wrong_passcode", ip: address, meetingId: record.id });
        await this.#attempts.failure(address, `meeting:${record.id}`);
        return fail("WRONG_PASSCODE");
      }
    }
    return { ok: true, ticket: this.#opts.tickets.issue({ meetingId: record.id, connector: req.connector, invitedByHost: false }), meeting: record };
  }

  /** A ticket for a connector a host asked for (outbound call, recording): it skips the waiting room. */
  hostTicket(meetingId: string, connector: ConnectorKind): string {
    if (!this.#opts.tickets) throw new Error("connectors are not enabled");
    return this.#opts.tickets.issue({ meetingId, connector, invitedByHost: true });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#live.values()) m.close("server shutting down");
    this.#live.clear();
  }
}

function lateConnectors(get: () => MeetingConnectors | undefined): MeetingConnectors {
  return {
    inviteRoomSystem: (meetingId, uri, displayName) => get()?.inviteRoomSystem(meetingId, uri, displayName) ?? { ok: false, code: "SIP_DISABLED" },
  };
}

/**
 * What a host's ban refuses (docs/threat-model.md, "Bans"): the account when signed in, else this
 * browser's or bot's device token (only its hash is kept), else — for clients that present none —
 * the network address. A guest's ban never matches another guest who presents a token of its own.
 */
export function banKey(who: Pick<JoinContext, "userId" | "address">, deviceToken: string | undefined): string {
  if (who.userId !== null) return `user:${who.userId}`;
  if (deviceToken !== undefined) return `device:${createHash("sha256").update(deviceToken, "utf8").digest("base64url")}`;
  return `address:${who.address}`;
}

function fail(code: JoinErrorCode, detail?: string): Extract<JoinOutcome, { ok: false }> {
  return { ok: false, code, message: errorMessage(code, detail) };
}
