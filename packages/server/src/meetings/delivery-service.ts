/**
 * The MLS delivery service (RFC 9420 §3, RFC 9750 §5) for one meeting.
 *
 * It orders handshake messages: the group is at one epoch; one member at a time (the most senior
 * one not demoted) is asked to commit the pending joins and leaves, with a deadline, then the next
 * member. It checks that commit before forwarding it (public-group.ts in @conclave/protocol):
 * framing, sender, epoch, exactly the requested proposals, the UpdatePath's public parts, the
 * Welcome's recipients and the signature. It keeps the public half of the group (ratchet tree,
 * GroupContext) for that, and never holds a group secret.
 *
 * A forwarded commit is provisional until the members have voted on it (docs/protocol.md §6):
 * each member that applies it acknowledges it (`ack`), each that cannot reports it (`failed`).
 * When a strict majority of the members who were to apply it, and at least two of them, could
 * not, the commit is voided: the group rolls back to the previous epoch, its author is expelled
 * from the meeting, and another member is asked to commit for the same epoch. Otherwise the epoch
 * is confirmed, and members that could not apply it are added again with the fresh key package
 * they sent. No single member — committer or reporter — can stall the group or split it.
 *
 * Batching (docs/protocol.md §6, "Batching"): every join and leave pending when a commit is asked
 * for goes into that one commit, and while a commit awaits its verdict new changes queue for the
 * next. Leaves are asked for at once (the removed member's 1 s cut-off budget is spent on the
 * commit's round trip); joins wait up to `joinBatchMs` for others to arrive, so a burst of joiners
 * lands in one commit. A member that has not acknowledged the current epoch (slow, or frozen) is
 * not asked to commit while an up-to-date member can: it catches up by processing the commits
 * queued for it, in order, without anyone waiting for it.
 */
import {
  bytesToHex,
  concatBytes,
  constantTimeEqual,
  DEFAULT_MLS_SUITE,
  isProtocolError,
  MAX_TRANSCRIPT_CANDIDATES,
  PublicGroup,
  type MemberIdentity,
  type MlsSuiteName,
} from "@conclave/protocol";

/** Why the service expels a member from the meeting. */
export type ExpelCode = "BAD_COMMIT" | "COMMIT_TIMEOUT";

/** Security-relevant decisions, for the security log (never a secret in `detail`). */
export type DeliveryEvent =
  | { event: "commitRefused"; memberId: string; epoch: bigint; detail: string }
  | { event: "commitVoided"; memberId: string; epoch: bigint; failures: number; acks: number }
  | { event: "commitFailuresOutvoted"; memberId: string; epoch: bigint; reporters: string[] }
  | { event: "memberExpelled"; memberId: string; code: ExpelCode; detail: string }
  | { event: "groupInfoRefused"; memberId: string; detail: string };

/** What the service asks its owner to send; the owner maps these to signaling messages. */
export type DeliveryOutput =
  | { to: string; type: "create"; groupId: Uint8Array }
  | { to: string; type: "commitRequest"; epoch: bigint; add: { memberId: string; keyPackage: Uint8Array }[]; remove: string[] }
  | { to: string; type: "commit"; epoch: bigint; commit: Uint8Array; from: string }
  /** `removed`: the members whose leaves the commit removes (for the rekey-time metric). */
  | { to: string; type: "commitAccepted"; epoch: bigint; removed: string[] }
  | { to: string; type: "commitRejected"; epoch: bigint; reason: string }
  | { to: string; type: "welcome"; epoch: bigint; welcome: Uint8Array }
  | { to: string; type: "epochConfirmed"; epoch: bigint }
  | { to: string; type: "rollback"; epoch: bigint; reason: string }
  | { to: string; type: "inGroup"; memberId: string }
  | { to: string; type: "leftGroup"; memberId: string }
  /** The member must leave the meeting (the owner closes its connection). */
  | { to: string; type: "expel"; code: ExpelCode; reason: string };

