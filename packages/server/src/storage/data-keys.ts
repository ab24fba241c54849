/**
 * The data keys of protected objects, as the KMS key manager stores them: wrapped by a master
 * key, never in clear. Rows are deleted with their objects by triggers (migration 5), so a
 * deleted meeting or invitation loses its key in the same statement (crypto-shredding).
 */
import type { KeyStore, ObjectRef, StoredDataKey, WrappedKey } from "@conclave/kms";
import type { SqliteConnection } from "./sqlite.js";

interface DataKeyRow {
  object_kind: string;
  object_id: string;
  data_key_id: string;
  master_key_id: string;
  wrapped: Buffer;
  created_at: number;
}

function toStored(row: DataKeyRow): StoredDataKey {
  return {
    object: { kind: row.object_kind, id: row.object_id },
    dataKeyId: row.data_key_id,
    wrapped: { masterKeyId: row.master_key_id, blob: row.wrapped },
    createdAt: row.created_at,
  };
}

export class SqliteKeyStore implements KeyStore {
  readonly #db: () => SqliteConnection;

  /** `db` returns the open connection (it throws SERVER_CLOSED once the database is closed). */
  constructor(db: () => SqliteConnection) {
    this.#db = db;
  }

  get(object: ObjectRef): StoredDataKey | undefined {
    const row = this.#db()
      .prepare<DataKeyRow>("SELECT * FROM data_keys WHERE object_kind = ? AND object_id = ?")
      .get(object.kind, object.id);
    return row === undefined ? undefined : toStored(row);
  }

  insert(record: StoredDataKey): boolean {
    return (
      this.#db()
        .prepare(
          `INSERT INTO data_keys (object_kind, object_id, data_key_id, master_key_id, wrapped, created_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(record.object.kind, record.object.id, record.dataKeyId, record.wrapped.masterKeyId, Buffer.from(record.wrapped.blob), record.createdAt)
        .changes > 0
    );
  }

  rewrap(object: ObjectRef, dataKeyId: string, expectedMasterKeyId: string, wrapped: WrappedKey): boolean {
    return (
      this.#db()
        .prepare(
          `UPDATE data_keys SET master_key_id = ?, wrapped = ?
           WHERE object_kind = ? AND object_id = ? AND data_key_id = ? AND master_key_id = ?`,
        )
        .run(wrapped.masterKeyId, Buffer.from(wrapped.blob), object.kind, object.id, dataKeyId, expectedMasterKeyId).changes > 0
    );
  }

  delete(object: ObjectRef): boolean {
    return this.#db().prepare("DELETE FROM data_keys WHERE object_kind = ? AND object_id = ?").run(object.kind, object.id).changes > 0;
  }

  listNotWrappedBy(masterKeyId: string, limit: number): StoredDataKey[] {
    return this.#db()
      .prepare<DataKeyRow>("SELECT * FROM data_keys WHERE master_key_id <> ? ORDER BY object_kind, object_id LIMIT ?")
      .all(masterKeyId, limit)
      .map(toStored);
  }

  sample(limit: number): StoredDataKey[] {
    return this.#db().prepare<DataKeyRow>("SELECT * FROM data_keys ORDER BY random() LIMIT ?").all(limit).map(toStored);
  }

  countByMasterKey(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#db().prepare<{ m: string; n: number }>("SELECT master_key_id AS m, count(*) AS n FROM data_keys GROUP BY master_key_id").all()) {
      out[r.m] = r.n;
    }
    return out;
  }
}
