/**
 * Meetings as stored: ID, encryption type, passcode hash and lifetime. The live meeting (its
 * members, MLS delivery, media) belongs to the meetings module; this is its durable record.
 */
import { randomInt } from "node:crypto";
import { generatePasscode, hashPasscode, verifyPasscodeHash, verifyPasscodeHashAsync } from "../auth/passcode.js";
import { ServerError } from "../errors.js";
import type { Database } from "./database.js";
import { isSqliteError } from "./sqlite.js";

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
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  readonly endedAt?: number;
}

export interface CreatedMeeting {
  readonly meeting: Meeting;
  /** The passcode in clear, returned once to the creator and never stored; null if none. */
  readonly passcode: string | null;
}

interface MeetingRow {
  id: string;
  encryption: Encryption;
  passcode_hash: string | null;
  created_at: number;
  ended_at: number | null;
}

function toMeeting(row: MeetingRow): Meeting {
  const m: { -readonly [K in keyof Meeting]: Meeting[K] } = {
    id: row.id,
    encryption: row.encryption,
    passcodeRequired: row.passcode_hash !== null,
    createdAt: row.created_at,
  };
  if (row.ended_at !== null) m.endedAt = row.ended_at;
  return m;
}

export class MeetingStore {
  readonly #db: Database;
  readonly #nextId: () => string;

  /** @internal Created by Database. */
  constructor(db: Database, nextId: () => string) {
    this.#db = db;
    this.#nextId = nextId;
  }

  /** Create a meeting with a fresh unique ID and, by default, a passcode. */
  async create(options: { encryption?: Encryption; passcode?: boolean } = {}): Promise<CreatedMeeting> {
    const encryption = options.encryption ?? "e2ee";
    const passcode = options.passcode === false ? null : generatePasscode();
    const passcodeHash = passcode === null ? null : await hashPasscode(passcode);
    const createdAt = Date.now();
    const insert = this.#db.connection.prepare(
      "INSERT INTO meetings (id, encryption, passcode_hash, created_at) VALUES (?, ?, ?, ?)",
    );
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const id = this.#nextId();
      try {
        insert.run(id, encryption, passcodeHash, createdAt);
      } catch (e) {
        if (isSqliteError(e, "SQLITE_CONSTRAINT_PRIMARYKEY")) continue;
        throw e;
      }
      return { meeting: { id, encryption, passcodeRequired: passcode !== null, createdAt }, passcode };
    }
    throw new ServerError("INTERNAL", "could not find a free meeting ID");
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
