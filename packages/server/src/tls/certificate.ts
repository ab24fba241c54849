/**
 * The server's TLS certificate: the operator's (--cert/--key), or a self-signed certificate
 * for localhost created once in the data directory and reused, so its fingerprint is stable
 * and clients can pin it.
 */
import { execFile } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { dataPaths } from "../config.js";
import { ServerError } from "../errors.js";

const execFileAsync = promisify(execFile);

/** Validity of the self-signed certificate: 825 days, the longest macOS and iOS accept. */
const SELF_SIGNED_DAYS = 825;

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint of the leaf certificate, AB:CD:… form. */
  readonly fingerprint: string;
  /** True when the server made the certificate itself (clients must pin or trust it). */
  readonly selfSigned: boolean;
  readonly certFile: string;
}

/**
 * Load the configured certificate and key, or the self-signed one from `dataDir` (creating it
 * on first use). The data directory must already exist.
 */
export async function loadTlsMaterial(options: {
  dataDir: string;
  certFile?: string;
  keyFile?: string;
}): Promise<TlsMaterial> {
  if (options.certFile !== undefined && options.keyFile !== undefined) {
    return readPair(options.certFile, options.keyFile, false);
  }
  const paths = dataPaths(options.dataDir);
  await ensureSelfSignedCertificate(options.dataDir);
  const material = await readPair(paths.certFile, paths.keyFile, true);
  const validTo = Date.parse(new X509Certificate(material.cert).validTo);
  if (validTo <= Date.now()) {
    throw new ServerError(
      "TLS_SETUP_FAILED",
      `the self-signed certificate in ${paths.tlsDir} has expired; delete that directory to create a new one (its fingerprint will change)`,
    );
  }
  return material;
}

export async function readPair(certFile: string, keyFile: string, selfSigned: boolean): Promise<TlsMaterial> {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = await readFile(certFile);
  } catch (e) {
    throw new ServerError("TLS_SETUP_FAILED", `cannot read the certificate file ${certFile}`, { cause: e });
  }
  try {
    key = await readFile(keyFile);
  } catch (e) {
    throw new ServerError("TLS_SETUP_FAILED", `cannot read the key file ${keyFile}`, { cause: e });
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new ServerError("TLS_SETUP_FAILED", `${certFile} does not hold a PEM certificate`, { cause: e });
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    // The parser's message could quote key bytes; say only which file failed.
    throw new ServerError("TLS_SETUP_FAILED", `${keyFile} does not hold a PEM private key`, { cause: e });
  }
  if (!matches) {
    throw new ServerError("TLS_SETUP_FAILED", `the key in ${keyFile} does not belong to the certificate in ${certFile}`);
  }
  return { cert, key, fingerprint: x509.fingerprint256, selfSigned, certFile };
}

/** OpenSSL request config: a leaf (not CA) certificate for localhost and the loopback IPs. */
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = localhost
[ext]
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
`;

/**
 * Create `<dataDir>/tls/{cert,key}.pem` unless they exist. The pair is generated in a private
 * temporary directory and renamed into place in one step, so a crash or a concurrent start
 * never leaves a certificate without its key (the first rename wins; the loser discards its
 * pair). Returns true if this call created the certificate.
 */
export async function ensureSelfSignedCertificate(dataDir: string): Promise<boolean> {
  const paths = dataPaths(dataDir);
  if (existsSync(paths.tlsDir)) {
    if (existsSync(paths.certFile) && existsSync(paths.keyFile)) return false;
    throw new ServerError(
      "TLS_SETUP_FAILED",
      `${paths.tlsDir} exists but lacks cert.pem or key.pem; delete it to create a new self-signed certificate`,
    );
  }
  const tmp = await mkdtemp(join(dataDir, ".tls-"));
  try {
    const configFile = join(tmp, "openssl.cnf");
    await writeFile(configFile, OPENSSL_CONFIG, { mode: 0o600 });
    const keyFile = join(tmp, "key.pem");
    const certFile = join(tmp, "cert.pem");
    try {
      // P-256 ECDSA: small, fast, accepted by every browser.
      await execFileAsync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-sha256", "-days", String(SELF_SIGNED_DAYS), "-config", configFile,
        "-keyout", keyFile, "-out", certFile,
      ]);
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
      throw new ServerError(
        "TLS_SETUP_FAILED",
        missing
          ? "the openssl command was not found; install OpenSSL or give a certificate with --cert and --key"
          : "openssl could not create the self-signed certificate",
        { cause: e },
      );
    }
    await chmod(keyFile, 0o600);
    await rm(configFile);
    await chmod(tmp, 0o700);
    try {
      await rename(tmp, paths.tlsDir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") return false; // another start won the race
      throw new ServerError("TLS_SETUP_FAILED", `cannot move the new certificate into ${paths.tlsDir}`, { cause: e });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
