/**
 * Server configuration: command-line flags, environment variables and a JSON file, merged with
 * precedence flags > env > file > defaults and validated with zod.
 *
 * Every source is validated on its own so an error names where the bad value came from
 * ("port from CONCLAVE_PORT: ..."). Relative paths resolve against the working directory for
 * flags and environment variables, and against the file's own directory for the config file.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { ServerError } from "./errors.js";
import { LOG_LEVELS, type LogLevel } from "./observability/logger.js";
import {
  KMS_ENV_NAMES,
  KMS_FLAG_NAMES,
  KMS_PATH_KEYS,
  kmsEnvValues,
  kmsFileShape,
  kmsFlagValues,
  kmsStringShape,
  resolveKmsConfig,
  type KmsConfig,
  type KmsFlags,
  type KmsPartial,
} from "./kms/config.js";

export const DEFAULT_HOST = "0.0.0.0";
export const DEFAULT_PORT = 8443;
export const DEFAULT_DATA_DIR = "conclave-data";
/** Name of the config file looked up in the data directory when none is given explicitly. */
export const DATA_DIR_CONFIG_FILE = "conclave.json";
/** Port the ACME HTTP-01 challenge listener uses unless --acme-http-port says otherwise. */
export const DEFAULT_ACME_HTTP_PORT = 80;

/** The validated, fully resolved configuration `startServer` takes. Paths are absolute. */
export interface ServerConfig {
  /** Address to listen on. */
  readonly host: string;
  /** TCP port for HTTPS and WSS; 0 picks a free port. */
  readonly port: number;
  /** Directory holding the database, the admin token and the self-signed certificate. */
  readonly dataDir: string;
  /** PEM certificate (chain) file; with `keyFile`. Absent: a self-signed localhost certificate. */
  readonly certFile?: string;
  /** PEM private key file for `certFile`. */
  readonly keyFile?: string;
  /** Base URL users reach the server at (join links); default https://localhost:<port>. No trailing slash. */
  readonly publicUrl?: string;
  /** Directory of the web app's static files; absent: no static files are served. */
  readonly webRoot?: string;
  /** The media relay's network settings; absent when none is configured (relay defaults apply). */
  readonly media?: MediaConfig;
  /** The SIP connector for room systems; absent (the default) when no SIP listener is configured. */
  readonly sip?: SipConfig;
  /** Serve the web app's source maps (`*.map`) too; default false. */
  readonly webSourceMaps?: boolean;
  /** Open TCP connections accepted at once, in total; further ones are closed at once. */
  readonly maxConnections?: number;
  /** Open TCP connections accepted at once from one client address (IPv6: one /64). */
  readonly maxConnectionsPerAddress?: number;
  /** The config file that was read, if any (for diagnostics). */
  readonly configFile?: string;
  /** Lowest log level written (default "info" for `conclave serve`). */
  readonly logLevel?: LogLevel;
  /** A second listener serving only GET /metrics (HTTPS, admin token), e.g. on an internal address. */
  readonly metricsListen?: ListenAddress;
  /** Certificates from an ACME CA (RFC 8555) instead of --cert/--key or the self-signed one. */
  readonly acme?: AcmeConfig;
  /** TURN servers handed to admitted participants with short-lived credentials. */
  readonly turn?: TurnConfig;
  /**
   * The live transcription engine: a command line run with /bin/sh -c once per speaker (16 kHz
   * s16le PCM on stdin, JSON utterances on stdout; docs/operations.md). Absent: the built-in
   * Debian pocketsphinx adapter.
   */
  readonly transcriptionEngine?: string;
  /**
   * PEM file of the CA certificates an rtmps:// streaming ingest's certificate must chain to (a
   * self-hosted ingest with a private CA); absent: the system's trust store.
   */
  readonly streamingCa?: string;
  /** Where the master key of data at rest is (kms/config.ts); loadConfig always sets it. */
  readonly kms?: KmsConfig;
}

