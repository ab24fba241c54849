/**
 * Files shared in meetings, as the server holds them: ciphertext only (docs/protocol.md §6.4).
 *
 * A participant's app encrypts a file with a fresh key (@conclave/protocol files/file-crypto.ts)
 * and uploads the ciphertext; the key travels to the other members inside an MLS message the
 * server cannot read. So this store never sees a key or a plaintext byte, and cannot tell what a
 * file is beyond its size.
 *
 * Access: every participant let into a live meeting gets a random token for it (in `joined`),
 * valid while its connection lasts; the file routes accept only a token of that meeting.
 * Lifetime: a meeting's files are deleted when the meeting ends (the host ends it, or everyone
 * has left), when the server stops, and — for anything a crash left behind — when it starts.
 * Limits: a size per file, a total per meeting, and a number of uploads per participant per minute.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { ServerError } from "../errors.js";
import { RateLimiter } from "../http/rate-limit.js";

export interface MeetingFilesLimits {
  /** Largest ciphertext accepted per file, in bytes (default 100 MiB). */
  maxFileBytes?: number;
  /** Most ciphertext bytes stored per meeting (default 1 GiB). */
  maxMeetingBytes?: number;
  /** Uploads per participant per minute (default 30). */
  uploadsPerMinute?: number;
}

export const DEFAULT_FILE_LIMITS: Required<MeetingFilesLimits> = {
  maxFileBytes: 100 * 1024 * 1024,
  maxMeetingBytes: 1024 * 1024 * 1024,
  uploadsPerMinute: 30,
};

const FILE_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

interface StoredFile {
  size: number;
  path: string;
  uploader: string;
}

interface MeetingSpace {
  files: Map<string, StoredFile>;
  /** Bytes stored, plus bytes of uploads in progress (reserved up front). */
  bytes: number;
  dir: string;
}

export class MeetingFiles {
  readonly #root: string;
  readonly #limits: Required<MeetingFilesLimits>;
  /** SHA-256(token) -> who holds it. Only hashes are kept, like session ids. */
  readonly #grants = new Map<string, { meetingId: string; memberId: string }>();
  /** meetingId -> memberId -> token hash (so a member's token can be revoked and reissued). */
  readonly #byMember = new Map<string, Map<string, string>>();
  readonly #spaces = new Map<string, MeetingSpace>();
  readonly #uploads: RateLimiter;
  /** Whether file sharing is on in a meeting (its effective settings); default off. */
  #enabled: (meetingId: string) => boolean = () => false;
  #closed = false;

  private constructor(root: string, limits: MeetingFilesLimits) {
    this.#root = root;
    this.#limits = { ...DEFAULT_FILE_LIMITS, ...limits };
    this.#uploads = new RateLimiter({ limit: this.#limits.uploadsPerMinute, windowMs: 60_000 });
  }

