/**
 * Polls, end to end encrypted (docs/protocol.md §6.3; what each party learns: docs/threat-model.md).
 *
 * - A host or co-host launches a poll to the group (single or multiple choice, anonymous or not).
 * - Each member votes once: the vote is SEALED to the launcher's leaf key (MeetingSession.sendSealed),
 *   so no other member can read it even if the server handed it to them, and it is padded so
 *   every vote has the same size on the wire.
 * - The launcher's app counts one vote per member (MLS authenticates who voted; the first vote
 *   counts) and sees the results live; it may end the poll and share the results with everyone.
 * - Anonymous polls: the launcher's app keeps only totals and who has voted (to count each member
 *   once), never who chose what, and shows only totals. A modified launcher app could still
 *   learn each vote, since MLS tells it the sender: anonymity here is from the other members, and
 *   from the launcher's honest app.
 */
import { MAX_POLL_OPTIONS, type AppMessage } from "@conclave/protocol";
import { TypedEmitter } from "../events.js";
import type { AppMessageEvent, EpochEvent, MeetingSession } from "../meeting-session.js";
import { ClientError } from "../errors.js";
import { errorEvent, isHostOrCohost, newcomers, notAllowed, randomLocalId } from "./common.js";

export interface PollView {
  pollId: string;
  question: string;
  options: string[];
  multiple: boolean;
  anonymous: boolean;
  launcher: string;
  launcherName: string;
  /** Launched by this member (it counts the votes). */
  mine: boolean;
  open: boolean;
  /** This member's vote, once cast. */
  myChoices: number[] | null;
  /** Votes per option and how many voted: live for the launcher, once shared for the others. */
  results: { counts: number[]; voters: number } | null;
  /** For the launcher of a poll that is not anonymous: who chose what. */
  votes: { memberId: string; displayName: string; choices: number[] }[] | null;
}

export interface MeetingPollsEvents extends Record<string, unknown> {
  /** A poll was launched, or changed (a vote counted, ended, results shared). */
  poll: PollView;
  error: { code: string; message: string };
}

interface PollRecord {
  view: PollView;
  /** Launcher only: who voted (always, to count each member once) and, if not anonymous, what. */
  voters: Set<string>;
  choices: Map<string, { displayName: string; choices: number[] }>;
}

export class MeetingPolls extends TypedEmitter<MeetingPollsEvents> {
  readonly #session: MeetingSession;
  readonly #polls = new Map<string, PollRecord>();
  readonly #off: (() => void)[] = [];

  constructor(session: MeetingSession) {
    super();
    this.#session = session;
    this.#off.push(
      session.on("appMessage", (m) => this.#onMessage(m)),
      session.on("epoch", (e) => this.#onEpoch(e)),
      // Polls belong to a group: in another room (or back) there are none yet.
      session.on("room", () => this.#polls.clear()),
    );
  }

  get polls(): PollView[] {
    return [...this.#polls.values()].map((p) => copy(p.view));
  }

  poll(pollId: string): PollView | undefined {
    const p = this.#polls.get(pollId);
    return p && copy(p.view);
  }

  /** Host or co-host: launches a poll to everyone in the group. */
  async launch(spec: { question: string; options: string[]; multiple?: boolean; anonymous?: boolean }): Promise<PollView> {
    const s = this.#session;
    if (!isHostOrCohost(s, s.memberId)) throw new ClientError("HOST_ONLY");
    const message: Extract<AppMessage, { type: "pollLaunch" }> = {
      v: 1,
      type: "pollLaunch",
      pollId: randomLocalId(),
      question: spec.question,
      options: [...spec.options],
      multiple: spec.multiple ?? false,
      anonymous: spec.anonymous ?? false,
    };
    await s.sendAppMessage(message);
    const record = this.#add(message, s.memberId, s.identity.displayName);
    record.view.results = { counts: message.options.map(() => 0), voters: 0 };
    record.view.votes = message.anonymous ? null : [];
    this.#changed(record);
    return copy(record.view);
  }

  /** Votes once in an open poll: sealed to the poll's launcher, no one else can read it. */
  async vote(pollId: string, choices: number[]): Promise<void> {
    const record = this.#polls.get(pollId);
    if (!record || !record.view.open || record.view.myChoices !== null) throw new ClientError("POLL_VOTE_REFUSED");
    if (!fits(record.view, choices)) throw new ClientError("POLL_VOTE_REFUSED", "the choices do not fit the poll");
    if (record.view.mine) {
      // The launcher's own vote is counted here; nothing to send.
      this.#count(record, this.#session.memberId, this.#session.identity.displayName, choices);
    } else {
      await this.#session.sendSealed(record.view.launcher, { v: 1, type: "pollVote", pollId, choices: [...choices] });
    }
    record.view.myChoices = [...choices];
    this.#changed(record);
  }

  /** The launcher closes the poll: later votes are not counted. */
  async end(pollId: string): Promise<void> {
    const record = this.#ownPoll(pollId);
    if (!record.view.open) return;
    await this.#session.sendAppMessage({ v: 1, type: "pollEnd", pollId });
    record.view.open = false;
    this.#changed(record);
  }

  /** The launcher shares the results (votes per option, number of voters) with everyone. */
  async share(pollId: string): Promise<void> {
    const record = this.#ownPoll(pollId);
    const results = record.view.results!;
    await this.#session.sendAppMessage({ v: 1, type: "pollResults", pollId, counts: [...results.counts], voters: results.voters });
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
  }

  #ownPoll(pollId: string): PollRecord {
    const record = this.#polls.get(pollId);
    if (!record || !record.view.mine) throw new ClientError("HOST_ONLY", "only the poll's launcher can end or share it");
    return record;
  }

  #add(m: Extract<AppMessage, { type: "pollLaunch" }>, launcher: string, launcherName: string): PollRecord {
    const record: PollRecord = {
      view: {
        pollId: m.pollId,
        question: m.question,
        options: [...m.options],
        multiple: m.multiple,
        anonymous: m.anonymous,
        launcher,
        launcherName,
        mine: launcher === this.#session.memberId,
        open: true,
        myChoices: null,
        results: null,
        votes: null,
      },
      voters: new Set(),
      choices: new Map(),
    };
    this.#polls.set(m.pollId, record);
    return record;
  }

  #count(record: PollRecord, memberId: string, displayName: string, choices: number[]): boolean {
    if (!record.view.open || record.voters.has(memberId) || !fits(record.view, choices)) return false;
    record.voters.add(memberId);
    const results = record.view.results!;
    for (const c of choices) results.counts[c]! += 1;
    results.voters += 1;
    if (!record.view.anonymous) {
      record.choices.set(memberId, { displayName, choices: [...choices] });
      record.view.votes = [...record.choices].map(([id, v]) => ({ memberId: id, displayName: v.displayName, choices: v.choices }));
    }
    return true;
  }

