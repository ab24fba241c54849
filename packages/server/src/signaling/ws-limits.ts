/**
 * Per-connection limits the `ws` library has no public API for: the largest message one socket
 * may send (small until it has joined a meeting), and whether a message is half-received (to time
 * out one that never completes).
 *
 * Both read or set fields of ws's Receiver (`_maxPayload`, `_bufferedBytes`,
 * `_totalPayloadLength`), stable across ws 7 and 8. `checkWsInternals` fails loudly if a ws
 * upgrade changes them, and a test (signaling-limits) exercises both behaviours end to end.
 */
import type { WebSocket } from "ws";

interface ReceiverInternals {
  _maxPayload: number;
  _bufferedBytes: number;
  _totalPayloadLength: number;
}

function receiverOf(ws: WebSocket): ReceiverInternals {
  const r = (ws as unknown as { _receiver?: Partial<ReceiverInternals> | null })._receiver;
  if (!r || typeof r._maxPayload !== "number" || typeof r._bufferedBytes !== "number" || typeof r._totalPayloadLength !== "number") {
    throw new Error("the ws library's receiver has changed: per-connection message limits cannot be enforced");
  }
  return r as ReceiverInternals;
}

/** Throws unless this socket's limits can be read and set (call once per accepted socket). */
export function checkWsInternals(ws: WebSocket): void {
  receiverOf(ws);
}

/** The largest message (bytes) this socket may send from now on; larger ones close it with 1009. */
export function setMaxMessageBytes(ws: WebSocket, bytes: number): void {
  receiverOf(ws)._maxPayload = bytes;
}

/** True while part of a frame or of a fragmented message has arrived and the rest has not. */
export function messageInProgress(ws: WebSocket): boolean {
  const r = (ws as unknown as { _receiver?: ReceiverInternals | null })._receiver;
  return r ? r._bufferedBytes > 0 || r._totalPayloadLength > 0 : false;
}
