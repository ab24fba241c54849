/**
 * The key manager: one data key per protected object, stored only wrapped by the back end's
 * master key (in a KeyStore the application provides, e.g. an SQLite table), unwrapped on
 * demand and cached in memory for a bounded time. It is the only way the application gets a
 * data key, so it is where every unwrap is counted (metrics) and recorded (audit log), where
 * objects are crypto-shredded and where rotation rewraps every data key.
 */
import { DataKey, keyBytes } from "./data-key.js";
import { KmsError, isKmsError } from "./errors.js";
import { checkObjectRef, describeRef, wrapAad, type ObjectRef } from "./object-ref.js";
import type { BackendKind, BackendStatus, MasterKeyBackend, WrappedKey } from "./backend.js";

/** How long an unwrapped data key stays in memory after its last use. */
export const DEFAULT_CACHE_TTL_MS = 5 * 60 * 1000;
/** At most this many unwrapped data keys in memory; the least recently used go first. */
export const DEFAULT_CACHE_MAX_KEYS = 10_000;

/** A data key as stored: wrapped, with the object it belongs to. */
export interface StoredDataKey {
  readonly object: ObjectRef;
  readonly dataKeyId: string;
  readonly wrapped: WrappedKey;
  readonly createdAt: number;
}

/**
 * Where wrapped data keys live (the server: a table of its database). Methods may be
 * synchronous or return promises.
 */
export interface KeyStore {
  get(object: ObjectRef): StoredDataKey | undefined | Promise<StoredDataKey | undefined>;
  /** Insert unless the object already has a key; false if it had one. */
  insert(record: StoredDataKey): boolean | Promise<boolean>;
  /** Replace the wrapped form of a data key (rotation) if it is still `expectedMasterKeyId`'s. */
  rewrap(object: ObjectRef, dataKeyId: string, expectedMasterKeyId: string, wrapped: WrappedKey): boolean | Promise<boolean>;
  /** Delete the object's data key (crypto-shredding). True if there was one. */
  delete(object: ObjectRef): boolean | Promise<boolean>;
  /** Up to `limit` keys not wrapped by `masterKeyId`, for rotation. */
  listNotWrappedBy(masterKeyId: string, limit: number): readonly StoredDataKey[] | Promise<readonly StoredDataKey[]>;
  /** Up to `limit` keys chosen at random, for verification. */
  sample(limit: number): readonly StoredDataKey[] | Promise<readonly StoredDataKey[]>;
  /** How many data keys, by master key id. */
  countByMasterKey(): Record<string, number> | Promise<Record<string, number>>;
}

export type AuditAction = "wrap" | "unwrap" | "shred" | "rotate" | "rewrap";

/** One line of the audit log. Never a key, wrapped or not. */
export interface AuditEntry {
  /** ISO 8601. */
  readonly time: string;
  readonly action: AuditAction;
  /** "meeting/12345678901"; absent for rotate. */
  readonly object?: string;
  readonly dataKeyId?: string;
  /** Who asked: "user:<id>", "admin-token", "system:migration", "cli", … */
  readonly principal: string;
  readonly backend: BackendKind;
  readonly masterKeyId?: string;
  /** "ok" or the error code. */
  readonly outcome: string;
}

export interface AuditSink {
  append(entry: AuditEntry): void | Promise<void>;
}

/** Counters the application maps to its metrics registry (prom-client in the server). */
export interface KmsMetrics {
  /** Every call to the back end's unwrap, with its outcome ("ok" or an error code). */
  unwrap?(backend: BackendKind, outcome: string): void;
  wrap?(backend: BackendKind, outcome: string): void;
  /** A data key served from the in-memory cache (no unwrap). */
  cacheHit?(): void;
  /** Seconds a back-end call took. */
  backendLatency?(backend: BackendKind, operation: "wrap" | "unwrap", seconds: number): void;
  shred?(): void;
}

