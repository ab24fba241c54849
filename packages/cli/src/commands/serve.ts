/**
 * `conclave serve`: run the server until SIGINT or SIGTERM, then close it and exit 0.
 * Prints where it listens, the certificate fingerprint and the admin API token (the one place
 * the token is shown; it is also in <data>/admin-token, mode 0600).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Writable } from "node:stream";
import { createLogger, DEFAULT_LOG_LEVEL, loadConfig, startConclave, type ConclaveServer } from "@conclave/server";
import { KMS_OPTIONS, kmsFlags } from "../kms-options.js";
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
  --sip-listen HOST:PORT SIP over TLS for room systems, with the server's certificate
                         (CONCLAVE_SIP_LISTEN; default: off; e.g. 0.0.0.0:5061)
  --sip-udp-listen HOST:PORT  plain SIP over UDP for devices without TLS
                         (CONCLAVE_SIP_UDP_LISTEN; default: off; e.g. 0.0.0.0:5060)
  --sip-tcp-listen HOST:PORT  plain SIP over TCP for devices without TLS
                         (CONCLAVE_SIP_TCP_LISTEN; default: off; e.g. 0.0.0.0:5060)
  --web-source-maps      also serve the web app's source maps (CONCLAVE_WEB_SOURCE_MAPS; default: no)
  --max-connections N    open connections at once, total  (CONCLAVE_MAX_CONNECTIONS, default 8192)
  --max-connections-per-address N
                         open connections at once from one address, IPv6 per /64
                                                          (CONCLAVE_MAX_CONNECTIONS_PER_ADDRESS, default 256)
  --config FILE          JSON config file                 (CONCLAVE_CONFIG, default <data>/conclave.json if present)
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent (CONCLAVE_LOG_LEVEL, default info)
  --metrics-listen H:P   also serve GET /metrics on this address (CONCLAVE_METRICS_LISTEN)
  --acme-directory URL   get certificates from this ACME CA   (CONCLAVE_ACME_DIRECTORY; needs --public-url)
  --acme-email ADDR      contact address for the ACME account (CONCLAVE_ACME_EMAIL)
  --acme-ca FILE         CA certificates trusted for the ACME server's TLS (CONCLAVE_ACME_CA)
  --acme-http-port PORT  port of the HTTP-01 challenge listener (CONCLAVE_ACME_HTTP_PORT, default 80)
  --turn-url URL         TURN server for participants, repeatable (CONCLAVE_TURN_URL, comma-separated)
  --turn-secret SECRET   secret shared with the TURN server   (CONCLAVE_TURN_SECRET; prefer the env or file)
  --transcription-engine CMD  live transcription engine run per speaker (CONCLAVE_TRANSCRIPTION_ENGINE;
                         16 kHz s16le PCM in, JSON utterances out; default: built-in pocketsphinx)
  --streaming-ca FILE    CA certificates an rtmps:// streaming ingest must chain to (CONCLAVE_STREAMING_CA;
                         default: the system's)
  --kms BACKEND          master key of data at rest: local, pkcs11 or kmip (CONCLAVE_KMS, default local)
  --kms-key-file FILE    local master key file (CONCLAVE_KMS_KEY_FILE, default <data>/kms/master-keys.json)
  --kms-cache-ttl SEC    seconds an unwrapped data key stays in memory (CONCLAVE_KMS_CACHE_TTL, default 300)
  --kms-pkcs11-module F  PKCS#11 library (CONCLAVE_KMS_PKCS11_MODULE, default /usr/lib/softhsm/libsofthsm2.so)
  --kms-pkcs11-token L   token label (CONCLAVE_KMS_PKCS11_TOKEN); the PIN only from CONCLAVE_KMS_PKCS11_PIN or the file
  --kms-pkcs11-slot ID   slot id (CONCLAVE_KMS_PKCS11_SLOT)
  --kms-kmip-host HOST   KMIP 1.4 server (CONCLAVE_KMS_KMIP_HOST); --kms-kmip-port (default 5696),
                         --kms-kmip-ca, --kms-kmip-cert, --kms-kmip-key (PEM files), --kms-kmip-key-id
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
        "sip-listen": { type: "string" },
        "sip-udp-listen": { type: "string" },
        "sip-tcp-listen": { type: "string" },
        "max-connections": { type: "string" },
        "web-source-maps": { type: "boolean" },
        "max-connections-per-address": { type: "string" },
        config: { type: "string" },
        "log-level": { type: "string" },
        "metrics-listen": { type: "string" },
        "acme-directory": { type: "string" },
        "acme-email": { type: "string" },
        "acme-ca": { type: "string" },
        "acme-http-port": { type: "string" },
        "turn-url": { type: "string", multiple: true },
        "turn-secret": { type: "string" },
        "transcription-engine": { type: "string" },
        "streaming-ca": { type: "string" },
        ...KMS_OPTIONS,
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
        sipListen: values["sip-listen"],
        sipUdpListen: values["sip-udp-listen"],
        sipTcpListen: values["sip-tcp-listen"],
        maxConnections: values["max-connections"],
        ...(values["web-source-maps"] ? { webSourceMaps: true } : {}),
        maxConnectionsPerAddress: values["max-connections-per-address"],
        config: values.config,
        logLevel: values["log-level"],
        metricsListen: values["metrics-listen"],
        acmeDirectory: values["acme-directory"],
        acmeEmail: values["acme-email"],
        acmeCa: values["acme-ca"],
        acmeHttpPort: values["acme-http-port"],
        turnUrl: values["turn-url"],
        turnSecret: values["turn-secret"],
        transcriptionEngine: values["transcription-engine"],
        streamingCa: values["streaming-ca"],
        ...kmsFlags(values),
      },
      env: io.env,
      cwd: io.cwd,
    });
    // The web app ships with the repository (packages/web/dist, built by `npm run build`); it is
    // served unless --web-root (or CONCLAVE_WEB_ROOT / webRoot) points elsewhere.
    const bundledWeb = fileURLToPath(new URL("../../../../web/dist/", import.meta.url));
    const effective = config.webRoot === undefined && existsSync(join(bundledWeb, "index.html")) ? { ...config, webRoot: bundledWeb } : config;
    // Logs are JSON lines on stderr (one object per line, secrets redacted); stdout keeps the
    // few lines a person or script reads once at start-up.
    const logger = createLogger({
      level: config.logLevel ?? DEFAULT_LOG_LEVEL,
      destination: new Writable({
        write(chunk: Buffer | string, _encoding, callback) {
          io.err(chunk.toString());
          callback();
        },
      }),
    });
    // Listen for stop signals before anything is printed: whoever reads our output may signal
    // at once. A signal during start-up stops the server as soon as it is up.
    const stopRequested = onceStopSignal(io);
    let server: ConclaveServer;
    try {
      server = await startConclave(effective, { logger });
    } catch (e) {
      stopRequested.cancel();
      throw e;
    }

    io.out(`Conclave is running at ${server.url}`);
    if (server.publicUrl !== server.url) io.out(`Join links use ${server.publicUrl}`);
    for (const l of server.sipListening) {
      io.out(`SIP over ${l.transport.toUpperCase()} on ${l.host}:${l.port}: room systems dial sip:<meeting id>.<passcode>@<this host>${l.transport === "udp" ? "" : `;transport=${l.transport}`}`);
    }
    if (config.acme) io.out(`TLS certificates from the ACME CA ${config.acme.directoryUrl} (renewed automatically; see the log)`);
    io.out(`TLS certificate SHA-256 fingerprint: ${server.fingerprint}`);
    if (server.selfSigned && config.acme) {
      io.out("  (self-signed until the ACME certificate arrives)");
    } else if (server.selfSigned) {
      io.out(`  (self-signed: clients pin it with --fingerprint, or trust ${server.certFile})`);
    }
    io.out(`Admin API token: ${server.adminToken}`);
    io.out(`  (keep it secret; \`conclave meeting create\` on this machine reads it from ${config.dataDir})`);
    for (const line of firstStartBanner(server.context.database.users.count(), server.publicUrl)) io.out(line);
    io.out("Press Ctrl+C to stop.");

    await stopRequested.signal;
    await server.close();
    return 0;
  },
};

/**
 * While nobody has set the server up, its first page offers to create the owner account to
 * whoever opens it first: say so, and that this is the next step.
 */
export function firstStartBanner(userCount: number, publicUrl: string): string[] {
  if (userCount > 0) return [];
  return [
    `Next step: open ${publicUrl.replace(/\/+$/, "")}/ in a browser and create the owner account.`,
    "  Until then anyone who can reach this server can claim it.",
  ];
}

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
