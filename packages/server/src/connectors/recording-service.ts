/**
 * The server's side of cloud recording. A host starts a recording (HTTP API, web UI); the
 * service checks the meeting (not e2ee, not ended) and the owner's settings (cloudRecording,
 * with its locks), creates the recording's data key in the KMS, and starts the recording
 * connector (@conclave/connectors, a supervised process of its own) with a single-use join
 * ticket and that data key. The connector joins as a visible member of kind `recording`,
 * writes everything encrypted, and finalizes when stopped or when the meeting ends. If it dies
 * (crash, kill -9, resource limit) the service starts it again in recovery mode to finalize
 * what was written; at start-up it does the same for recordings a crashed server left.
 *
 * On disk, `<dataDir>/recordings/<id>/`: `meta.json` (in clear: ids, owner, times, sizes,
 * status; no names, no content), `tracks.sealed` (sealed list of live files and whose they
 * are), live `live-*.webm.clvc` and finalized `recording.webm.clvc` / `audio.webm.clvc`: all KMS
 * chunked streams. Deleting destroys the data key first (crypto-shredding), then the files.
 *
 * Nothing here touches media: the server's process sees only what the connector reports.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EncryptedFileReader, exportDataKey, type KeyManager } from "@conclave/kms";
import {
  ConnectorSupervisor,
  parseIpc,
  RECORDING_CONNECTOR_MODULE,
  recorderToServerSchema,
  type RecorderToServer,
  type ServerToRecorder,
  type SupervisedProcess,
} from "@conclave/connectors/supervisor";
import { ServerError } from "../errors.js";
import { kmsCall } from "../kms/runtime.js";
import type { Logger } from "../observability/logger.js";
import type { MeetingRegistry } from "../meetings/meeting-registry.js";

export type RecordingStatus = "starting" | "recording" | "finalizing" | "ready" | "failed";
export type RecordingFileName = "recording.webm" | "audio.webm" | "captions.vtt";
export const RECORDING_FILES: readonly RecordingFileName[] = ["recording.webm", "audio.webm", "captions.vtt"];
/** captions.vtt: the live captions received while recording (WebVTT), when transcription ran. */
const FINAL_FIELDS: Record<RecordingFileName, string> = { "recording.webm": "final.recording", "audio.webm": "final.audio", "captions.vtt": "final.captions" };

export interface RecordingMeta {
  id: string;
  meetingId: string;
  ownerUserId: string | null;
  /** When the host started it (ms since the epoch). */
  createdAt: number;
  /** When the first frame was written. */
  startedAt: number | null;
  stoppedAt: number | null;
  status: RecordingStatus;
  /** The connector died and what it had written was recovered. */
  recovered: boolean;
  durationMs: number | null;
  tracks: number | null;
  files: { name: RecordingFileName; bytes: number }[];
  /** The recording member's id once it is in the group. */
  memberId: string | null;
  error: string | null;
}

export interface RecordingServiceOptions {
  registry: MeetingRegistry;
  logger: Logger;
  /** `<dataDir>/recordings`. */
  dir: string;
  keys: () => KeyManager;
  signalingUrl: () => string;
  ca: string;
  /** The meeting as stored: encryption, owner, ended. */
  meeting: (meetingId: string) => { encryption: "e2ee" | "enhanced"; ownerUserId: string | null; ended: boolean } | undefined;
  /** The owner's effective cloudRecording setting. */
  recordingAllowed: (ownerUserId: string | null) => boolean;
  /** The owner's retention in days (null: keep). */
  retentionDays: (ownerUserId: string | null) => number | null;
  /** Memory limit of a recorder process (it finalizes in memory), MiB; default 1536. */
  recorderRssMb?: number;
}

const RETENTION_SWEEP_MS = 60 * 60_000;
const EXIT_MESSAGE_GRACE_MS = 500;
const ID = /^[a-f0-9]{32}$/;