  /** Opens the store in `root`, deleting whatever an earlier run left there. */
  static async open(root: string, limits: MeetingFilesLimits = {}): Promise<MeetingFiles> {
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true, mode: 0o700 });
    return new MeetingFiles(root, limits);
  }

  get limits(): Readonly<Required<MeetingFilesLimits>> {
    return this.#limits;
  }

  /** Decides, per meeting, whether uploads are accepted (its fileSharing setting). */
  setPolicy(enabled: (meetingId: string) => boolean): void {
    this.#enabled = enabled;
  }

  /** A participant let into `meetingId` gets a token (a new one replaces any earlier one). */
  grant(meetingId: string, memberId: string): string {
    this.revoke(meetingId, memberId);
    const token = randomBytes(32).toString("base64url");
    const hash = hashToken(token);
    this.#grants.set(hash, { meetingId, memberId });
    let members = this.#byMember.get(meetingId);
    if (!members) this.#byMember.set(meetingId, (members = new Map()));
    members.set(memberId, hash);
    return token;
  }

  /** The participant left the meeting: its token stops working (idempotent). */
  revoke(meetingId: string, memberId: string): void {
    const hash = this.#byMember.get(meetingId)?.get(memberId);
    if (hash === undefined) return;
    this.#grants.delete(hash);
    this.#byMember.get(meetingId)!.delete(memberId);
  }

  /** Who holds `token` in `meetingId`; FILE_TOKEN_INVALID for a missing, unknown or other meeting's token. */
  authorize(meetingId: string, token: string | undefined): string {
    if (typeof token !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw new ServerError("FILE_TOKEN_INVALID");
    const grant = this.#grants.get(hashToken(token));
    if (!grant || grant.meetingId !== meetingId) throw new ServerError("FILE_TOKEN_INVALID");
    return grant.memberId;
  }

  /**
   * Stores an upload of `length` bytes (its Content-Length) for `memberId`. The size is checked
   * against the limits before a byte is read, and again while reading; a body that is shorter or
   * longer than announced is refused and nothing of it kept.
   */
  async store(meetingId: string, memberId: string, body: Readable, length: number): Promise<{ fileId: string; size: number }> {
    if (this.#closed) throw new ServerError("SERVER_CLOSED");
    if (!this.#enabled(meetingId)) throw new ServerError("FEATURE_DISABLED", "fileSharing is off in this meeting");
    if (!Number.isSafeInteger(length) || length < 0) throw new ServerError("LENGTH_REQUIRED");
    if (length > this.#limits.maxFileBytes) throw new ServerError("FILE_TOO_LARGE", `at most ${this.#limits.maxFileBytes} bytes`);
    const limiterKey = `${meetingId}/${memberId}`;
    if (this.#uploads.isLimited(limiterKey)) throw new ServerError("RATE_LIMITED", "file uploads");
    this.#uploads.record(limiterKey);
    const space = await this.#space(meetingId);
    if (space.bytes + length > this.#limits.maxMeetingBytes) throw new ServerError("FILE_QUOTA_EXCEEDED");
    space.bytes += length;
    const fileId = randomBytes(16).toString("base64url");
    const path = join(space.dir, fileId);
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        if (received > length) done(new ServerError("BAD_REQUEST", "the body is longer than its Content-Length"));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(path, { mode: 0o600, flags: "wx" }));
      if (received !== length) throw new ServerError("BAD_REQUEST", "the body is shorter than its Content-Length");
    } catch (e) {
      space.bytes -= length;
      await unlink(path).catch(() => {});
      throw e instanceof ServerError ? e : new ServerError("BAD_REQUEST", "the upload was cut off");
    }
    if (this.#spaces.get(meetingId) !== space) {
      // The meeting ended while the file was arriving: it goes with the rest.
      await unlink(path).catch(() => {});
      throw new ServerError("MEETING_ENDED");
    }
    space.files.set(fileId, { size: length, path, uploader: memberId });
    return { fileId, size: length };
  }

  /** A stored file of `meetingId`, to stream to a participant. */
  async open(meetingId: string, fileId: string): Promise<{ size: number; stream: Readable }> {
    const file = FILE_ID_PATTERN.test(fileId) ? this.#spaces.get(meetingId)?.files.get(fileId) : undefined;
    if (!file) throw new ServerError("FILE_NOT_FOUND");
    const s = await stat(file.path).catch(() => null);
    if (s === null || s.size !== file.size) throw new ServerError("FILE_NOT_FOUND");
    return { size: file.size, stream: createReadStream(file.path) };
  }

  /** The meeting ended: its files are deleted and every token of it stops working. */
  async endMeeting(meetingId: string): Promise<void> {
    for (const memberId of [...(this.#byMember.get(meetingId)?.keys() ?? [])]) this.revoke(meetingId, memberId);
    this.#byMember.delete(meetingId);
    const space = this.#spaces.get(meetingId);
    this.#spaces.delete(meetingId);
    if (space) await rm(space.dir, { recursive: true, force: true });
  }

  /** Bytes stored for a meeting (for tests and metrics). */
  storedBytes(meetingId: string): number {
    const space = this.#spaces.get(meetingId);
    let n = 0;
    for (const f of space?.files.values() ?? []) n += f.size;
    return n;
  }

  /** Deletes everything (server shutdown). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#grants.clear();
    this.#byMember.clear();
    this.#spaces.clear();
    await rm(this.#root, { recursive: true, force: true });
  }

  async #space(meetingId: string): Promise<MeetingSpace> {
    if (!/^[0-9]{1,32}$/.test(meetingId)) throw new ServerError("MEETING_NOT_FOUND");
    let space = this.#spaces.get(meetingId);
    if (space) return space;
    const dir = join(this.#root, meetingId);
    space = { files: new Map(), bytes: 0, dir };
    this.#spaces.set(meetingId, space);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return space;
  }
}

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("base64url");
}
