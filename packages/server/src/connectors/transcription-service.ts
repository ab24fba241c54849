/**
 * The server's side of live transcription. A host starts it (HTTP API, web UI); the service
 * checks the meeting (not e2ee, not ended) and the owner's settings (liveTranscription, with its
 * locks), and starts the transcription connector (@conclave/connectors, a supervised process)
 * with a single-use join ticket and the engine command. The connector joins as a visible member
 * of kind `transcription`, turns each speaker's audio into text with the engine, and sends the
 * captions to the members as MLS application messages, which this server relays without being
 * able to read them. The service hears counts from the connector, never text.
 *
 * The engine is the built-in pocketsphinx adapter unless `--transcription-engine CMD` names
 * another program (run with /bin/sh -c; engine.ts documents its interface).
 */
import {
  ConnectorSupervisor,
  parseIpc,
  POCKETSPHINX_ENGINE_MODULE,
  TRANSCRIPTION_CONNECTOR_MODULE,
  transcriberToServerSchema,
  type ServerToTranscriber,
  type SupervisedProcess,
  type TranscriberToServer,
} from "@conclave/connectors/supervisor";
import { ServerError } from "../errors.js";
import type { Logger } from "../observability/logger.js";
import type { MeetingRegistry } from "../meetings/meeting-registry.js";

export type TranscriptionStatus = "starting" | "transcribing" | "stopped" | "failed";

export interface TranscriptionView {
  meetingId: string;
  status: TranscriptionStatus;
  startedAt: number;
  stoppedAt: number | null;
  /** The transcription member's id once it is in the group. */
  memberId: string | null;
  /** Captions sent to the members so far (their text never reaches the server). */
  captions: number;
  speakers: number;
  engineFailures: number;
  error: string | null;
}

export interface TranscriptionServiceOptions {
  registry: MeetingRegistry;
  logger: Logger;
  signalingUrl: () => string;
  ca: string;
  meeting: (meetingId: string) => { encryption: "e2ee" | "enhanced"; ownerUserId: string | null; ended: boolean } | undefined;
  /** The owner's effective liveTranscription setting. */
  transcriptionAllowed: (ownerUserId: string | null) => boolean;
  /** A shell command line for the engine; absent: the built-in pocketsphinx adapter. */
  engine?: string;
}

const STOP_TIMEOUT_MS = 20_000;

/** The argv that starts one engine process. */
export function engineArgv(engine: string | undefined): string[] {
  return engine === undefined ? [process.execPath, POCKETSPHINX_ENGINE_MODULE] : ["/bin/sh", "-c", engine];
}

export class TranscriptionService {
  readonly #opts: TranscriptionServiceOptions;
  readonly #supervisor = new ConnectorSupervisor();
  readonly #active = new Map<string, { view: TranscriptionView; process: SupervisedProcess; done: Promise<TranscriptionView> }>();
  #closed = false;

  constructor(opts: TranscriptionServiceOptions) {
    this.#opts = opts;
  }

  start(meetingId: string): TranscriptionView {
    if (this.#closed) throw new ServerError("SERVER_CLOSED");
    const meeting = this.#opts.meeting(meetingId);
    if (!meeting) throw new ServerError("MEETING_NOT_FOUND");
    if (meeting.ended) throw new ServerError("MEETING_ENDED");
    if (meeting.encryption === "e2ee") throw new ServerError("CONNECTOR_NOT_ALLOWED", "live transcription is unavailable in end-to-end encrypted meetings");
    if (!this.#opts.transcriptionAllowed(meeting.ownerUserId)) throw new ServerError("TRANSCRIPTION_NOT_ALLOWED");
    if (this.#active.has(meetingId)) throw new ServerError("TRANSCRIPTION_ACTIVE");
    const view: TranscriptionView = { meetingId, status: "starting", startedAt: Date.now(), stoppedAt: null, memberId: null, captions: 0, speakers: 0, engineFailures: 0, error: null };
    const ticket = this.#opts.registry.hostTicket(meetingId, "transcription");
    const process = this.#supervisor.spawn({
      name: `transcription ${meetingId}`,
      module: TRANSCRIPTION_CONNECTOR_MODULE,
      limits: { heapMb: 256, rssMb: 768 },
      stopGraceMs: STOP_TIMEOUT_MS,
    });
    let resolve!: (v: TranscriptionView) => void;
    const done = new Promise<TranscriptionView>((r) => (resolve = r));
    this.#active.set(meetingId, { view, process, done });
    process.on("log", (line) => this.#opts.logger.warn(`transcription connector: ${line}`));
    process.on("message", (raw) => {
      let m: TranscriberToServer;
      try {
        m = parseIpc(transcriberToServerSchema, raw);
      } catch (e) {
        this.#opts.logger.warn("transcription connector: a malformed message was dropped", e);
        return;
      }
      this.#onMessage(view, m);
    });
    process.on("exit", ({ reason }) => {
      if (this.#active.get(meetingId)?.view === view) this.#active.delete(meetingId);
      view.stoppedAt ??= Date.now();
      if (view.status !== "stopped") {
        view.status = "failed";
        view.error ??= `the transcription connector exited (${reason})`;
      }
      resolve({ ...view });
    });
    process.send({
      type: "transcribe",
      signalingUrl: this.#opts.signalingUrl(),
      meetingId,
      ticket,
      ca: this.#opts.ca,
      displayName: "Live transcription",
      engine: engineArgv(this.#opts.engine),
    } satisfies ServerToTranscriber);
    return { ...view };
  }

  /** Stops it: engines flush their last captions, the connector leaves. Resolves when it is gone. */
  async stop(meetingId: string): Promise<TranscriptionView> {
    const a = this.#active.get(meetingId);
    if (!a) throw new ServerError("TRANSCRIPTION_NOT_ACTIVE");
    a.process.send({ type: "stop" } satisfies ServerToTranscriber);
    return a.done;
  }

  /** The transcription under way in a meeting, if any, with its connector's process id. */
  active(meetingId: string): (TranscriptionView & { pid: number | undefined }) | undefined {
    const a = this.#active.get(meetingId);
    return a ? { ...a.view, pid: a.process.pid } : undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#active.values()];
    for (const a of pending) a.process.send({ type: "stop" } satisfies ServerToTranscriber);
    await Promise.race([Promise.all(pending.map((a) => a.done)), new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]);
    await this.#supervisor.close();
  }

  #onMessage(view: TranscriptionView, m: TranscriberToServer): void {
    switch (m.type) {
      case "inGroup":
        view.memberId = m.memberId;
        if (view.status === "starting") view.status = "transcribing";
        return;
      case "progress":
        view.captions = m.captions;
        view.speakers = m.speakers;
        view.engineFailures = m.engineFailures;
        return;
      case "engineFailed":
        this.#opts.logger.warn(`transcription engine failed in meeting ${view.meetingId}: ${m.detail}`);
        return;
      case "stopped":
        view.status = "stopped";
        view.captions = m.captions;
        return;
      case "failed":
        view.error = `${m.code}: ${m.detail}`;
        return;
      default: {
        const never: never = m;
        throw new Error(`unhandled ${(never as { type: string }).type}`);
      }
    }
  }
}
