/**
 * Meetings as stored: ID, encryption type, passcode hash and lifetime. The live meeting (its
 * members, MLS delivery, media) belongs to the meetings module; this is its durable record.
 *
 * Confidential details (the topic) are sealed under the meeting's data key (storage/sealed.ts)
 * and need the KMS to read or write; what joining needs (id, encryption, passcode hash, policy,
 * times, owner) stays in clear columns, so live meetings never wait for the KMS.
 */
import { randomInt } from "node:crypto";
import { generatePasscode, hashPasscode, verifyPasscodeHash, verifyPasscodeHashAsync } from "../auth/passcode.js";
import { ServerError } from "../errors.js";
import type { MeetingSettingsSnapshot } from "../settings/meeting-options.js";
import type { Database } from "./database.js";
import { SERVER_PRINCIPAL, openJson, sealJson, stringOrNull, type Principal } from "./sealed.js";
import { isSqliteError } from "./sqlite.js";

/** The field the sealed details are bound to (AAD). */
const DETAILS_FIELD = "details";

export function meetingRef(id: string): { kind: "meeting"; id: string } {
  return { kind: "meeting", id };
}

export type Encryption = "e2ee" | "enhanced";
export const ENCRYPTION_TYPES: readonly Encryption[] = ["e2ee", "enhanced"];

/** 11 decimal digits, first one not 0. */
export const MEETING_ID_PATTERN = /^[1-9][0-9]{10}$/;
const MEETING_ID_MIN = 10_000_000_000;
const MEETING_ID_MAX = 99_999_999_999;
/** With 9·10^10 IDs a collision is rare; ten in a row means something is wrong, not bad luck. */
const MAX_ID_ATTEMPTS = 10;

export function isMeetingId(s: string): boolean {
  return MEETING_ID_PATTERN.test(s);
}

/** A uniformly random meeting ID (crypto.randomInt samples without modulo bias). */
export function generateMeetingId(): string {
  return String(randomInt(MEETING_ID_MIN, MEETING_ID_MAX + 1));
}

export interface Meeting {
  readonly id: string;
  readonly encryption: Encryption;
  readonly passcodeRequired: boolean;
  /**
   * The MLS group uses the X-Wing hybrid post-quantum KEM (MLS_256_XWING_AES256GCM_SHA512_Ed25519)
   * instead of suite 1. Fixed when the meeting is created.
   */
  readonly postQuantum: boolean;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  readonly endedAt?: number;
}

export interface CreatedMeeting {
  readonly meeting: Meeting;
  /** The passcode in clear, returned once to the creator and never stored; null if none. */
  readonly passcode: string | null;
}

/** A meeting with its schedule and owner (meetings created before accounts have neither). */
export interface ScheduledMeeting extends Meeting {
  /** The user who scheduled it; null for meetings created with the admin token. */
  readonly ownerUserId: string | null;
  readonly topic: string | null;
  /** Planned start, milliseconds since the Unix epoch; null: an instant meeting. */
  readonly startAt: number | null;
  readonly durationMin: number | null;
  readonly waitingRoom: boolean;
  readonly joinBeforeHost: boolean;
  /** The owner's effective settings when it was created or last edited; null for old meetings. */
  readonly settings: MeetingSettingsSnapshot | null;
}

/**
 * What the meeting layer needs to admit people to a meeting. Meetings from before accounts, and
 * ones created with the admin token unless asked otherwise, have no waiting room and let anyone
 * in before a host.
 */
export interface StoredMeetingPolicy {
  readonly encryption: Encryption;
  readonly waitingRoom: boolean;
  readonly joinBeforeHost: boolean;
  readonly ownerUserId: string | null;
  readonly passcodeRequired: boolean;
}

export interface CreateMeetingOptions {
  encryption?: Encryption;
  /** Default false: MLS suite 1. */
  postQuantum?: boolean;
  /** Default true. */
  passcode?: boolean;
  ownerUserId?: string | null;
  topic?: string | null;
  startAt?: number | null;
  durationMin?: number | null;
  /** Default false (no waiting room), as for meetings from before accounts. */
  waitingRoom?: boolean;
  /** Default true, as for meetings from before accounts. */
  joinBeforeHost?: boolean;
  settings?: MeetingSettingsSnapshot | null;
}

