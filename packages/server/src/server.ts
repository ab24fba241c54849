/**
 * startServer: HTTPS and WSS on one port, the data directory (database, admin token,
 * self-signed certificate), the HTTP API, static files, and the hooks the signaling layer
 * plugs into. The running server owns every socket it accepts and the database; close()
 * releases all of them, once, in order.
 */
import type { RecordingService } from "./connectors/recording-service.js";
import type { StreamingService } from "./connectors/streaming-service.js";
import type { TranscriptionService } from "./connectors/transcription-service.js";
import { MAX_PRE_JOIN_MESSAGE_BYTES, MAX_SIGNALING_MESSAGE_BYTES } from "@conclave/protocol";
import { mkdir, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { AdminToken } from "./auth/admin-token.js";
import { userFromRequestWith, type SessionUser } from "./auth/user-from-request.js";
import { dataPaths, type ServerConfig } from "./config.js";
import { ServerError } from "./errors.js";
import { DEFAULT_BODY_LIMIT } from "./http/body.js";
import { createRequestHandler } from "./http/handler.js";
import { defaultLimiters, registerApi } from "./http/api.js";
import { AttemptGuard, addressKey, type AttemptLimits } from "./http/attempt-guard.js";
import { checkWsInternals } from "./signaling/ws-limits.js";
import { Router } from "./http/router.js";
import { StaticFiles } from "./http/static-files.js";
import { loadTlsMaterial, type TlsMaterial } from "./tls/certificate.js";
import { AcmeCertificates } from "./tls/acme.js";
import { secureContextOptions } from "./tls/profile.js";
import { registerObservabilityRoutes, metricsOnlyRouter } from "./http/observability-routes.js";
import { Database } from "./storage/database.js";
import type { MeetingConnectors } from "./meetings/live-meeting.js";
import { sealClearText, sealMigrationDone } from "./storage/seal-migration.js";
import { checkMasterKeys, openKeyManagement } from "./kms/runtime.js";
import type { MeetingStore } from "./storage/meetings.js";
import { MeetingFiles, type MeetingFilesLimits } from "./files/meeting-files.js";
import { asLogger, createLogger, type Logger, type LogSink } from "./observability/logger.js";
import { Metrics } from "./observability/metrics.js";
import { serverMetrics } from "./observability/server-metrics.js";
import { RateLimiter } from "./http/rate-limit.js";

/** The only path that accepts WebSocket upgrades. */
export const SIGNALING_PATH = "/ws";
/**
 * Larger signaling messages are refused by ws itself (close code 1009): MAX_PRE_JOIN_MESSAGE_BYTES
 * until the connection's join is accepted, then this (the signaling layer raises it).
 */
export const SIGNALING_MAX_PAYLOAD = MAX_SIGNALING_MESSAGE_BYTES;
/** Open TCP connections accepted at once (config `maxConnections`). */
export const DEFAULT_MAX_CONNECTIONS = 8192;
/** Open TCP connections accepted at once from one address, IPv6 by /64 (config `maxConnectionsPerAddress`). */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;
/** How long close() lets WebSocket peers answer the close handshake before cutting them off. */
const WS_CLOSE_GRACE_MS = 1000;

/** The server's logger (structured JSON, redacting secrets): see observability/logger.ts. */
export type { Logger, LogSink } from "./observability/logger.js";

/** Default when no logger is given: JSON lines on stderr, warnings and errors only. */
export const stderrLogger: Logger = createLogger({ level: "warn" });

/** What hooks get to build on. */
export interface ServerContext {
  readonly config: ServerConfig;
  readonly database: Database;
  readonly meetings: MeetingStore;
  /** Ciphertext of files shared in live meetings (<data>/files, emptied at start and stop). */
  readonly files: MeetingFiles;
  /** Structured logger; narrow it with `logger.child({ component: "…" })`. */
  readonly logger: Logger;
  /** The guessing budget per address, shared by meeting lookups, joins and sign-ins. */
  readonly attempts: AttemptGuard;
  /** The security log: `logger.child({ log: "security" })`; every event has an `event` field. */
  readonly security: Logger;
  /** This server's metrics registry (GET /metrics); add metrics with `metrics.counter({...})`. */
  readonly metrics: Metrics;
  /** Base of join links: config.publicUrl, else https://localhost:<port>. Valid once listening. */
  publicUrl(): string;
  /**
   * The user signed in by the request's `conclave_session` cookie (e.g. a WebSocket upgrade),
   * or null. Checks expiry and disabled accounts; no CSRF check (for GET-like requests only).
   */
  userFromRequest(req: IncomingMessage): SessionUser | null;
}

/** Extension points for the layers above the foundation (signaling, MLS delivery, media). */
export interface ServerHooks {
  /** Called once before listening: add HTTP routes. Built-in routes are already registered. */
  routes?(router: Router, context: ServerContext): void;
  /**
   * Called for each WebSocket accepted on /ws; the hook owns the socket from then on.
   * Without this hook /ws connections are closed with 1013 "signaling not available".
   */
  onSignalingConnection?(ws: WebSocket, req: IncomingMessage, context: ServerContext): void;
  /**
   * Called first in close(), after the listener stops accepting and before open WebSockets
   * are closed and the database is shut: close meetings (and their sockets) gracefully here.
   */
  onClose?(): void | Promise<void>;
  /** Default: stderrLogger. A bare sink ({ info, warn, error }) is wrapped with asLogger. */
  logger?: LogSink | Logger;
  /** Limits on guessing (see DEFAULT_ATTEMPT_LIMITS). */
  attemptLimits?: AttemptLimits;
  /** Default: a new registry with the process metrics. */
  metrics?: Metrics;
  /** ACME timing (tests): how often expiry is checked, and the clock renewal decisions use. */
  acme?: { checkIntervalMs?: number; now?: () => number };
  /** Limits on files shared in meetings (defaults: DEFAULT_FILE_LIMITS). */
  fileLimits?: MeetingFilesLimits;
  /** The connector services (the SIP gateway) for the API's host invitations; looked up per request. */
  connectors?: () => MeetingConnectors | undefined;
  /** Cloud recording for the API; looked up per request. */
  recordings?: () => RecordingService | undefined;
  /** Live streaming for the API; looked up per request. */
  streams?: () => StreamingService | undefined;
  /** Live transcription for the API; looked up per request. */
  transcriptions?: () => TranscriptionService | undefined;
}

/** The certificate being served; it changes when an ACME certificate arrives or is renewed. */
export interface ServedCertificate {
  readonly fingerprint: string;
  readonly selfSigned: boolean;
  readonly certFile: string;
  /** The PEM chain served. */
  readonly cert: Buffer;
}

/** What the server serves, and (with ACME) the means to renew it now. */
export interface CertificateStatus {
  current(): ServedCertificate;
  /** With --acme-directory: obtain a new certificate now and serve it (rejects with ACME_FAILED). */
  renew(): Promise<ServedCertificate>;
  /** Resolves when the server serves an ACME certificate (at once without ACME). */
  ready(): Promise<ServedCertificate>;
  /** Resolves with the next certificate served (after an issuance or renewal). */
  changed(): Promise<ServedCertificate>;
  /** The last ACME failure, or null. */
  lastError(): string | null;
}

export interface RunningServer {
  /** Where the server listens, e.g. https://localhost:8443 (0.0.0.0 and :: show as localhost). */
  readonly url: string;
  /** Base of join links. */
  readonly publicUrl: string;
  readonly port: number;
  /** SHA-256 fingerprint of the TLS certificate (AB:CD:… form). */
  readonly fingerprint: string;
  /** True when the certificate is the generated self-signed one. */
  readonly selfSigned: boolean;
  /** The certificate file in use (clients may trust it with --ca). */
  readonly certFile: string;
  /** The admin API token. Show it to the operator once; never log it. */
  readonly adminToken: string;
  /** The certificate served now (fingerprint etc. above are the one at start). */
  readonly certificate: CertificateStatus;
  /** Where GET /metrics is also served (--metrics-listen), e.g. https://127.0.0.1:9464. */
  readonly metricsUrl: string | null;
  readonly context: ServerContext;
  /** Idempotent: stops listening, runs hooks.onClose, closes every socket, then the database. */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, hooks: ServerHooks = {}): Promise<RunningServer> {
  const logger = asLogger(hooks.logger ?? stderrLogger);
  const metrics = hooks.metrics ?? new Metrics();
  const paths = dataPaths(config.dataDir);
  await prepareDataDir(config.dataDir, logger);
  const acme = config.acme
    ? new AcmeCertificates({
        config: config.acme,
        domain: new URL(config.publicUrl!).hostname,
        dataDir: config.dataDir,
        listenHost: config.host,
        logger: logger.child({ component: "acme" }),
        metrics,
        ...hooks.acme,
      })
    : null;
  await acme?.start();
  // With ACME and no certificate yet: the self-signed one until the CA answers.
  let tls: TlsMaterial;
  try {
    tls = acme?.current ?? (await loadTlsMaterial(config.acme ? { dataDir: config.dataDir } : config));
  } catch (e) {
    await acme?.close();
    throw e;
  }
  const adminToken = await AdminToken.loadOrCreate(paths.adminToken);
  // Data at rest: the KMS back end first (a bad key file or PIN stops the start here), then
  // the database, whose confidential fields it seals, then the clear-text migration.
  let kms: Awaited<ReturnType<typeof openKeyManagement>>;
  try {
    kms = await openKeyManagement(config.kms, config.dataDir, { logger, metrics });
  } catch (e) {
    await acme?.close();
    throw e;
  }
  const files = await MeetingFiles.open(paths.files, hooks.fileLimits);
  let database: Database;
  try {
    database = Database.open(paths.database, { kms });
  } catch (e) {
    await kms.backend.close();
    kms.audit.close();
    await acme?.close();
    throw e;
  }
  database.participants.onWarning = (message, error) => logger.warn(message, error);
  database.chat.onWarning = (message, error) => logger.warn(message, error);
  const closeDatabase = (): void => {
    database.close();
    kms.audit.close();
  };
  try {
    await checkMasterKeys(database);
  } catch (e) {
    closeDatabase();
    await acme?.close();
    throw e;
  }
  await migrateClearText(database, logger);

  let port = config.port;
  // The security log: the same structured log, marked { log: "security" } (docs/operations.md).
  const security = logger.child({ log: "security" });
  const attempts = new AttemptGuard(hooks.attemptLimits);
  // One line per address, reason and target per 10 s: a limited address retrying fast writes one.
  const tripLog = new RateLimiter({ limit: 1, windowMs: 10_000 });
  attempts.onTrip = (trip) => {
    const key = `${trip.reason}:${trip.address}:${trip.target ?? ""}`;
    if (tripLog.isLimited(key)) return;
    tripLog.record(key);
    security.warn("refused: rate limited", undefined, { event: "rate_limited", reason: trip.reason, ip: trip.address, ...(trip.target ? { target: trip.target } : {}) });
  };
  const context: ServerContext = {
    config,
    database,
    meetings: database.meetings,
    files,
    logger,
    attempts,
    security,
    metrics,
    publicUrl: () => config.publicUrl ?? `https://localhost:${port}`,
    userFromRequest: (req) => userFromRequestWith(database.sessions, req),
  };

  const router = new Router();
  // 10 failed admin authentications, sign-ins or invitation acceptances per minute, then 429.
  const limiters = defaultLimiters(attempts);
  registerApi(router, { database, adminToken, limiters, publicUrl: context.publicUrl, files, security, ...(hooks.connectors ? { connectors: hooks.connectors } : {}), ...(hooks.recordings ? { recordings: hooks.recordings } : {}), ...(hooks.streams ? { streams: hooks.streams } : {}), ...(hooks.transcriptions ? { transcriptions: hooks.transcriptions } : {}) });
  let closing = false;
  registerObservabilityRoutes(router, {
    metrics,
    adminToken,
    adminTokenFailures: limiters.adminTokenFailures,
    readiness: {
      listening: () => (closing ? { ok: false, reason: "shutting down" } : { ok: true }),
      database: () => {
        database.connection.prepare("SELECT 1").get();
        return { ok: true };
      },
      certificate: () =>
        acme === null || acme.current !== null
          ? { ok: true }
          : { ok: false, reason: `waiting for the ACME certificate${acme.lastError ? `: ${acme.lastError}` : ""}` },
    },
  });
  try {
    hooks.routes?.(router, context);
  } catch (e) {
    closeDatabase();
    await acme?.close();
    throw e;
  }

  const server = createHttpsServer(
    {
      ...secureContextOptions(tls),
      handshakeTimeout: 10_000,
      requestTimeout: 30_000,
      headersTimeout: 20_000,
      keepAliveTimeout: 5_000,
    },
    createRequestHandler({
      router,
      ...(config.webRoot !== undefined ? { staticFiles: new StaticFiles(config.webRoot, { sourceMaps: config.webSourceMaps === true }) } : {}),
      bodyLimit: DEFAULT_BODY_LIMIT,
      logger: logger.child({ component: "http" }),
      metrics,
    }),
  );

  // Raw sockets, tracked so close() can end connections that are mid-handshake or upgraded, and
  // capped in total and per address: beyond a cap a connection is closed before its TLS handshake
  // costs anything. Connections that never finish a handshake are cut by handshakeTimeout.
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const refusedConnections = serverMetrics(metrics).connectionsRefused;
  const capLog = new RateLimiter({ limit: 1, windowMs: 10_000 });
  metrics.gauge({
    name: "conclave_connections_open",
    help: "TCP connections open (HTTPS and WebSocket), after the connection caps.",
    collect() {
      this.set(sockets.size);
    },
  });
  const maxTotal = config.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxPerAddress = config.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  server.on("connection", (socket: Socket) => {
    const key = addressKey(socket.remoteAddress ?? "unknown");
    const held = perAddress.get(key) ?? 0;
    const cap = sockets.size >= maxTotal ? "total" : held >= maxPerAddress ? "per_address" : null;
    if (cap !== null) {
      socket.destroy();
      refusedConnections.inc({ cap });
      // One line per address and cap per window, not one per refused connection (a flood would
      // otherwise write as fast as it connects).
      if (!capLog.isLimited(`${cap}:${key}`)) {
        capLog.record(`${cap}:${key}`);
        security.warn("connection refused: connection cap reached", undefined, { event: "connection_cap", cap, ip: key, limit: cap === "total" ? maxTotal : maxPerAddress });
      }
      return;
    }
    sockets.add(socket);
    perAddress.set(key, held + 1);
    socket.once("close", () => {
      sockets.delete(socket);
      const n = (perAddress.get(key) ?? 1) - 1;
      if (n <= 0) perAddress.delete(key);
      else perAddress.set(key, n);
    });
  });

  // Small until a connection has joined a meeting (the signaling layer raises it then).
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PRE_JOIN_MESSAGE_BYTES });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const path = (req.url ?? "").split("?")[0];
    if (closing) return rejectUpgrade(socket, 503, "SERVER_CLOSED");
    if (path !== SIGNALING_PATH) return rejectUpgrade(socket, 404, "NOT_FOUND");
    wss.handleUpgrade(req, socket, head, (ws) => {
      // ws itself closes the connection on protocol errors (oversized message: 1009); this
      // listener only keeps an 'error' event from crashing the process if a hook has none.
      ws.on("error", () => {});
      checkWsInternals(ws);
      const hook = hooks.onSignalingConnection;
      if (hook === undefined) {
        ws.close(1013, "signaling not available");
        return;
      }
      try {
        hook(ws, req, context);
      } catch (e) {
        logger.error("the signaling hook failed on a new connection", e);
        ws.close(1011, "internal error");
      }
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    closeDatabase();
    wss.close();
    await acme?.close();
    throw listenFailed(e, config.host, config.port);
  }
  server.on("error", (e) => logger.error("the HTTPS listener failed", e));
  port = (server.address() as AddressInfo).port;

  // The certificate can change while running (ACME issuance and renewal): new connections get
  // the new one, open ones keep theirs.
  let served: ServedCertificate = { fingerprint: tls.fingerprint, selfSigned: tls.selfSigned, certFile: tls.certFile, cert: tls.cert };
  const metricsServer = config.metricsListen
    ? await listenMetrics(config.metricsListen, tls, { metrics, adminToken, adminTokenFailures: limiters.adminTokenFailures }, logger).catch(async (e: unknown) => {
        server.close();
        server.closeAllConnections();
        database.close();
        wss.close();
        await acme?.close();
        throw e;
      })
    : null;
  const certificateWaiters: ((c: ServedCertificate) => void)[] = [];
  const changeWaiters: ((c: ServedCertificate) => void)[] = [];
  acme?.on("certificate", (material) => {
    server.setSecureContext(secureContextOptions(material));
    metricsServer?.setSecureContext(secureContextOptions(material));
    served = { fingerprint: material.fingerprint, selfSigned: false, certFile: material.certFile, cert: material.cert };
    for (const resolve of [...certificateWaiters.splice(0), ...changeWaiters.splice(0)]) resolve(served);
  });
  acme?.schedule();
  const certificate: CertificateStatus = {
    current: () => served,
    renew: async () => {
      if (acme === null) throw new ServerError("ACME_FAILED", "this server has no --acme-directory");
      await acme.renew();
      return served;
    },
    ready: () => (acme === null || acme.current !== null ? Promise.resolve(served) : new Promise((resolve) => certificateWaiters.push(resolve))),
    changed: () => new Promise((resolve) => changeWaiters.push(resolve)),
    lastError: () => acme?.lastError ?? null,
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      try {
        await hooks.onClose?.();
      } catch (e) {
        logger.error("the onClose hook failed", e);
      }
      await closeWebSockets(wss);
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await listenerClosed;
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      }
      await acme?.close();
      // Participant-log entries still being sealed are written before the database closes.
      // Bounded: a KMS that is down does not hold up the shutdown (those entries are lost, and logged).
      await Promise.race([Promise.all([database.participants.flush(), database.chat.flush()]), new Promise((r) => setTimeout(r, 2000).unref())]);
      await files.close();
      closeDatabase();
    })();
    return closed;
  };

  const url = `https://${urlHost(config.host)}:${port}`;
  logger.info("listening", { url });
  return {
    url,
    publicUrl: context.publicUrl(),
    port,
    fingerprint: tls.fingerprint,
    selfSigned: tls.selfSigned,
    certFile: tls.certFile,
    adminToken: adminToken.reveal(),
    certificate,
    metricsUrl: metricsServer ? `https://${urlHost(config.metricsListen!.host)}:${(metricsServer.address() as AddressInfo).port}` : null,
    context,
    close,
  };
}

