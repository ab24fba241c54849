/**
 * The server's key management at run time: opens the configured back end, builds the key
 * manager's metrics (prom-client, through observability/metrics.ts), log and audit sinks, and
 * maps KMS errors to the server's error codes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_CACHE_TTL_MS,
  FileAuditLog,
  KmipBackend,
  KmsError,
  LocalKeyFileBackend,
  Pkcs11Backend,
  isKmsError,
  type KeyManagerOptions,
  type KmsLogger,
  type KmsMetrics,
  type MasterKeyBackend,
} from "@conclave/kms";
import { ServerError } from "../errors.js";
import { Database } from "../storage/database.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { defaultKeyFile, type KmsConfig } from "./config.js";

/** The key manager settings a Database needs, apart from its own key store. */
export type KeyManagement = Omit<KeyManagerOptions, "store">;

/** Where the audit log of data key use is written (JSON lines, 0600). */
export function auditLogPath(dataDir: string): string {
  return join(dataDir, "audit", "kms-audit.log");
}

/** The local back end with its defaults, for a data directory without KMS configuration. */
export function defaultKmsConfig(dataDir: string): KmsConfig {
  return { backend: "local", keyFile: defaultKeyFile(dataDir), cacheTtlMs: DEFAULT_CACHE_TTL_MS };
}

export async function openBackend(config: KmsConfig, dataDir: string): Promise<MasterKeyBackend> {
  switch (config.backend) {
    case "local":
      return LocalKeyFileBackend.open({ file: config.keyFile });
    case "pkcs11":
      return Pkcs11Backend.open({
        module: config.module,
        tokenLabel: config.tokenLabel,
        pin: config.pin,
        ...(config.slot !== undefined ? { slot: config.slot } : {}),
      });
    case "kmip": {
      const read = (file: string, what: string): Buffer => {
        try {
          return readFileSync(file);
        } catch (e) {
          throw new KmsError("KMS_CONFIG_INVALID", `the KMIP ${what} ${file} cannot be read`, { cause: e });
        }
      };
      return KmipBackend.open({
        host: config.host,
        port: config.port,
        ca: read(config.caFile, "CA certificate"),
        cert: read(config.certFile, "client certificate"),
        key: read(config.keyFile, "client key"),
        stateFile: join(dataDir, "kms", "kmip-keys.json"),
        ...(config.keyId !== undefined ? { keyId: config.keyId } : {}),
      });
    }
  }
}

/** Counters and a latency histogram of the key manager, in the server's registry. */
export function kmsMetrics(metrics: Metrics): KmsMetrics {
  const unwraps = metrics.counter({
    name: "conclave_kms_unwraps_total",
    help: "Data keys unwrapped by the KMS back end, by back end and outcome (ok or an error code).",
    labelNames: ["backend", "outcome"],
  });
  const wraps = metrics.counter({
    name: "conclave_kms_wraps_total",
    help: "Data keys wrapped by the KMS back end, by back end and outcome.",
    labelNames: ["backend", "outcome"],
  });
  const hits = metrics.counter({ name: "conclave_kms_data_key_cache_hits_total", help: "Data keys served from the in-memory cache (no unwrap)." });
  const shreds = metrics.counter({ name: "conclave_kms_shredded_total", help: "Data keys destroyed with their objects (crypto-shredding)." });
  const latency = metrics.histogram({
    name: "conclave_kms_backend_seconds",
    help: "Time of KMS back-end calls, by back end and operation.",
    labelNames: ["backend", "operation"],
  });
  return {
    unwrap: (backend, outcome) => unwraps.inc({ backend, outcome }),
    wrap: (backend, outcome) => wraps.inc({ backend, outcome }),
    cacheHit: () => hits.inc(),
    shred: () => shreds.inc(),
    backendLatency: (backend, operation, seconds) => latency.observe({ backend, operation }, seconds),
  };
}

export function kmsLogger(logger: Logger): KmsLogger {
  const log = logger.child({ component: "kms" });
  return {
    info: (fields, message) => log.info(message, fields),
    warn: (fields, message) => log.warn(message, undefined, fields),
  };
}

/** Everything a Database needs for its key manager, from the configuration. */
export async function openKeyManagement(
  config: KmsConfig | undefined,
  dataDir: string,
  observability: { logger: Logger; metrics: Metrics },
): Promise<KeyManagement & { audit: FileAuditLog }> {
  const effective = config ?? defaultKmsConfig(dataDir);
  const backend = await openBackend(effective, dataDir).catch((e: unknown) => {
    throw asServerError(e);
  });
  return {
    backend,
    audit: new FileAuditLog(auditLogPath(dataDir)),
    metrics: kmsMetrics(observability.metrics),
    logger: kmsLogger(observability.logger),
    cacheTtlMs: effective.cacheTtlMs,
  };
}

/**
 * A KMS failure as the server reports it: KMS_UNAVAILABLE (503, retry later) when the KMS
 * cannot be reached, CONFIG_INVALID for set-up errors, DATA_UNREADABLE when stored data cannot
 * be decrypted (altered, shredded, or under a master key that is gone).
 */
export function asServerError(e: unknown): unknown {
  if (!isKmsError(e)) return e;
  switch (e.code) {
    case "KMS_UNAVAILABLE":
    case "KMS_CLOSED":
      return new ServerError("KMS_UNAVAILABLE", e.message, { cause: e });
    case "KMS_CONFIG_INVALID":
    case "KMS_KEY_FILE_INVALID":
    case "KMS_PKCS11_FAILED":
    case "KMS_KMIP_FAILED":
    case "KMS_KMIP_MALFORMED":
      return new ServerError("KMS_FAILED", e.message, { cause: e });
    default:
      return new ServerError("DATA_UNREADABLE", `${e.code}`, { cause: e });
  }
}

/** Run `fn`, translating KMS errors (see asServerError). */
export async function kmsCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asServerError(e);
  }
}

/**
 * The stored data of a data directory with its key management, for `conclave kms` (run next to
 * a server or while it is stopped: SQLite in WAL mode and every back end allow both).
 */
export async function openStoredData(
  config: { dataDir: string; kms?: KmsConfig },
  observability: { logger: Logger; metrics: Metrics },
): Promise<{ database: Database; close(): void }> {
  const kms = await openKeyManagement(config.kms, config.dataDir, observability);
  try {
    const database = Database.open(join(config.dataDir, "conclave.db"), { kms });
    return {
      database,
      close() {
        database.close();
        kms.audit.close();
      },
    };
  } catch (e) {
    await kms.backend.close();
    kms.audit.close();
    throw e;
  }
}

/**
 * Refuse to run when stored data keys are wrapped by master keys the back end does not hold: a
 * lost or replaced key file (or KMIP key list, or token) would otherwise go unnoticed until
 * someone reads a topic, while new data piles up under a new key.
 */
export async function checkMasterKeys(database: Database): Promise<void> {
  const status = await kmsCall(() => database.keys.status());
  const missing = Object.entries(status.dataKeys).filter(([id]) => !status.backend.masterKeyIds.includes(id));
  if (missing.length === 0) return;
  const count = missing.reduce((n, [, c]) => n + c, 0);
  throw new ServerError(
    "KMS_FAILED",
    `${count} data keys are wrapped by master keys that ${status.backend.location} does not hold (${missing.map(([id]) => id).join(", ")}); ` +
      "restore the master key file, KMIP key list or token from your backup (docs/operations.md §6a) before starting",
  );
}