/** The log calls the key manager makes (the server passes its pino logger). Never given secrets. */
export interface KmsLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface KeyManagerOptions {
  readonly backend: MasterKeyBackend;
  readonly store: KeyStore;
  readonly audit?: AuditSink;
  readonly metrics?: KmsMetrics;
  readonly logger?: KmsLogger;
  /** Default DEFAULT_CACHE_TTL_MS; 0 disables the cache. */
  readonly cacheTtlMs?: number;
  readonly cacheMaxKeys?: number;
  /** Default Date.now. */
  readonly now?: () => number;
}

export interface RotationReport {
  readonly previousMasterKeyId: string;
  readonly currentMasterKeyId: string;
  readonly rewrapped: number;
  readonly failed: readonly { object: string; code: string }[];
}

export interface VerifyReport {
  readonly checked: number;
  readonly ok: number;
  readonly failed: readonly { object: string; code: string }[];
}

export interface KeyManagerStatus {
  readonly backend: BackendStatus;
  readonly dataKeys: Record<string, number>;
  readonly cachedKeys: number;
  readonly cacheTtlMs: number;
}

interface CacheEntry {
  readonly key: DataKey;
  expiresAt: number;
}

export class KeyManager {
  readonly #backend: MasterKeyBackend;
  readonly #store: KeyStore;
  readonly #audit: AuditSink | undefined;
  readonly #metrics: KmsMetrics;
  readonly #logger: KmsLogger | undefined;
  readonly #ttl: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** By "kind/id"; Map order is least recently used first. */
  readonly #cache = new Map<string, CacheEntry>();
  /** Concurrent requests for the same object share one unwrap. */
  readonly #inflight = new Map<string, Promise<DataKey>>();
  readonly #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: KeyManagerOptions) {
    this.#backend = options.backend;
    this.#store = options.store;
    this.#audit = options.audit;
    this.#metrics = options.metrics ?? {};
    this.#logger = options.logger;
    this.#ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.#maxKeys = options.cacheMaxKeys ?? DEFAULT_CACHE_MAX_KEYS;
    this.#now = options.now ?? Date.now;
    if (this.#ttl > 0) {
      // Expired keys are wiped even when nobody asks for them again.
      this.#sweeper = setInterval(() => this.#sweep(), Math.max(1000, Math.min(this.#ttl, 60_000)));
      this.#sweeper.unref();
    }
  }

  get backendKind(): BackendKind {
    return this.#backend.kind;
  }

  get cacheTtlMs(): number {
    return this.#ttl;
  }

  /** The object's data key, creating (and wrapping) one on first use. */
  async keyFor(object: ObjectRef, principal: string): Promise<DataKey> {
    return this.#withKey(object, principal, true);
  }

  /** The object's existing data key; KMS_KEY_SHREDDED when it has none (deleted or never written). */
  async existingKey(object: ObjectRef, principal: string): Promise<DataKey> {
    return this.#withKey(object, principal, false);
  }

  /** The data key id the object has, without unwrapping; undefined if none. */
  async dataKeyIdOf(object: ObjectRef): Promise<string | undefined> {
    this.#checkOpen();
    return (await this.#store.get(object))?.dataKeyId;
  }

  async #withKey(object: ObjectRef, principal: string, create: boolean): Promise<DataKey> {
    this.#checkOpen();
    checkObjectRef(object);
    const name = describeRef(object);
    const cached = this.#cache.get(name);
    if (cached !== undefined && cached.expiresAt > this.#now() && !cached.key.destroyed) {
      this.#cache.delete(name);
      cached.expiresAt = this.#now() + this.#ttl;
      this.#cache.set(name, cached);
      this.#metrics.cacheHit?.();
      return cached.key;
    }
    const pending = this.#inflight.get(name);
    if (pending !== undefined) return pending;
    const p = this.#load(object, principal, create).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  async #load(object: ObjectRef, principal: string, create: boolean): Promise<DataKey> {
    let stored = await this.#store.get(object);
    if (stored === undefined && create) {
      const fresh = DataKey.generate(object);
      const wrapped = await this.#wrapTimed(fresh, principal);
      if (await this.#store.insert({ object, dataKeyId: fresh.id, wrapped, createdAt: this.#now() })) {
        this.#remember(fresh);
        return fresh;
      }
      fresh.destroy();
      stored = await this.#store.get(object); // another writer won the race
    }
    if (stored === undefined) throw new KmsError("KMS_KEY_SHREDDED", describeRef(object));
    const key = await this.#unwrapStored(stored, principal);
    this.#remember(key);
    return key;
  }

  async #wrapTimed(key: DataKey, principal: string): Promise<WrappedKey> {
    const started = performance.now();
    try {
      const wrapped = await this.#backend.wrap(keyBytes(key), wrapAad(key.object, key.id));
      this.#metrics.wrap?.(this.#backend.kind, "ok");
      await this.#record({ action: "wrap", object: describeRef(key.object), dataKeyId: key.id, principal, masterKeyId: wrapped.masterKeyId, outcome: "ok" });
      return wrapped;
    } catch (e) {
      const code = errorCode(e);
      this.#metrics.wrap?.(this.#backend.kind, code);
      await this.#record({ action: "wrap", object: describeRef(key.object), dataKeyId: key.id, principal, outcome: code });
      throw asKmsError(e);
    } finally {
      this.#metrics.backendLatency?.(this.#backend.kind, "wrap", (performance.now() - started) / 1000);
    }
  }

  async #unwrapStored(stored: StoredDataKey, principal: string, action: AuditAction = "unwrap"): Promise<DataKey> {
    const started = performance.now();
    const object = describeRef(stored.object);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#backend.unwrap(stored.wrapped, wrapAad(stored.object, stored.dataKeyId));
      const key = DataKey.fromBytes(stored.dataKeyId, stored.object, bytes);
      this.#metrics.unwrap?.(this.#backend.kind, "ok");
      await this.#record({ action, object, dataKeyId: stored.dataKeyId, principal, masterKeyId: stored.wrapped.masterKeyId, outcome: "ok" });
      return key;
    } catch (e) {
      const code = errorCode(e);
      this.#metrics.unwrap?.(this.#backend.kind, code);
      await this.#record({ action, object, dataKeyId: stored.dataKeyId, principal, masterKeyId: stored.wrapped.masterKeyId, outcome: code });
      throw asKmsError(e);
    } finally {
      bytes?.fill(0);
      this.#metrics.backendLatency?.(this.#backend.kind, "unwrap", (performance.now() - started) / 1000);
    }
  }

  #remember(key: DataKey): void {
    if (this.#ttl <= 0) return;
    const name = describeRef(key.object);
    const old = this.#cache.get(name);
    if (old !== undefined && old.key !== key) old.key.destroy();
    this.#cache.delete(name);
    this.#cache.set(name, { key, expiresAt: this.#now() + this.#ttl });
    while (this.#cache.size > this.#maxKeys) {
      const [oldest, entry] = this.#cache.entries().next().value as [string, CacheEntry];
      this.#cache.delete(oldest);
      entry.key.destroy();
    }
  }

  #sweep(): void {
    const now = this.#now();
    for (const [name, entry] of this.#cache) {
      if (entry.expiresAt <= now) {
        this.#cache.delete(name);
        entry.key.destroy();
      }
    }
  }

  /** Forget every cached data key (e.g. after rotation, or to test the unwrap path). */
  clearCache(): void {
    for (const entry of this.#cache.values()) entry.key.destroy();
    this.#cache.clear();
  }

  /**
   * Crypto-shredding: destroy the object's data key (store and cache). Its ciphertext, here and
   * in every backup, can no longer be decrypted. True if it had a key.
   */
  async shred(object: ObjectRef, principal: string): Promise<boolean> {
    this.#checkOpen();
    checkObjectRef(object);
    const name = describeRef(object);
    const cached = this.#cache.get(name);
    this.#cache.delete(name);
    cached?.key.destroy();
    const existed = await this.#store.delete(object);
    if (existed) {
      this.#metrics.shred?.();
      await this.#record({ action: "shred", object: name, principal, outcome: "ok" });
    }
    return existed;
  }

  /**
   * The object's data key was deleted together with the object (by the application's store, in
   * the same transaction): wipe any cached copy and record the shred.
   */
  async forget(object: ObjectRef, principal: string): Promise<void> {
    this.#checkOpen();
    checkObjectRef(object);
    const name = describeRef(object);
    const cached = this.#cache.get(name);
    this.#cache.delete(name);
    cached?.key.destroy();
    this.#metrics.shred?.();
    await this.#record({ action: "shred", object: name, principal, outcome: "ok" });
  }

  /**
   * Make a new master key current and rewrap every data key under it (content is not
   * re-encrypted). Resumable: run again after a failure, it rewraps what is left.
   */
  async rotate(principal: string, options: { newMasterKey?: boolean } = {}): Promise<RotationReport> {
    this.#checkOpen();
    const before = (await this.#backend.status()).currentMasterKeyId;
    const current = options.newMasterKey === false ? before : await this.#backend.rotate();
    await this.#record({ action: "rotate", principal, masterKeyId: current, outcome: "ok" });
    this.#logger?.info({ previousMasterKeyId: before, currentMasterKeyId: current }, "kms: master key rotated; rewrapping data keys");
    let rewrapped = 0;
    const failed: { object: string; code: string }[] = [];
    const skip = new Set<string>();
    for (;;) {
      const batch = (await this.#store.listNotWrappedBy(current, 200 + skip.size)).filter((r) => !skip.has(describeRef(r.object)));
      if (batch.length === 0) break;
      for (const record of batch) {
        const name = describeRef(record.object);
        try {
          const key = await this.#unwrapStored(record, principal, "rewrap");
          try {
            const wrapped = await this.#backend.wrap(keyBytes(key), wrapAad(record.object, record.dataKeyId));
            if (await this.#store.rewrap(record.object, record.dataKeyId, record.wrapped.masterKeyId, wrapped)) rewrapped++;
          } finally {
            key.destroy();
          }
        } catch (e) {
          if (isKmsError(e, "KMS_UNAVAILABLE")) throw e;
          failed.push({ object: name, code: errorCode(e) });
          skip.add(name);
        }
      }
    }
    return { previousMasterKeyId: before, currentMasterKeyId: current, rewrapped, failed };
  }

  /** Unwrap up to `sample` data keys chosen at random and report which fail. */
  async verify(principal: string, sample = 100): Promise<VerifyReport> {
    this.#checkOpen();
    const records = await this.#store.sample(sample);
    let ok = 0;
    const failed: { object: string; code: string }[] = [];
    for (const r of records) {
      try {
        (await this.#unwrapStored(r, principal)).destroy();
        ok++;
      } catch (e) {
        if (isKmsError(e, "KMS_UNAVAILABLE")) throw e;
        failed.push({ object: describeRef(r.object), code: errorCode(e) });
      }
    }
    return { checked: records.length, ok, failed };
  }

  async status(): Promise<KeyManagerStatus> {
    this.#checkOpen();
    return {
      backend: await this.#backend.status(),
      dataKeys: await this.#store.countByMasterKey(),
      cachedKeys: this.#cache.size,
      cacheTtlMs: this.#ttl,
    };
  }

  async #record(entry: Omit<AuditEntry, "time" | "backend">): Promise<void> {
    if (this.#audit === undefined) return;
    try {
      await this.#audit.append({ time: new Date(this.#now()).toISOString(), backend: this.#backend.kind, ...entry });
    } catch (e) {
      // An audit log that cannot be written must not go unnoticed, but it does not undo the operation.
      this.#logger?.warn({ err: e instanceof Error ? e.message : String(e) }, "kms: could not write the audit log");
    }
  }

  /** Wipes the cache and closes the back end. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.clearCache();
    await this.#backend.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new KmsError("KMS_CLOSED");
  }
}

function errorCode(e: unknown): string {
  return isKmsError(e) ? e.code : "KMS_UNAVAILABLE";
}

/** Back ends throw KmsError; anything else (a socket error, a native crash) means unreachable. */
function asKmsError(e: unknown): KmsError {
  return isKmsError(e) ? e : new KmsError("KMS_UNAVAILABLE", e instanceof Error ? e.message : undefined, { cause: e });
}
