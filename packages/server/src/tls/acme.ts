/**
 * Certificates from an ACME CA (RFC 8555) with the HTTP-01 challenge (RFC 8555 §8.3), through the
 * maintained `acme-client` library: first issuance, storage in <data>/acme/, and renewal before
 * expiry while the server keeps running (the listener swaps its secure context).
 *
 * The challenge listener is plain HTTP on --acme-http-port (default 80): it answers
 * /.well-known/acme-challenge/<token> with the key authorization and redirects everything else to
 * the HTTPS public URL. A failure (CA unreachable, challenge refused) is logged with ACME_FAILED
 * and retried at the next check; the server keeps serving its current certificate.
 */
import { X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { Agent as HttpsAgent, get as httpsGet } from "node:https";
import { join } from "node:path";
import acme from "acme-client";
import type { AcmeConfig } from "../config.js";
import { ServerError } from "../errors.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { readPair, type TlsMaterial } from "./certificate.js";

const DAY_MS = 86_400_000;
/** How often the certificate's expiry is checked (and a failed issuance retried). */
export const DEFAULT_ACME_CHECK_INTERVAL_MS = 6 * 3_600_000;
/** Renew when less than this much validity is left, or a third of the lifetime, whichever is more. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;

// acme-client retries unanswered requests five times with growing waits (75 s in all); the server
// has its own retry (the next check), so a CA that is down is reported within seconds.
const acmeSettings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
acmeSettings.retryMaxAttempts = 1;
acmeSettings.retryDefaultDelay = 1;

export interface AcmeOptions {
  readonly config: AcmeConfig;
  /** The name the certificate is for: the public URL's host. */
  readonly domain: string;
  readonly dataDir: string;
  /** Address the challenge listener binds to (the server's --host). */
  readonly listenHost: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Default DEFAULT_ACME_CHECK_INTERVAL_MS. */
  readonly checkIntervalMs?: number;
  /** The clock renewal decisions use (tests move it forward). */
  readonly now?: () => number;
}

export type AcmeEvents = { certificate: [TlsMaterial] };

