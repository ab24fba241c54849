/**
 * startServer: HTTPS and WSS on one port, the data directory (database, admin token,
 * self-signed certificate), the HTTP API, static files, and the hooks the signaling layer
 * plugs into. The running server owns every socket it accepts and the database; close()
 * releases all of them, once, in order.
 */
import { MAX_PRE_JOIN_MESSAGE_BYTES, MAX_SIGNALING_MESSAGE_BYTES } from "@conclave/protocol";
import { mkdir, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer } from "node:https";
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
import { loadTlsMaterial } from "./tls/certificate.js";
import { Database } from "./storage/database.js";
import type { MeetingStore } from "./storage/meetings.js";

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

/**
 * The server's log sink. Messages never contain tokens, passcodes, key material or request
 * bodies; errors are passed separately so a sink can choose how much to show.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string, error?: unknown): void;
  error(message: string, error?: unknown): void;
}

/** Default sink: warnings and errors to stderr, info dropped. */
export const stderrLogger: Logger = {
  info: () => {},
  warn: (message, error) => console.warn(`conclave: ${message}${describeError(error)}`),
  error: (message, error) => console.error(`conclave: ${message}${describeError(error)}`),
};

function describeError(error: unknown): string {
  if (error === undefined) return "";
  return error instanceof Error ? `: ${error.stack ?? error.message}` : `: ${String(error)}`;
}

/** What hooks get to build on. */
export interface ServerContext {
  readonly config: ServerConfig;
  readonly database: Database;
  readonly meetings: MeetingStore;
  readonly logger: Logger;
  /** The guessing budget per address, shared by meeting lookups, joins and sign-ins. */
  readonly attempts: AttemptGuard;
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
  /** Default: stderrLogger. */
  logger?: Logger;
  /** Limits on guessing (see DEFAULT_ATTEMPT_LIMITS). */
  attemptLimits?: AttemptLimits;
  /** A connection was refused at once because a connection cap was reached. */
  onConnectionRefused?(address: string, cap: "total" | "perAddress"): void;
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
  readonly context: ServerContext;
  /** Idempotent: stops listening, runs hooks.onClose, closes every socket, then the database. */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, hooks: ServerHooks = {}): Promise<RunningServer> {
  const logger = hooks.logger ?? stderrLogger;
  const paths = dataPaths(config.dataDir);
  await prepareDataDir(config.dataDir, logger);
  const tls = await loadTlsMaterial(config);
  const adminToken = await AdminToken.loadOrCreate(paths.adminToken);
  const database = Database.open(paths.database);

  let port = config.port;
  const attempts = new AttemptGuard(hooks.attemptLimits);
  const context: ServerContext = {
    config,
    database,
    meetings: database.meetings,
    logger,
    attempts,
    publicUrl: () => config.publicUrl ?? `https://localhost:${port}`,
    userFromRequest: (req) => userFromRequestWith(database.sessions, req),
  };

  const router = new Router();
  // 10 failed admin authentications, sign-ins or invitation acceptances per minute, then 429.
  registerApi(router, { database, adminToken, limiters: defaultLimiters(attempts), publicUrl: context.publicUrl });
  try {
    hooks.routes?.(router, context);
  } catch (e) {
    database.close();
    throw e;
  }

  const server = createHttpsServer(
    {
      cert: tls.cert,
      key: tls.key,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.3",
      handshakeTimeout: 10_000,
      requestTimeout: 30_000,
      headersTimeout: 20_000,
      keepAliveTimeout: 5_000,
    },
    createRequestHandler({
      router,
      ...(config.webRoot !== undefined ? { staticFiles: new StaticFiles(config.webRoot) } : {}),
      bodyLimit: DEFAULT_BODY_LIMIT,
      logError: (message, error) => logger.error(message, error),
    }),
  );

  // Raw sockets, tracked so close() can end connections that are mid-handshake or upgraded, and
  // capped in total and per address: beyond a cap a connection is closed before its TLS handshake
  // costs anything. Connections that never finish a handshake are cut by handshakeTimeout.
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const maxTotal = config.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxPerAddress = config.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  server.on("connection", (socket: Socket) => {
    const key = addressKey(socket.remoteAddress ?? "unknown");
    const held = perAddress.get(key) ?? 0;
    const cap = sockets.size >= maxTotal ? "total" : held >= maxPerAddress ? "perAddress" : null;
    if (cap !== null) {
      socket.destroy();
      hooks.onConnectionRefused?.(key, cap);
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
  let closing = false;
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
    database.close();
    wss.close();
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "is already in use" : code === "EACCES" ? "needs more privileges" : "failed";
    throw new ServerError("LISTEN_FAILED", `${config.host}:${config.port} ${why}`, { cause: e });
  }
  server.on("error", (e) => logger.error("the HTTPS listener failed", e));
  port = (server.address() as AddressInfo).port;

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
      database.close();
    })();
    return closed;
  };

  const url = `https://${urlHost(config.host)}:${port}`;
  logger.info(`listening on ${url}`);
  return {
    url,
    publicUrl: context.publicUrl(),
    port,
    fingerprint: tls.fingerprint,
    selfSigned: tls.selfSigned,
    certFile: tls.certFile,
    adminToken: adminToken.reveal(),
    context,
    close,
  };
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
