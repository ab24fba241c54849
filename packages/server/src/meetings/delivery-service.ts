/**
 * The MLS delivery service (RFC 9420 §3, RFC 9750 §5) for one meeting.
 *
 * It orders handshake messages: the group is at one epoch, the first valid commit for that epoch
 * wins, and later commits for the same epoch are rejected so their authors rebase. It decides who
 * should commit pending joins and leaves (one designated committer at a time, with a deadline, then
 * the next member), hands Welcomes to joiners, and forwards accepted commits in order.
 *
 * It never holds a group secret: it reads only MLS framing (group id, epoch, content type) and the
 * public credentials in key packages, through the `inspect` functions it is given.
 */
import { concatBytes, constantTimeEqual, type MemberIdentity } from "@conclave/protocol";

export interface MlsInspector {
  /** Reads the public framing of an MLS handshake message; throws on garbage. */
  peekCommit(bytes: Uint8Array): { groupId: Uint8Array; epoch: bigint; isCommit: boolean };
}

/** What the service asks its owner to send; the owner maps these to signaling messages. */
export type DeliveryOutput =
  | { to: string; type: "create"; groupId: Uint8Array }
  | { to: string; type: "commitRequest"; epoch: bigint; add: { memberId: string; keyPackage: Uint8Array }[]; remove: string[] }
  | { to: string; type: "commit"; epoch: bigint; commit: Uint8Array; from: string }
  | { to: string; type: "commitAccepted"; epoch: bigint }
  | { to: string; type: "commitRejected"; epoch: bigint; reason: string }
  | { to: string; type: "welcome"; epoch: bigint; welcome: Uint8Array; ratchetTree?: Uint8Array }
  | { to: string; type: "inGroup"; memberId: string }
  | { to: string; type: "leftGroup"; memberId: string };

export interface DeliveryServiceOptions {
  /** A base id for MLS groups; each new group (after the meeting empties) appends a generation. */
  groupIdBase: Uint8Array;
  inspect: MlsInspector;
  /** Called for every message to deliver, synchronously, in order. */
  emit: (out: DeliveryOutput) => void;
  /** How long a designated committer has before the next member is asked. */
  commitTimeoutMs?: number;
}

type MemberState =
  /** Connected and waiting to be added by a commit (has a key package queued). */
  | "pending"
  /** Asked to create the group (first member). */
  | "founding"
  /** Added by an accepted commit; its Welcome is on the way. */
  | "welcomed"
  /** Processed its Welcome (or founded the group): a full member that can commit. */
  | "member";

interface Member {
  memberId: string;
  identity: MemberIdentity;
  state: MemberState;
  keyPackage: Uint8Array | null;
  /** Order in which members became full members; the earliest is asked to commit first. */
  seniority: number;
  /** Set when it missed a commit deadline; it is asked again only when nobody else can. */
  unresponsive: boolean;
}

export class DeliveryService {
  readonly #opts: Required<DeliveryServiceOptions>;
  readonly #members = new Map<string, Member>();
  /** Members whose leaves are in the tree but who have gone: the next commit removes them. */
  readonly #pendingRemovals = new Set<string>();
  #generation = 0;
  #groupId: Uint8Array | null = null;
  #epoch = 0n;
  #seniorityCounter = 0;
  #request: { committer: string; epoch: bigint; adds: Set<string>; timer: ReturnType<typeof setTimeout> } | null = null;
  #closed = false;

  constructor(opts: DeliveryServiceOptions) {
    this.#opts = { commitTimeoutMs: 3000, ...opts };
  }

  get epoch(): bigint {
    return this.#epoch;
  }

  get groupId(): Uint8Array | null {
    return this.#groupId;
  }

