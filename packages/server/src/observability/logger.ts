/**
 * Structured JSON logs (pino): one JSON object per line on stderr, with a level, an ISO time,
 * a message and fields. Every part of the server takes a `Logger` by injection (ServerContext,
 * ConclaveOptions) and narrows it with `child({ component: "relay" })`; a request handled over
 * HTTP carries its request id in `reqId`.
 *
 * Nothing secret reaches a line: fields whose name says key, passcode, PIN, token, secret,
 * password, cookie, authorization, credential, CSRF, session, frame, payload, body or signature
 * are replaced by "[redacted]" at any depth, and raw bytes (Buffer, Uint8Array, ArrayBuffer —
 * frames, key material) become "[N bytes]". Messages are the caller's responsibility: write what
 * happened, never a value that came from a secret.
 *
 * Security events (rate-limit trips, failed sign-ins, refused commits, …) go through the same
 * logger: `logger.child({ log: "security" }).warn("sign-in refused", undefined, { event: "signin_failed", ip })`.
 */
import { Writable } from "node:stream";
import { pino, type Logger as PinoLogger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/** Structured context of a log line. Values are redacted as described above. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  /** `error` is an exception or failure object (serialized as `err`: type, code, message, stack). */
  warn(message: string, error?: unknown, fields?: LogFields): void;
  error(message: string, error?: unknown, fields?: LogFields): void;
  /** A logger whose every line also carries `bindings` (e.g. { component: "acme" }, { reqId }). */
  child(bindings: LogFields): Logger;
}

/**
 * The least a caller may pass where a logger is accepted (tests pass small objects like this).
 * `asLogger` turns it into a full Logger.
 */
export type LogSink = Pick<Logger, "info" | "warn" | "error"> & Partial<Pick<Logger, "debug" | "child">>;

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

// ---- redaction ----

/** Words that make a field secret wherever they appear in its name (camelCase, snake_case, kebab-case). */
const SECRET_WORDS = new Set([
  "key", "keys", "passcode", "passcodes", "password", "passwords", "passphrase", "pin", "pins",
  "token", "tokens", "secret", "secrets", "cookie", "cookies", "authorization", "auth",
  "credential", "credentials", "csrf", "session", "sessions", "frame", "frames", "payload",
  "body", "signature", "private", "psk", "plaintext", "ciphertext",
]);

const REDACTED = "[redacted]";
const MAX_DEPTH = 6;

/** True when a field name holds one of SECRET_WORDS as a word (`meetingPasscode`, `api_key`, `Set-Cookie`). */
export function isSecretFieldName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

/** A copy of `value` safe to log: secret-named fields and raw bytes replaced, cycles and depth cut. */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== "object") {
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "function" || typeof value === "symbol") return undefined;
    return value;
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return `[${(value as ArrayBuffer | ArrayBufferView).byteLength} bytes]`;
  }
  if (value instanceof Error) return serializeError(value, depth, seen);
  if (value instanceof Date) return value.toISOString();
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.slice(0, 100).map((v) => redact(v, depth + 1, seen));
    if (value instanceof Map) return redact(Object.fromEntries(value), depth, seen);
    if (value instanceof Set) return redact([...value], depth, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretFieldName(k) ? REDACTED : redact(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** type, code, message and stack of an error and its causes; other own properties are redacted like fields. */
function serializeError(error: Error, depth: number, seen: WeakSet<object>): unknown {
  if (seen.has(error)) return "[circular]";
  seen.add(error);
  try {
    const out: Record<string, unknown> = { type: error.name, message: error.message };
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" || typeof code === "number") out.code = code;
    if (error.stack !== undefined) out.stack = error.stack;
    if (error.cause !== undefined && depth < MAX_DEPTH) out.cause = redact(error.cause, depth + 1, seen);
    return out;
  } finally {
    seen.delete(error);
  }
}

function errorField(error: unknown): Record<string, unknown> {
  if (error === undefined) return {};
  return { err: error instanceof Error ? redact(error) : { message: String(redact(error)) } };
}

// ---- pino-backed logger ----

export interface CreateLoggerOptions {
  /** Lowest level written; default "info". "silent" writes nothing. */
  level?: LogLevel;
  /** Where lines go; default stderr (synchronously, so nothing is lost when the process exits). */
  destination?: NodeJS.WritableStream;
  /** Fields on every line. */
  bindings?: LogFields;
}

/** A JSON-lines logger. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  const base = pino(
    {
      level: options.level ?? DEFAULT_LOG_LEVEL,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: "msg",
      // Errors are serialized by errorField (with redaction); pino must not re-serialize them.
      serializers: { err: (e: unknown) => e },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const root = options.bindings ? base.child(redact(options.bindings) as Record<string, unknown>) : base;
  return wrapPino(root);
}

function wrapPino(p: PinoLogger): Logger {
  const fieldsOf = (fields: LogFields | undefined): Record<string, unknown> =>
    fields === undefined ? {} : (redact(fields) as Record<string, unknown>);
  return {
    debug: (message, fields) => {
      if (p.isLevelEnabled("debug")) p.debug(fieldsOf(fields), message);
    },
    info: (message, fields) => {
      if (p.isLevelEnabled("info")) p.info(fieldsOf(fields), message);
    },
    warn: (message, error, fields) => {
      if (p.isLevelEnabled("warn")) p.warn({ ...fieldsOf(fields), ...errorField(error) }, message);
    },
    error: (message, error, fields) => {
      if (p.isLevelEnabled("error")) p.error({ ...fieldsOf(fields), ...errorField(error) }, message);
    },
    child: (bindings) => wrapPino(p.child(fieldsOf(bindings))),
  };
}

/** Writes nothing. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/**
 * A full Logger from a LogSink. A sink without `child` gets the bindings and fields appended to
 * the message as redacted JSON, so nothing is lost and nothing secret is added.
 */
export function asLogger(sink: LogSink | Logger): Logger {
  if (typeof sink.child === "function" && typeof sink.debug === "function") return sink as Logger;
  return sinkLogger(sink, {});
}

function sinkLogger(sink: LogSink, bindings: Record<string, unknown>): Logger {
  const withFields = (message: string, fields: LogFields | undefined): string => {
    const all = { ...bindings, ...(fields ?? {}) };
    return Object.keys(all).length === 0 ? message : `${message} ${JSON.stringify(redact(all))}`;
  };
  const safeError = (error: unknown): unknown => (error instanceof Error || error === undefined ? error : redact(error));
  return {
    debug: (message, fields) => sink.debug?.(withFields(message, fields)),
    info: (message, fields) => sink.info(withFields(message, fields)),
    warn: (message, error, fields) => sink.warn(withFields(message, fields), safeError(error)),
    error: (message, error, fields) => sink.error(withFields(message, fields), safeError(error)),
    child: (more) => sinkLogger(sink, { ...bindings, ...more }),
  };
}

/** A logger that keeps its lines in memory, parsed (for tests that assert on what was logged). */
export interface MemoryLogger extends Logger {
  /** Every line written so far, parsed from JSON. */
  lines(): Record<string, unknown>[];
  /** Every line written so far, raw (to check that a secret appears nowhere). */
  text(): string;
}

export function memoryLogger(level: LogLevel = "debug"): MemoryLogger {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level, destination });
  const text = (): string => chunks.join("");
  return {
    ...logger,
    lines: () =>
      text()
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    text,
  };
}
