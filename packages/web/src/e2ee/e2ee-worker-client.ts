/**
 * The page's side of the E2EE worker: starts it, attaches an encrypt transform to every sender
 * and a decrypt transform to every receiver, hands it each epoch's SFrame secret, and keeps the
 * latest counters it reports. One per connection attempt (a reconnect starts a new member with a
 * new worker).
 */
import type { EncodedTransformMode } from "./capabilities.js";
import type { MediaKind, PageToWorker, TransformOptions, TransformSide, WorkerStats, WorkerToPage } from "./messages.js";

const WORKER_URL = "/e2ee-worker.js";

interface EncodedStreams {
  readable: ReadableStream;
  writable: WritableStream;
}
type WithEncodedStreams = { createEncodedStreams(): EncodedStreams };
type WithTransform = { transform: unknown };
declare const RTCRtpScriptTransform: new (worker: Worker, options: TransformOptions) => unknown;

export const EMPTY_STATS: WorkerStats = { encrypted: 0, decrypted: 0, failed: 0, droppedNoKey: 0, skipped: 0, held: 0, perSender: {}, epoch: null };

export class E2eeWorkerClient {
  readonly mode: EncodedTransformMode;
  readonly #worker: Worker;
  #stats: WorkerStats = EMPTY_STATS;
  #closed = false;
  readonly #attached = new WeakSet<object>();
  onStats: ((s: WorkerStats) => void) | null = null;

  constructor(mode: EncodedTransformMode) {
    this.mode = mode;
    this.#worker = new Worker(WORKER_URL, { type: "module", name: "conclave-e2ee" });
    this.#worker.onmessage = (event: MessageEvent<WorkerToPage>) => {
      const msg = event.data;
      if (msg.type === "stats") {
        this.#stats = msg.stats;
        this.onStats?.(msg.stats);
      }
    };
  }

  get stats(): WorkerStats {
    return this.#stats;
  }

  /** The RTCPeerConnection configuration the fallback API needs. */
  static peerConnectionConfig(mode: EncodedTransformMode): RTCConfiguration {
    return mode === "encoded-streams" ? ({ iceServers: [], encodedInsertableStreams: true } as RTCConfiguration) : { iceServers: [] };
  }

  attachSender(sender: RTCRtpSender, kind: MediaKind): void {
    this.#attach(sender, "send", kind);
  }

  attachReceiver(receiver: RTCRtpReceiver, kind: MediaKind): void {
    this.#attach(receiver, "receive", kind);
  }

  /** Hands the worker a new epoch's secret; the page's copy is transferred (detached). */
  setEpoch(e: { epoch: bigint; ownLeafIndex: number; secret: Uint8Array; rewind?: boolean }): void {
    if (this.#closed) return;
    this.#post({ type: "epoch", epoch: e.epoch, ownLeafIndex: e.ownLeafIndex, secret: e.secret, rewind: e.rewind === true }, [e.secret.buffer as ArrayBuffer]);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#post({ type: "clear" });
    this.#worker.terminate();
    this.onStats = null;
  }

  #attach(target: RTCRtpSender | RTCRtpReceiver, side: TransformSide, kind: MediaKind): void {
    if (this.#closed || this.#attached.has(target)) return;
    this.#attached.add(target);
    if (this.mode === "script-transform") {
      (target as unknown as WithTransform).transform = new RTCRtpScriptTransform(this.#worker, { side, kind });
    } else {
      const { readable, writable } = (target as unknown as WithEncodedStreams).createEncodedStreams();
      this.#post({ type: "streams", side, kind, readable, writable }, [readable as unknown as Transferable, writable as unknown as Transferable]);
    }
  }

  #post(msg: PageToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(msg, transfer);
  }
}
