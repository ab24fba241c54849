/**
 * Configuration of the key management system (data at rest): which back end holds the master
 * key and how to reach it. Read by config.ts like every other option (flags > env > file).
 *
 * The PKCS#11 PIN has no flag on purpose: command lines are visible to every user of the
 * machine (ps, /proc). It comes from CONCLAVE_KMS_PKCS11_PIN or the config file only.
 */
import { join } from "node:path";
import { z } from "zod";
import { DEFAULT_CACHE_TTL_MS, DEFAULT_KMIP_PORT, DEFAULT_PKCS11_MODULE } from "@conclave/kms";
import { ServerError } from "../errors.js";

export type KmsBackendName = "local" | "pkcs11" | "kmip";

export type KmsConfig =
  | { readonly backend: "local"; readonly keyFile: string; readonly cacheTtlMs: number }
  | {
      readonly backend: "pkcs11";
      readonly module: string;
      readonly tokenLabel: string;
      readonly slot?: number;
      /** Never logged, never printed. */
      readonly pin: string;
      readonly cacheTtlMs: number;
    }
  | {
      readonly backend: "kmip";
      readonly host: string;
      readonly port: number;
      readonly caFile: string;
      readonly certFile: string;
      readonly keyFile: string;
      /** An existing key on the KMIP server to use as the first master key. */
      readonly keyId?: string;
      readonly cacheTtlMs: number;
    };

/** One source's KMS values after validation (paths not yet resolved). */
export interface KmsPartial {
  kms?: KmsBackendName;
  kmsKeyFile?: string;
  kmsCacheTtl?: number;
  kmsPkcs11Module?: string;
  kmsPkcs11Token?: string;
  kmsPkcs11Slot?: number;
  kmsPkcs11Pin?: string;
  kmsKmipHost?: string;
  kmsKmipPort?: number;
  kmsKmipCa?: string;
  kmsKmipCert?: string;
  kmsKmipKey?: string;
  kmsKmipKeyId?: string;
}

/** Keys whose values are paths (resolved like the other paths of their source). */
export const KMS_PATH_KEYS = ["kmsKeyFile", "kmsPkcs11Module", "kmsKmipCa", "kmsKmipCert", "kmsKmipKey"] as const;

export const KMS_FLAG_NAMES: Record<keyof KmsPartial, string> = {
  kms: "--kms",
  kmsKeyFile: "--kms-key-file",
  kmsCacheTtl: "--kms-cache-ttl",
  kmsPkcs11Module: "--kms-pkcs11-module",
  kmsPkcs11Token: "--kms-pkcs11-token",
  kmsPkcs11Slot: "--kms-pkcs11-slot",
  kmsPkcs11Pin: "CONCLAVE_KMS_PKCS11_PIN (no flag)",
  kmsKmipHost: "--kms-kmip-host",
  kmsKmipPort: "--kms-kmip-port",
  kmsKmipCa: "--kms-kmip-ca",
  kmsKmipCert: "--kms-kmip-cert",
  kmsKmipKey: "--kms-kmip-key",
  kmsKmipKeyId: "--kms-kmip-key-id",
};

export const KMS_ENV_NAMES: Record<keyof KmsPartial, string> = {
  kms: "CONCLAVE_KMS",
  kmsKeyFile: "CONCLAVE_KMS_KEY_FILE",
  kmsCacheTtl: "CONCLAVE_KMS_CACHE_TTL",
  kmsPkcs11Module: "CONCLAVE_KMS_PKCS11_MODULE",
  kmsPkcs11Token: "CONCLAVE_KMS_PKCS11_TOKEN",
  kmsPkcs11Slot: "CONCLAVE_KMS_PKCS11_SLOT",
  kmsPkcs11Pin: "CONCLAVE_KMS_PKCS11_PIN",
  kmsKmipHost: "CONCLAVE_KMS_KMIP_HOST",
  kmsKmipPort: "CONCLAVE_KMS_KMIP_PORT",
  kmsKmipCa: "CONCLAVE_KMS_KMIP_CA",
  kmsKmipCert: "CONCLAVE_KMS_KMIP_CERT",
  kmsKmipKey: "CONCLAVE_KMS_KMIP_KEY",
  kmsKmipKeyId: "CONCLAVE_KMS_KMIP_KEY_ID",
};

/** Command-line flags of the KMS options (the PIN has none). */
export interface KmsFlags {
  kms?: string;
  kmsKeyFile?: string;
  kmsCacheTtl?: string | number;
  kmsPkcs11Module?: string;
  kmsPkcs11Token?: string;
  kmsPkcs11Slot?: string | number;
  kmsKmipHost?: string;
  kmsKmipPort?: string | number;
  kmsKmipCa?: string;
  kmsKmipCert?: string;
  kmsKmipKey?: string;
  kmsKmipKeyId?: string;
}

const backendSchema = z.enum(["local", "pkcs11", "kmip"], { error: "must be local, pkcs11 or kmip" });
const path = z.string().min(1, "must not be empty").refine((p) => !p.includes("\0"), "must not contain NUL characters");
const label = z.string().min(1, "must not be empty").max(32, "is longer than a PKCS#11 token label (32)");
const host = z.string().regex(/^[A-Za-z0-9.:%-]{1,253}$/, "must be a host name or an IP address");
const keyId = z.string().min(1).max(256);
const pin = z.string().min(1, "must not be empty").max(255);
const ttlMessage = "must be a whole number of seconds from 0 (no cache) to 86400";
const u = (max: number, message: string) => ({
  fromString: z.string().regex(/^\d{1,10}$/, message).transform(Number).pipe(z.number().int().max(max, message)),
  fromNumber: z.number({ error: message }).int(message).min(0, message).max(max, message),
});
const ttl = u(86_400, ttlMessage);
const port = u(65_535, "must be a port number between 1 and 65535");
const slot = u(2 ** 32 - 1, "must be a slot id (a whole number)");