/** Where the SIP gateway listens, and who may register. Off unless a listener is given. */
export interface SipConfig {
  /** SIP over TLS (with the server's certificate), e.g. 0.0.0.0:5061. */
  readonly tlsListen?: ListenAddress;
  /** Plain SIP over UDP (devices without TLS), e.g. 0.0.0.0:5060. */
  readonly udpListen?: ListenAddress;
  /** Plain SIP over TCP (devices without TLS), e.g. 0.0.0.0:5060. */
  readonly tcpListen?: ListenAddress;
  /** Accounts of room systems that register and authenticate with digest (config file only). */
  readonly accounts?: readonly { readonly username: string; readonly password: string }[];
  /** PEM file of CA certificates trusted when calling devices over TLS (default: the system's). */
  readonly deviceCaFile?: string;
  /** Phone dial-in: the SIP trunks calls are accepted from (config file `sipTrunks`); none: no dial-in. */
  readonly trunks?: readonly {
    readonly address: string;
    readonly username?: string;
    readonly password?: string;
    /** SDES dialect of the trunk: "microsoft" for Teams Direct Routing / Skype for Business SBCs (docs/operations.md §5c). */
    readonly profile?: "standard" | "microsoft";
    /** PEM file of the CA that must sign the trunk's TLS client certificate (mutual TLS; calls must come over TLS). */
    readonly clientCa?: string;
  }[];
  /** The dial-in numbers shown in invitations (config file `dialInNumbers`). */
  readonly dialInNumbers?: readonly string[];
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface AcmeConfig {
  /** The ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
  readonly directoryUrl: string;
  /** Contact address for the ACME account (expiry notices). */
  readonly email?: string;
  /** PEM file of CA certificates trusted for the ACME server's own TLS (private ACME CAs). */
  readonly caFile?: string;
  /** TCP port of the HTTP-01 challenge listener (the CA connects to the public host on it). */
  readonly httpPort: number;
}

export interface TurnConfig {
  /** turn: / turns: URLs, e.g. turn:turn.example.org:3478?transport=udp. */
  readonly urls: readonly string[];
  /** The secret shared with the TURN server (coturn static-auth-secret). */
  readonly secret: string;
}

/** Where the media relay's ICE sockets bind and what they announce (see RelayOptions). */
export interface MediaConfig {
  /** Local IP address the ICE sockets bind to; absent: all interfaces. */
  readonly listenAddress?: string;
  /** IP address written into the relay's host candidates instead of the local one (NAT, containers). */
  readonly announcedAddress?: string;
  /** Inclusive UDP port range for the ICE sockets; absent: ports the system picks. */
  readonly portRange?: PortRange;
}

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** Values as they come from command-line flags (strings from parseArgs, or numbers from code). */
export interface ConfigFlags extends KmsFlags {
  host?: string;
  port?: string | number;
  data?: string;
  cert?: string;
  key?: string;
  publicUrl?: string;
  webRoot?: string;
  mediaAddress?: string;
  mediaPorts?: string;
  mediaListen?: string;
  sipListen?: string;
  sipUdpListen?: string;
  sipTcpListen?: string;
  maxConnections?: string | number;
  maxConnectionsPerAddress?: string | number;
  webSourceMaps?: string | boolean;
  config?: string;
  logLevel?: string;
  metricsListen?: string;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCa?: string;
  acmeHttpPort?: string | number;
  /** One or more TURN URLs (the flag may be repeated; a comma-separated list works too). */
  turnUrl?: string | readonly string[];
  turnSecret?: string;
  transcriptionEngine?: string;
  streamingCa?: string;
}

export interface LoadConfigOptions {
  flags?: ConfigFlags;
  /** Environment to read CONCLAVE_* from; pass `process.env` explicitly (tests pass their own). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative flag and env paths resolve against; default `process.cwd()`. */
  cwd?: string;
}

/** The files the server keeps in its data directory. */
export function dataPaths(dataDir: string): {
  database: string;
  adminToken: string;
  tlsDir: string;
  certFile: string;
  keyFile: string;
  configFile: string;
  files: string;
} {
  return {
    database: join(dataDir, "conclave.db"),
    adminToken: join(dataDir, "admin-token"),
    tlsDir: join(dataDir, "tls"),
    certFile: join(dataDir, "tls", "cert.pem"),
    keyFile: join(dataDir, "tls", "key.pem"),
    configFile: join(dataDir, DATA_DIR_CONFIG_FILE),
    files: join(dataDir, "files"),
  };
}

// ---- validation ----

const hostSchema = z
  .string()
  .min(1, "must not be empty")
  .max(253, "is too long")
  .regex(/^[A-Za-z0-9.:%-]+$/, "must be a hostname or an IP address");

const portStringSchema = z
  .string()
  .regex(/^\d{1,5}$/, "must be a whole number between 0 and 65535")
  .transform(Number)
  .pipe(z.number().int().max(65535, "must be a whole number between 0 and 65535"));

const portNumberSchema = z
  .number({ error: "must be a number" })
  .int("must be a whole number between 0 and 65535")
  .min(0, "must be a whole number between 0 and 65535")
  .max(65535, "must be a whole number between 0 and 65535");

const pathSchema = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => !p.includes("\0"), "must not contain NUL characters");

