/**
 * One participant's WebSocket: validation at the trust boundary, then hand-off to its meeting.
 *
 * - Only text frames of valid signaling messages pass (packages/protocol/src/signaling); anything
 *   else gets an `error` message, and repeated garbage closes the socket (4400) — the meeting and
 *   everyone else in it carry on.
 * - The first message must be `join`, within JOIN_TIMEOUT_MS, and no message may exceed
 *   MAX_PRE_JOIN_MESSAGE_BYTES (the server's WebSocket limit) until the join is accepted (a join with a key package is a few
 *   KiB); then up to MAX_SIGNALING_MESSAGE_BYTES (Welcomes of large groups).
 * - A message that starts arriving must finish within MESSAGE_TIMEOUT_MS (PRE_JOIN_MESSAGE_TIMEOUT_MS
 *   before the join): a sender that stalls mid-message is cut off instead of pinning its buffer.
 * - Messages are rate limited per connection; a flood closes the socket (4429).
 * - Messages from one connection are handled one at a time, in order.
 * - Nothing from a message body is logged (it may hold passcodes or key packages).
 */
import type { IncomingMessage } from "node:http";
import type { WebSocket, RawData } from "ws";
import { MAX_SIGNALING_MESSAGE_BYTES, encodeMessage, isProtocolError, parseClientMessage, type ServerMessage } from "@conclave/protocol";
import { messageInProgress, setMaxMessageBytes } from "./ws-limits.js";
import type { MeetingRegistry } from "../meetings/meeting-registry.js";
import type { ParticipantConnection } from "../meetings/live-meeting.js";
import type { BreakoutMeeting } from "../meetings/breakout-rooms.js";
import { errorMessage, type ServerErrorCode } from "../errors.js";
import type { ServerMetrics } from "../observability/server-metrics.js";

export const JOIN_TIMEOUT_MS = 15_000;
/** A message must arrive whole within this time (4 MiB at about 1.1 Mbit/s), 5 s before the join. */
export const MESSAGE_TIMEOUT_MS = 30_000;
export const PRE_JOIN_MESSAGE_TIMEOUT_MS = 5_000;
/**
 * WebSocket ping interval. A peer that answers no ping for two intervals is cut off, so a
 * participant whose network vanished (no TCP close) leaves the group within ~2 intervals.
 */
export const HEARTBEAT_MS = 10_000;
/** Close codes (4000-4999 are for applications, RFC 6455 §7.4.2). */
export const CLOSE_CODES = {
  JOIN_REFUSED: 4403,
  MALFORMED: 4400,
  JOIN_TIMEOUT: 4408,
  RATE_LIMITED: 4429,
  MESSAGE_TIMEOUT: 4408,
  SERVER_SHUTDOWN: 1001,
} as const;
/**
 * What may wait unsent for one connection (the socket's own buffer, past what the kernel took).
 * A member that stops reading while still answering pings would otherwise make the server hold
 * everything sent to it; past this it is cut off (it rejoins when it reads again). Far above any
 * burst a reader that keeps up sees (Welcomes of the largest groups are a few MiB).
 */
export const MAX_SEND_BACKLOG_BYTES = 64 * 1024 * 1024;
const MAX_MALFORMED = 5;
const RATE_WINDOW_MS = 10_000;
/** Generous for MLS traffic and ICE candidates, far below a flood. */
const RATE_LIMIT = 500;

export interface SignalingOptions {
  heartbeatMs?: number;
  /** How often a half-received message is looked for (default 1 s). */
  messageCheckMs?: number;
  /** Unsent bytes a connection may hold before it is cut (default MAX_SEND_BACKLOG_BYTES). */
  maxSendBacklogBytes?: number;
  /** Who the upgrade request authenticates (session cookie, admin token); default nobody. */
  authenticate?: (req: IncomingMessage) => { userId: string | null; admin: boolean };
  /** Counts error messages by code and rate-limited connections. */
  metrics?: ServerMetrics;
  /**
   * Sees every signaling text frame of every connection, both ways, as it crosses the server
   * (an audit hook: tests use it to check that no chat text, file byte or vote ever does).
   */
  tap?: SignalingTap;
  /** A connection cut for abuse (for the security log): which limit, from where, joined or not. */
  onAbuse?: (event: SignalingAbuse, address: string, joined: boolean) => void;
}

export type SignalingTap = (direction: "in" | "out", text: string) => void;

/** Why a connection was cut. */
export type SignalingAbuse = "message_timeout" | "message_too_large" | "malformed_messages" | "message_flood" | "send_backlog";