  /** Full members in seniority order (those who can decrypt the current epoch). */
  get members(): string[] {
    return [...this.#members.values()].filter((m) => m.state === "member").sort((a, b) => a.seniority - b.seniority).map((m) => m.memberId);
  }

  isMember(memberId: string): boolean {
    return this.#members.get(memberId)?.state === "member";
  }

  /** Members whose leaf is in the group's tree: they receive every accepted commit. */
  #inTree(): Member[] {
    return [...this.#members.values()].filter((m) => m.state === "member" || m.state === "welcomed");
  }

  /** A new participant with its key package. Returns whether it must create the group. */
  join(memberId: string, identity: MemberIdentity, keyPackage: Uint8Array): void {
    this.#assertOpen();
    if (this.#members.has(memberId)) throw new Error(`member ${memberId} already joined`);
    this.#members.set(memberId, { memberId, identity, state: "pending", keyPackage, seniority: 0, unresponsive: false });
    this.#schedule();
  }

  /** The founder reports the group exists at epoch 0. */
  groupCreated(memberId: string, groupId: Uint8Array): { ok: true } | { ok: false; reason: string } {
    const m = this.#members.get(memberId);
    if (!m || m.state !== "founding" || !this.#groupId) return { ok: false, reason: "not asked to create the group" };
    if (!constantTimeEqual(groupId, this.#groupId)) return { ok: false, reason: "wrong group id" };
    m.state = "member";
    m.keyPackage = null;
    m.seniority = ++this.#seniorityCounter;
    this.#epoch = 0n;
    this.#opts.emit({ to: memberId, type: "inGroup", memberId });
    this.#schedule();
    return { ok: true };
  }

  /**
   * A commit from a member. Accepted when it is the first valid commit for the current epoch and
   * its adds/removes are ones the service asked for; otherwise the author is told to rebase.
   */
  commit(
    memberId: string,
    msg: { epoch: bigint; commit: Uint8Array; welcome?: Uint8Array; ratchetTree?: Uint8Array; added: string[]; removed: string[] },
  ): void {
    this.#assertOpen();
    const author = this.#members.get(memberId);
    const reject = (reason: string) => {
      this.#opts.emit({ to: memberId, type: "commitRejected", epoch: msg.epoch, reason });
      // The designated committer's attempt failed (the request went stale): ask again now rather
      // than waiting for the deadline.
      if (this.#request?.committer === memberId) {
        this.#clearRequest();
        this.#schedule();
      }
    };
    if (!author || author.state !== "member") return reject("only group members can commit");
    let framing: { groupId: Uint8Array; epoch: bigint; isCommit: boolean };
    try {
      framing = this.#opts.inspect.peekCommit(msg.commit);
    } catch {
      return reject("not a valid MLS message");
    }
    if (!framing.isCommit) return reject("not a commit");
    if (!this.#groupId || !constantTimeEqual(framing.groupId, this.#groupId)) return reject("wrong group");
    if (framing.epoch !== msg.epoch) return reject("epoch field does not match the commit");
    // RFC 9420 §14: the first commit for an epoch wins; any other one is stale.
    if (framing.epoch !== this.#epoch) return reject(`stale epoch: the group is at epoch ${this.#epoch}`);
    for (const id of msg.added) {
      const m = this.#members.get(id);
      if (!m || m.state !== "pending") return reject(`cannot add ${id}: not waiting to be added`);
    }
    for (const id of msg.removed) {
      if (!this.#pendingRemovals.has(id)) return reject(`cannot remove ${id}: no removal is pending`);
    }
    if (msg.added.length > 0 && !msg.welcome) return reject("a commit that adds members needs a Welcome");
    if (new Set(msg.added).size !== msg.added.length || new Set(msg.removed).size !== msg.removed.length) {
      return reject("duplicate members in the commit");
    }

    // Accepted: the group moves to the next epoch.
    const epoch = this.#epoch;
    this.#epoch = epoch + 1n;
    this.#clearRequest();
    author.unresponsive = false;
    for (const id of msg.removed) this.#pendingRemovals.delete(id);
    this.#opts.emit({ to: memberId, type: "commitAccepted", epoch });
    for (const m of this.#inTree()) {
      if (m.memberId !== memberId) this.#opts.emit({ to: m.memberId, type: "commit", epoch, commit: msg.commit, from: memberId });
    }
    for (const id of msg.added) {
      const m = this.#members.get(id)!;
      m.state = "welcomed";
      m.keyPackage = null;
      this.#opts.emit({
        to: id, type: "welcome", epoch: this.#epoch, welcome: msg.welcome!,
        ...(msg.ratchetTree ? { ratchetTree: msg.ratchetTree } : {}),
      });
    }
    this.#schedule();
  }

  /**
   * The designated committer reports joiners whose key packages it could not add. Only the
   * committer of the outstanding request can say so, and only about joiners in that request.
   * Returns the joiners dropped (the caller turns them away); the request is reissued without them.
   */
  rejectKeyPackages(from: string, memberIds: string[]): string[] {
    const req = this.#request;
    if (!req || req.committer !== from) return [];
    const dropped = memberIds.filter((id) => req.adds.has(id) && this.#members.get(id)?.state === "pending");
    for (const id of dropped) this.#members.delete(id);
    this.#clearRequest();
    this.#schedule();
    return dropped;
  }

  /** A joiner processed its Welcome: it is a full member from now on. */
  welcomeProcessed(memberId: string): boolean {
    const m = this.#members.get(memberId);
    if (!m || m.state !== "welcomed") return false;
    m.state = "member";
    m.seniority = ++this.#seniorityCounter;
    this.#opts.emit({ to: memberId, type: "inGroup", memberId });
    this.#schedule();
    return true;
  }

  /**
   * A member could not follow the group (a commit or Welcome failed to process). It leaves the
   * tree and is added again with a fresh key package.
   */
  rejoin(memberId: string, keyPackage: Uint8Array): void {
    const m = this.#members.get(memberId);
    if (!m) return;
    if (m.state === "member" || m.state === "welcomed") {
      this.#pendingRemovals.add(memberId);
      this.#opts.emit({ to: memberId, type: "leftGroup", memberId });
    }
    if (this.#request?.committer === memberId) this.#clearRequest();
    m.state = "pending";
    m.keyPackage = keyPackage;
    this.#maybeReset();
    this.#schedule();
  }

  /** A participant left or its connection dropped. */
  leave(memberId: string): void {
    const m = this.#members.get(memberId);
    if (!m) return;
    this.#members.delete(memberId);
    if (m.state === "member" || m.state === "welcomed") this.#pendingRemovals.add(memberId);
    // A request naming this member as committer or joiner is stale: a new one goes out below.
    if (this.#request?.committer === memberId || this.#request?.adds.has(memberId)) this.#clearRequest();
    this.#maybeReset();
    this.#schedule();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearRequest();
    this.#members.clear();
  }

  /** With no member left in the tree, the group is gone: the next member founds a new one. */
  #maybeReset(): void {
    if (this.#inTree().length > 0) return;
    if ([...this.#members.values()].some((m) => m.state === "founding")) return;
    this.#groupId = null;
    this.#pendingRemovals.clear();
    this.#epoch = 0n;
  }

  #schedule(): void {
    if (this.#closed) return;
    // No group yet: ask the earliest pending participant to found it.
    if (!this.#groupId) {
      const founder = [...this.#members.values()].find((m) => m.state === "pending");
      if (!founder) return;
      this.#generation += 1;
      this.#groupId = concatBytes(this.#opts.groupIdBase, new TextEncoder().encode(`#${this.#generation}`));
      founder.state = "founding";
      founder.keyPackage = null;
      this.#opts.emit({ to: founder.memberId, type: "create", groupId: this.#groupId });
      return;
    }
    if (this.#request) return;
    const adds = [...this.#members.values()].filter((m) => m.state === "pending" && m.keyPackage);
    const removes = [...this.#pendingRemovals];
    if (adds.length === 0 && removes.length === 0) return;
    const candidates = [...this.#members.values()]
      .filter((m) => m.state === "member")
      .sort((a, b) => Number(a.unresponsive) - Number(b.unresponsive) || a.seniority - b.seniority);
    const committer = candidates[0];
    if (!committer) return; // only joiners still processing Welcomes: retried when one finishes
    const epoch = this.#epoch;
    const timer = setTimeout(() => {
      if (this.#request?.timer !== timer) return;
      committer.unresponsive = true;
      this.#request = null;
      this.#schedule();
    }, this.#opts.commitTimeoutMs);
    timer.unref?.();
    this.#request = { committer: committer.memberId, epoch, adds: new Set(adds.map((m) => m.memberId)), timer };
    this.#opts.emit({
      to: committer.memberId,
      type: "commitRequest",
      epoch,
      add: adds.map((m) => ({ memberId: m.memberId, keyPackage: m.keyPackage! })),
      remove: removes,
    });
  }

  #clearRequest(): void {
    if (this.#request) clearTimeout(this.#request.timer);
    this.#request = null;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("delivery service is closed");
  }
}
