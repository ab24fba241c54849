/**
 * Join tickets for connectors the server starts. A ticket is 256 random bits, given to one
 * connector process for one meeting; it replaces the passcode (the server already checked it, or
 * a host invited the connector), is single-use, and expires after TICKET_LIFETIME_MS. Only its
 * SHA-256 is kept; lookups hash the presented ticket, so nothing compares secrets directly.
 */
import { createHash, randomBytes } from "node:crypto";
import type { ConnectorKind } from "@conclave/protocol";

export const TICKET_LIFETIME_MS = 120_000;

export interface TicketGrant {
  meetingId: string;
  connector: ConnectorKind;
  /** A host asked for this connector: it skips the waiting room. */
  invitedByHost: boolean;
}

export class ConnectorTickets {
  readonly #grants = new Map<string, TicketGrant & { expires: number }>();

  issue(grant: TicketGrant, now = Date.now()): string {
    this.#sweep(now);
    const ticket = randomBytes(32).toString("base64url");
    this.#grants.set(digest(ticket), { ...grant, expires: now + TICKET_LIFETIME_MS });
    return ticket;
  }

  /** The grant behind a ticket for `meetingId`, consuming it; null when unknown, used or expired. */
  redeem(ticket: string, meetingId: string, now = Date.now()): TicketGrant | null {
    const key = digest(ticket);
    const g = this.#grants.get(key);
    if (!g) return null;
    this.#grants.delete(key);
    if (g.expires < now || g.meetingId !== meetingId) return null;
    return { meetingId: g.meetingId, connector: g.connector, invitedByHost: g.invitedByHost };
  }

  #sweep(now: number): void {
    for (const [k, g] of this.#grants) if (g.expires < now) this.#grants.delete(k);
  }
}

function digest(ticket: string): string {
  return createHash("sha256").update(ticket).digest("base64");
}
