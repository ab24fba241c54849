/**
 * Breakout rooms, from a participant's side (docs/protocol.md §6.5).
 *
 * Each room is its own MLS group (own epoch, keys, security code) and relay room; moving between
 * the main meeting and a room is MeetingSession.moveTo: leave one group (it rekeys), join the
 * other with a fresh key package (it rekeys too).
 *
 * - A host or co-host opens rooms: it first sends the plan to the main group, end to end
 *   encrypted — room names (the server knows only room ids) and a fresh key for broadcasts —
 *   then asks the server to open the rooms with the assignments (the server routes people, so it
 *   knows who is where). It can set a timer, change assignments, broadcast to every room, visit
 *   any room, and close them all.
 * - Everyone follows their assignment automatically (`autoMove`, default on): when the rooms
 *   open or their assignment changes they go to their room; when the rooms close, they come back.
 *   A participant may return to the main meeting at any time and go back to its room.
 * - Broadcasts are encrypted with the plan's key and signed with the plan's signing key (its
 *   public half is in the plan, which MLS authenticated as the host's); members accept them only
 *   under that key (app-messages/breakout-broadcast.ts).
 */
import { BroadcastSigner, fromBase64, openBreakoutBroadcast, sealBreakoutBroadcast, toBase64, type AppMessage, type MlsSuiteName } from "@conclave/protocol";
import { TypedEmitter } from "../events.js";
import type { AppMessageEvent, BreakoutStateEvent, EpochEvent, MeetingSession } from "../meeting-session.js";
import { ClientError } from "../errors.js";
import { errorEvent, isHostOrCohost, newcomers, notAllowed, randomLocalId } from "./common.js";

export interface BreakoutRoomView {
  roomId: string;
  /** From the host's encrypted plan (the server never sees it); the id until the plan arrives. */
  name: string;
  assigned: string[];
  present: string[];
}

export interface BreakoutView {
  open: boolean;
  rooms: BreakoutRoomView[];
  /** When the rooms close by themselves (ms since the Unix epoch), if the host set a timer. */
  endsAt: number | null;
  /** Where this member is (null: the main meeting). */
  room: string | null;
}

export interface MeetingBreakoutEvents extends Record<string, unknown> {
  state: BreakoutView;
  /** A host's message to every room, checked and decrypted. */
  broadcast: { from: string; fromName: string; text: string };
  /** This member is moving to a room (or back to the main meeting: null). */
  moving: { roomId: string | null };
  error: { code: string; message: string };
}

interface Plan {
  planId: string;
  names: Map<string, string>;
  key: Uint8Array;
  author: string;
  authorName: string;
  authorSignatureKey: Uint8Array;
  suite: MlsSuiteName;
  /** Only on the author's side. */
  signer: BroadcastSigner | null;
}

export interface MeetingBreakoutOptions {
  /** Follow the host's assignments and come back when rooms close (default true). */
  autoMove?: boolean;
}

export class MeetingBreakout extends TypedEmitter<MeetingBreakoutEvents> {
  readonly #session: MeetingSession;
  readonly #autoMove: boolean;
  #plan: Plan | null = null;
  #state: BreakoutStateEvent = { open: false, rooms: [], endsAt: null, room: null };
  /** The assignment last acted on ("closed", or "open:<room or main>"). */
  #lastAssignment: string | null = null;
  readonly #off: (() => void)[] = [];