export interface MeetingChanges {
  readonly encryption?: Encryption;
  readonly topic?: string | null;
  readonly startAt?: number | null;
  readonly durationMin?: number | null;
  readonly waitingRoom?: boolean;
  readonly joinBeforeHost?: boolean;
  readonly settings?: MeetingSettingsSnapshot | null;
}

interface MeetingRow {
  id: string;
  encryption: Encryption;
  passcode_hash: string | null;
  created_at: number;
  ended_at: number | null;
  owner_user_id: string | null;
  topic: string | null;
  start_at: number | null;
  duration_min: number | null;
  waiting_room: number;
  join_before_host: number;
  settings_json: string | null;
  post_quantum: number;
  sealed: Buffer | null;
}

function toMeeting(row: MeetingRow): Meeting {
  const m: { -readonly [K in keyof Meeting]: Meeting[K] } = {
    id: row.id,
    encryption: row.encryption,
    passcodeRequired: row.passcode_hash !== null,
    postQuantum: row.post_quantum === 1,
    createdAt: row.created_at,
  };
  if (row.ended_at !== null) m.endedAt = row.ended_at;
  return m;
}

function toScheduled(row: MeetingRow, topic: string | null): ScheduledMeeting {
  return {
    ...toMeeting(row),
    ownerUserId: row.owner_user_id,
    topic,
    startAt: row.start_at,
    durationMin: row.duration_min,
    waitingRoom: row.waiting_room === 1,
    joinBeforeHost: row.join_before_host === 1,
    settings: parseSnapshot(row.settings_json),
  };
}

function parseSnapshot(text: string | null): MeetingSettingsSnapshot | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as MeetingSettingsSnapshot;
  } catch {
    return null;
  }
}

export class MeetingStore {
  readonly #db: Database;
  readonly #nextId: () => string;

  /** @internal Created by Database. */
  constructor(db: Database, nextId: () => string) {
    this.#db = db;
    this.#nextId = nextId;
  }

