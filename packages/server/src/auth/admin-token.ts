/**
 * The admin API token: 256 bits from the CSPRNG, created on first start and kept in the data
 * directory (mode 0600) so it survives restarts. Held in an opaque object that never prints
 * itself; compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { inspect } from "node:util";
import { ServerError } from "../errors.js";

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url without padding

export class AdminToken {
  readonly #value: string;
  readonly #digest: Buffer;

  private constructor(value: string) {
    this.#value = value;
    this.#digest = sha256(value);
  }

  /** Read the token file, or create it (exclusively, mode 0600) if it does not exist. */
  static async loadOrCreate(file: string): Promise<AdminToken> {
    const fresh = randomBytes(32).toString("base64url");
    try {
      // "wx": fail if the file exists, so two starts never overwrite each other's token.
      await writeFile(file, `${fresh}\n`, { mode: 0o600, flag: "wx" });
      return new AdminToken(fresh);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new ServerError("DATA_DIR_FAILED", `cannot create the admin token file ${file}`, { cause: e });
      }
    }
    let text: string;
    try {
      // Tighten permissions an operator may have loosened (e.g. by copying the data directory).
      if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new ServerError("DATA_DIR_FAILED", `cannot read the admin token file ${file}`, { cause: e });
    }
    const value = text.trim();
    if (!TOKEN_PATTERN.test(value)) {
      throw new ServerError(
        "DATA_DIR_FAILED",
        `the admin token file ${file} is damaged; delete it to create a new token`,
      );
    }
    return new AdminToken(value);
  }

  /**
   * Check an `Authorization` header value ("Bearer <token>"). Both sides are hashed first so
   * the comparison takes the same time whatever the candidate's length.
   */
  verifyAuthorization(header: string | undefined): boolean {
    if (header === undefined) return false;
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) return false;
    return timingSafeEqual(sha256(match[1]!), this.#digest);
  }

  /** The token itself, for the one place that shows it: the operator's console at start. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return "[AdminToken]";
  }

  toJSON(): string {
    return "[AdminToken]";
  }

  [inspect.custom](): string {
    return "[AdminToken]";
  }
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}
