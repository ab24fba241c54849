/**
 * Emoji reactions and raised hands, end to end encrypted (docs/protocol.md §6.3).
 *
 * - A reaction is one of a fixed set of emoji, sent to the group; apps show it on the sender's
 *   tile for a few seconds. The meeting's `reactions` setting governs it.
 * - A raised hand is the member's own state, sent to the group (and to newcomers). Everyone keeps
 *   the raised hands in the order they arrived: hosts see that queue. A host or co-host can lower
 *   someone's hand (for everyone); the member's app then lowers it.
 */
import { REACTIONS, type Reaction } from "@conclave/protocol";
import { TypedEmitter } from "../events.js";
import type { AppMessageEvent, EpochEvent, MeetingSession } from "../meeting-session.js";
import { ClientError } from "../errors.js";
import { errorEvent, isHostOrCohost, newcomers, notAllowed } from "./common.js";

export { REACTIONS, type Reaction };

export interface RaisedHand {
  memberId: string;
  displayName: string;
  /** When this member learned of it (local clock): the queue's order. */
  at: number;
}

export interface MeetingReactionsEvents extends Record<string, unknown> {
  /** Someone reacted (this member too: apps show it on the sender's tile). */
  reaction: { from: string; fromName: string; emoji: Reaction };
  /** The raised hands, in the order they went up. */
  hands: RaisedHand[];
  /** A host lowered this member's hand. */
  handLowered: { by: string; byName: string };
  error: { code: string; message: string };
}

export class MeetingReactions extends TypedEmitter<MeetingReactionsEvents> {
  readonly #session: MeetingSession;
  readonly #hands = new Map<string, RaisedHand>();
  #raised = false;
  readonly #off: (() => void)[] = [];

  constructor(session: MeetingSession) {
    super();
    this.#session = session;
    this.#off.push(
      session.on("appMessage", (m) => this.#onMessage(m)),
      session.on("epoch", (e) => this.#onEpoch(e)),
      session.on("presence", (members) => {
        const present = new Set(members.map((m) => m.memberId));
        let changed = false;
        for (const id of [...this.#hands.keys()]) {
          if (id !== session.memberId && !present.has(id)) changed = this.#hands.delete(id) || changed;
        }
        if (changed) this.#emitHands();
      }),
      // Another group (a breakout room, or back): its hands are not this one's.
      session.on("room", () => {
        this.#hands.clear();
        this.#raised = false;
        this.#emitHands();
      }),
    );
  }

  /** Raised hands in arrival order (this member's own included). */
  get raisedHands(): RaisedHand[] {
    return [...this.#hands.values()];
  }

  get handRaised(): boolean {
    return this.#raised;
  }

  async react(emoji: Reaction): Promise<void> {
    await this.#session.sendAppMessage({ v: 1, type: "reaction", emoji });
    this.emit("reaction", { from: this.#session.memberId, fromName: this.#session.identity.displayName, emoji });
  }

  async raiseHand(): Promise<void> {
    await this.#setOwn(true);
  }

  async lowerHand(): Promise<void> {
    await this.#setOwn(false);
  }

  /** Host or co-host: lowers another member's hand for everyone. */
  async lowerHandOf(memberId: string): Promise<void> {
    if (!isHostOrCohost(this.#session, this.#session.memberId)) throw new ClientError("HOST_ONLY");
    if (memberId === this.#session.memberId) return this.lowerHand();
    await this.#session.sendAppMessage({ v: 1, type: "lowerHand", target: memberId });
    if (this.#hands.delete(memberId)) this.#emitHands();
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
  }

  async #setOwn(raised: boolean): Promise<void> {
    if (raised === this.#raised) return;
    const send = this.#session.sendAppMessage({ v: 1, type: "hand", raised });
    // This member's own state changes at once (a host's request to lower is obeyed even if the
    // announcement fails); a raise that could not be announced is undone.
    this.#raised = raised;
    const me = this.#session.memberId;
    if (raised) this.#hands.set(me, { memberId: me, displayName: this.#session.identity.displayName, at: Date.now() });
    else this.#hands.delete(me);
    this.#emitHands();
    try {
      await send;
    } catch (e) {
      if (raised) {
        this.#raised = false;
        this.#hands.delete(me);
        this.#emitHands();
      }
      throw e;
    }
  }

  #onEpoch(e: EpochEvent): void {
    if (!this.#raised) return;
    const to = newcomers(e.added, e.members.length);
    if (to === null) return;
    this.#session.sendAppMessage({ v: 1, type: "hand", raised: true }, to).catch((err: unknown) => this.emit("error", errorEvent(err)));
  }

  #onMessage(m: AppMessageEvent): void {
    const msg = m.message;
    switch (msg.type) {
      case "reaction":
        this.emit("reaction", { from: m.from, fromName: m.fromName, emoji: msg.emoji });
        return;
      case "hand":
        if (msg.raised) {
          if (this.#hands.has(m.from)) return; // already in the queue: it keeps its place
          this.#hands.set(m.from, { memberId: m.from, displayName: m.fromName, at: Date.now() });
        } else if (!this.#hands.delete(m.from)) {
          return;
        }
        this.#emitHands();
        return;
      case "lowerHand":
        if (!isHostOrCohost(this.#session, m.from)) {
          this.emit("error", notAllowed("a lowered hand from someone who is not a host"));
          return;
        }
        if (msg.target === this.#session.memberId) {
          this.emit("handLowered", { by: m.from, byName: m.fromName });
          this.#setOwn(false).catch((err: unknown) => this.emit("error", errorEvent(err)));
          return;
        }
        if (this.#hands.delete(msg.target)) this.#emitHands();
        return;
      default:
        return;
    }
  }

  #emitHands(): void {
    this.emit("hands", this.raisedHands);
  }
}