export function handleSignalingConnection(ws: WebSocket, req: IncomingMessage, registry: MeetingRegistry, opts: SignalingOptions = {}): void {
  const address = req.socket.remoteAddress ?? "unknown";
  let meeting: BreakoutMeeting | null = null;
  let memberId: string | null = null;
  let joining = false;
  let malformed = 0;
  let windowStart = Date.now();
  let count = 0;
  let queue: Promise<void> = Promise.resolve();

  const maxBacklog = opts.maxSendBacklogBytes ?? MAX_SEND_BACKLOG_BYTES;
  const checkBacklog = () => {
    if (ws.bufferedAmount <= maxBacklog) return;
    opts.onAbuse?.("send_backlog", address, memberId !== null);
    ws.terminate(); // 'close' follows: the member leaves and the others rekey
  };
  const connection: ParticipantConnection = {
    send(msg: ServerMessage) {
      if (ws.readyState !== ws.OPEN) return;
      const text = encodeMessage(msg);
      opts.tap?.("out", text);
      ws.send(text);
      checkBacklog();
    },
    sendFrame(frame: Uint8Array) {
      // A text frame from bytes already encoded (the same buffer for every member of a fan-out).
      if (ws.readyState !== ws.OPEN) return;
      ws.send(frame, { binary: false });
      checkBacklog();
    },
    close(code: number, reason: string) {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    },
  };
  const error = (code: ServerErrorCode, message: string, fatal: boolean, closeCode: number = CLOSE_CODES.MALFORMED) => {
    opts.metrics?.signalingErrors.inc({ code });
    if (code === "RATE_LIMITED" && closeCode === CLOSE_CODES.RATE_LIMITED) opts.metrics?.rateLimitRefusals.inc({ where: "signaling" });
    connection.send({ type: "error", code, message, fatal });
    if (fatal) connection.close(closeCode, code);
  };

  // Heartbeat (RFC 6455 §5.5.2): browsers and `ws` answer pings automatically.
  let alive = true;
  ws.on("pong", () => {
    alive = true;
  });
  const heartbeat = setInterval(() => {
    if (!alive) {
      ws.terminate(); // 'close' follows: the participant leaves and the others rekey
      return;
    }
    alive = false;
    ws.ping();
  }, opts.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();

  const joinTimer = setTimeout(() => {
    if (!memberId) error("JOIN_TIMEOUT", errorMessage("JOIN_TIMEOUT"), true, CLOSE_CODES.JOIN_TIMEOUT);
  }, JOIN_TIMEOUT_MS);
  joinTimer.unref();

  // A message half-received for too long: the sender stalled (or is trickling bytes to pin memory).
  let messageSince: number | null = null;
  const messageWatch = setInterval(() => {
    if (!messageInProgress(ws)) {
      messageSince = null;
      return;
    }
    const now = Date.now();
    messageSince ??= now;
    if (now - messageSince > (memberId ? MESSAGE_TIMEOUT_MS : PRE_JOIN_MESSAGE_TIMEOUT_MS)) {
      opts.onAbuse?.("message_timeout", address, memberId !== null);
      ws.terminate();
    }
  }, opts.messageCheckMs ?? 1000);
  messageWatch.unref();

  ws.on("message", (data: RawData, isBinary: boolean) => {
    const now = Date.now();
    if (now - windowStart > RATE_WINDOW_MS) {
      windowStart = now;
      count = 0;
    }
    if (++count > RATE_LIMIT) {
      if (count === RATE_LIMIT + 1) opts.onAbuse?.("message_flood", address, memberId !== null);
      error("RATE_LIMITED", errorMessage("RATE_LIMITED", "messages on this connection"), true, CLOSE_CODES.RATE_LIMITED);
      return;
    }
    if (isBinary) {
      onMalformed(errorMessage("MESSAGE_MALFORMED", "binary frames are not part of the protocol"));
      return;
    }
    const text = data.toString();
    opts.tap?.("in", text);
    let msg;
    try {
      msg = parseClientMessage(text);
    } catch (e) {
      onMalformed(isProtocolError(e) ? e.message : errorMessage("MESSAGE_MALFORMED"));
      return;
    }
    queue = queue.then(async () => {
      if (!meeting || !memberId) {
        if (msg.type !== "join") {
          error("NOT_JOINED", errorMessage("NOT_JOINED"), false);
          return;
        }
        if (joining) return;
        joining = true;
        const outcome = await registry.join(msg, { address, ...(opts.authenticate?.(req) ?? { userId: null, admin: false }) }, connection);
        joining = false;
        if (!outcome.ok) {
          error(outcome.code, outcome.message, true, CLOSE_CODES.JOIN_REFUSED);
          return;
        }
        if (ws.readyState !== ws.OPEN) {
          // The socket closed while the join was being checked.
          outcome.meeting.leave(outcome.memberId, "disconnected");
          return;
        }
        meeting = outcome.meeting;
        memberId = outcome.memberId;
        clearTimeout(joinTimer);
        // Joined: Welcomes and commits of large groups may now come through.
        setMaxMessageBytes(ws, MAX_SIGNALING_MESSAGE_BYTES);
        return;
      }
      if (meeting.isWaiting(memberId)) meeting.handleWaiting(memberId, msg);
      else await meeting.handle(memberId, msg);
    }).catch((e: unknown) => {
      // A failure handling one message (e.g. a bad SDP) is reported to its sender only.
      error("REQUEST_FAILED", e instanceof Error ? safeMessage(e) : errorMessage("REQUEST_FAILED"), false);
    });
  });

  function onMalformed(message: string): void {
    malformed += 1;
    if (malformed === MAX_MALFORMED) opts.onAbuse?.("malformed_messages", address, memberId !== null);
    error("MESSAGE_MALFORMED", message, malformed >= MAX_MALFORMED);
  }

  ws.on("close", () => {
    clearTimeout(joinTimer);
    clearInterval(heartbeat);
    clearInterval(messageWatch);
    if (meeting && memberId) meeting.leave(memberId, "disconnected");
    meeting = null;
  });
  ws.on("error", (e: Error & { code?: string }) => {
    // 'close' follows; oversized frames (ws maxPayload) end up here with code 1009.
    if (e.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") opts.onAbuse?.("message_too_large", address, memberId !== null);
  });
}

/** Error messages from our own code are safe to show; anything else is summarised. */
function safeMessage(e: Error): string {
  return e.name === "ProtocolError" || e.name === "RelayError" || e.name === "ServerError" ? e.message : errorMessage("REQUEST_FAILED");
}
