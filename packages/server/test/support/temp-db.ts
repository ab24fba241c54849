/**
 * A database file in a fresh temporary folder, with a local master key file there (so stores
 * can seal confidential fields); every opened handle is closed and the folder removed after the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { LocalKeyFileBackend } from "@conclave/kms";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database, type DatabaseOptions } from "../../src/storage/database.js";

export function tempDb(t: { after(fn: () => void): void }): { file: string; open(options?: DatabaseOptions): Database } {
  const dir = mkdtempSync(join(tmpdir(), "conclave-db-"));
  const opened: Database[] = [];
  t.after(() => {
    for (const db of opened) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, "conclave.db");
  return {
    file,
    open: (options = {}) => {
      const db = Database.open(file, { kms: { backend: LocalKeyFileBackend.openSync({ file: join(dir, "kms", "master-keys.json") }) }, ...options });
      opened.push(db);
      return db;
    },
  };
}
