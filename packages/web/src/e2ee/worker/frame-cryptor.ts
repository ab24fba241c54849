/**
 * The worker's per-frame E2EE: one media key ring (per-sender SFrame keys from the MLS exporter,
 * RFC 9605 §5.2) and the rules for what happens to a frame that cannot be protected or read.
 *
 * - Outgoing: no key yet, or encryption fails → the frame is DROPPED. Nothing is ever sent in
 *   the clear.
 * - Incoming: a frame that fails to decrypt is DROPPED (never handed to the decoder). A frame
 *   whose KID names the next epoch (our commit is still being processed) waits up to
 *   FUTURE_EPOCH_HOLD_MS for the key ring to advance, like the Node participant
 *   (packages/client/src/node-participant.ts). Frames from epochs before this member joined are
 *   counted apart: they are expected right after joining, not failures.
 *
 * Pure with respect to WebRTC: it takes and returns bytes, so the same code serves
 * RTCRtpScriptTransform and createEncodedStreams.
 */
import {
  MediaKeyRing,
  SFRAME_MLS_EXPORTER_LABEL,
  createWebCryptoSFrameCrypto,
  isProtocolError,
  type MediaCodec,
  type MlsEpochSource,
} from "@conclave/protocol";
import type { WorkerStats } from "../messages.js";

/** How long a frame for the next epoch waits for this member's key ring to get there. */
export const FUTURE_EPOCH_HOLD_MS = 1000;

export interface EpochSecret {
  epoch: bigint;
  ownLeafIndex: number;
  secret: Uint8Array;
  /** The group went back to this epoch (a voided commit): return to its keys. */
  rewind?: boolean;
}

export class FrameCryptor {
  readonly #ring: MediaKeyRing;
  readonly #now: () => number;
  /** Settled whenever the key ring advances; frames held for the next epoch wait on it. */
  #advanced: { promise: Promise<void>; resolve: () => void };
  #queue: Promise<void> = Promise.resolve();
  readonly stats: WorkerStats = {
    encrypted: 0,
    decrypted: 0,
    failed: 0,
    droppedNoKey: 0,
    skipped: 0,
    held: 0,
    perSender: {},
    epoch: null,
  };

  constructor(opts: { now?: () => number } = {}) {
    this.#ring = MediaKeyRing.create({ crypto: createWebCryptoSFrameCrypto() });
    this.#now = opts.now ?? Date.now;
    this.#advanced = deferred();
  }

  /**
   * Moves to a new epoch. Epochs arrive in order from the page; a stale or repeated one (the page
   * may export twice when epochs follow quickly) is ignored. The secret is wiped after use.
   */
  setEpoch(e: EpochSecret): Promise<void> {
    // Serialised: advance() must see epochs one at a time, in order.
    const run = this.#queue.then(async () => {
      try {
        const current = this.#ring.epoch;
        if (e.rewind === true) {
          if (current !== null && e.epoch < current) this.#ring.rewind(epochSource(e));
          this.stats.epoch = e.epoch.toString();
          return;
        }
        if (current !== null && e.epoch <= current) return;
        await this.#ring.advance(epochSource(e));
        this.stats.epoch = e.epoch.toString();
        const done = this.#advanced;
        this.#advanced = deferred();
        done.resolve();
      } finally {
        e.secret.fill(0);
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Encrypts one encoded frame, or returns null: the caller must then drop the frame. */
  async protect(codec: MediaCodec, frame: Uint8Array): Promise<Uint8Array | null> {
    if (this.#ring.epoch === null || frame.length === 0) {
      this.stats.droppedNoKey += 1;
      return null;
    }
    try {
      const out = await this.#ring.protect(codec, frame);
      this.stats.encrypted += 1;
      return out;
    } catch {
      this.stats.failed += 1;
      return null;
    }
  }

  /** Decrypts one received frame, or returns null: the caller must then drop the frame. */
  async unprotect(codec: MediaCodec, data: Uint8Array, arrivedAt = this.#now()): Promise<Uint8Array | null> {
    for (;;) {
      try {
        const out = await this.#ring.unprotect(codec, data);
        this.stats.decrypted += 1;
        this.stats.perSender[out.senderIndex] = (this.stats.perSender[out.senderIndex] ?? 0) + 1;
        return out.frame;
      } catch (e) {
        if (!isProtocolError(e, "SFRAME_UNKNOWN_KID")) {
          this.stats.failed += 1;
          return null;
        }
        const where = this.#ring.frameEpoch(codec, data);
        if (where === "beforeFirst") {
          this.stats.skipped += 1;
          return null;
        }
        const wait = arrivedAt + FUTURE_EPOCH_HOLD_MS - this.#now();
        if (where !== "next" || wait <= 0) {
          this.stats.failed += 1;
          return null;
        }
        this.stats.held += 1;
        const advanced = await Promise.race([this.#advanced.promise.then(() => true), delay(wait).then(() => false)]);
        if (!advanced) {
          this.stats.failed += 1;
          return null;
        }
        // The ring moved on: try again (it may take one more step if two epochs were in flight).
      }
    }
  }

  /** Forgets every key (leaving the meeting). */
  clear(): void {
    this.#ring.clear();
    this.stats.epoch = null;
  }
}

/** The MLS exporter, as far as the worker can offer it: the one secret the page exported for it. */
function epochSource(e: EpochSecret): MlsEpochSource {
  return {
    epoch: e.epoch,
    ownLeafIndex: e.ownLeafIndex,
    async exportSecret(label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
      // RFC 9605 §5.2: sframe_epoch_secret = MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nh)
      if (label !== SFRAME_MLS_EXPORTER_LABEL || context.length !== 0 || length !== e.secret.length) {
        throw new Error("the worker holds only the SFrame epoch secret");
      }
      return e.secret.slice();
    },
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
