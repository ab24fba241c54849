/**
 * The audit log as a file: one JSON object per line (AuditEntry), appended, mode 0600. It says
 * which object's data key was unwrapped, by whom and when; it never holds a key.
 */
import { mkdirSync, openSync, writeSync, closeSync, fchmodSync } from "node:fs";
import { dirname } from "node:path";
import type { AuditEntry, AuditSink } from "./manager.js";

export class FileAuditLog implements AuditSink {
  readonly path: string;
  #fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#fd = openSync(path, "a", 0o600);
    fchmodSync(this.#fd, 0o600);
  }

  /** One line per entry, written synchronously so that lines from concurrent calls never interleave. */
  append(entry: AuditEntry): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, JSON.stringify(entry) + "\n");
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** Keeps entries in memory (tests, the CLI's reports). */
export class MemoryAuditLog implements AuditSink {
  readonly entries: AuditEntry[] = [];
  append(entry: AuditEntry): void {
    this.entries.push(entry);
  }
}