export function acmePaths(dataDir: string): { dir: string; accountKey: string; cert: string; key: string } {
  const dir = join(dataDir, "acme");
  return { dir, accountKey: join(dir, "account-key.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

export class AcmeCertificates extends EventEmitter<AcmeEvents> {
  readonly #opts: AcmeOptions;
  readonly #paths: ReturnType<typeof acmePaths>;
  readonly #challenges = new Map<string, string>();
  readonly #now: () => number;
  #current: TlsMaterial | null = null;
  #lastError: string | null = null;
  #listener: HttpServer | null = null;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #closed = false;
  readonly #issued;
  readonly #failures;
  readonly #expiry;

  constructor(opts: AcmeOptions) {
    super();
    this.#opts = opts;
    this.#paths = acmePaths(opts.dataDir);
    this.#now = opts.now ?? Date.now;
    this.#issued = opts.metrics?.counter({ name: "conclave_acme_certificates_issued_total", help: "Certificates obtained from the ACME CA (first issuance and renewals)." });
    this.#failures = opts.metrics?.counter({ name: "conclave_acme_failures_total", help: "Failed attempts to obtain or renew the certificate from the ACME CA." });
    this.#expiry = opts.metrics?.gauge({ name: "conclave_tls_certificate_expiry_timestamp_seconds", help: "When the served TLS certificate expires (Unix time)." });
  }

  /** The ACME certificate in use, or null while none has been obtained. */
  get current(): TlsMaterial | null {
    return this.#current;
  }

  /** The last failure's message (null after a success): for /readyz and the operator. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** Loads a stored certificate (if any) and starts the challenge listener. */
  async start(): Promise<void> {
    if (existsSync(this.#paths.cert) && existsSync(this.#paths.key)) {
      try {
        this.#setCurrent(await readPair(this.#paths.cert, this.#paths.key, false));
      } catch (e) {
        this.#opts.logger.warn("the stored ACME certificate cannot be used; a new one will be obtained", e);
      }
    }
    await this.#listen();
  }

  /** Obtain a certificate now if there is none or it is due for renewal; also run periodically. */
  async check(): Promise<void> {
    if (this.#current !== null && !this.#due(this.#current)) return;
    await this.renew().catch(() => {});
  }

  /** Starts the periodic check (first one at once). */
  schedule(): void {
    const tick = (): void => {
      if (this.#closed) return;
      void this.check().finally(() => {
        if (this.#closed) return;
        this.#timer = setTimeout(tick, this.#opts.checkIntervalMs ?? DEFAULT_ACME_CHECK_INTERVAL_MS);
        this.#timer.unref();
      });
    };
    tick();
  }

  /**
   * Obtain a new certificate now, whatever the current one's expiry. Resolves with it; rejects
   * with ACME_FAILED (also logged), leaving the current certificate in place.
   */
  renew(): Promise<TlsMaterial> {
    if (this.#closed) return Promise.reject(new ServerError("ACME_FAILED", "the server is shutting down"));
    const run = (this.#running ?? Promise.resolve()).then(() => this.#obtain());
    this.#running = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const listener = this.#listener;
    if (listener) {
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
    await this.#running;
    this.removeAllListeners();
  }

  #due(material: TlsMaterial): boolean {
    const x509 = new X509Certificate(material.cert);
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    const renewBefore = Math.max(RENEW_BEFORE_MS, (to - from) / 3);
    return to - this.#now() < renewBefore;
  }

  async #obtain(): Promise<TlsMaterial> {
    const { config, domain, logger } = this.#opts;
    const started = Date.now();
    try {
      await mkdir(this.#paths.dir, { recursive: true, mode: 0o700 });
      const ca = config.caFile !== undefined ? await readFile(config.caFile) : undefined;
      // acme-client reports an unanswered request as a TypeError of its own (acme-client 5.4:
      // validateStatus(undefined) once its retries are spent): ask the directory first, so an
      // unreachable CA is reported with the network's reason (ECONNREFUSED, ENOTFOUND, …).
      await probeDirectory(config.directoryUrl, ca);
      const client = new acme.Client({ directoryUrl: config.directoryUrl, accountKey: await this.#accountKey() });
      if (ca !== undefined) {
        // acme-client talks through one axios instance; a private CA's TLS is trusted for it.
        acme.axios.defaults.httpsAgent = new HttpsAgent({ ca });
      }
      const [key, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, await acme.crypto.createPrivateEcdsaKey("P-256"));
      const chain = await client.auto({
        csr,
        ...(config.email !== undefined ? { email: config.email } : {}),
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        // The CA checks the challenge itself; acme-client's own pre-check would go to port 80.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== "http-01") throw new Error(`unsupported challenge ${challenge.type}`);
          this.#challenges.set(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          this.#challenges.delete(challenge.token);
        },
      });
      await writeAtomically(this.#paths.key, key, 0o600);
      await writeAtomically(this.#paths.cert, Buffer.from(chain), 0o644);
      const material = await readPair(this.#paths.cert, this.#paths.key, false);
      this.#lastError = null;
      this.#issued?.inc();
      this.#setCurrent(material);
      logger.info("certificate obtained from the ACME CA", {
        domain,
        notAfter: new X509Certificate(material.cert).validTo,
        fingerprint: material.fingerprint,
        ms: Date.now() - started,
      });
      this.emit("certificate", material);
      return material;
    } catch (e) {
      this.#failures?.inc();
      const error = new ServerError("ACME_FAILED", `${config.directoryUrl} for ${domain}: ${describe(e)}`, { cause: e });
      this.#lastError = error.message;
      logger.error(
        this.#current === null
          ? "no certificate could be obtained from the ACME CA; serving a self-signed certificate until it works (retried later)"
          : "the certificate could not be renewed; the current one stays in use (retried later)",
        error,
        { domain, code: "ACME_FAILED" },
      );
      throw error;
    }
  }

  async #accountKey(): Promise<Buffer> {
    if (existsSync(this.#paths.accountKey)) return readFile(this.#paths.accountKey);
    const key = await acme.crypto.createPrivateEcdsaKey("P-256");
    await writeAtomically(this.#paths.accountKey, key, 0o600);
    return key;
  }

  #setCurrent(material: TlsMaterial): void {
    this.#current = material;
    this.#expiry?.set(Date.parse(new X509Certificate(material.cert).validTo) / 1000);
  }

  async #listen(): Promise<void> {
    const { config, listenHost, domain } = this.#opts;
    const server = createHttpServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0]!;
      const prefix = "/.well-known/acme-challenge/";
      if (path.startsWith(prefix)) {
        const answer = this.#challenges.get(path.slice(prefix.length));
        res.statusCode = answer === undefined ? 404 : 200;
        res.setHeader("Content-Type", "text/plain");
        res.end(answer ?? "no such challenge");
        return;
      }
      // Anything else on plain HTTP goes to HTTPS.
      res.statusCode = 308;
      res.setHeader("Location", `https://${domain}${path.startsWith("/") ? path : "/"}`);
      res.end();
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.httpPort, listenHost, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "EACCES" ? "needs more privileges (ports below 1024 need root or CAP_NET_BIND_SERVICE; or forward port 80 to a higher --acme-http-port)" : code === "EADDRINUSE" ? "is already in use" : "failed";
      throw new ServerError("LISTEN_FAILED", `the ACME challenge listener on ${listenHost}:${config.httpPort} ${why}`, { cause: e });
    }
    server.on("error", (e) => this.#opts.logger.error("the ACME challenge listener failed", e));
    this.#listener = server;
  }
}

/** GET the ACME directory; rejects with the network or HTTP reason when it does not answer with JSON. */
function probeDirectory(url: string, ca: Buffer | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ...(ca !== undefined ? { ca } : {}), timeout: 15_000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`the ACME directory answered HTTP ${res.statusCode ?? "?"}`));
    });
    req.on("timeout", () => req.destroy(new Error("the ACME directory did not answer within 15 s")));
    req.on("error", (e) => reject(new Error(`cannot reach the ACME directory: ${describe(e)}`)));
  });
}

async function writeAtomically(file: string, data: Buffer | string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

/** A short reason: the ACME problem document's detail, or the network error code. */
function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== undefined && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}