  /**
   * Create a meeting with a fresh unique ID and, by default, a passcode. A topic is sealed under
   * the meeting's new data key (KMS_UNAVAILABLE when the KMS cannot be reached).
   */
  async create(options: CreateMeetingOptions = {}, by: Principal = SERVER_PRINCIPAL): Promise<CreatedMeeting> {
    const encryption = options.encryption ?? "e2ee";
    const postQuantum = options.postQuantum ?? false;
    const passcode = options.passcode === false ? null : generatePasscode();
    const passcodeHash = passcode === null ? null : await hashPasscode(passcode);
    const createdAt = Date.now();
    const insert = this.#db.connection.prepare(
      `INSERT INTO meetings (id, encryption, passcode_hash, created_at, owner_user_id, topic, start_at, duration_min,
         waiting_room, join_before_host, settings_json, sealed, post_quantum)
       VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const taken = this.#db.connection.prepare("SELECT 1 FROM meetings WHERE id = ?");
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const id = this.#nextId();
      if (taken.get(id) !== undefined) continue;
      const topic = options.topic ?? null;
      const sealed = topic === null ? null : await sealJson(this.#db, meetingRef(id), DETAILS_FIELD, { topic }, by);
      try {
        insert.run(
          id,
          encryption,
          passcodeHash,
          createdAt,
          options.ownerUserId ?? null,
          options.startAt ?? null,
          options.durationMin ?? null,
          (options.waitingRoom ?? false) ? 1 : 0,
          (options.joinBeforeHost ?? true) ? 1 : 0,
          options.settings == null ? null : JSON.stringify(options.settings),
          sealed,
          postQuantum ? 1 : 0,
        );
      } catch (e) {
        if (isSqliteError(e, "SQLITE_CONSTRAINT_PRIMARYKEY")) continue;
        throw e;
      }
      return { meeting: { id, encryption, passcodeRequired: passcode !== null, postQuantum, createdAt }, passcode };
    }
    throw new ServerError("INTERNAL", "could not find a free meeting ID");
  }

  /** The meeting with its schedule, owner and (unsealed) topic. */
  async details(id: string, by: Principal = SERVER_PRINCIPAL): Promise<ScheduledMeeting | undefined> {
    if (!isMeetingId(id)) return undefined;
    const row = this.#db.connection.prepare<MeetingRow>("SELECT * FROM meetings WHERE id = ?").get(id);
    return row === undefined ? undefined : this.#unseal(row, by);
  }

  async #unseal(row: MeetingRow, by: Principal): Promise<ScheduledMeeting> {
    // `topic` holds clear text only in rows the migration (storage/seal-migration.ts) has not reached yet.
    if (row.sealed === null) return toScheduled(row, row.topic);
    const details = await openJson(this.#db, meetingRef(row.id), DETAILS_FIELD, row.sealed, by);
    return toScheduled(row, stringOrNull(details.topic));
  }

  /** With schedules, newest first; only one owner's when `ownerUserId` is given. */
  async listDetails(options: { ownerUserId?: string; limit?: number } = {}, by: Principal = SERVER_PRINCIPAL): Promise<ScheduledMeeting[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 10_000));
    const db = this.#db.connection;
    const rows =
      options.ownerUserId === undefined
        ? db.prepare<MeetingRow>("SELECT * FROM meetings ORDER BY created_at DESC, id LIMIT ?").all(limit)
        : db
            .prepare<MeetingRow>("SELECT * FROM meetings WHERE owner_user_id = ? ORDER BY created_at DESC, id LIMIT ?")
            .all(options.ownerUserId, limit);
    return Promise.all(rows.map((r) => this.#unseal(r, by)));
  }

  /** Throws MEETING_NOT_FOUND. Returns the meeting as stored afterwards. */
  async update(id: string, changes: MeetingChanges, by: Principal = SERVER_PRINCIPAL): Promise<ScheduledMeeting> {
    const columns: [string, unknown][] = [];
    if (changes.encryption !== undefined) columns.push(["encryption", changes.encryption]);
    if (changes.topic !== undefined && isMeetingId(id)) {
      const current = await this.details(id, by);
      if (current === undefined) throw new ServerError("MEETING_NOT_FOUND");
      const sealed = changes.topic === null ? null : await sealJson(this.#db, meetingRef(id), DETAILS_FIELD, { topic: changes.topic }, by);
      columns.push(["topic", null], ["sealed", sealed]);
    }
    if (changes.startAt !== undefined) columns.push(["start_at", changes.startAt]);
    if (changes.durationMin !== undefined) columns.push(["duration_min", changes.durationMin]);
    if (changes.waitingRoom !== undefined) columns.push(["waiting_room", changes.waitingRoom ? 1 : 0]);
    if (changes.joinBeforeHost !== undefined) columns.push(["join_before_host", changes.joinBeforeHost ? 1 : 0]);
    if (changes.settings !== undefined) columns.push(["settings_json", changes.settings === null ? null : JSON.stringify(changes.settings)]);
    if (isMeetingId(id) && columns.length > 0) {
      // Column names come from the fixed list above, never from the request.
      this.#db.connection
        .prepare(`UPDATE meetings SET ${columns.map(([c]) => `${c} = ?`).join(", ")} WHERE id = ?`)
        .run(...columns.map(([, v]) => v), id);
    }
    const meeting = await this.details(id, by);
    if (meeting === undefined) throw new ServerError("MEETING_NOT_FOUND");
    return meeting;
  }

  /**
   * Delete the meeting's record; its links stop working. Its data key goes in the same
   * statement (a trigger), so its sealed details and participant log, here and in every
   * backup, can no longer be decrypted (crypto-shredding).
   */
  async delete(id: string, by: Principal = SERVER_PRINCIPAL): Promise<boolean> {
    if (!isMeetingId(id)) return false;
    const deleted = this.#db.connection.prepare("DELETE FROM meetings WHERE id = ?").run(id).changes > 0;
    if (deleted && this.#db.hasKeys) await this.#db.keys.forget(meetingRef(id), by);
    return deleted;
  }

  /** Give the meeting a fresh passcode (the old one stops working); returned once. Throws MEETING_NOT_FOUND. */
  async resetPasscode(id: string): Promise<string> {
    const passcode = generatePasscode();
    const hash = await hashPasscode(passcode);
    const changed = isMeetingId(id)
      ? this.#db.connection.prepare("UPDATE meetings SET passcode_hash = ? WHERE id = ?").run(hash, id).changes
      : 0;
    if (changed === 0) throw new ServerError("MEETING_NOT_FOUND");
    return passcode;
  }

  /** Remove the meeting's passcode: anyone with the ID can ask to join. Throws MEETING_NOT_FOUND. */
  removePasscode(id: string): void {
    const changed = isMeetingId(id)
      ? this.#db.connection.prepare("UPDATE meetings SET passcode_hash = NULL WHERE id = ?").run(id).changes
      : 0;
    if (changed === 0) throw new ServerError("MEETING_NOT_FOUND");
  }

  /** How the meeting admits people; undefined for an unknown meeting. */
  meetingPolicy(meetingId: string): StoredMeetingPolicy | undefined {
    if (!isMeetingId(meetingId)) return undefined;
    // Clear columns only: joining a meeting never needs the KMS.
    const m = this.#db.connection.prepare<MeetingRow>("SELECT * FROM meetings WHERE id = ?").get(meetingId);
    if (m === undefined) return undefined;
    return {
      encryption: m.encryption,
      waitingRoom: m.waiting_room === 1,
      joinBeforeHost: m.join_before_host === 1,
      ownerUserId: m.owner_user_id,
      passcodeRequired: m.passcode_hash !== null,
    };
  }

  get(id: string): Meeting | undefined {
    if (!isMeetingId(id)) return undefined;
    const row = this.#db.connection.prepare<MeetingRow>("SELECT * FROM meetings WHERE id = ?").get(id);
    return row === undefined ? undefined : toMeeting(row);
  }

  /** Newest first. Ended meetings are included unless `active` is set. */
  list(options: { active?: boolean; limit?: number } = {}): Meeting[] {
    const where = options.active ? "WHERE ended_at IS NULL" : "";
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 10_000));
    return this.#db.connection
      .prepare<MeetingRow>(`SELECT * FROM meetings ${where} ORDER BY created_at DESC, id LIMIT ?`)
      .all(limit)
      .map(toMeeting);
  }

  /**
   * Mark a meeting ended (idempotent: the first end time is kept). Throws MEETING_NOT_FOUND.
   * Returns the meeting as stored afterwards.
   */
  markEnded(id: string, at: number = Date.now()): Meeting {
    const db = this.#db.connection;
    if (isMeetingId(id)) db.prepare("UPDATE meetings SET ended_at = ? WHERE id = ? AND ended_at IS NULL").run(at, id);
    const meeting = this.get(id);
    if (meeting === undefined) throw new ServerError("MEETING_NOT_FOUND");
    return meeting;
  }

  /**
   * True if `passcode` opens the meeting: it matches the stored hash, or the meeting has no
   * passcode. False for an unknown meeting. Runs scrypt synchronously (tens of ms); the
   * signaling path should use verifyPasscodeAsync. Does not check whether the meeting ended.
   */
  verifyPasscode(meetingId: string, passcode: string): boolean {
    const hash = this.#passcodeHash(meetingId);
    if (hash === undefined) return false;
    return hash === null ? true : verifyPasscodeHash(passcode, hash);
  }

  /** As verifyPasscode, with scrypt off the event loop. */
  async verifyPasscodeAsync(meetingId: string, passcode: string): Promise<boolean> {
    const hash = this.#passcodeHash(meetingId);
    if (hash === undefined) return false;
    return hash === null ? true : verifyPasscodeHashAsync(passcode, hash);
  }

  /** undefined: no such meeting; null: no passcode. */
  #passcodeHash(meetingId: string): string | null | undefined {
    if (!isMeetingId(meetingId)) return undefined;
    const row = this.#db.connection
      .prepare<{ passcode_hash: string | null }>("SELECT passcode_hash FROM meetings WHERE id = ?")
      .get(meetingId);
    return row === undefined ? undefined : row.passcode_hash;
  }
}