const publicUrlSchema = z
  .string()
  .refine((s) => URL.canParse(s), "must be an absolute URL such as https://meet.example.org")
  .transform((s) => new URL(s))
  .refine((u) => u.protocol === "https:", "must start with https://")
  .refine((u) => u.username === "" && u.password === "", "must not contain a user name or password")
  .refine((u) => u.search === "" && u.hash === "", "must not contain a query or fragment")
  // Join links are `${publicUrl}/m/<id>`: keep any path prefix, drop the trailing slash.
  .transform((u) => `${u.origin}${u.pathname}`.replace(/\/+$/, ""));

// The relay needs literal addresses: libdatachannel binds to an IP, and an announced candidate
// address must be one the participants' ICE agents can use without a DNS lookup.
const ipAddressSchema = z
  .string()
  .refine((s) => isIP(s) !== 0, "must be an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::7");

const booleanStringSchema = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .transform((s) => s === "true" || s === "1" || s === "yes");

const COUNT_MESSAGE = "must be a whole number from 1 to 1000000";
const countStringSchema = z
  .string()
  .regex(/^\d{1,7}$/, COUNT_MESSAGE)
  .transform(Number)
  .pipe(z.number().int().min(1, COUNT_MESSAGE).max(1_000_000, COUNT_MESSAGE));
