/**
 * Who is muted, whose camera is off, who shares a screen, and what the host spotlights: shared
 * among the members as end-to-end encrypted application messages (docs/protocol.md §6.1), so the
 * server relays these states without reading them. Browsers and Node participants both use it.
 *
 * - Every change of this member's state goes to the whole group at once.
 * - Newcomers learn everyone's state: on every epoch, each member sends its state (and a host its
 *   spotlight) to the members that epoch added, and a newcomer sends its own to everyone.
 * - Host requests ("mute", "please unmute") and spotlights count only from members the server
 *   lists as host or co-host; anything else is reported (APP_MESSAGE_NOT_ALLOWED) and ignored.
 *   The app decides what to do with a request: Conclave never unmutes anyone.
 */
import type { AppMessage } from "@conclave/protocol";
import { TypedEmitter } from "./events.js";
import type { AppMessageEvent, EpochEvent, MeetingSession } from "./meeting-session.js";
import { CLIENT_ERRORS } from "./errors.js";

export interface MediaState {
  mic: boolean;
  camera: boolean;
  screen: boolean;
}

export interface MeetingMediaStateEvents extends Record<string, unknown> {
  /** Another member's state changed (or became known). */
  remote: { memberId: string; state: MediaState };
  /** A host or co-host asked this member to mute, or to unmute (which only the member can do). */
  hostRequest: { from: string; fromName: string; action: "mute" | "askUnmute" };
  /** The members a host spotlights for everyone (empty: none). */
  spotlight: { from: string; memberIds: string[] };
  /** A message that was refused (codes only). */
  error: { code: string; message: string };
}

export class MeetingMediaState extends TypedEmitter<MeetingMediaStateEvents> {
  readonly #session: MeetingSession;
  #local: MediaState;
  readonly #remote = new Map<string, MediaState>();
  #spotlight: string[] = [];
  readonly #off: (() => void)[] = [];

  constructor(session: MeetingSession, initial: MediaState) {
    super();
    this.#session = session;
    this.#local = { ...initial };
    this.#off.push(
      session.on("epoch", (e) => this.#onEpoch(e)),
      session.on("appMessage", (m) => this.#onMessage(m)),
      session.on("presence", (members) => {
        const present = new Set(members.map((m) => m.memberId));
        for (const id of [...this.#remote.keys()]) if (!present.has(id)) this.#remote.delete(id);
      }),
    );
  }

  get local(): MediaState {
    return { ...this.#local };
  }

  /** Everyone else's last announced state, by member id. */
  get remote(): ReadonlyMap<string, MediaState> {
    return this.#remote;
  }

  get spotlight(): readonly string[] {
    return this.#spotlight;
  }

  /** This member's state changed: tell everyone (once this member holds the group's keys). */
  setLocal(state: MediaState): void {
    if (state.mic === this.#local.mic && state.camera === this.#local.camera && state.screen === this.#local.screen) return;
    this.#local = { ...state };
    this.#send({ v: 1, type: "mediaState", ...this.#local });
  }

  /** Host or co-host: ask a member to mute (its app mutes itself) or to unmute (it decides). */
  request(memberId: string, action: "mute" | "askUnmute"): void {
    this.#send({ v: 1, type: "hostRequest", action, target: memberId }, [memberId]);
  }

  /** Host or co-host: spotlight these members for everyone (empty: end the spotlight). */
  setSpotlight(memberIds: string[]): void {
    this.#spotlight = memberIds.slice(0, 4);
    this.#send({ v: 1, type: "spotlight", memberIds: this.#spotlight });
    this.emit("spotlight", { from: this.#session.memberId, memberIds: this.#spotlight });
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
  }

  #onEpoch(e: EpochEvent): void {
    if (e.added.length === 0) return;
    const others = e.members.length - 1;
    // Everyone new hears this member's state; when all the others are new (this member just
    // joined), one message to the group does it.
    const to = e.added.length >= others ? undefined : e.added;
    this.#send({ v: 1, type: "mediaState", ...this.#local }, to);
    if (this.#spotlight.length > 0 && this.#isHost(this.#session.memberId)) this.#send({ v: 1, type: "spotlight", memberIds: this.#spotlight }, to);
  }

  #onMessage({ from, fromName, message }: AppMessageEvent): void {
    switch (message.type) {
      case "mediaState":
        this.#remote.set(from, { mic: message.mic, camera: message.camera, screen: message.screen });
        this.emit("remote", { memberId: from, state: { mic: message.mic, camera: message.camera, screen: message.screen } });
        return;
      case "hostRequest":
        if (message.target !== this.#session.memberId) return;
        if (!this.#isHost(from)) return this.#refuse("a host request from someone who is not a host");
        this.emit("hostRequest", { from, fromName, action: message.action });
        return;
      case "spotlight":
        if (!this.#isHost(from)) return this.#refuse("a spotlight from someone who is not a host");
        this.#spotlight = message.memberIds;
        this.emit("spotlight", { from, memberIds: message.memberIds });
        return;
      default:
        return; // other kinds (chat, reactions…) are for other listeners
    }
  }

  #isHost(memberId: string): boolean {
    const role = this.#session.presence.find((p) => p.memberId === memberId)?.role;
    return role === "host" || role === "cohost";
  }

  #refuse(detail: string): void {
    this.emit("error", { code: "APP_MESSAGE_NOT_ALLOWED", message: `${CLIENT_ERRORS.APP_MESSAGE_NOT_ALLOWED} (${detail})` });
  }

  #send(message: AppMessage, to?: string[]): void {
    if (this.#session.state !== "inGroup") return; // sent with the first epoch instead
    this.#session.sendAppMessage(message, to).catch((e: unknown) => {
      this.emit("error", { code: (e as { code?: string }).code ?? "CLIENT_INTERNAL", message: e instanceof Error ? e.message : String(e) });
    });
  }
}
