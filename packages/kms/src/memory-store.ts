/**
 * A KeyStore in memory: for tests and benchmarks. The server keeps its data keys in SQLite.
 */
import type { KeyStore, StoredDataKey } from "./manager.js";
import { describeRef, type ObjectRef } from "./object-ref.js";
import type { WrappedKey } from "./backend.js";

export class MemoryKeyStore implements KeyStore {
  readonly #rows = new Map<string, StoredDataKey>();

  get(object: ObjectRef): StoredDataKey | undefined {
    return this.#rows.get(describeRef(object));
  }

  insert(record: StoredDataKey): boolean {
    const name = describeRef(record.object);
    if (this.#rows.has(name)) return false;
    this.#rows.set(name, record);
    return true;
  }

  rewrap(object: ObjectRef, dataKeyId: string, expectedMasterKeyId: string, wrapped: WrappedKey): boolean {
    const name = describeRef(object);
    const row = this.#rows.get(name);
    if (row === undefined || row.dataKeyId !== dataKeyId || row.wrapped.masterKeyId !== expectedMasterKeyId) return false;
    this.#rows.set(name, { ...row, wrapped });
    return true;
  }

  delete(object: ObjectRef): boolean {
    return this.#rows.delete(describeRef(object));
  }

  listNotWrappedBy(masterKeyId: string, limit: number): StoredDataKey[] {
    return [...this.#rows.values()].filter((r) => r.wrapped.masterKeyId !== masterKeyId).slice(0, limit);
  }

  sample(limit: number): StoredDataKey[] {
    const all = [...this.#rows.values()];
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, limit);
  }

  countByMasterKey(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#rows.values()) out[r.wrapped.masterKeyId] = (out[r.wrapped.masterKeyId] ?? 0) + 1;
    return out;
  }

  /** Test seam: the stored record, to tamper with. */
  replace(record: StoredDataKey): void {
    this.#rows.set(describeRef(record.object), record);
  }

  get size(): number {
    return this.#rows.size;
  }
}
