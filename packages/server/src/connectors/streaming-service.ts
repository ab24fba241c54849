/**
 * The server's side of live streaming. A host starts a stream of a meeting to an RTMP or RTMPS
 * URL with a stream key (HTTP API, web UI); the service checks the meeting (not e2ee, not ended),
 * the owner's liveStreaming setting (with its locks) and the URL, seals the stream key at once
 * under a KMS data key of its own (the clear key is never logged, never written), and starts the
 * streaming connector (@conclave/connectors, a supervised process) with a single-use join ticket,
 * the sealed key and its data key. The connector connects to the destination first (a refused
 * URL fails the start with STREAM_REFUSED), then joins as a visible member of kind `streaming`.
 *
 * On disk, `<dataDir>/streams/<id>.json` holds only the sealed key and the destination without
 * the key, while the stream runs; stopping destroys the data key (crypto-shredding) and the file.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { exportDataKey, seal, type KeyManager } from "@conclave/kms";
import {
  ConnectorSupervisor,
  parseIpc,
  STREAMING_CONNECTOR_MODULE,
  streamerToServerSchema,
  type ServerToStreamer,
  type StreamerToServer,
  type SupervisedProcess,
} from "@conclave/connectors/supervisor";
import { ServerError } from "../errors.js";
import { kmsCall } from "../kms/runtime.js";
import type { Logger } from "../observability/logger.js";
import type { MeetingRegistry } from "../meetings/meeting-registry.js";

export type StreamLayout = "speaker" | "grid";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "stopped" | "failed";

export interface StreamInfo {
  id: string;
  meetingId: string;
  /** The destination without the stream key: scheme, host, port, application path. */
  destination: string;
  /** True for rtmps:// (TLS to the ingest), false for rtmp:// (unencrypted beyond the connector). */
  tls: boolean;
  /** The picture: the active speaker's camera, or a 2×2 grid of cameras. */
  layout: StreamLayout;
  status: StreamStatus;
  startedAt: number;
  /** When the destination last accepted the stream. */
  connectedAt: number | null;
  /** Restarts after the ingest dropped. */
  reconnects: number;
  memberId: string | null;
  error: string | null;
}

export interface StreamingServiceOptions {
  registry: MeetingRegistry;
  logger: Logger;
  /** `<dataDir>/streams`. */
  dir: string;
  keys: () => KeyManager;
  signalingUrl: () => string;
  /** PEM of the server's certificate, which the connector trusts when it joins. */
  ca: string;
  /** CA bundle file an rtmps:// ingest's certificate must chain to (streamingCa); absent: the system's. */
  ingestCaFile?: string;
  meeting: (meetingId: string) => { encryption: "e2ee" | "enhanced"; ownerUserId: string | null; ended: boolean } | undefined;
  /** The owner's effective liveStreaming setting. */
  streamingAllowed: (ownerUserId: string | null) => boolean;
  /** How long a start waits for the destination to accept; default 30 s. */
  connectTimeoutMs?: number;
}

const MAX_URL = 1024;
const MAX_KEY = 512;
const EXIT_MESSAGE_GRACE_MS = 500;

/** Checks a destination URL: rtmp:// or rtmps://, a host, no credentials, query or fragment. */
export function parseStreamUrl(raw: unknown): { url: string; destination: string; tls: boolean } {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_URL) throw new ServerError("STREAM_URL_INVALID", "url: an rtmp:// or rtmps:// URL is required");
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ServerError("STREAM_URL_INVALID", "url: not a URL");
  }
  if (u.protocol !== "rtmp:" && u.protocol !== "rtmps:") throw new ServerError("STREAM_URL_INVALID", "url: only rtmp:// and rtmps:// are supported");
  if (u.hostname === "") throw new ServerError("STREAM_URL_INVALID", "url: no host");
  if (u.username !== "" || u.password !== "" || u.search !== "" || u.hash !== "") {
    throw new ServerError("STREAM_URL_INVALID", "url: no user, password, query or fragment (give the stream key in streamKey)");
  }
  if (!/^[A-Za-z0-9._~/-]*$/.test(u.pathname)) throw new ServerError("STREAM_URL_INVALID", "url: the application path has characters ffmpeg cannot take");
  const path = u.pathname.replace(/\/+$/, "");
  const url = `${u.protocol}//${u.host}${path}`;
  return { url, destination: url, tls: u.protocol === "rtmps:" };
}

