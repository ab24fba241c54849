/**
 * One participant's WebSocket: validation at the trust boundary, then hand-off to its meeting.
 *
 * - Only text frames of valid signaling messages pass (packages/protocol/src/signaling); anything
 *   else gets an `error` message, and repeated garbage closes the socket (4400) — the meeting and
 *   everyone else in it carry on.
 * - The first message must be `join`, within JOIN_TIMEOUT_MS.
 * - Messages are rate limited per connection; a flood closes the socket (4429).
 * - Messages from one connection are handled one at a time, in order.
 * - Nothing from a message body is logged (it may hold passcodes or key packages).
 */
import type { IncomingMessage } from "node:http";
import type { WebSocket, RawData } from "ws";
import { encodeMessage, isProtocolError, parseClientMessage, type ServerMessage } from "@conclave/protocol";
import type { MeetingRegistry } from "../meetings/meeting-registry.js";
import type { ParticipantConnection } from "../meetings/live-meeting.js";
import type { BreakoutMeeting } from "../meetings/breakout-rooms.js";
import { errorMessage, type ServerErrorCode } from "../errors.js";
import type { ServerMetrics } from "../observability/server-metrics.js";

export const JOIN_TIMEOUT_MS = 15_000;
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
  SERVER_SHUTDOWN: 1001,
} as const;
const MAX_MALFORMED = 5;
const RATE_WINDOW_MS = 10_000;
/** Generous for MLS traffic and ICE candidates, far below a flood. */
const RATE_LIMIT = 500;

export interface SignalingOptions {
  heartbeatMs?: number;
  /** Who the upgrade request authenticates (session cookie, admin token); default nobody. */
  authenticate?: (req: IncomingMessage) => { userId: string | null; admin: boolean };
  /** Counts error messages by code and rate-limited connections. */
  metrics?: ServerMetrics;
  /**
   * Sees every signaling text frame of every connection, both ways, as it crosses the server
   * (an audit hook: tests use it to check that no chat text, file byte or vote ever does).
   */
  tap?: SignalingTap;
}

export type SignalingTap = (direction: "in" | "out", text: string) => void;

export function handleSignalingConnection(ws: WebSocket, req: IncomingMessage, registry: MeetingRegistry, opts: SignalingOptions = {}): void {
  const address = req.socket.remoteAddress ?? "unknown";
  let meeting: BreakoutMeeting | null = null;
  let memberId: string | null = null;
  let joining = false;
  let malformed = 0;
  let windowStart = Date.now();
  let count = 0;
  let queue: Promise<void> = Promise.resolve();

  const connection: ParticipantConnection = {
    send(msg: ServerMessage) {
      if (ws.readyState !== ws.OPEN) return;
      const text = encodeMessage(msg);
      opts.tap?.("out", text);
      ws.send(text);
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

  ws.on("message", (data: RawData, isBinary: boolean) => {
    const now = Date.now();
    if (now - windowStart > RATE_WINDOW_MS) {
      windowStart = now;
      count = 0;
    }
    if (++count > RATE_LIMIT) {
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
    error("MESSAGE_MALFORMED", message, malformed >= MAX_MALFORMED);
  }

  ws.on("close", () => {
    clearTimeout(joinTimer);
    clearInterval(heartbeat);
    if (meeting && memberId) meeting.leave(memberId, "disconnected");
    meeting = null;
  });
  ws.on("error", () => {
    // 'close' follows; oversized frames (ws maxPayload) end up here with code 1009.
  });
}

/** Error messages from our own code are safe to show; anything else is summarised. */
function safeMessage(e: Error): string {
  return e.name === "ProtocolError" || e.name === "RelayError" || e.name === "ServerError" ? e.message : errorMessage("REQUEST_FAILED");
}
