/**
 * Who records the meeting on their own device (local recording), end to end encrypted
 * (docs/protocol.md §6.3). The server cannot record an E2EE meeting, but any member's device can
 * record what it already decrypted; the app that does so says it openly:
 *
 * - its member sends `localRecording` `started` to the group when it starts and `stopped` when it
 *   stops;
 * - while it records, it announces `started` again to every newcomer (after each epoch that adds
 *   members), and to everyone after moving rooms or reconnecting, so people who join later are
 *   told too;
 * - receivers keep the list of members recording, drop members who left, and accept only the
 *   sender's own state (the message names no one else; MLS authenticates the sender).
 *
 * That the others are told is a courtesy the recording device controls: a modified app could
 * record silently (docs/threat-model.md).
 */
import { TypedEmitter } from "../events.js";
import type { AppMessageEvent, EpochEvent, MeetingSession } from "../meeting-session.js";
import { errorEvent, newcomers } from "./common.js";

export interface LocalRecorder {
  memberId: string;
  displayName: string;
  /** When this member learned of it (local clock). */
  since: number;
}

export interface MeetingLocalRecordingsEvents extends Record<string, unknown> {
  /** The members recording on their device (this member too), in the order they started. */
  recorders: LocalRecorder[];
  error: { code: string; message: string };
}

export class MeetingLocalRecordings extends TypedEmitter<MeetingLocalRecordingsEvents> {
  readonly #session: MeetingSession;
  readonly #recorders = new Map<string, LocalRecorder>();
  #recording = false;
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
        for (const id of [...this.#recorders.keys()]) {
          if (id !== session.memberId && !present.has(id)) changed = this.#recorders.delete(id) || changed;
        }
        if (changed) this.#emit();
      }),
      // Another group (a breakout room, or back): its recorders are not this one's. This
      // member's own recording goes on; the first epoch there announces it to everyone.
      session.on("room", () => {
        const own = this.#recorders.get(session.memberId);
        this.#recorders.clear();
        if (own) this.#recorders.set(own.memberId, own);
        this.#emit();
      }),
    );
  }

  /** The members recording on their device, in the order they started (this member's own included). */
  get recorders(): LocalRecorder[] {
    return [...this.#recorders.values()];
  }

  /** Whether this member says it records. */
  get recording(): boolean {
    return this.#recording;
  }

  /**
   * This member starts or stops recording on its device, and tells everyone. Before this member
   * is in the group (joining, reconnecting), the state is kept and announced by the first epoch.
   */
  async setRecording(recording: boolean): Promise<void> {
    if (recording === this.#recording) return;
    this.#recording = recording;
    const me = this.#session.memberId;
    if (recording) this.#recorders.set(me, { memberId: me, displayName: this.#session.identity.displayName, since: Date.now() });
    else this.#recorders.delete(me);
    this.#emit();
    if (this.#session.epoch === null) return;
    await this.#session.sendAppMessage({ v: 1, type: "localRecording", state: recording ? "started" : "stopped" });
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
  }

  #onEpoch(e: EpochEvent): void {
    if (!this.#recording) return;
    const to = newcomers(e.added, e.members.length);
    if (to === null) return;
    this.#session.sendAppMessage({ v: 1, type: "localRecording", state: "started" }, to).catch((err: unknown) => this.emit("error", errorEvent(err)));
  }

  #onMessage(m: AppMessageEvent): void {
    const msg = m.message;
    if (msg.type !== "localRecording") return;
    if (m.from === this.#session.memberId) return; // this member's own state is its own
    if (msg.state === "started") {
      if (this.#recorders.has(m.from)) return; // a re-announcement: it keeps its place
      this.#recorders.set(m.from, { memberId: m.from, displayName: m.fromName, since: Date.now() });
    } else if (!this.#recorders.delete(m.from)) {
      return;
    }
    this.#emit();
  }

  #emit(): void {
    this.emit("recorders", this.recorders);
  }
}
