/**
 * The checks an end-to-end encrypted application message passes before the server relays it
 * (docs/protocol.md §6.1). The server cannot read these messages; it checks only what MLS leaves in
 * clear (RFC 9420 §6.3: group id, epoch, content type), their size, and how often each member
 * sends, so that one member cannot flood the others or replay other groups' traffic into this one.
 * Members authenticate and decrypt the content themselves.
 */
import { MAX_APP_MESSAGE_BYTES, constantTimeEqual, isProtocolError, peekMessage } from "@conclave/protocol";
import type { ServerErrorCode } from "../errors.js";

/** Members keep receive keys for the current and the last 4 epochs (ts-mls 1.6.4 default). */
export const APP_MESSAGE_EPOCHS = 5n;

export interface AppMessageLimits {
  /** Messages per member per window. */
  perMember?: number;
  windowMs?: number;
}

export const DEFAULT_APP_MESSAGE_LIMITS: Required<AppMessageLimits> = { perMember: 100, windowMs: 10_000 };

export type AppMessageVerdict = { ok: true; epoch: bigint } | { ok: false; code: Extract<ServerErrorCode, "APP_MESSAGE_REJECTED" | "APP_MESSAGE_TOO_LARGE" | "APP_MESSAGE_RATE_LIMITED">; detail: string };

export class AppMessageGate {
  readonly #limits: Required<AppMessageLimits>;
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(limits: AppMessageLimits = {}) {
    this.#limits = { ...DEFAULT_APP_MESSAGE_LIMITS, ...limits };
  }

  /** Whether `memberId` may send `bytes` to a group with this id, now at `epoch`. */
  check(memberId: string, bytes: Uint8Array, group: { groupId: Uint8Array | null; epoch: bigint }, now = Date.now()): AppMessageVerdict {
    if (!this.#allow(memberId, now)) return { ok: false, code: "APP_MESSAGE_RATE_LIMITED", detail: `more than ${this.#limits.perMember} in ${this.#limits.windowMs / 1000} s` };
    if (bytes.length > MAX_APP_MESSAGE_BYTES) return { ok: false, code: "APP_MESSAGE_TOO_LARGE", detail: `${bytes.length} bytes, at most ${MAX_APP_MESSAGE_BYTES}` };
    let framing;
    try {
      framing = peekMessage(bytes);
    } catch (e) {
      return { ok: false, code: "APP_MESSAGE_REJECTED", detail: isProtocolError(e) ? e.code : "unreadable" };
    }
    if (framing.wireFormat !== "private" || framing.contentType !== "application") return { ok: false, code: "APP_MESSAGE_REJECTED", detail: "not a PrivateMessage with application content" };
    if (group.groupId === null || !constantTimeEqual(framing.groupId, group.groupId)) return { ok: false, code: "APP_MESSAGE_REJECTED", detail: "another group" };
    if (framing.epoch > group.epoch || framing.epoch + APP_MESSAGE_EPOCHS <= group.epoch) {
      return { ok: false, code: "APP_MESSAGE_REJECTED", detail: `epoch ${framing.epoch}, the group is at ${group.epoch}` };
    }
    return { ok: true, epoch: framing.epoch };
  }

  /** Fixed window per member; stale windows are dropped as the map grows. */
  #allow(memberId: string, now: number): boolean {
    const windowMs = this.#limits.windowMs;
    let w = this.#windows.get(memberId);
    if (!w || now - w.start >= windowMs) {
      if (this.#windows.size > 1000) for (const [id, old] of this.#windows) if (now - old.start >= windowMs) this.#windows.delete(id);
      w = { start: now, count: 0 };
      this.#windows.set(memberId, w);
    }
    w.count += 1;
    return w.count <= this.#limits.perMember;
  }
}