/** The stream's layout: "speaker" (the default) or "grid". */
export function checkStreamLayout(raw: unknown): StreamLayout {
  if (raw === undefined) return "speaker";
  if (raw !== "speaker" && raw !== "grid") throw new ServerError("BAD_REQUEST", 'layout: "speaker" (the active speaker) or "grid" (up to four cameras)');
  return raw;
}

export function checkStreamKey(raw: unknown): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_KEY || !/^[\x21-\x7e]+$/.test(raw) || /[/?#]/.test(raw)) {
    throw new ServerError("STREAM_URL_INVALID", `streamKey: 1-${MAX_KEY} printable ASCII characters without spaces, "/", "?" or "#"`);
  }
  return raw;
}

export class StreamingService {
  readonly #opts: StreamingServiceOptions;
  readonly #supervisor = new ConnectorSupervisor();
  /** meeting id -> the stream under way. */
  readonly #active = new Map<string, { info: StreamInfo; process: SupervisedProcess; ended: Promise<StreamInfo> }>();
  #closed = false;

  constructor(opts: StreamingServiceOptions) {
    this.#opts = opts;
  }

  async start(): Promise<void> {
    // Sealed keys of streams a crashed server left: their data keys are gone with the stream.
    await rm(this.#opts.dir, { recursive: true, force: true });
    await mkdir(this.#opts.dir, { recursive: true, mode: 0o700 });
  }

  /** A host starts streaming `meetingId`; resolves once the destination accepted the stream. */
  async startStream(meetingId: string, principal: string, body: { url?: unknown; streamKey?: unknown; layout?: unknown }): Promise<StreamInfo> {
    if (this.#closed) throw new ServerError("SERVER_CLOSED");
    const meeting = this.#opts.meeting(meetingId);
    if (!meeting) throw new ServerError("MEETING_NOT_FOUND");
    if (meeting.ended) throw new ServerError("MEETING_ENDED");
    if (meeting.encryption === "e2ee") throw new ServerError("CONNECTOR_NOT_ALLOWED", "live streaming is unavailable in end-to-end encrypted meetings: the stream would need a server-side member that can read the media");
    if (!this.#opts.streamingAllowed(meeting.ownerUserId)) throw new ServerError("STREAMING_NOT_ALLOWED");
    if (this.#active.has(meetingId)) throw new ServerError("STREAM_ACTIVE");
    const dest = parseStreamUrl(body.url);
    const streamKey = checkStreamKey(body.streamKey);
    const layout = checkStreamLayout(body.layout);
    const id = randomBytes(16).toString("hex");
    const key = await kmsCall(() => this.#opts.keys().keyFor({ kind: "stream", id }, principal));
    const sealed = Buffer.from(seal(key, "streamKey", streamKey)).toString("base64");
    const info: StreamInfo = { id, meetingId, destination: dest.destination, tls: dest.tls, layout, status: "connecting", startedAt: Date.now(), connectedAt: null, reconnects: 0, memberId: null, error: null };
    const file = join(this.#opts.dir, `${id}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify({ id, meetingId, destination: dest.destination, sealedStreamKey: sealed }), { mode: 0o600 });
    await rename(`${file}.tmp`, file);

    const process = this.#supervisor.spawn({ name: `streaming ${id.slice(0, 8)}`, module: STREAMING_CONNECTOR_MODULE, limits: { heapMb: 256, rssMb: 768 }, stopGraceMs: 10_000 });
    let settle!: (e?: ServerError) => void;
    const accepted = new Promise<ServerError | undefined>((r) => (settle = r));
    let ended!: (i: StreamInfo) => void;
    const endedP = new Promise<StreamInfo>((r) => (ended = r));
    this.#active.set(meetingId, { info, process, ended: endedP });
    process.on("log", (line) => this.#opts.logger.warn(`streaming connector: ${line}`));
    process.on("message", (raw) => {
      let m: StreamerToServer;
      try {
        m = parseIpc(streamerToServerSchema, raw);
      } catch (e) {
        this.#opts.logger.warn("streaming connector: a malformed message was dropped", e);
        return;
      }
      this.#onMessage(info, m, settle);
    });
    process.on("exit", ({ reason, code }) => {
      void (async () => {
        // The child's last IPC messages may be handled after its exit event.
        await new Promise((r) => setTimeout(r, EXIT_MESSAGE_GRACE_MS));
        if (info.status !== "failed") info.status = "stopped";
        if (code !== 0 && reason !== "stopped") info.error ??= `the streaming connector exited (${reason})`;
        settle(new ServerError("STREAM_REFUSED", info.error ?? "the streaming connector exited before the destination accepted the stream"));
        await this.#forget(id);
        // Active until the key is destroyed: the next stream of this meeting starts clean.
        if (this.#active.get(meetingId)?.info.id === id) this.#active.delete(meetingId);
        ended({ ...info });
      })();
    });
    const ticket = this.#opts.registry.hostTicket(meetingId, "streaming");
    process.send({
      type: "stream",
      streamId: id,
      signalingUrl: this.#opts.signalingUrl(),
      meetingId,
      ticket,
      ca: this.#opts.ca,
      ...(this.#opts.ingestCaFile !== undefined ? { ingestCaFile: this.#opts.ingestCaFile } : {}),
      displayName: displayNameFor(dest.destination),
      url: dest.url,
      layout,
      sealedStreamKey: sealed,
      key: exportDataKey(key) as Extract<ServerToStreamer, { type: "stream" }>["key"],
    } satisfies ServerToStreamer);
    const timer = setTimeout(() => settle(new ServerError("STREAM_REFUSED", "the destination did not accept the stream in time")), this.#opts.connectTimeoutMs ?? 30_000);
    const error = await accepted;
    clearTimeout(timer);
    if (error) {
      if (this.#active.get(meetingId)?.info.id === id) {
        process.send({ type: "stop" } satisfies ServerToStreamer);
        await endedP;
      }
      throw error;
    }
    return { ...info };
  }

  /** A host stops the stream; resolves once the connector has left and exited. */
  async stopStream(meetingId: string): Promise<StreamInfo> {
    const active = this.#active.get(meetingId);
    if (!active) throw new ServerError("STREAM_NOT_ACTIVE");
    active.process.send({ type: "stop" } satisfies ServerToStreamer);
    return active.ended;
  }

  active(meetingId: string): (StreamInfo & { pid: number | undefined }) | undefined {
    const a = this.#active.get(meetingId);
    return a ? { ...a.info, pid: a.process.pid } : undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#active.values()];
    for (const a of pending) a.process.send({ type: "stop" } satisfies ServerToStreamer);
    await Promise.race([Promise.all(pending.map((a) => a.ended)), new Promise((r) => setTimeout(r, 15_000).unref())]);
    await this.#supervisor.close();
  }

  #onMessage(info: StreamInfo, m: StreamerToServer, settle: (e?: ServerError) => void): void {
    switch (m.type) {
      case "connected":
        info.connectedAt = Date.now();
        if (info.status === "reconnecting") info.status = info.memberId ? "live" : "connecting";
        if (m.attempt === 0 && info.reconnects === 0) this.#opts.logger.info(`stream ${info.id} of meeting ${info.meetingId}: ${info.destination} accepted the stream`);
        break;
      case "inGroup":
        info.memberId = m.memberId;
        info.status = "live";
        settle();
        break;
      case "reconnecting":
        info.status = "reconnecting";
        info.reconnects++;
        info.error = m.detail;
        this.#opts.logger.warn(`stream ${info.id}: the ingest dropped (${m.detail}); reconnecting in ${m.delayMs} ms`);
        break;
      case "stopped":
        if (info.status !== "failed") info.status = "stopped";
        break;
      case "failed":
        info.status = "failed";
        info.error = `${m.code}: ${m.detail}`;
        this.#opts.logger.warn(`stream ${info.id}: ${info.error}`);
        settle(new ServerError(m.code === "STREAM_REFUSED" ? "STREAM_REFUSED" : "STREAM_FAILED", m.code === "STREAM_REFUSED" ? `could not stream to ${info.destination}: ${m.detail}` : info.error));
        break;
      default: {
        const never: never = m;
        throw new Error(`unhandled ${(never as { type: string }).type}`);
      }
    }
  }

  /** The stream is over: its data key is destroyed (the sealed key becomes noise), its file removed. */
  async #forget(id: string): Promise<void> {
    try {
      await kmsCall(() => this.#opts.keys().shred({ kind: "stream", id }, "system:streaming"));
    } catch (e) {
      this.#opts.logger.warn(`stream ${id}: its data key could not be destroyed`, e);
    }
    await rm(join(this.#opts.dir, `${id}.json`), { force: true });
  }
}

/** The member's name everyone sees: "Live stream to rtmp://host/app" (64 characters at most). */
export function displayNameFor(destination: string): string {
  const name = `Live stream to ${destination}`;
  return name.length <= 64 ? name : `${name.slice(0, 63)}…`;
}