/** Zod shape for string sources (flags, environment). */
export const kmsStringShape = {
  kms: backendSchema.optional(),
  kmsKeyFile: path.optional(),
  kmsCacheTtl: ttl.fromString.optional(),
  kmsPkcs11Module: path.optional(),
  kmsPkcs11Token: label.optional(),
  kmsPkcs11Slot: slot.fromString.optional(),
  kmsPkcs11Pin: pin.optional(),
  kmsKmipHost: host.optional(),
  kmsKmipPort: port.fromString.optional(),
  kmsKmipCa: path.optional(),
  kmsKmipCert: path.optional(),
  kmsKmipKey: path.optional(),
  kmsKmipKeyId: keyId.optional(),
};

/** Zod shape for the JSON config file (numbers as numbers). */
export const kmsFileShape = {
  ...kmsStringShape,
  kmsCacheTtl: ttl.fromNumber.optional(),
  kmsPkcs11Slot: slot.fromNumber.optional(),
  kmsKmipPort: port.fromNumber.optional(),
};

export function kmsFlagValues(flags: KmsFlags): Record<string, string | undefined> {
  const str = (v: string | number | undefined) => (v === undefined ? undefined : String(v));
  return {
    kms: flags.kms,
    kmsKeyFile: flags.kmsKeyFile,
    kmsCacheTtl: str(flags.kmsCacheTtl),
    kmsPkcs11Module: flags.kmsPkcs11Module,
    kmsPkcs11Token: flags.kmsPkcs11Token,
    kmsPkcs11Slot: str(flags.kmsPkcs11Slot),
    kmsKmipHost: flags.kmsKmipHost,
    kmsKmipPort: str(flags.kmsKmipPort),
    kmsKmipCa: flags.kmsKmipCa,
    kmsKmipCert: flags.kmsKmipCert,
    kmsKmipKey: flags.kmsKmipKey,
    kmsKmipKeyId: flags.kmsKmipKeyId,
  };
}

export function kmsEnvValues(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, name] of Object.entries(KMS_ENV_NAMES)) out[k] = env[name];
  return out;
}

/** The default local key file of a data directory. */
export function defaultKeyFile(dataDir: string): string {
  return join(dataDir, "kms", "master-keys.json");
}

/** Build the KMS configuration from merged values; CONFIG_INVALID names what is missing or misplaced. */
export function resolveKmsConfig(pick: <K extends keyof KmsPartial>(k: K) => KmsPartial[K], dataDir: string): KmsConfig {
  const backend = pick("kms") ?? "local";
  const cacheTtlMs = (pick("kmsCacheTtl") ?? DEFAULT_CACHE_TTL_MS / 1000) * 1000;
  const only = (allowed: readonly (keyof KmsPartial)[]): void => {
    for (const k of Object.keys(KMS_FLAG_NAMES) as (keyof KmsPartial)[]) {
      if (k === "kms" || k === "kmsCacheTtl" || allowed.includes(k)) continue;
      if (pick(k) !== undefined) throw new ServerError("CONFIG_INVALID", `${KMS_FLAG_NAMES[k]} has no effect with --kms ${backend}`);
    }
  };
  const need = <K extends keyof KmsPartial>(k: K): NonNullable<KmsPartial[K]> => {
    const v = pick(k);
    if (v === undefined) throw new ServerError("CONFIG_INVALID", `--kms ${backend} needs ${KMS_FLAG_NAMES[k]} (or ${KMS_ENV_NAMES[k]})`);
    return v as NonNullable<KmsPartial[K]>;
  };
  switch (backend) {
    case "local":
      only(["kmsKeyFile"]);
      return { backend, keyFile: pick("kmsKeyFile") ?? defaultKeyFile(dataDir), cacheTtlMs };
    case "pkcs11": {
      only(["kmsPkcs11Module", "kmsPkcs11Token", "kmsPkcs11Slot", "kmsPkcs11Pin"]);
      const slotId = pick("kmsPkcs11Slot");
      return {
        backend,
        module: pick("kmsPkcs11Module") ?? DEFAULT_PKCS11_MODULE,
        tokenLabel: need("kmsPkcs11Token"),
        ...(slotId !== undefined ? { slot: slotId } : {}),
        pin: need("kmsPkcs11Pin"),
        cacheTtlMs,
      };
    }
    case "kmip": {
      only(["kmsKmipHost", "kmsKmipPort", "kmsKmipCa", "kmsKmipCert", "kmsKmipKey", "kmsKmipKeyId"]);
      const id = pick("kmsKmipKeyId");
      return {
        backend,
        host: need("kmsKmipHost"),
        port: pick("kmsKmipPort") ?? DEFAULT_KMIP_PORT,
        caFile: need("kmsKmipCa"),
        certFile: need("kmsKmipCert"),
        keyFile: need("kmsKmipKey"),
        ...(id !== undefined ? { keyId: id } : {}),
        cacheTtlMs,
      };
    }
  }
}
