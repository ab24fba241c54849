/**
 * How the CLI decides to trust a Conclave server's certificate, and TLS connections that
 * honour that decision before a single byte of HTTP (and so the admin token) is sent.
 *
 * Conclave's default certificate is self-signed, so besides the system CAs the CLI accepts a
 * pinned SHA-256 fingerprint, a CA/certificate file, or, for a server on this machine, the
 * certificate in the local data directory.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect, type TLSSocket } from "node:tls";
import { CliError } from "./errors.js";
import { fingerprintsEqual, normalizeFingerprint } from "./fingerprint.js";

export type Trust =
  /** The system's CA store (a publicly trusted certificate). */
  | { readonly kind: "system" }
  /** Trust exactly these PEM certificates (a private CA, or the server's self-signed cert). */
  | { readonly kind: "ca"; readonly pem: Buffer; readonly source: string }
  /** Trust whatever certificate has this SHA-256 fingerprint; chain and host name are not checked. */
  | { readonly kind: "fingerprint"; readonly fingerprint: string }
  /** Trust anything (development only; the CLI warns). */
  | { readonly kind: "insecure" };

/** The parseArgs options every command that talks to a server takes, to decide whom to trust. */
export const TRUST_OPTIONS = {
  data: { type: "string" },
  insecure: { type: "boolean" },
  ca: { type: "string" },
  fingerprint: { type: "string" },
} as const;

/** Help text for TRUST_OPTIONS. */
export const TRUST_HELP = `Trusting the server's certificate (pick at most one):
  --fingerprint SHA256  pin the SHA-256 fingerprint \`conclave serve\` printed
  --ca FILE             trust this PEM certificate or CA
  --insecure            trust any certificate (testing only)
  Without these, a localhost server is trusted through <data>/tls/cert.pem when present,
  any other through the system's certificate authorities.`;

export interface TrustFlags {
  insecure?: boolean;
  ca?: string;
  fingerprint?: string;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * --fingerprint, --ca and --insecure are exclusive. Without any, a loopback server is trusted
 * through `localCertFile` (the local data directory's tls/cert.pem) when that file exists,
 * anything else through the system CAs.
 */
export function resolveTrust(server: URL, flags: TrustFlags, localCertFile: string): Trust {
  const chosen = [flags.insecure ? "--insecure" : "", flags.ca ? "--ca" : "", flags.fingerprint ? "--fingerprint" : ""]
    .filter(Boolean);
  if (chosen.length > 1) throw new CliError("USAGE", `${chosen.join(" and ")} cannot be combined`);
  if (flags.fingerprint !== undefined) {
    const fingerprint = normalizeFingerprint(flags.fingerprint);
    if (fingerprint === undefined) {
      throw new CliError("USAGE", "--fingerprint must be a SHA-256 fingerprint: 64 hex digits, colons optional");
    }
    return { kind: "fingerprint", fingerprint };
  }
  if (flags.ca !== undefined) return { kind: "ca", pem: readCa(flags.ca), source: flags.ca };
  if (flags.insecure) return { kind: "insecure" };
  if (isLoopbackHost(server.hostname) && existsSync(localCertFile)) {
    return { kind: "ca", pem: readCa(localCertFile), source: localCertFile };
  }
  return { kind: "system" };
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError("FILE_UNREADABLE", file, { cause: e });
  }
}

/** OpenSSL verification codes that mean "not trusted" rather than "not reachable". */
const UNTRUSTED_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * Open a TLS connection to host:port and resolve only once the server is trusted under
 * `trust`. For a pinned fingerprint the certificate is compared after the handshake and the
 * socket destroyed on mismatch, before the caller can write anything.
 */
export function connectTrusted(trust: Trust, host: string, port: number, timeoutMs = 15_000): Promise<TLSSocket> {
  const bareHost = host.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: bareHost,
      port,
      // SNI carries names only, never IP literals (RFC 6066 §3).
      ...(isIP(bareHost) === 0 ? { servername: bareHost } : {}),
      ALPNProtocols: ["http/1.1"],
      ...(trust.kind === "ca" ? { ca: trust.pem } : {}),
      rejectUnauthorized: trust.kind === "system" || trust.kind === "ca",
    });
    const onError = (e: NodeJS.ErrnoException): void => {
      socket.destroy();
      reject(translateConnectError(e, `${host}:${port}`));
    };
    socket.once("error", onError);
    // Covers TCP connect and the handshake; the caller sets its own timeout afterwards.
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new CliError("SERVER_TIMEOUT", `${host}:${port}`));
    });
    socket.once("secureConnect", () => {
      socket.off("error", onError);
      socket.setTimeout(0);
      if (trust.kind === "fingerprint") {
        const presented = socket.getPeerCertificate().fingerprint256;
        if (!fingerprintsEqual(presented, trust.fingerprint)) {
          socket.destroy();
          reject(new CliError("TLS_FINGERPRINT_MISMATCH", `the server presented ${presented}`));
          return;
        }
      }
      resolve(socket);
    });
  });
}

/**
 * A `createConnection` for http/https `request()` options (and ws, which passes its options
 * through): the request is written only after connectTrusted has accepted the server.
 */
export function trustedConnectionFactory(
  trust: Trust,
): (options: { host?: string | null; hostname?: string | null; port?: number | string | null }, oncreate: (err: Error | null, socket: Duplex) => void) => undefined {
  return (options, oncreate) => {
    const host = options.hostname ?? options.host ?? "localhost";
    const port = Number(options.port ?? 443);
    connectTrusted(trust, host, port).then(
      (socket) => oncreate(null, socket),
      (e: Error) => oncreate(e, undefined as unknown as Duplex),
    );
    return undefined;
  };
}

function translateConnectError(e: NodeJS.ErrnoException, where: string): CliError {
  const code = e.code ?? "";
  if (UNTRUSTED_CODES.has(code)) return new CliError("TLS_UNTRUSTED", `${where}: ${code}`, { cause: e });
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EHOSTUNREACH" || code === "ECONNRESET" || code === "EAI_AGAIN") {
    return new CliError("SERVER_UNREACHABLE", `${where}: ${code}`, { cause: e });
  }
  return new CliError("SERVER_UNREACHABLE", `${where}: ${code || e.message}`, { cause: e });
}