  #onEpoch(e: EpochEvent): void {
    // Newcomers can vote in this member's open polls.
    const to = newcomers(e.added, e.members.length);
    if (to === null) return;
    for (const { view } of this.#polls.values()) {
      if (!view.mine || !view.open) continue;
      const m: AppMessage = { v: 1, type: "pollLaunch", pollId: view.pollId, question: view.question, options: view.options, multiple: view.multiple, anonymous: view.anonymous };
      this.#session.sendAppMessage(m, to).catch((err: unknown) => this.emit("error", errorEvent(err)));
    }
  }

  #onMessage(m: AppMessageEvent): void {
    const msg = m.message;
    switch (msg.type) {
      case "pollLaunch": {
        if (!isHostOrCohost(this.#session, m.from)) return void this.emit("error", notAllowed("a poll from someone who is not a host"));
        if (this.#polls.has(msg.pollId)) return;
        this.#changed(this.#add(msg, m.from, m.fromName));
        return;
      }
      case "pollVote": {
        const record = this.#polls.get(msg.pollId);
        if (!record || !record.view.mine || !m.sealed || !this.#count(record, m.from, m.fromName, msg.choices)) {
          this.emit("error", { code: "POLL_VOTE_REFUSED", message: "A vote was refused (unknown or closed poll, choices that do not fit, or a second vote)." });
          return;
        }
        this.#changed(record);
        return;
      }
      case "pollEnd":
      case "pollResults": {
        const record = this.#polls.get(msg.pollId);
        if (!record) return;
        if (record.view.launcher !== m.from) return void this.emit("error", notAllowed("a poll update from someone other than its launcher"));
        if (msg.type === "pollEnd") record.view.open = false;
        else if (msg.counts.length !== record.view.options.length) {
          return void this.emit("error", { code: "APP_MESSAGE_MALFORMED", message: "poll results whose counts do not match the poll's options; ignored" });
        } else record.view.results = { counts: [...msg.counts], voters: msg.voters };
        this.#changed(record);
        return;
      }
      default:
        return;
    }
  }

  #changed(record: PollRecord): void {
    this.emit("poll", copy(record.view));
  }
}

function fits(view: PollView, choices: number[]): boolean {
  if (!Array.isArray(choices) || choices.length === 0 || choices.length > MAX_POLL_OPTIONS) return false;
  if (!view.multiple && choices.length !== 1) return false;
  if (new Set(choices).size !== choices.length) return false;
  return choices.every((c) => Number.isInteger(c) && c >= 0 && c < view.options.length);
}

function copy(v: PollView): PollView {
  return {
    ...v,
    options: [...v.options],
    myChoices: v.myChoices && [...v.myChoices],
    results: v.results && { counts: [...v.results.counts], voters: v.results.voters },
    votes: v.votes && v.votes.map((x) => ({ ...x, choices: [...x.choices] })),
  };
}
