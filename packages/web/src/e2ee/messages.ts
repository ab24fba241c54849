/**
 * Messages between the page and the encoded-transform worker (src/e2ee-worker.ts): a
 * discriminated union on `type`, checked by the worker before use (the page is the only sender,
 * but a malformed message must not reach the key ring).
 *
 * The epoch secret crosses from the page to the worker (same device, same origin, transferred so
 * the page's copy is detached); nothing derived from it ever comes back: the worker answers with
 * counters only.
 */

export type MediaKind = "audio" | "video";
export type TransformSide = "send" | "receive";

/** Options given to `new RTCRtpScriptTransform(worker, options)`. */
export interface TransformOptions {
  side: TransformSide;
  kind: MediaKind;
}

export type PageToWorker =
  /**
   * The SFrame epoch secret of a new MLS epoch (RFC 9605 §5.2): the worker's key ring advances.
   * With `rewind`, the group went back to this (the previous) epoch: the ring returns to it.
   */
  | { type: "epoch"; epoch: bigint; ownLeafIndex: number; secret: Uint8Array; rewind: boolean }
  /** Fallback path (createEncodedStreams): a sender's or receiver's streams, transferred. */
  | { type: "streams"; side: TransformSide; kind: MediaKind; readable: ReadableStream; writable: WritableStream }
  /** Forget every key (leaving). */
  | { type: "clear" };

export interface WorkerStats {
  /** Frames encrypted and handed to the packetizer. */
  encrypted: number;
  /** Frames decrypted and handed to the decoder. */
  decrypted: number;
  /** Frames that failed to decrypt (bad tag, replay, expired key, unknown key): dropped. */
  failed: number;
  /** Outgoing frames dropped because no key exists yet (never sent in the clear). */
  droppedNoKey: number;
  /** Incoming frames of epochs before this member joined: dropped, not failures. */
  skipped: number;
  /** Incoming frames held until this member reached the sender's (next) epoch. */
  held: number;
  /** Decrypted frames per sender (MLS leaf index). */
  perSender: Record<number, number>;
  /** The epoch the worker encrypts with, as a decimal string, or null before the first. */
  epoch: string | null;
}

export type WorkerToPage =
  | { type: "stats"; stats: WorkerStats }
  /** A frame-level failure the page may want to count or show (no frame content). */
  | { type: "error"; code: string };