const countNumberSchema = z.number({ error: "must be a number" }).int(COUNT_MESSAGE).min(1, COUNT_MESSAGE).max(1_000_000, COUNT_MESSAGE);
const logLevelSchema = z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` });

const LISTEN_MESSAGE = "must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464";
const listenSchema = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, LISTEN_MESSAGE)
  .transform((s): ListenAddress => {
    const i = s.lastIndexOf(":");
    return { host: s.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(s.slice(i + 1)) };
  })
  .refine((a) => a.port <= 65535, LISTEN_MESSAGE);

const sipAccountsSchema = z
  .array(
    z.strictObject({
      username: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'"),
      password: z.string().min(12, "must be at least 12 characters").max(256),
    }),
  )
  .max(1000);

const sipTrunksSchema = z
  .array(
    z
      .strictObject({
        address: ipAddressSchema,
        username: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'").optional(),
        password: z.string().min(12, "must be at least 12 characters").max(256).optional(),
        profile: z.enum(["standard", "microsoft"], { message: 'must be "standard" or "microsoft"' }).optional(),
        clientCa: pathSchema.optional(),
      })
      .refine((t) => (t.username === undefined) === (t.password === undefined), "username and password go together"),
  )
  .min(1)
  .max(100)
  // A call is matched to the first trunk with its address: a second entry's clientCa, profile or
  // credentials would silently never apply.
  .refine((trunks) => new Set(trunks.map((t) => trunkAddressKey(t.address))).size === trunks.length, "two trunks have the same address: give each address once");

/** A trunk address as the gateway compares them: case folded, IPv4-mapped IPv6 as IPv4. */
function trunkAddressKey(address: string): string {
  const a = address.toLowerCase();
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)?.[1] ?? a;
}

const dialInNumbersSchema = z.array(z.string().regex(/^\+?[0-9][0-9 ()-]{2,30}$/, "must be a phone number such as +1 555 0100")).max(50);

const acmeDirectorySchema = z
  .string()
  .refine((s) => URL.canParse(s) && new URL(s).protocol === "https:", "must be an https:// URL of an ACME directory");

const emailSchema = z.string().regex(/^[^@\s,]+@[^@\s,]+$/, "must be an e-mail address such as ops@example.org");

const TURN_URL_MESSAGE = "must be turn: or turns: URLs such as turn:turn.example.org:3478 (no user name or password in them)";
const turnUrlSchema = z
  .string()
  .regex(/^turns?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/, TURN_URL_MESSAGE);
/** From a flag (repeatable) or env: one URL or a comma-separated list. */
const turnUrlListSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((u) => u.split(",")).map((u) => u.trim()).filter((u) => u !== ""))
  .pipe(z.array(turnUrlSchema).min(1, TURN_URL_MESSAGE));

/** A command line for the transcription engine (run with /bin/sh -c): one line, not empty. */
const transcriptionEngineSchema = z
  .string()
  .max(4096)
  .refine((s) => s.trim().length > 0 && !/[\n\r\0]/.test(s), "must be one non-empty command line");
const turnSecretSchema = z.string().min(16, "must be at least 16 characters (use a long random string)");

const PORT_RANGE_MESSAGE = "must be a UDP port range MIN-MAX with 1024 <= MIN <= MAX <= 65535, such as 40000-40999";

const portRangeSchema = z
  .string()
  .regex(/^\d{1,5}-\d{1,5}$/, PORT_RANGE_MESSAGE)
  .transform((s): PortRange => {
    const [min, max] = s.split("-").map(Number) as [number, number];
    return { min, max };
  })
  .refine((r) => r.min >= 1024 && r.max <= 65535 && r.min <= r.max, PORT_RANGE_MESSAGE);

/** One source's values after validation, before paths are resolved and sources are merged. */
interface PartialConfig extends KmsPartial {
  host?: string;
  port?: number;
  dataDir?: string;
  certFile?: string;
  keyFile?: string;
  publicUrl?: string;
  webRoot?: string;
  mediaAddress?: string;
  mediaPorts?: PortRange;
  mediaListen?: string;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  webSourceMaps?: boolean;
  logLevel?: LogLevel;
  metricsListen?: ListenAddress;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCa?: string;
  acmeHttpPort?: number;
  turnUrl?: string[];
  turnSecret?: string;
  transcriptionEngine?: string;
  streamingCa?: string;
  sipListen?: ListenAddress;
  sipUdpListen?: ListenAddress;
  sipTcpListen?: ListenAddress;
  sipDeviceCa?: string;
  sipAccounts?: { username: string; password: string }[];
  sipTrunks?: { address: string; username?: string | undefined; password?: string | undefined; profile?: "standard" | "microsoft" | undefined; clientCa?: string | undefined }[];
  dialInNumbers?: string[];
}

const stringSourceSchema = z.object({
  host: hostSchema.optional(),
  port: portStringSchema.optional(),
  dataDir: pathSchema.optional(),
  certFile: pathSchema.optional(),
  keyFile: pathSchema.optional(),
  publicUrl: publicUrlSchema.optional(),
  webRoot: pathSchema.optional(),
  mediaAddress: ipAddressSchema.optional(),
  mediaPorts: portRangeSchema.optional(),
  mediaListen: ipAddressSchema.optional(),
  maxConnections: countStringSchema.optional(),
  maxConnectionsPerAddress: countStringSchema.optional(),
  webSourceMaps: booleanStringSchema.optional(),
  logLevel: logLevelSchema.optional(),
  metricsListen: listenSchema.optional(),
  acmeDirectory: acmeDirectorySchema.optional(),
  acmeEmail: emailSchema.optional(),
  acmeCa: pathSchema.optional(),
  acmeHttpPort: portStringSchema.optional(),
  turnUrl: turnUrlListSchema.optional(),
  turnSecret: turnSecretSchema.optional(),
  transcriptionEngine: transcriptionEngineSchema.optional(),
  streamingCa: pathSchema.optional(),
  sipListen: listenSchema.optional(),
  sipUdpListen: listenSchema.optional(),
  sipTcpListen: listenSchema.optional(),
  sipDeviceCa: pathSchema.optional(),
  ...kmsStringShape,
});

/** The JSON config file's keys. Unknown keys are refused so a typo is not silently ignored. */
const fileSchema = z
  .object({
    host: hostSchema.optional(),
    port: portNumberSchema.optional(),
    dataDir: pathSchema.optional(),
    cert: pathSchema.optional(),
    key: pathSchema.optional(),
    publicUrl: publicUrlSchema.optional(),
    webRoot: pathSchema.optional(),
    mediaAddress: ipAddressSchema.optional(),
    mediaPorts: portRangeSchema.optional(),
    mediaListen: ipAddressSchema.optional(),
    maxConnections: countNumberSchema.optional(),
    maxConnectionsPerAddress: countNumberSchema.optional(),
    webSourceMaps: z.boolean({ error: "must be true or false" }).optional(),
    logLevel: logLevelSchema.optional(),
    metricsListen: listenSchema.optional(),
    acmeDirectory: acmeDirectorySchema.optional(),
    acmeEmail: emailSchema.optional(),
    acmeCa: pathSchema.optional(),
    acmeHttpPort: portNumberSchema.optional(),
    turnUrl: turnUrlListSchema.optional(),
    turnSecret: turnSecretSchema.optional(),
    transcriptionEngine: transcriptionEngineSchema.optional(),
    streamingCa: pathSchema.optional(),
    sipListen: listenSchema.optional(),
    sipUdpListen: listenSchema.optional(),
  sipTcpListen: listenSchema.optional(),
    sipDeviceCa: pathSchema.optional(),
    sipAccounts: sipAccountsSchema.optional(),
    sipTrunks: sipTrunksSchema.optional(),
    dialInNumbers: dialInNumbersSchema.optional(),
    ...kmsFileShape,
  })
  .strict();

/** Where each option comes from, for error messages and the docs table. */
const FLAG_NAMES: Record<keyof PartialConfig, string> = {
  host: "--host",
  port: "--port",
  dataDir: "--data",
  certFile: "--cert",
  keyFile: "--key",
  publicUrl: "--public-url",
  webRoot: "--web-root",
  mediaAddress: "--media-address",
  mediaPorts: "--media-ports",
  mediaListen: "--media-listen",
  maxConnections: "--max-connections",
  maxConnectionsPerAddress: "--max-connections-per-address",
  webSourceMaps: "--web-source-maps",
  logLevel: "--log-level",
  metricsListen: "--metrics-listen",
  sipListen: "--sip-listen",
  sipUdpListen: "--sip-udp-listen",
  sipTcpListen: "--sip-tcp-listen",
  sipDeviceCa: "CONCLAVE_SIP_DEVICE_CA",
  sipAccounts: "sipAccounts",
  sipTrunks: "sipTrunks",
  dialInNumbers: "dialInNumbers",
  acmeDirectory: "--acme-directory",
  acmeEmail: "--acme-email",
  acmeCa: "--acme-ca",
  acmeHttpPort: "--acme-http-port",
  turnUrl: "--turn-url",
  turnSecret: "--turn-secret",
  transcriptionEngine: "--transcription-engine",
  streamingCa: "--streaming-ca",
  ...KMS_FLAG_NAMES,
};

export const ENV_NAMES = {
  host: "CONCLAVE_HOST",
  port: "CONCLAVE_PORT",
  dataDir: "CONCLAVE_DATA",
  certFile: "CONCLAVE_CERT",
  keyFile: "CONCLAVE_KEY",
  publicUrl: "CONCLAVE_PUBLIC_URL",
  webRoot: "CONCLAVE_WEB_ROOT",
  mediaAddress: "CONCLAVE_MEDIA_ADDRESS",
  mediaPorts: "CONCLAVE_MEDIA_PORTS",
  mediaListen: "CONCLAVE_MEDIA_LISTEN",
  maxConnections: "CONCLAVE_MAX_CONNECTIONS",
  maxConnectionsPerAddress: "CONCLAVE_MAX_CONNECTIONS_PER_ADDRESS",
  webSourceMaps: "CONCLAVE_WEB_SOURCE_MAPS",
  logLevel: "CONCLAVE_LOG_LEVEL",
  metricsListen: "CONCLAVE_METRICS_LISTEN",
  sipListen: "CONCLAVE_SIP_LISTEN",
  sipUdpListen: "CONCLAVE_SIP_UDP_LISTEN",
  sipTcpListen: "CONCLAVE_SIP_TCP_LISTEN",
  sipDeviceCa: "CONCLAVE_SIP_DEVICE_CA",
  acmeDirectory: "CONCLAVE_ACME_DIRECTORY",
  acmeEmail: "CONCLAVE_ACME_EMAIL",
  acmeCa: "CONCLAVE_ACME_CA",
  acmeHttpPort: "CONCLAVE_ACME_HTTP_PORT",
  turnUrl: "CONCLAVE_TURN_URL",
  turnSecret: "CONCLAVE_TURN_SECRET",
  transcriptionEngine: "CONCLAVE_TRANSCRIPTION_ENGINE",
  streamingCa: "CONCLAVE_STREAMING_CA",
  config: "CONCLAVE_CONFIG",
} as const;
/** Every environment variable of the server's configuration, KMS included. */
export const ALL_ENV_NAMES: Readonly<Record<string, string>> = { ...ENV_NAMES, ...KMS_ENV_NAMES };

function fail(issues: readonly z.core.$ZodIssue[], describe: (key: string) => string): never {
  const parts = issues.map((issue) => {
    const key = issue.path.length > 0 ? String(issue.path[0]) : "";
    return key ? `${describe(key)} ${issue.message}` : issue.message;
  });
  throw new ServerError("CONFIG_INVALID", parts.join("; "));
}

function dropEmpty(values: Record<string, string | number | readonly string[] | undefined>): Record<string, string | number | readonly string[]> {
  const out: Record<string, string | number | readonly string[]> = {};
  for (const [k, v] of Object.entries(values)) {
    // An empty environment variable means "not set", as in most Unix tools.
    if (v !== undefined && v !== "") out[k] = v;
  }
  return out;
}

function fromFlags(flags: ConfigFlags, cwd: string): PartialConfig {
  const raw = dropEmpty({
    host: flags.host,
    port: typeof flags.port === "number" ? String(flags.port) : flags.port,
    dataDir: flags.data,
    certFile: flags.cert,
    keyFile: flags.key,
    publicUrl: flags.publicUrl,
    webRoot: flags.webRoot,
    mediaAddress: flags.mediaAddress,
    mediaPorts: flags.mediaPorts,
    mediaListen: flags.mediaListen,
    maxConnections: typeof flags.maxConnections === "number" ? String(flags.maxConnections) : flags.maxConnections,
    maxConnectionsPerAddress: typeof flags.maxConnectionsPerAddress === "number" ? String(flags.maxConnectionsPerAddress) : flags.maxConnectionsPerAddress,
    webSourceMaps: typeof flags.webSourceMaps === "boolean" ? String(flags.webSourceMaps) : flags.webSourceMaps,
    logLevel: flags.logLevel,
    metricsListen: flags.metricsListen,
    sipListen: flags.sipListen,
    sipUdpListen: flags.sipUdpListen,
    sipTcpListen: flags.sipTcpListen,
    acmeDirectory: flags.acmeDirectory,
    acmeEmail: flags.acmeEmail,
    acmeCa: flags.acmeCa,
    acmeHttpPort: typeof flags.acmeHttpPort === "number" ? String(flags.acmeHttpPort) : flags.acmeHttpPort,
    turnUrl: flags.turnUrl,
    turnSecret: flags.turnSecret,
    transcriptionEngine: flags.transcriptionEngine,
    streamingCa: flags.streamingCa,
    ...kmsFlagValues(flags),
  });
  const parsed = stringSourceSchema.safeParse(raw);
  if (!parsed.success) {
    fail(parsed.error.issues, (k) => `${FLAG_NAMES[k as keyof PartialConfig] ?? k}`);
  }
  return resolvePaths(parsed.data, cwd);
}

function fromEnv(env: Readonly<Record<string, string | undefined>>, cwd: string): PartialConfig {
  const raw = dropEmpty({
    host: env[ENV_NAMES.host],
    port: env[ENV_NAMES.port],
    dataDir: env[ENV_NAMES.dataDir],
    certFile: env[ENV_NAMES.certFile],
    keyFile: env[ENV_NAMES.keyFile],
    publicUrl: env[ENV_NAMES.publicUrl],
    webRoot: env[ENV_NAMES.webRoot],
    mediaAddress: env[ENV_NAMES.mediaAddress],
    mediaPorts: env[ENV_NAMES.mediaPorts],
    mediaListen: env[ENV_NAMES.mediaListen],
    maxConnections: env[ENV_NAMES.maxConnections],
    maxConnectionsPerAddress: env[ENV_NAMES.maxConnectionsPerAddress],
    webSourceMaps: env[ENV_NAMES.webSourceMaps],
    logLevel: env[ENV_NAMES.logLevel],
    metricsListen: env[ENV_NAMES.metricsListen],
    sipListen: env[ENV_NAMES.sipListen],
    sipUdpListen: env[ENV_NAMES.sipUdpListen],
    sipTcpListen: env[ENV_NAMES.sipTcpListen],
    sipDeviceCa: env[ENV_NAMES.sipDeviceCa],
    acmeDirectory: env[ENV_NAMES.acmeDirectory],
    acmeEmail: env[ENV_NAMES.acmeEmail],
    acmeCa: env[ENV_NAMES.acmeCa],
    acmeHttpPort: env[ENV_NAMES.acmeHttpPort],
    turnUrl: env[ENV_NAMES.turnUrl],
    turnSecret: env[ENV_NAMES.turnSecret],
    transcriptionEngine: env[ENV_NAMES.transcriptionEngine],
    streamingCa: env[ENV_NAMES.streamingCa],
    ...kmsEnvValues(env),
  });
  const parsed = stringSourceSchema.safeParse(raw);
  if (!parsed.success) {
    fail(parsed.error.issues, (k) => `${ALL_ENV_NAMES[k] ?? k}`);
  }
  return resolvePaths(parsed.data, cwd);
}

function fromFile(file: string, inDataDir: boolean): PartialConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new ServerError("CONFIG_INVALID", `config file ${file} ${why}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ServerError("CONFIG_INVALID", `config file ${file} is not valid JSON`, { cause: e });
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    fail(parsed.error.issues, (k) => `"${k}" in ${file}`);
  }
  const { cert, key, ...rest } = parsed.data;
  if (inDataDir && rest.dataDir !== undefined) {
    throw new ServerError(
      "CONFIG_INVALID",
      `"dataDir" in ${file} has no effect inside the data directory; use --config to point at a file elsewhere`,
    );
  }
  return resolvePaths({ ...rest, certFile: cert, keyFile: key }, dirname(file));
}

