/**
 * DTMF from a phone: RFC 4733 telephone events in RTP, and SIP INFO bodies as the fallback
 * (application/dtmf-relay and application/dtmf, as carriers and PBXs send them).
 *
 * The telephone-event payload (RFC 4733 §2.3) is 4 bytes: event, E|R|volume, duration. One key
 * press is one event with one RTP timestamp, sent as several packets (the duration grows, and the
 * end packet is repeated three times), so a press is recognised by its timestamp, once.
 */
import { ConnectorError } from "../errors.js";

/** The 16 DTMF events of RFC 4733 §3.2, by event code. */
export const DTMF_DIGITS = "0123456789*#ABCD";
export type DtmfDigit = "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "*" | "#" | "A" | "B" | "C" | "D";

export interface TelephoneEvent {
  digit: DtmfDigit;
  end: boolean;
  volume: number;
  duration: number;
}

/** Decodes one telephone-event payload (RFC 4733 §2.3); throws DTMF_BAD_EVENT on anything else. */
export function decodeTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  // Several events in one packet (§2.5.1.5, redundancy) are not sent by phones for key presses:
  // exactly one 4-byte block is accepted.
  if (payload.length !== 4) throw new ConnectorError("DTMF_BAD_EVENT", `telephone-event payload of ${payload.length} bytes (expected 4)`);
  const code = payload[0]!;
  if (code >= DTMF_DIGITS.length) throw new ConnectorError("DTMF_BAD_EVENT", `event ${code} is not a DTMF digit`);
  return { digit: DTMF_DIGITS[code] as DtmfDigit, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: (payload[2]! << 8) | payload[3]! };
}

export function encodeTelephoneEvent(e: TelephoneEvent): Uint8Array {
  const code = DTMF_DIGITS.indexOf(e.digit);
  if (code < 0) throw new ConnectorError("DTMF_BAD_EVENT", "not a DTMF digit");
  if (!Number.isInteger(e.volume) || e.volume < 0 || e.volume > 63) throw new ConnectorError("DTMF_BAD_EVENT", "volume: expected 0..63");
  if (!Number.isInteger(e.duration) || e.duration < 0 || e.duration > 0xffff) throw new ConnectorError("DTMF_BAD_EVENT", "duration: expected 0..65535");
  return Uint8Array.of(code, (e.end ? 0x80 : 0) | e.volume, e.duration >> 8, e.duration & 0xff);
}

/** Turns a stream of telephone-event packets into key presses, one per event (RTP timestamp). */
export class DtmfReceiver {
  /** Timestamps of recent events, so the repeated packets of one press count once. */
  readonly #seen: number[] = [];
  readonly #onDigit: (d: DtmfDigit) => void;

  constructor(onDigit: (d: DtmfDigit) => void) {
    this.#onDigit = onDigit;
  }

  /** One RTP packet of the telephone-event payload type; malformed ones are ignored (returns false). */
  push(timestamp: number, payload: Uint8Array): boolean {
    let e: TelephoneEvent;
    try {
      e = decodeTelephoneEvent(payload);
    } catch {
      return false;
    }
    if (this.#seen.includes(timestamp)) return true;
    this.#seen.push(timestamp);
    if (this.#seen.length > 16) this.#seen.shift();
    this.#onDigit(e.digit);
    return true;
  }
}

/**
 * The digit in a SIP INFO body: `application/dtmf-relay` ("Signal=5\r\nDuration=160") or
 * `application/dtmf` ("5"). Null for any other content type or a body that names no digit.
 */
export function dtmfFromInfo(contentType: string | undefined, body: string): DtmfDigit | null {
  if (body.length > 512) return null;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  let signal: string | undefined;
  if (type === "application/dtmf-relay") {
    const m = /^\s*signal\s*=\s*(\S+)\s*$/im.exec(body);
    signal = m?.[1];
  } else if (type === "application/dtmf") {
    signal = body.trim();
  } else {
    return null;
  }
  if (signal === undefined) return null;
  // Some senders write event codes (10 for *, 11 for #) instead of the characters.
  if (signal === "10") signal = "*";
  if (signal === "11") signal = "#";
  signal = signal.toUpperCase();
  return signal.length === 1 && DTMF_DIGITS.includes(signal) ? (signal as DtmfDigit) : null;
}