export class RecordingService {
  readonly #opts: RecordingServiceOptions;
  readonly #supervisor = new ConnectorSupervisor();
  readonly #metas = new Map<string, RecordingMeta>();
  /** meeting id -> the recording under way. */
  readonly #active = new Map<string, { id: string; process: SupervisedProcess; finalized: Promise<RecordingMeta> }>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(opts: RecordingServiceOptions) {
    this.#opts = opts;
  }

  /** Loads what is on disk, recovers recordings a crashed server left, starts the retention sweep. */
  async start(): Promise<void> {
    await mkdir(this.#opts.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.#opts.dir)) {
      if (!ID.test(name)) continue;
      try {
        const meta = JSON.parse(await readFile(join(this.#opts.dir, name, "meta.json"), "utf8")) as RecordingMeta;
        this.#metas.set(meta.id, meta);
      } catch {
        // a directory without readable metadata: not ours to touch
      }
    }
    for (const meta of this.#metas.values()) {
      if (meta.status === "starting" || meta.status === "recording" || meta.status === "finalizing") void this.#recover(meta);
    }
    await this.sweepRetention();
    this.#sweep = setInterval(() => void this.sweepRetention(), RETENTION_SWEEP_MS);
    this.#sweep.unref();
  }

  /** A host starts recording `meetingId`. */
  async startRecording(meetingId: string, principal: string): Promise<RecordingMeta> {
    this.#checkOpen();
    const meeting = this.#opts.meeting(meetingId);
    if (!meeting) throw new ServerError("MEETING_NOT_FOUND");
    if (meeting.ended) throw new ServerError("MEETING_ENDED");
    if (meeting.encryption === "e2ee") throw new ServerError("CONNECTOR_NOT_ALLOWED", "cloud recording is unavailable in end-to-end encrypted meetings; record locally instead");
    if (!this.#opts.recordingAllowed(meeting.ownerUserId)) throw new ServerError("RECORDING_NOT_ALLOWED");
    if (this.#active.has(meetingId)) throw new ServerError("RECORDING_ACTIVE");
    const id = randomBytes(16).toString("hex");
    const dir = join(this.#opts.dir, id);
    const key = await kmsCall(() => this.#opts.keys().keyFor({ kind: "recording", id }, principal));
    await mkdir(dir, { mode: 0o700 });
    const meta: RecordingMeta = {
      id,
      meetingId,
      ownerUserId: meeting.ownerUserId,
      createdAt: Date.now(),
      startedAt: null,
      stoppedAt: null,
      status: "starting",
      recovered: false,
      durationMs: null,
      tracks: null,
      files: [],
      memberId: null,
      error: null,
    };
    await this.#save(meta);
    const ticket = this.#opts.registry.hostTicket(meetingId, "recording");
    this.#run(meta, {
      type: "record",
      recordingId: id,
      signalingUrl: this.#opts.signalingUrl(),
      meetingId,
      ticket,
      ca: this.#opts.ca,
      displayName: "Cloud recording",
      dir,
      key: exportDataKey(key) as Extract<ServerToRecorder, { type: "record" }>["key"],
    });
    return { ...meta };
  }

  /** A host stops the recording; resolves once it is finalized (or failed). */
  async stopRecording(meetingId: string): Promise<RecordingMeta> {
    const active = this.#active.get(meetingId);
    if (!active) throw new ServerError("RECORDING_NOT_ACTIVE");
    const meta = this.#metas.get(active.id)!;
    if (meta.status === "starting" || meta.status === "recording") {
      meta.status = "finalizing";
      meta.stoppedAt = Date.now();
      await this.#save(meta);
    }
    active.process.send({ type: "stop" } satisfies ServerToRecorder);
    return active.finalized;
  }

  /** The recording under way in a meeting, if any. */
  active(meetingId: string): (RecordingMeta & { pid: number | undefined }) | undefined {
    const a = this.#active.get(meetingId);
    const meta = a ? this.#metas.get(a.id) : undefined;
    return a && meta ? { ...meta, pid: a.process.pid } : undefined;
  }

  /** Every recording, newest first; only `ownerUserId`'s when given. */
  list(ownerUserId?: string): RecordingMeta[] {
    return [...this.#metas.values()]
      .filter((m) => ownerUserId === undefined || m.ownerUserId === ownerUserId)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((m) => ({ ...m, files: m.files.map((f) => ({ ...f })) }));
  }

  get(id: string): RecordingMeta {
    const m = ID.test(id) ? this.#metas.get(id) : undefined;
    if (!m) throw new ServerError("RECORDING_NOT_FOUND");
    return { ...m, files: m.files.map((f) => ({ ...f })) };
  }

  /** A finalized file, decrypted on the fly (random access for range requests). Close it after use. */
  async openFile(id: string, name: RecordingFileName, principal: string): Promise<EncryptedFileReader> {
    const meta = this.get(id);
    if (!meta.files.some((f) => f.name === name)) throw new ServerError("RECORDING_NOT_READY");
    return kmsCall(async () => {
      const key = await this.#opts.keys().existingKey({ kind: "recording", id }, principal);
      return EncryptedFileReader.open(join(this.#opts.dir, id, `${name}.clvc`), key, FINAL_FIELDS[name]);
    });
  }

  /** Crypto-shreds a recording: its data key is destroyed, then its files removed. */
  async delete(id: string, principal: string): Promise<void> {
    const meta = this.get(id);
    const active = this.#active.get(meta.meetingId);
    if (active?.id === id) {
      await active.process.stop();
      this.#active.delete(meta.meetingId);
    }
    await kmsCall(() => this.#opts.keys().shred({ kind: "recording", id }, principal));
    this.#metas.delete(id);
    await rm(join(this.#opts.dir, id), { recursive: true, force: true });
  }

  /** Deletes finished recordings older than their owner's retention. Returns how many. */
  async sweepRetention(now = Date.now()): Promise<number> {
    let n = 0;
    for (const meta of [...this.#metas.values()]) {
      if (meta.status !== "ready" && meta.status !== "failed") continue;
      const days = this.#opts.retentionDays(meta.ownerUserId);
      if (days === null || now - meta.createdAt < days * 86_400_000) continue;
      try {
        await this.delete(meta.id, "system:retention");
        n++;
      } catch (e) {
        this.#opts.logger.warn("recording retention: a recording could not be deleted", e);
      }
    }
    return n;
  }

  /** Stops every recording (each finalizes first) and the sweep. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    const pending = [...this.#active.values()];
    for (const a of pending) a.process.send({ type: "stop" } satisfies ServerToRecorder);
    await Promise.race([Promise.all(pending.map((a) => a.finalized)), new Promise((r) => setTimeout(r, 20_000).unref())]);
    await this.#supervisor.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ServerError("SERVER_CLOSED");
  }

  /** Starts a recorder process for `meta` and follows it to the end. */
  #run(meta: RecordingMeta, first: ServerToRecorder): void {
    const process = this.#supervisor.spawn({
      name: `recording ${meta.id.slice(0, 8)}`,
      module: RECORDING_CONNECTOR_MODULE,
      limits: { heapMb: 512, rssMb: this.#opts.recorderRssMb ?? 1536 },
      stopGraceMs: 30_000,
    });
    let done!: (m: RecordingMeta) => void;
    const finalized = new Promise<RecordingMeta>((r) => (done = r));
    this.#active.set(meta.meetingId, { id: meta.id, process, finalized });
    let finished = false;
    process.on("log", (line) => this.#opts.logger.warn(`recording connector: ${line}`));
    process.on("message", (raw) => {
      let m: RecorderToServer;
      try {
        m = parseIpc(recorderToServerSchema, raw);
      } catch (e) {
        this.#opts.logger.warn("recording connector: a malformed message was dropped", e);
        return;
      }
      if (m.type === "finalized") finished = true;
      void this.#onMessage(meta, m).catch((e: unknown) => this.#opts.logger.warn("recording: metadata could not be saved", e));
    });
    process.on("exit", ({ reason }) => {
      if (this.#active.get(meta.meetingId)?.id === meta.id) this.#active.delete(meta.meetingId);
      void (async () => {
        // The child's last IPC messages may be handled after its exit event: give them a moment
        // before deciding that it died without finalizing.
        if (!finished) await new Promise((r) => setTimeout(r, EXIT_MESSAGE_GRACE_MS));
        if (!finished && !this.#closed && this.#metas.has(meta.id) && first.type === "record") {
          // The recorder died before finalizing (crash, kill -9, limit): finalize what it wrote.
          this.#opts.logger.warn(`recording ${meta.id}: the connector exited (${reason}) before finalizing; recovering what was written`);
          await this.#recover(meta);
        } else if (!finished && this.#metas.has(meta.id)) {
          meta.status = "failed";
          meta.error ??= `the recording connector exited (${reason})`;
          await this.#save(meta).catch(() => undefined);
        }
        done({ ...this.#metas.get(meta.id)! });
      })();
    });
    process.send(first);
  }

  async #onMessage(meta: RecordingMeta, m: RecorderToServer): Promise<void> {
    switch (m.type) {
      case "inGroup":
        meta.memberId = m.memberId;
        break;
      case "recording":
        meta.startedAt = m.startedAt;
        if (meta.status === "starting") meta.status = "recording";
        break;
      case "finalized":
        meta.status = "ready";
        meta.stoppedAt ??= Date.now();
        meta.durationMs = m.durationMs;
        meta.tracks = m.tracks;
        meta.files = m.files.map((f) => ({ ...f }));
        meta.recovered = meta.recovered || m.recovered;
        break;
      case "failed":
        meta.error = `${m.code}: ${m.detail}`;
        break;
      default: {
        const never: never = m;
        throw new Error(`unhandled ${(never as { type: string }).type}`);
      }
    }
    if (this.#metas.has(meta.id)) await this.#save(meta);
  }

  /** Finalizes what a dead recorder wrote (a recorder process in recovery mode); never throws. */
  async #recover(meta: RecordingMeta): Promise<void> {
    try {
      await this.#recoverOnce(meta);
    } catch (e) {
      this.#opts.logger.warn(`recording ${meta.id}: recovery could not start (it is retried at the next start)`, e);
      meta.error = "recovery could not start; it is retried when the server starts again";
      await this.#save(meta).catch(() => undefined);
    }
  }

  async #recoverOnce(meta: RecordingMeta): Promise<void> {
    if (this.#closed) return;
    meta.status = "finalizing";
    meta.stoppedAt ??= Date.now();
    meta.recovered = true;
    await this.#save(meta);
    const key = await this.#opts.keys().existingKey({ kind: "recording", id: meta.id }, "system:recording");
    this.#run(meta, { type: "recover", recordingId: meta.id, dir: join(this.#opts.dir, meta.id), key: exportDataKey(key) as Extract<ServerToRecorder, { type: "recover" }>["key"] });
    await this.#active.get(meta.meetingId)?.finalized;
  }

  #saving: Promise<void> = Promise.resolve();

  /** Writes meta.json atomically; writes are serialized so they never race on the temp file. */
  #save(meta: RecordingMeta): Promise<void> {
    this.#metas.set(meta.id, meta);
    const dir = join(this.#opts.dir, meta.id);
    const next = this.#saving.then(async () => {
      if (!this.#metas.has(meta.id)) return; // deleted meanwhile
      const tmp = join(dir, "meta.json.tmp");
      await writeFile(tmp, JSON.stringify(meta), { mode: 0o600 });
      await rename(tmp, join(dir, "meta.json"));
    });
    this.#saving = next.catch(() => undefined);
    return next;
  }
}