function resolvePaths(c: PartialConfig, base: string): PartialConfig {
  const abs = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p);
  return {
    ...c,
    dataDir: abs(c.dataDir),
    certFile: abs(c.certFile),
    keyFile: abs(c.keyFile),
    webRoot: abs(c.webRoot),
    acmeCa: abs(c.acmeCa),
    sipDeviceCa: abs(c.sipDeviceCa),
    ...(c.sipTrunks ? { sipTrunks: c.sipTrunks.map((t) => (t.clientCa === undefined ? t : { ...t, clientCa: abs(t.clientCa) })) } : {}),
    streamingCa: abs(c.streamingCa),
    ...Object.fromEntries(KMS_PATH_KEYS.map((k) => [k, abs(c[k])])),
  };
}

/** A CA bundle travels to connector processes over IPC, which takes up to this (the system's is about 0.2 MB). */
const MAX_CA_BUNDLE_BYTES = 1_000_000;

/**
 * A CA bundle must be there when the server starts, not fail the first stream that needs it: it
 * is read now and every PEM certificate in it must parse (at least one). Returns the path.
 */
function checkCaBundle(file: string, option: string): string {
  let text: string;
  let tooLarge = false;
  try {
    tooLarge = statSync(file).size > MAX_CA_BUNDLE_BYTES;
    text = tooLarge ? "" : readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory" : "cannot be read";
    throw new ServerError("CONFIG_INVALID", `${option}: ${file} ${why}`, { cause: e });
  }
  if (tooLarge) throw new ServerError("CONFIG_INVALID", `${option}: ${file} is larger than ${MAX_CA_BUNDLE_BYTES / 1_000_000} MB: give only the CA certificates that are needed`);
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ServerError("CONFIG_INVALID", `${option}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (e) {
      throw new ServerError("CONFIG_INVALID", `${option}: certificate ${i + 1} in ${file} cannot be parsed`, { cause: e });
    }
  });
  return file;
}

/**
 * Merge flags, environment and config file (in that order of precedence) over the defaults.
 * Throws ServerError CONFIG_INVALID naming the offending option and its source.
 */
export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? {};
  const flagValues = fromFlags(options.flags ?? {}, cwd);
  const envValues = fromEnv(env, cwd);

  // The file is --config, else CONCLAVE_CONFIG, else conclave.json in the data directory
  // (which itself comes from flags or env, since the file cannot name its own directory).
  const explicitFile = options.flags?.config || env[ENV_NAMES.config] || undefined;
  let configFile: string | undefined;
  let fileValues: PartialConfig = {};
  if (explicitFile !== undefined) {
    configFile = resolve(cwd, explicitFile);
    fileValues = fromFile(configFile, false);
  } else {
    const dataDir = flagValues.dataDir ?? envValues.dataDir ?? resolve(cwd, DEFAULT_DATA_DIR);
    const candidate = dataPaths(dataDir).configFile;
    if (existsSync(candidate)) {
      configFile = candidate;
      fileValues = fromFile(candidate, true);
    }
  }

  const pick = <K extends keyof PartialConfig>(k: K): PartialConfig[K] =>
    flagValues[k] ?? envValues[k] ?? fileValues[k];

  const certFile = pick("certFile");
  const keyFile = pick("keyFile");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ServerError(
      "CONFIG_INVALID",
      "a certificate and its key go together: give both --cert and --key (or neither for a self-signed localhost certificate)",
    );
  }

  const config: {
    -readonly [K in keyof ServerConfig]: ServerConfig[K];
  } = {
    host: pick("host") ?? DEFAULT_HOST,
    port: pick("port") ?? DEFAULT_PORT,
    dataDir: pick("dataDir") ?? resolve(cwd, DEFAULT_DATA_DIR),
  };
  if (certFile !== undefined) config.certFile = certFile;
  if (keyFile !== undefined) config.keyFile = keyFile;
  const publicUrl = pick("publicUrl");
  if (publicUrl !== undefined) config.publicUrl = publicUrl;
  const webRoot = pick("webRoot");
  if (webRoot !== undefined) config.webRoot = webRoot;
  const media: { -readonly [K in keyof MediaConfig]: MediaConfig[K] } = {};
  const mediaListen = pick("mediaListen");
  if (mediaListen !== undefined) media.listenAddress = mediaListen;
  const mediaAddress = pick("mediaAddress");
  if (mediaAddress !== undefined) media.announcedAddress = mediaAddress;
  const mediaPorts = pick("mediaPorts");
  if (mediaPorts !== undefined) media.portRange = mediaPorts;
  if (Object.keys(media).length > 0) config.media = media;
  const maxConnections = pick("maxConnections");
  if (maxConnections !== undefined) config.maxConnections = maxConnections;
  const maxConnectionsPerAddress = pick("maxConnectionsPerAddress");
  if (maxConnectionsPerAddress !== undefined) config.maxConnectionsPerAddress = maxConnectionsPerAddress;
  const webSourceMaps = pick("webSourceMaps");
  if (webSourceMaps !== undefined) config.webSourceMaps = webSourceMaps;
  if (configFile !== undefined) config.configFile = configFile;
  const logLevel = pick("logLevel");
  if (logLevel !== undefined) config.logLevel = logLevel;
  const metricsListen = pick("metricsListen");
  if (metricsListen !== undefined) config.metricsListen = metricsListen;
  const sipListen = pick("sipListen");
  const sipUdpListen = pick("sipUdpListen");
  const sipTcpListen = pick("sipTcpListen");
  if (sipListen !== undefined || sipUdpListen !== undefined || sipTcpListen !== undefined) {
    const accounts = pick("sipAccounts");
    const deviceCa = pick("sipDeviceCa");
    const trunks = pick("sipTrunks");
    const dialInNumbers = pick("dialInNumbers");
    config.sip = {
      ...(trunks !== undefined ? { trunks } : {}),
      ...(dialInNumbers !== undefined ? { dialInNumbers } : {}),
      ...(sipListen !== undefined ? { tlsListen: sipListen } : {}),
      ...(sipUdpListen !== undefined ? { udpListen: sipUdpListen } : {}),
      ...(sipTcpListen !== undefined ? { tcpListen: sipTcpListen } : {}),
      ...(accounts !== undefined ? { accounts } : {}),
      ...(deviceCa !== undefined ? { deviceCaFile: deviceCa } : {}),
    };
  }

  if (config.sip === undefined && pick("sipTrunks") !== undefined) {
    throw new ServerError("CONFIG_INVALID", "sipTrunks needs a SIP listener for the trunks to call: give --sip-listen, --sip-udp-listen or --sip-tcp-listen");
  }
  for (const [i, t] of (config.sip?.trunks ?? []).entries()) {
    if (t.clientCa === undefined) continue;
    if (config.sip?.tlsListen === undefined) {
      throw new ServerError("CONFIG_INVALID", `sipTrunks[${i}].clientCa needs SIP over TLS (mutual TLS): give --sip-listen`);
    }
    checkCaBundle(t.clientCa, `sipTrunks[${i}].clientCa`);
  }

  const acmeDirectory = pick("acmeDirectory");
  if (acmeDirectory !== undefined) {
    if (certFile !== undefined) {
      throw new ServerError("CONFIG_INVALID", "--acme-directory and --cert/--key are alternatives: give one or the other");
    }
    if (publicUrl === undefined) {
      throw new ServerError("CONFIG_INVALID", "--acme-directory needs --public-url: the certificate is issued for its host name");
    }
    const acmeEmail = pick("acmeEmail");
    const acmeCa = pick("acmeCa");
    config.acme = {
      directoryUrl: acmeDirectory,
      httpPort: pick("acmeHttpPort") ?? DEFAULT_ACME_HTTP_PORT,
      ...(acmeEmail !== undefined ? { email: acmeEmail } : {}),
      ...(acmeCa !== undefined ? { caFile: acmeCa } : {}),
    };
  } else {
    for (const k of ["acmeEmail", "acmeCa", "acmeHttpPort"] as const) {
      if (pick(k) !== undefined) throw new ServerError("CONFIG_INVALID", `${FLAG_NAMES[k]} has no effect without --acme-directory`);
    }
  }

  const turnUrl = pick("turnUrl");
  const turnSecret = pick("turnSecret");
  if ((turnUrl === undefined) !== (turnSecret === undefined)) {
    throw new ServerError("CONFIG_INVALID", "TURN needs both --turn-url and --turn-secret (the secret coturn's static-auth-secret holds)");
  }
  if (turnUrl !== undefined && turnSecret !== undefined) config.turn = { urls: turnUrl, secret: turnSecret };
  const transcriptionEngine = pick("transcriptionEngine");
  if (transcriptionEngine !== undefined) config.transcriptionEngine = transcriptionEngine;
  const streamingCa = pick("streamingCa");
  if (streamingCa !== undefined) {
    const source = flagValues.streamingCa !== undefined ? FLAG_NAMES.streamingCa : envValues.streamingCa !== undefined ? ENV_NAMES.streamingCa : `"streamingCa" in ${configFile ?? "the config file"}`;
    config.streamingCa = checkCaBundle(streamingCa, source);
  }
  config.kms = resolveKmsConfig(pick, config.dataDir);
  return config;
}