export interface DeliveryServiceOptions {
  /** A base id for MLS groups; each new group (after the meeting empties) appends a generation. */
  groupIdBase: Uint8Array;
  /** Called for every message to deliver, synchronously, in order. */
  emit: (out: DeliveryOutput) => void;
  /** Security events (refused and voided commits, expulsions). */
  onEvent?: (e: DeliveryEvent) => void;
  /** How long a designated committer (or the founder) has before the next member is asked. */
  commitTimeoutMs?: number;
  /** How long members have to acknowledge a commit before the vote is decided on what came in. */
  ackTimeoutMs?: number;
  /** The meeting's MLS cipher suite. */
  suite?: MlsSuiteName;
  /**
   * How long a join may wait for other joins to be committed with it (0: asked for at once).
   * Leaves never wait. The live meeting uses DEFAULT_JOIN_BATCH_MS.
   */
  joinBatchMs?: number;
  /** The clock for the batching window (tests). */
  now?: () => number;
}

/** The live meeting's join batching window: a burst of joins within it is one commit. */
export const DEFAULT_JOIN_BATCH_MS = 100;

type MemberState =
  /** Connected and waiting to be added by a commit (a key package queued, or awaited). */
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
  /** The key package to add it with; null while none is usable (it must send a fresh one). */
  keyPackage: Uint8Array | null;
  /** Order in which members became full members; the earliest is asked to commit first. */
  seniority: number;
  /** Missed a deadline, had a commit refused or one that others could not apply: asked last. */
  demoted: boolean;
  /** Commits of this member the service refused. */
  strikes: number;
  /** Deadlines missed in a row. */
  missed: number;
  /** Who committed the Welcome this member is processing (it answers for a Welcome that fails). */
  welcomedBy: string | null;
  /** When its current key package arrived (the join batching window starts there). */
  pendingSince: number;
  /** The latest epoch it is known to have reached (acknowledged, Welcome processed, or founded). */
  reached: bigint;
}

interface CommitRequest {
  committer: string;
  epoch: bigint;
  adds: Map<string, Uint8Array>;
  removes: Map<string, number>;
  timer: ReturnType<typeof setTimeout> | null;
  /** The committer's commit is being checked. */
  checking: boolean;
}

/** A forwarded commit awaiting the members' verdict. */
interface Provisional {
  /** The epoch the commit was for; the group is now at epoch + 1. */
  epoch: bigint;
  author: string;
  previous: PublicGroup;
  previousCandidates: Map<string, { hash: Uint8Array; count: number }>;
  removed: string[];
  joiners: string[];
  /** Full members at epoch `epoch`, other than the author: their votes decide. */
  receivers: Set<string>;
  acks: Set<string>;
  /** Members that could not apply it, with the fresh key package each sent. */
  failures: Map<string, Uint8Array>;
  timer: ReturnType<typeof setTimeout>;
}

/** A member whose commits were refused this many times is expelled. */
export const MAX_COMMIT_STRIKES = 2;
/** A sole candidate that misses this many deadlines in a row is expelled. */
export const MAX_MISSED_DEADLINES = 3;

export class DeliveryService {
  readonly #opts: Required<Omit<DeliveryServiceOptions, "onEvent">> & Pick<DeliveryServiceOptions, "onEvent">;
  /** Waits for the join batching window to close. */
  #batchTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #members = new Map<string, Member>();
  /** Members whose leaves are in the tree but who have gone (or must be re-added): removed next. */
  readonly #pendingRemovals = new Set<string>();
  #generation = 0;
  #groupId: Uint8Array | null = null;
  #group: PublicGroup | null = null;
  /** Transcript hashes members reported for the current epoch, by hex, with how many did. */
  #candidates = new Map<string, { hash: Uint8Array; count: number }>();
  #seniorityCounter = 0;
  #request: CommitRequest | null = null;
  #founding: { memberId: string; timer: ReturnType<typeof setTimeout>; checking: boolean } | null = null;
  #provisional: Provisional | null = null;
  #closed = false;

  constructor(opts: DeliveryServiceOptions) {
    this.#opts = { commitTimeoutMs: 3000, ackTimeoutMs: 5000, suite: DEFAULT_MLS_SUITE, joinBatchMs: 0, now: () => performance.now(), ...opts };
  }

  /** The group's current epoch (0 before the group exists). */
  get epoch(): bigint {
    return this.#group?.epoch ?? 0n;
  }

  get groupId(): Uint8Array | null {
    return this.#groupId;
  }