/**
 * Seal what an older version left in clear (storage/seal-migration.ts). A KMS that cannot be
 * reached now only postpones it: the server starts (meetings need no KMS) and the next start
 * finishes the job.
 */
async function migrateClearText(database: Database, logger: Logger): Promise<void> {
  if (sealMigrationDone(database)) return;
  try {
    const report = await sealClearText(database);
    if (report.meetings + report.invitations > 0) {
      logger.info("sealed clear-text data under the KMS", { meetings: report.meetings, invitations: report.invitations });
    }
  } catch (e) {
    logger.warn("could not finish sealing clear-text data now; the next start retries", e);
  }
}

function listenFailed(e: unknown, host: string, port: number, what = ""): ServerError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === "EADDRINUSE" ? "is already in use" : code === "EACCES" ? "needs more privileges" : "failed";
  return new ServerError("LISTEN_FAILED", `${what}${host}:${port} ${why}`, { cause: e });
}

/** The --metrics-listen listener: HTTPS with the same certificate and profile, GET /metrics only. */
async function listenMetrics(
  address: { host: string; port: number },
  tls: TlsMaterial,
  deps: Parameters<typeof metricsOnlyRouter>[1],
  logger: Logger,
): Promise<HttpsServer> {
  const server = createHttpsServer(
    { ...secureContextOptions(tls), handshakeTimeout: 10_000, requestTimeout: 30_000, headersTimeout: 20_000 },
    createRequestHandler({ router: metricsOnlyRouter(new Router(), deps), bodyLimit: 0, logger: logger.child({ component: "metrics" }) }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(address.port, address.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    throw listenFailed(e, address.host, address.port, "the metrics listener on ");
  }
  server.on("error", (e) => logger.error("the metrics listener failed", e));
  return server;
}

/** Create the data directory private (0700); warn if an existing one is open to others. */
async function prepareDataDir(dir: string, logger: Logger): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const info = await stat(dir);
    if (!info.isDirectory()) throw new Error("not a directory");
    if ((info.mode & 0o077) !== 0) {
      logger.warn(`the data directory ${dir} is readable by other users; consider chmod 700`);
    }
  } catch (e) {
    throw new ServerError("DATA_DIR_FAILED", `cannot use ${dir} as the data directory`, { cause: e });
  }
}

function rejectUpgrade(socket: Duplex, status: 404 | 503, code: "NOT_FOUND" | "SERVER_CLOSED"): void {
  const body = JSON.stringify(new ServerError(code).toBody());
  const reason = status === 404 ? "Not Found" : "Service Unavailable";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

/** Close every WebSocket with 1001, give peers a moment to answer, then cut the rest. */
async function closeWebSockets(wss: WebSocketServer): Promise<void> {
  const open = [...wss.clients];
  for (const ws of open) ws.close(1001, "server shutting down");
  if (open.length > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((ws) => (ws.readyState === ws.CLOSED ? undefined : new Promise((r) => ws.once("close", r))))),
      new Promise((r) => (timer = setTimeout(r, WS_CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    for (const ws of open) ws.terminate();
  }
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
