/**
 * Live captions (docs/protocol.md §6.3): the meeting's transcription connector turns each
 * speaker's audio into text and sends it to the group as `caption` application messages, end to
 * end encrypted under MLS like chat, so the server relays captions it cannot read.
 *
 * A caption is accepted only from a member whose MLS credential (which every member
 * authenticates, not the server's presence list) is a connector of kind `transcription`; from
 * anyone else it is refused (CAPTION_NOT_FROM_TRANSCRIBER). The speaker is named from this
 * member's own view of the group; a caption about someone not in the group is dropped.
 */
import { MAX_CAPTION_TEXT } from "@conclave/protocol";
import { TypedEmitter } from "../events.js";
import type { AppMessageEvent, MeetingSession } from "../meeting-session.js";
import { CLIENT_ERRORS } from "../errors.js";

export { MAX_CAPTION_TEXT };

export interface Caption {
  /** The transcription connector that sent it. */
  from: string;
  /** Who spoke. */
  speaker: string;
  speakerName: string;
  /** Per-speaker sequence number: a final caption replaces the partial ones with the same seq. */
  seq: number;
  text: string;
  /** ms since the transcription started. */
  start: number;
  end: number;
  final: boolean;
}

export interface MeetingCaptionsEvents extends Record<string, unknown> {
  caption: Caption;
  error: { code: string; message: string };
}

/** Most captions kept for apps that show a history (oldest dropped first). */
const KEEP = 200;

export class MeetingCaptions extends TypedEmitter<MeetingCaptionsEvents> {
  readonly #session: MeetingSession;
  readonly #off: (() => void)[] = [];
  readonly #recent: Caption[] = [];

  constructor(session: MeetingSession) {
    super();
    this.#session = session;
    this.#off.push(session.on("appMessage", (m) => this.#onMessage(m)));
  }

  /** The latest captions received, oldest first. */
  get recent(): Caption[] {
    return [...this.#recent];
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
    this.#recent.length = 0;
  }

  #onMessage(m: AppMessageEvent): void {
    const msg = m.message;
    if (msg.type !== "caption") return;
    const members = this.#session.groupMembers;
    const sender = members.find((x) => x.identity.memberId === m.from)?.identity;
    if (!sender || sender.kind !== "connector" || sender.connector !== "transcription") {
      this.emit("error", { code: "CAPTION_NOT_FROM_TRANSCRIBER", message: CLIENT_ERRORS.CAPTION_NOT_FROM_TRANSCRIBER });
      return;
    }
    const speaker = members.find((x) => x.identity.memberId === msg.speaker)?.identity;
    if (!speaker) return; // left meanwhile, or never here: nobody to attribute it to
    const caption: Caption = {
      from: m.from,
      speaker: msg.speaker,
      speakerName: speaker.displayName,
      seq: msg.seq,
      text: msg.text,
      start: msg.start,
      end: msg.end,
      final: msg.final,
    };
    if (caption.final) {
      this.#recent.push(caption);
      if (this.#recent.length > KEEP) this.#recent.shift();
    }
    this.emit("caption", caption);
  }
}