  /** True while a forwarded commit awaits the members' verdict. */
  get awaitingVerdict(): boolean {
    return this.#provisional !== null;
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

  /** A new participant with its key package (checked by the caller: signature, identity, suite). */
  join(memberId: string, identity: MemberIdentity, keyPackage: Uint8Array): void {
    this.#assertOpen();
    if (this.#members.has(memberId)) throw new Error(`member ${memberId} already joined`);
    this.#members.set(memberId, { memberId, identity, state: "pending", keyPackage, seniority: 0, demoted: false, strikes: 0, missed: 0, welcomedBy: null, pendingSince: this.#opts.now(), reached: -1n });
    this.#schedule();
  }

  /** The identity a member joined with (rejoin key packages must name the same). */
  identityOf(memberId: string): MemberIdentity | undefined {
    return this.#members.get(memberId)?.identity;
  }

  /**
   * The founder reports the group exists at epoch 0, with its public GroupInfo. The group is
   * refused (and the founder expelled) unless the GroupInfo verifies and its only member is the
   * founder, with the identity it joined with.
   */
  async groupCreated(memberId: string, groupId: Uint8Array, groupInfo: Uint8Array): Promise<{ ok: true } | { ok: false; reason: string }> {
    const m = this.#members.get(memberId);
    const founding = this.#founding;
    if (!m || m.state !== "founding" || !this.#groupId || founding?.memberId !== memberId || founding.checking) {
      return { ok: false, reason: "not asked to create the group" };
    }
    if (!constantTimeEqual(groupId, this.#groupId)) return { ok: false, reason: "wrong group id" };
    founding.checking = true;
    const expectedGroupId = this.#groupId;
    let group: PublicGroup | null = null;
    let why = "";
    try {
      group = await PublicGroup.fromGroupInfo(groupInfo, { groupId: expectedGroupId, suite: this.#opts.suite });
      const members = group.members();
      if (members.length !== 1 || !sameIdentity(members[0]!.identity, m.identity)) {
        group = null;
        why = "the group's member is not the founder";
      }
    } catch (e) {
      why = isProtocolError(e) ? e.message : "the GroupInfo is invalid";
    }
    founding.checking = false;
    if (this.#closed || this.#founding !== founding || this.#members.get(memberId) !== m) return { ok: false, reason: "the meeting changed meanwhile" };
    if (group === null) {
      this.#opts.onEvent?.({ event: "groupInfoRefused", memberId, detail: why });
      this.#expel(m, "BAD_COMMIT", `your group could not be checked: ${why}`);
      return { ok: false, reason: why };
    }
    clearTimeout(founding.timer);
    this.#founding = null;
    this.#group = group;
    this.#candidates = new Map();
    m.state = "member";
    m.keyPackage = null;
    m.seniority = ++this.#seniorityCounter;
    m.reached = group.epoch;
    this.#opts.emit({ to: memberId, type: "inGroup", memberId });
    this.#schedule();
    return { ok: true };
  }

  /**
   * A commit from a member. Only the member asked to commit may, for the epoch it was asked, and
   * only exactly what it was asked (see the module comment); anything else is rejected, and a
   * refusal of the designated committer's commit counts against it.
   */
  async commit(memberId: string, msg: { epoch: bigint; commit: Uint8Array; welcome?: Uint8Array; added: string[]; removed: string[]; refusal?: string }): Promise<void> {
    this.#assertOpen();
    const req = this.#request;
    const author = this.#members.get(memberId);
    const reject = (reason: string) => this.#opts.emit({ to: memberId, type: "commitRejected", epoch: msg.epoch, reason });
    if (!author || author.state !== "member") return reject("only group members can commit");
    if (!req || req.committer !== memberId || req.checking) return reject("not asked to commit now");
    const group = this.#group!;
    const refuse = (reason: string) => {
      this.#opts.onEvent?.({ event: "commitRefused", memberId, epoch: msg.epoch, detail: reason });
      reject(reason);
      if (this.#request === req) this.#clearRequest();
      author.demoted = true;
      author.strikes += 1;
      if (author.strikes >= MAX_COMMIT_STRIKES) {
        this.#expel(author, "BAD_COMMIT", `your commits were refused ${author.strikes} times`);
        return;
      }
      this.#schedule();
    };
    // The meeting's own policy refused it already (e.g. a connector added to an E2EE meeting).
    if (msg.refusal !== undefined) return refuse(msg.refusal);
    if (msg.epoch !== req.epoch || msg.epoch !== group.epoch) return refuse(`stale epoch: the group is at epoch ${group.epoch}`);
    if (!sameSet(msg.added, [...req.adds.keys()]) || !sameSet(msg.removed, [...req.removes.keys()])) {
      return refuse("its added and removed lists are not what was asked");
    }
    if (req.timer) clearTimeout(req.timer);
    req.timer = null;
    req.checking = true;
    let next: PublicGroup;
    try {
      next = await group.checkCommit(
        msg.commit,
        {
          committerLeaf: group.leafOf(memberId) ?? -1,
          add: [...req.adds.values()],
          remove: [...req.removes.values()],
          ...(msg.welcome ? { welcome: msg.welcome } : {}),
        },
        this.#topCandidates(),
      );
    } catch (e) {
      req.checking = false;
      if (this.#closed) return;
      if (this.#request !== req) return reject("the group changed while the commit was checked");
      return refuse(isProtocolError(e) ? e.message : "the commit could not be checked");
    }
    req.checking = false;
    if (this.#closed) return;
    if (this.#request !== req || this.#group !== group) {
      // Someone in the request left meanwhile: a new request goes out (already scheduled).
      return reject("the group changed while the commit was checked");
    }
    this.#accept(author, req, next, msg);
  }

  #accept(author: Member, req: CommitRequest, next: PublicGroup, msg: { epoch: bigint; commit: Uint8Array; welcome?: Uint8Array }): void {
    const epoch = req.epoch;
    const previous = this.#group!;
    this.#request = null;
    // A commit that went through clears a missed deadline (a slow moment, not a broken member).
    author.missed = 0;
    author.demoted = false;
    author.reached = epoch + 1n;
    const receivers = new Set(this.#inTree().filter((m) => m.state === "member" && m !== author).map((m) => m.memberId));
    const removed = [...req.removes.keys()];
    for (const id of removed) this.#pendingRemovals.delete(id);
    this.#group = next;
    const previousCandidates = this.#candidates;
    this.#candidates = new Map();
    const timer = setTimeout(() => this.#decide(true), this.#opts.ackTimeoutMs);
    timer.unref?.();
    const joiners = [...req.adds.keys()].filter((id) => this.#members.get(id)?.state === "pending");
    this.#provisional = { epoch, author: author.memberId, previous, previousCandidates, removed, joiners, receivers, acks: new Set(), failures: new Map(), timer };

    this.#opts.emit({ to: author.memberId, type: "commitAccepted", epoch, removed });
    for (const m of this.#inTree()) {
      if (m !== author) this.#opts.emit({ to: m.memberId, type: "commit", epoch, commit: msg.commit, from: author.memberId });
    }
    for (const id of joiners) {
      const m = this.#members.get(id)!;
      m.state = "welcomed";
      m.keyPackage = null;
      m.welcomedBy = author.memberId;
      this.#opts.emit({ to: id, type: "welcome", epoch: epoch + 1n, welcome: msg.welcome! });
    }
    this.#decide(false);
  }

  /** A member applied the commit for `epoch` and reached a state with this transcript hash. */
  ack(memberId: string, epoch: bigint, transcriptHash: Uint8Array): void {
    const member = this.#members.get(memberId);
    if (this.#closed || !member) return;
    if (epoch + 1n > member.reached) member.reached = epoch + 1n;
    if (epoch + 1n === this.epoch) this.#addCandidate(transcriptHash);
    const p = this.#provisional;
    if (!p || p.epoch !== epoch || !p.receivers.has(memberId) || p.failures.has(memberId)) return;
    p.acks.add(memberId);
    this.#decide(false);
  }

  /**
   * A member could not apply the commit for `epoch`. It stays at `epoch` until the verdict; if
   * the commit stands, it is added again with `keyPackage` (checked by the caller).
   */
  failed(memberId: string, epoch: bigint, keyPackage: Uint8Array): void {
    if (this.#closed) return;
    const m = this.#members.get(memberId);
    if (!m) return;
    const p = this.#provisional;
    if (p && p.epoch === epoch && p.receivers.has(memberId) && !p.acks.has(memberId)) {
      p.failures.set(memberId, keyPackage);
      this.#decide(false);
      return;
    }
    // A report on a commit that was voided meanwhile: the member is where the group is.
    if (epoch === this.epoch) return;
    // Not part of a vote (a report after the verdict, or a member that was still joining): it
    // lost the group.
    if (epoch + 1n === this.epoch && (m.state === "member" || m.state === "welcomed")) this.rejoin(memberId, keyPackage);
  }

  /**
   * Decides the vote on the provisional commit when its outcome can no longer change, or at the
   * deadline on the votes in. Voided iff at least two receivers failed and failures outnumber
   * acknowledgements (at the deadline) or all other receivers (before it).
   */
  #decide(deadline: boolean): void {
    const p = this.#provisional;
    if (!p) return;
    const F = p.failures.size;
    const A = p.acks.size;
    const U = p.receivers.size - F - A;
    if (F >= 2 && F > A + U) return this.#rollback(p);
    if (deadline) return F >= 2 && F > A ? this.#rollback(p) : this.#confirm(p);
    if (F + U < 2 || F + U <= A) this.#confirm(p);
  }

  #confirm(p: Provisional): void {
    clearTimeout(p.timer);
    this.#provisional = null;
    const epoch = p.epoch + 1n;
    const outOfSync = [...p.failures.keys()];
    for (const m of this.#inTree()) this.#opts.emit({ to: m.memberId, type: "epochConfirmed", epoch });
    if (outOfSync.length > 0) {
      // Either the commit was bad for some members (the author goes to the back of the queue) or
      // they lied or broke: they lose a few seconds being added again, nobody else does.
      this.#opts.onEvent?.({ event: "commitFailuresOutvoted", memberId: p.author, epoch: p.epoch, reporters: outOfSync });
      const author = this.#members.get(p.author);
      if (author) author.demoted = true;
      for (const [id, kp] of p.failures) {
        if (this.#members.has(id)) this.rejoin(id, kp);
      }
    }
    this.#schedule();
  }

  #rollback(p: Provisional): void {
    clearTimeout(p.timer);
    this.#provisional = null;
    this.#group = p.previous;
    this.#candidates = p.previousCandidates;
    const reason = `${p.failures.size} of ${p.receivers.size} members could not apply it`;
    this.#opts.onEvent?.({ event: "commitVoided", memberId: p.author, epoch: p.epoch, failures: p.failures.size, acks: p.acks.size });
    // The removals it made are pending again; its joiners wait for a fresh key package each
    // (the Welcome they may have processed belongs to the voided epoch).
    for (const id of p.removed) this.#pendingRemovals.add(id);
    for (const m of this.#members.values()) if (m.reached > p.epoch) m.reached = p.epoch;
    for (const id of p.joiners) {
      const j = this.#members.get(id);
      if (!j || (j.state !== "welcomed" && j.state !== "member")) continue;
      const hadMedia = j.state === "member";
      j.state = "pending";
      j.keyPackage = null;
      if (hadMedia) this.#opts.emit({ to: id, type: "leftGroup", memberId: id });
    }
    for (const m of this.#members.values()) {
      if (m.memberId === p.author) continue;
      if (m.state === "member" || m.state === "welcomed" || p.joiners.includes(m.memberId)) {
        this.#opts.emit({ to: m.memberId, type: "rollback", epoch: p.epoch, reason });
      }
    }
    const author = this.#members.get(p.author);
    if (author) this.#expel(author, "BAD_COMMIT", `the other members could not apply your commit (${reason})`);
    else this.#schedule();
  }

  /**
   * The designated committer reports joiners whose key packages it could not add. Only the
   * committer of the outstanding request can say so, and only about joiners in that request.
   * Returns the joiners dropped (the caller turns them away); the request is reissued without them.
   */
  rejectKeyPackages(from: string, memberIds: string[]): string[] {
    const req = this.#request;
    if (!req || req.committer !== from || req.checking) return [];
    const dropped = memberIds.filter((id) => req.adds.has(id) && this.#members.get(id)?.state === "pending");
    for (const id of dropped) this.#members.delete(id);
    this.#clearRequest();
    this.#schedule();
    return dropped;
  }

  /** A joiner processed its Welcome: it is a full member from now on. */
  welcomeProcessed(memberId: string, epoch: bigint, transcriptHash: Uint8Array): boolean {
    const m = this.#members.get(memberId);
    if (!m || m.state !== "welcomed") return false;
    m.state = "member";
    m.seniority = ++this.#seniorityCounter;
    m.reached = epoch;
    if (epoch === this.epoch) this.#addCandidate(transcriptHash);
    this.#opts.emit({ to: memberId, type: "inGroup", memberId });
    this.#schedule();
    return true;
  }

  /**
   * A member could not follow the group (a commit or Welcome failed to process). It leaves the
   * tree and is added again with a fresh key package (checked by the caller).
   */
  rejoin(memberId: string, keyPackage: Uint8Array): void {
    const m = this.#members.get(memberId);
    if (!m || m.state === "founding") return;
    // A Welcome its joiner could not process: its committer goes to the back of the queue.
    if (m.state === "welcomed" && m.welcomedBy !== null) {
      const author = this.#members.get(m.welcomedBy);
      if (author) author.demoted = true;
    }
    if (m.state === "member" || m.state === "welcomed") {
      this.#pendingRemovals.add(memberId);
      this.#opts.emit({ to: memberId, type: "leftGroup", memberId });
    }
    this.#dropFromVote(memberId);
    if (this.#request?.committer === memberId || this.#request?.adds.has(memberId)) this.#clearRequest();
    m.state = "pending";
    m.keyPackage = keyPackage;
    m.pendingSince = this.#opts.now();
    this.#maybeReset();
    this.#schedule();
  }

  /** A participant left or its connection dropped. */
  leave(memberId: string): void {
    const m = this.#members.get(memberId);
    if (!m) return;
    this.#members.delete(memberId);
    if (m.state === "member" || m.state === "welcomed") this.#pendingRemovals.add(memberId);
    this.#dropFromVote(memberId);
    if (this.#founding?.memberId === memberId) {
      clearTimeout(this.#founding.timer);
      this.#founding = null;
    }
    // A request naming this member as committer or joiner is stale: a new one goes out below.
    if (this.#request?.committer === memberId || this.#request?.adds.has(memberId)) this.#clearRequest();
    this.#maybeReset();
    this.#schedule();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearRequest();
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    if (this.#founding) clearTimeout(this.#founding.timer);
    this.#founding = null;
    if (this.#provisional) clearTimeout(this.#provisional.timer);
    this.#provisional = null;
    this.#members.clear();
  }

  /** A member that will not vote (left, or rejoining) no longer counts towards the verdict. */
  #dropFromVote(memberId: string): void {
    const p = this.#provisional;
    if (!p || !p.receivers.delete(memberId)) return;
    p.acks.delete(memberId);
    p.failures.delete(memberId);
    this.#decide(false);
  }

  /** The owner closes the member's connection (and calls leave); leaving here too is idempotent. */
  #expel(m: Member, code: ExpelCode, reason: string): void {
    this.#opts.onEvent?.({ event: "memberExpelled", memberId: m.memberId, code, detail: reason });
    this.#opts.emit({ to: m.memberId, type: "expel", code, reason });
    this.leave(m.memberId);
  }

  #addCandidate(hash: Uint8Array): void {
    const key = bytesToHex(hash);
    const c = this.#candidates.get(key);
    if (c) c.count += 1;
    else if (this.#candidates.size < 64) this.#candidates.set(key, { hash: hash.slice(), count: 1 });
  }

  /** Reported transcript hashes, most reported first (an attacker adds at most one vote each). */
  #topCandidates(): Uint8Array[] {
    return [...this.#candidates.values()].sort((a, b) => b.count - a.count).slice(0, MAX_TRANSCRIPT_CANDIDATES).map((c) => c.hash);
  }

  /** With no member left in the tree, the group is gone: the next member founds a new one. */
  #maybeReset(): void {
    if (this.#inTree().length > 0 || this.#founding) return;
    this.#groupId = null;
    this.#group = null;
    this.#candidates = new Map();
    this.#pendingRemovals.clear();
    if (this.#provisional) clearTimeout(this.#provisional.timer);
    this.#provisional = null;
  }

  #schedule(): void {
    if (this.#closed) return;
    // No group yet: ask the earliest pending participant (with a key package) to found it.
    if (!this.#groupId) {
      const founder = [...this.#members.values()].find((m) => m.state === "pending" && m.keyPackage);
      if (!founder) return;
      this.#generation += 1;
      this.#groupId = concatBytes(this.#opts.groupIdBase, new TextEncoder().encode(`#${this.#generation}`));
      founder.state = "founding";
      founder.keyPackage = null;
      const timer = setTimeout(() => {
        if (this.#founding?.timer !== timer || this.#founding.checking) return;
        const f = this.#members.get(founder.memberId);
        if (f) this.#expel(f, "COMMIT_TIMEOUT", "you did not create the group in time");
      }, this.#opts.commitTimeoutMs * MAX_MISSED_DEADLINES);
      timer.unref?.();
      this.#founding = { memberId: founder.memberId, timer, checking: false };
      this.#opts.emit({ to: founder.memberId, type: "create", groupId: this.#groupId });
      return;
    }
    // One commit at a time: the next waits for the verdict on the last.
    if (this.#request || this.#provisional || !this.#group) return;
    const group = this.#group;
    const adds = [...this.#members.values()].filter((m) => m.state === "pending" && m.keyPackage);
    const removes = new Map<string, number>();
    for (const id of this.#pendingRemovals) {
      const leaf = group.leafOf(id);
      if (leaf === undefined) this.#pendingRemovals.delete(id);
      else removes.set(id, leaf);
    }
    if (adds.length === 0 && removes.size === 0) return;
    // Joins only: wait for the batching window of the earliest to close (a leave goes at once,
    // taking the waiting joins with it).
    if (removes.size === 0 && this.#opts.joinBatchMs > 0) {
      const wait = Math.min(...adds.map((m) => m.pendingSince)) + this.#opts.joinBatchMs - this.#opts.now();
      if (wait > 0) {
        if (!this.#batchTimer) {
          this.#batchTimer = setTimeout(() => {
            this.#batchTimer = null;
            this.#schedule();
          }, Math.ceil(wait));
          this.#batchTimer.unref?.();
        }
        return;
      }
    }
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    // Up-to-date members first: one that has not reached the current epoch (slow or frozen) would
    // make everyone wait for its deadline.
    const behind = (m: Member) => Number(m.reached < group.epoch);
    const candidates = [...this.#members.values()]
      .filter((m) => m.state === "member" && !removes.has(m.memberId))
      .sort((a, b) => Number(a.demoted) - Number(b.demoted) || behind(a) - behind(b) || a.seniority - b.seniority);
    const committer = candidates[0];
    if (!committer) return; // only joiners still processing Welcomes: retried when one finishes
    const soleCandidate = candidates.length === 1;
    const epoch = group.epoch;
    const req: CommitRequest = {
      committer: committer.memberId,
      epoch,
      adds: new Map(adds.map((m) => [m.memberId, m.keyPackage!])),
      removes,
      timer: null,
      checking: false,
    };
    req.timer = setTimeout(() => {
      if (this.#request !== req || req.checking) return;
      committer.demoted = true;
      committer.missed += 1;
      this.#request = null;
      if (soleCandidate && committer.missed >= MAX_MISSED_DEADLINES) {
        this.#expel(committer, "COMMIT_TIMEOUT", `you did not commit the group's changes in time, ${committer.missed} times`);
        return;
      }
      this.#schedule();
    }, this.#opts.commitTimeoutMs);
    req.timer.unref?.();
    this.#request = req;
    this.#opts.emit({
      to: committer.memberId,
      type: "commitRequest",
      epoch,
      add: adds.map((m) => ({ memberId: m.memberId, keyPackage: m.keyPackage! })),
      remove: [...removes.keys()],
    });
  }

  #clearRequest(): void {
    if (this.#request?.timer) clearTimeout(this.#request.timer);
    this.#request = null;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("delivery service is closed");
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === a.length && sa.size === b.length && b.every((x) => sa.has(x));
}

function sameIdentity(a: MemberIdentity, b: MemberIdentity): boolean {
  return (
    a.kind === b.kind &&
    a.memberId === b.memberId &&
    a.displayName === b.displayName &&
    (a.kind !== "connector" || (b.kind === "connector" && a.connector === b.connector))
  );
}
