/**
 * The E2EE worker: encrypts every outgoing encoded frame and decrypts every incoming one with
 * SFrame keys of the current MLS epoch. Keys live only here (and in the page's MLS session);
 * the worker reports counters back, never frames or keys. See src/e2ee/worker/.
 */
import { FrameCryptor } from "./e2ee/worker/frame-cryptor.js";
import { runTransform, type Transformer } from "./e2ee/worker/transforms.js";
import type { MediaKind, PageToWorker, TransformOptions, TransformSide, WorkerToPage } from "./e2ee/messages.js";

declare const self: DedicatedWorkerGlobalScope & { onrtctransform: ((event: { transformer: Transformer & { options: unknown } }) => void) | null };

const STATS_INTERVAL_MS = 500;
const cryptor = new FrameCryptor();

function post(msg: WorkerToPage): void {
  self.postMessage(msg);
}

const isSide = (v: unknown): v is TransformSide => v === "send" || v === "receive";
const isKind = (v: unknown): v is MediaKind => v === "audio" || v === "video";

// RTCRtpScriptTransform (the standard API).
self.onrtctransform = (event) => {
  const t = event.transformer;
  const options = t.options as Partial<TransformOptions> | undefined;
  if (!options || !isSide(options.side) || !isKind(options.kind)) {
    // Unknown options: never let frames through untransformed. Cancel both ends.
    t.readable.cancel().catch(() => {});
    t.writable.abort().catch(() => {});
    return;
  }
  runTransform(cryptor, options.side, options.kind, t);
};

self.onmessage = (event: MessageEvent<PageToWorker>) => {
  const msg = event.data;
  switch (msg?.type) {
    case "epoch":
      if (typeof msg.epoch !== "bigint" || !Number.isInteger(msg.ownLeafIndex) || !(msg.secret instanceof Uint8Array)) return;
      cryptor.setEpoch({ epoch: msg.epoch, ownLeafIndex: msg.ownLeafIndex, secret: msg.secret, rewind: msg.rewind === true }).catch(() => {
        post({ type: "error", code: "EPOCH_REJECTED" });
      });
      return;
    case "streams":
      if (!isSide(msg.side) || !isKind(msg.kind) || !(msg.readable instanceof ReadableStream) || !(msg.writable instanceof WritableStream)) return;
      runTransform(cryptor, msg.side, msg.kind, { readable: msg.readable, writable: msg.writable });
      return;
    case "clear":
      cryptor.clear();
      return;
    default:
      return;
  }
};

setInterval(() => post({ type: "stats", stats: { ...cryptor.stats, perSender: { ...cryptor.stats.perSender } } }), STATS_INTERVAL_MS);
