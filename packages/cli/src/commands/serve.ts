/**
 * `conclave serve`: run the server until SIGINT or SIGTERM, then close it and exit 0.
 * Prints where it listens, the certificate fingerprint and the admin API token (the one place
 * the token is shown; it is also in <data>/admin-token, mode 0600).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig, startConclave, type Logger, type RunningServer } from "@conclave/server";
import type { CliIo, Command } from "../io.js";

export const SERVE_HELP = `Usage: conclave serve [options]

Run a Conclave server: HTTPS and WebSocket signaling on one port.

Options (each also settable by environment variable or config file):
  --host HOST            address to listen on             (CONCLAVE_HOST, default 0.0.0.0)
  --port PORT            TCP port, 0 for any free port    (CONCLAVE_PORT, default 8443)
  --data DIR             data directory                   (CONCLAVE_DATA, default ./conclave-data)
  --cert FILE            PEM certificate chain            (CONCLAVE_CERT; default: self-signed for localhost)
  --key FILE             PEM private key for --cert       (CONCLAVE_KEY)
  --public-url URL       base URL of join links           (CONCLAVE_PUBLIC_URL, default https://localhost:PORT)
  --web-root DIR         static files of the web app      (CONCLAVE_WEB_ROOT)
  --media-address IP     IP announced in media candidates (CONCLAVE_MEDIA_ADDRESS; for NAT and containers)
  --media-ports MIN-MAX  UDP port range for media         (CONCLAVE_MEDIA_PORTS; default: any free port)
  --media-listen IP      local IP media sockets bind to   (CONCLAVE_MEDIA_LISTEN; default: all interfaces)
  --max-connections N    open connections at once, total  (CONCLAVE_MAX_CONNECTIONS, default 8192)
  --max-connections-per-address N
                         open connections at once from one address, IPv6 per /64
                                                          (CONCLAVE_MAX_CONNECTIONS_PER_ADDRESS, default 256)
  --config FILE          JSON config file                 (CONCLAVE_CONFIG, default <data>/conclave.json if present)
  -h, --help             show this help

Precedence: flags > environment > config file > defaults.
Stop with Ctrl+C (SIGINT) or SIGTERM.`;

/** Signals that stop the server. A second one while closing exits at once. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

export const serveCommand: Command = {
  summary: "run a Conclave server",
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        data: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        "public-url": { type: "string" },
        "web-root": { type: "string" },
        "media-address": { type: "string" },
        "media-ports": { type: "string" },
        "media-listen": { type: "string" },
        "max-connections": { type: "string" },
        "max-connections-per-address": { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      io.out(SERVE_HELP);
      return 0;
    }
    const config = loadConfig({
      flags: {
        host: values.host,
        port: values.port,
        data: values.data,
        cert: values.cert,
        key: values.key,
        publicUrl: values["public-url"],
        webRoot: values["web-root"],
        mediaAddress: values["media-address"],
        mediaPorts: values["media-ports"],
        mediaListen: values["media-listen"],
        maxConnections: values["max-connections"],
        maxConnectionsPerAddress: values["max-connections-per-address"],
        config: values.config,
      },
      env: io.env,
      cwd: io.cwd,
    });
    // The web app ships with the repository (packages/web/dist, built by `npm run build`); it is
    // served unless --web-root (or CONCLAVE_WEB_ROOT / webRoot) points elsewhere.
    const bundledWeb = fileURLToPath(new URL("../../../../web/dist/", import.meta.url));
    const effective = config.webRoot === undefined && existsSync(join(bundledWeb, "index.html")) ? { ...config, webRoot: bundledWeb } : config;
    const logger: Logger = {
      info: (message) => io.err(`conclave: ${message}`),
      warn: (message, error) => io.err(`conclave: warning: ${message}${describe(error)}`),
      error: (message, error) => io.err(`conclave: error: ${message}${describe(error)}`),
    };
    // Listen for stop signals before anything is printed: whoever reads our output may signal
    // at once. A signal during start-up stops the server as soon as it is up.
    const stopRequested = onceStopSignal(io);
    let server: RunningServer;
    try {
      server = await startConclave(effective, { logger });
    } catch (e) {
      stopRequested.cancel();
      throw e;
    }

    io.out(`Conclave is running at ${server.url}`);
    if (server.publicUrl !== server.url) io.out(`Join links use ${server.publicUrl}`);
    io.out(`TLS certificate SHA-256 fingerprint: ${server.fingerprint}`);
    if (server.selfSigned) {
      io.out(`  (self-signed: clients pin it with --fingerprint, or trust ${server.certFile})`);
    }
    io.out(`Admin API token: ${server.adminToken}`);
    io.out(`  (keep it secret; \`conclave meeting create\` on this machine reads it from ${config.dataDir})`);
    io.out("Press Ctrl+C to stop.");

    await stopRequested.signal;
    await server.close();
    return 0;
  },
};

/**
 * Resolves on the first SIGINT or SIGTERM. A second signal while shutting down exits at once
 * with status 1 (an impatient operator, or a hook that does not finish closing).
 */
function onceStopSignal(io: CliIo): { signal: Promise<NodeJS.Signals>; cancel(): void } {
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const remove = (): void => {
    for (const s of STOP_SIGNALS) process.off(s, stop);
    process.off("disconnect", onDisconnect);
  };
  const onDisconnect = (): void => stop("SIGTERM");
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    stop = (received) => {
      remove();
      for (const s of STOP_SIGNALS) process.once(s, () => process.exit(1));
      io.err(`conclave: ${received} received, shutting down`);
      resolve(received);
    };
    for (const s of STOP_SIGNALS) process.on(s, stop);
    // Started by bin/conclave.js with an IPC channel: if that process goes, so does the server.
    if (process.connected) {
      process.once("disconnect", onDisconnect);
      process.channel?.unref();
    }
  });
  return { signal, cancel: remove };
}

function describe(error: unknown): string {
  if (error === undefined) return "";
  return error instanceof Error ? `: ${error.stack ?? error.message}` : `: ${String(error)}`;
}
