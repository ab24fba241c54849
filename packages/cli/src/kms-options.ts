/** The key-management flags `conclave serve` and `conclave kms` share: their parseArgs options and config keys. */
import type { ConfigFlags } from "@conclave/server";

export const KMS_OPTIONS = {
  kms: { type: "string" },
  "kms-key-file": { type: "string" },
  "kms-cache-ttl": { type: "string" },
  "kms-pkcs11-module": { type: "string" },
  "kms-pkcs11-token": { type: "string" },
  "kms-pkcs11-slot": { type: "string" },
  "kms-kmip-host": { type: "string" },
  "kms-kmip-port": { type: "string" },
  "kms-kmip-ca": { type: "string" },
  "kms-kmip-cert": { type: "string" },
  "kms-kmip-key": { type: "string" },
  "kms-kmip-key-id": { type: "string" },
} as const;

type KmsValues = { [K in keyof typeof KMS_OPTIONS]?: string | undefined };

/** The parsed KMS flags as loadConfig's flags. */
export function kmsFlags(values: KmsValues): ConfigFlags {
  return {
    kms: values.kms,
    kmsKeyFile: values["kms-key-file"],
    kmsCacheTtl: values["kms-cache-ttl"],
    kmsPkcs11Module: values["kms-pkcs11-module"],
    kmsPkcs11Token: values["kms-pkcs11-token"],
    kmsPkcs11Slot: values["kms-pkcs11-slot"],
    kmsKmipHost: values["kms-kmip-host"],
    kmsKmipPort: values["kms-kmip-port"],
    kmsKmipCa: values["kms-kmip-ca"],
    kmsKmipCert: values["kms-kmip-cert"],
    kmsKmipKey: values["kms-kmip-key"],
    kmsKmipKeyId: values["kms-kmip-key-id"],
  };
}
