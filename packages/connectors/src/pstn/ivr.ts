/**
 * The dial-in IVR as a state machine with no I/O: key presses and the server's answers go in,
 * actions (play a prompt, look a meeting up, check a passcode, hang up) come out. The phone call
 * connector (call-main.ts) performs the actions; tests drive it directly.
 *
 *   welcome ─► meeting ID + # ─► lookup ─┬─ not found: "not valid", retry (MAX_ATTEMPTS in all)
 *                                        ├─ e2ee / dial-in off / ended: explain, hang up
 *                                        └─ found ─► passcode + # ─► authorize ─┬─ wrong: retry
 *                                                                              └─ ok: join
 *
 * Every wrong passcode is checked by the server, which counts it against the meeting's limits
 * (the same counters as web joins), so retries on one call or many calls gain nothing.
 */
import type { DtmfDigit } from "./dtmf.js";
import type { PromptId } from "./prompts.js";

/** Wrong meeting IDs, and separately wrong passcodes, one call may enter before it is ended. */
export const MAX_ATTEMPTS = 3;
/** Silences (no key for SILENCE_MS after a prompt) before the call is ended. */
export const MAX_SILENCES = 3;
/** How long the caller may stay silent after a prompt before it is repeated. */
export const SILENCE_MS = 10_000;
/** Longer entries are cut off (meeting IDs have 11 digits; phone passcodes 8). */
const MAX_DIGITS = 20;

export type IvrAction =
  | { type: "play"; prompt: PromptId }
  | { type: "lookup"; meetingId: string }
  | { type: "authorize"; meetingId: string; passcode: string | undefined }
  | { type: "hangup"; prompt: PromptId; code: string }
  | { type: "join"; ticket: string; meetingId: string };

/** The server's answer about a meeting ID (no passcode checked yet). */
export type LookupResult = { ok: true; passcodeRequired: boolean } | { ok: false; code: string };
export type AuthorizeResult = { ok: true; ticket: string; meetingId: string } | { ok: false; code: string };

type State = "idle" | "meetingId" | "lookup" | "passcode" | "authorize" | "done";

/** What a refusal code says to the caller, and whether the caller may try again. */
function refusal(code: string): { prompt: PromptId; retry: boolean } {
  switch (code) {
    case "MEETING_NOT_FOUND":
      return { prompt: "badMeetingId", retry: true };
    case "WRONG_PASSCODE":
      return { prompt: "badPasscode", retry: true };
    case "CONNECTOR_NOT_ALLOWED":
      return { prompt: "e2ee", retry: false };
    case "DIAL_IN_DISABLED":
      return { prompt: "dialInOff", retry: false };
    case "MEETING_ENDED":
      return { prompt: "ended", retry: false };
    case "RATE_LIMITED":
    case "IVR_TIMEOUT":
      return { prompt: "tooManyAttempts", retry: false };
    default:
      return { prompt: "unavailable", retry: false };
  }
}

export class DialInIvr {
  #state: State = "idle";
  #digits = "";
  #meetingId = "";
  #idFailures = 0;
  #passcodeFailures = 0;
  #silences = 0;
  readonly #act: (a: IvrAction) => void;

  constructor(act: (a: IvrAction) => void) {
    this.#act = act;
  }

  get state(): State {
    return this.#state;
  }

  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "meetingId";
    this.#act({ type: "play", prompt: "welcome" });
  }

  /**
   * The caller said nothing for SILENCE_MS after a prompt (the connector's timer): the prompt is
   * repeated, and after MAX_SILENCES the call ends.
   */
  silence(): void {
    if (this.#state !== "meetingId" && this.#state !== "passcode") return;
    this.#silences += 1;
    if (this.#silences >= MAX_SILENCES) return this.#end("IVR_TIMEOUT");
    this.#digits = "";
    this.#act({ type: "play", prompt: this.#state === "meetingId" ? "welcome" : "passcode" });
  }

  /** A key press (RFC 4733 event or SIP INFO). Ignored while the server is being asked. */
  digit(d: DtmfDigit): void {
    if (this.#state !== "meetingId" && this.#state !== "passcode") return;
    this.#silences = 0;
    if (d === "#") {
      const entry = this.#digits;
      this.#digits = "";
      if (this.#state === "meetingId") {
        if (!/^[0-9]{1,20}$/.test(entry)) return this.#wrongId();
        this.#meetingId = entry;
        this.#state = "lookup";
        this.#act({ type: "lookup", meetingId: entry });
      } else {
        this.#state = "authorize";
        this.#act({ type: "authorize", meetingId: this.#meetingId, passcode: entry });
      }
      return;
    }
    // "*" starts the entry over (a common IVR convention); letters A-D are not part of entries.
    if (d === "*") {
      this.#digits = "";
      return;
    }
    if (!/[0-9]/.test(d)) return;
    if (this.#digits.length < MAX_DIGITS) this.#digits += d;
  }

  lookupResult(r: LookupResult): void {
    if (this.#state !== "lookup") return;
    if (r.ok) {
      if (!r.passcodeRequired) {
        this.#state = "authorize";
        this.#act({ type: "authorize", meetingId: this.#meetingId, passcode: undefined });
        return;
      }
      this.#state = "passcode";
      this.#act({ type: "play", prompt: "passcode" });
      return;
    }
    if (r.code === "MEETING_NOT_FOUND") return this.#wrongId();
    this.#end(r.code);
  }

  authorizeResult(r: AuthorizeResult): void {
    if (this.#state !== "authorize") return;
    if (r.ok) {
      this.#state = "done";
      this.#act({ type: "join", ticket: r.ticket, meetingId: r.meetingId });
      return;
    }
    if (r.code === "WRONG_PASSCODE") {
      this.#passcodeFailures += 1;
      if (this.#passcodeFailures >= MAX_ATTEMPTS) return this.#end("RATE_LIMITED");
      this.#state = "passcode";
      this.#act({ type: "play", prompt: "badPasscode" });
      return;
    }
    this.#end(r.code);
  }

  #wrongId(): void {
    this.#idFailures += 1;
    if (this.#idFailures >= MAX_ATTEMPTS) return this.#end("RATE_LIMITED");
    this.#state = "meetingId";
    this.#act({ type: "play", prompt: "badMeetingId" });
  }

  #end(code: string): void {
    this.#state = "done";
    this.#act({ type: "hangup", prompt: refusal(code).prompt, code });
  }
}