  constructor(session: MeetingSession, opts: MeetingBreakoutOptions = {}) {
    super();
    this.#session = session;
    this.#autoMove = opts.autoMove ?? true;
    this.#off.push(
      session.on("breakoutState", (st) => this.#onState(st)),
      session.on("breakoutBroadcast", (b) => void this.#onBroadcast(b.from, b.message)),
      session.on("appMessage", (m) => this.#onMessage(m)),
      session.on("epoch", (e) => this.#onEpoch(e)),
    );
  }

  get state(): BreakoutView {
    return this.#view();
  }

  /** Splits members into `roomCount` rooms at random, as evenly as possible (CSPRNG shuffle). */
  static assignRandomly(memberIds: readonly string[], roomCount: number): string[][] {
    if (!Number.isInteger(roomCount) || roomCount < 1) throw new ClientError("HOST_ONLY", "roomCount must be at least 1");
    const ids = [...memberIds];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = uniform(i + 1);
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    const rooms: string[][] = Array.from({ length: roomCount }, () => []);
    ids.forEach((id, i) => rooms[i % roomCount]!.push(id));
    return rooms;
  }

  /**
   * Host or co-host, in the main meeting: opens rooms (or changes names and assignments while
   * open). Sends the encrypted plan to the main group first, then asks the server to open them.
   */
  async openRooms(rooms: { name: string; members: string[] }[], opts: { durationSec?: number } = {}): Promise<void> {
    const s = this.#session;
    if (!isHostOrCohost(s, s.memberId)) throw new ClientError("HOST_ONLY");
    if (s.room !== null) throw new ClientError("HOST_ONLY", "open or change the rooms from the main meeting");
    const mine = this.#plan?.signer ? this.#plan : null;
    const planId = mine?.planId ?? randomLocalId();
    const key = mine?.key ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
    const signer = mine?.signer ?? (await BroadcastSigner.generate(s.suite));
    const withIds = rooms.map((r, i) => ({ roomId: `room${i + 1}`, name: r.name, members: [...r.members] }));
    const plan: AppMessage = {
      v: 1,
      type: "breakoutPlan",
      planId,
      rooms: withIds.map((r) => ({ roomId: r.roomId, name: r.name })),
      broadcastKey: toBase64(key),
      signingKey: toBase64(signer.publicKey),
    };
    await s.sendAppMessage(plan);
    if (this.#plan !== mine) this.#forgetPlan();
    this.#plan = {
      planId,
      names: new Map(withIds.map((r) => [r.roomId, r.name])),
      key,
      author: s.memberId,
      authorName: s.identity.displayName,
      authorSignatureKey: signer.publicKey,
      suite: s.suite,
      signer,
    };
    s.openBreakout(withIds.map((r) => ({ roomId: r.roomId, members: r.members })), opts.durationSec);
  }

  /** Host or co-host: closes every room; everyone comes back to the main meeting. */
  closeRooms(): void {
    this.#session.closeBreakout();
  }

  /** The plan's author: a message to every room, encrypted and signed. */
  async broadcast(text: string): Promise<void> {
    const plan = this.#plan;
    if (!plan?.signer) throw new ClientError("HOST_ONLY", "only the host who opened the rooms can broadcast to them");
    const bytes = await sealBreakoutBroadcast(plan.signer, plan.planId, plan.key, text);
    this.#session.sendBreakoutBroadcast(bytes);
  }

  /** Goes to a room: a host or co-host to any open room, a participant to its own. */
  async visit(roomId: string): Promise<void> {
    this.emit("moving", { roomId });
    await this.#session.moveTo(roomId);
  }

  /** Back to the main meeting. */
  async returnToMain(): Promise<void> {
    this.emit("moving", { roomId: null });
    await this.#session.moveTo(null);
  }

  /** Stops listening; the plan's broadcast key is erased. */
  close(): void {
    for (const off of this.#off.splice(0)) off();
    this.#forgetPlan();
  }

  #forgetPlan(): void {
    this.#plan?.key.fill(0);
    this.#plan?.signer?.destroy();
    this.#plan = null;
  }

  #view(): BreakoutView {
    const st = this.#state;
    return {
      open: st.open,
      endsAt: st.endsAt,
      room: st.room,
      rooms: st.rooms.map((r) => ({ roomId: r.roomId, name: this.#plan?.names.get(r.roomId) ?? r.roomId, assigned: [...r.assigned], present: [...r.present] })),
    };
  }

  #onState(st: BreakoutStateEvent): void {
    this.#state = st;
    this.emit("state", this.#view());
    const me = this.#session.memberId;
    const assigned = st.open ? (st.rooms.find((r) => r.assigned.includes(me))?.roomId ?? null) : null;
    const key = st.open ? `open:${assigned ?? "main"}` : "closed";
    if (key === this.#lastAssignment) return;
    this.#lastAssignment = key;
    if (!this.#autoMove || assigned === this.#session.room) return;
    // Not a host's own visit: a host that is not assigned stays where it is while rooms are open.
    if (st.open && assigned === null) return;
    this.emit("moving", { roomId: assigned });
    this.#session.moveTo(assigned).catch((e: unknown) => this.emit("error", errorEvent(e)));
  }

  async #onBroadcast(from: string, message: Uint8Array): Promise<void> {
    const plan = this.#plan;
    try {
      if (!plan || plan.author !== from) throw new ClientError("HOST_ONLY", "a broadcast from someone who did not open the rooms");
      const text = await openBreakoutBroadcast({ planId: plan.planId, key: plan.key, authorSignatureKey: plan.authorSignatureKey, suite: plan.suite }, message);
      this.emit("broadcast", { from, fromName: plan.authorName, text });
    } catch (e) {
      this.emit("error", errorEvent(e));
    }
  }

  #onMessage(m: AppMessageEvent): void {
    const msg = m.message;
    if (msg.type !== "breakoutPlan") return;
    if (!isHostOrCohost(this.#session, m.from)) {
      this.emit("error", notAllowed("a breakout plan from someone who is not a host"));
      return;
    }
    // The same plan again (names or assignments changed): keep the key we hold.
    if (this.#plan?.signer && this.#plan.planId === msg.planId) return;
    this.#forgetPlan();
    this.#plan = {
      planId: msg.planId,
      names: new Map(msg.rooms.map((r) => [r.roomId, r.name])),
      key: fromBase64(msg.broadcastKey),
      author: m.from,
      authorName: m.fromName,
      authorSignatureKey: fromBase64(msg.signingKey),
      suite: this.#session.suite,
      signer: null,
    };
    this.emit("state", this.#view());
  }

  #onEpoch(e: EpochEvent): void {
    // Newcomers to the main meeting learn the plan (room names, broadcast key) from its author.
    const plan = this.#plan;
    if (!plan?.signer || this.#session.room !== null) return;
    const to = newcomers(e.added, e.members.length);
    if (to === null) return;
    const message: AppMessage = {
      v: 1,
      type: "breakoutPlan",
      planId: plan.planId,
      rooms: [...plan.names].map(([roomId, name]) => ({ roomId, name })),
      broadcastKey: toBase64(plan.key),
      signingKey: toBase64(plan.authorSignatureKey),
    };
    this.#session.sendAppMessage(message, to).catch((err: unknown) => this.emit("error", errorEvent(err)));
  }
}

/** A uniform integer in [0, n) from the CSPRNG (rejection sampling, no modulo bias). */
function uniform(n: number): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    globalThis.crypto.getRandomValues(buf);
    if (buf[0]! < limit) return buf[0]! % n;
  }
}
