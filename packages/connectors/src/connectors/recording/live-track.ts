/**
 * One received track (a member's camera or microphone) written while the meeting runs: the
 * frames exactly as the member encoded them (VP8 or Opus, no transcoding) muxed by mediabunny
 * into an append-only WebM, whose bytes go straight into a KMS chunked stream
 * (EncryptedFileWriter). Nothing is ever written in clear.
 *
 * Crash safety: the WebM is append-only (no seeking back to patch sizes), the stream is made of
 * small authenticated chunks, and the writer syncs every few seconds, so a recorder killed
 * mid-meeting leaves a file whose complete chunks decrypt to a playable WebM prefix: at most
 * the last chunk and the open cluster (a few seconds) are lost.
 */
import { EncodedAudioPacketSource, EncodedPacket, EncodedVideoPacketSource, Output, StreamTarget, WebMOutputFormat, type StreamTargetChunk } from "mediabunny";
import { EncryptedFileWriter, type DataKey } from "@conclave/kms";
import { opusHead, vp8KeyframeSize } from "./vp8.js";

/** Chunk sizes of the live streams: small, so a crash loses seconds, not minutes. */
const CHUNK_BYTES = { audio: 16 * 1024, video: 64 * 1024 } as const;
const SYNC_INTERVAL_MS = 2000;
/** Nominal frame durations (WebRTC Opus sends 20 ms; video duration only matters for the last frame). */
const AUDIO_FRAME_S = 0.02;

export interface LiveTrackInfo {
  /** The file name inside the recording directory. */
  file: string;
  /** The KMS stream field (binds the ciphertext to this file). */
  field: string;
  memberId: string;
  displayName: string;
  kind: "audio" | "video";
}

export class LiveTrack {
  readonly info: LiveTrackInfo;
  readonly #writer: EncryptedFileWriter;
  readonly #output: Output;
  readonly #video: EncodedVideoPacketSource | undefined;
  readonly #audio: EncodedAudioPacketSource | undefined;
  #queue: Promise<void> = Promise.resolve();
  #started = false;
  #lastTimestamp = -1;
  #frames = 0;
  #failed: unknown;
  #closed = false;
  readonly #sync: ReturnType<typeof setInterval>;

  private constructor(info: LiveTrackInfo, writer: EncryptedFileWriter) {
    this.info = info;
    this.#writer = writer;
    let offset = 0;
    const target = new StreamTarget(
      new WritableStream<StreamTargetChunk>({
        write: async (chunk) => {
          // Append-only by construction; a seek would mean a muxer mode we never use.
          if (chunk.position !== offset) throw new Error(`append-only WebM wrote at ${chunk.position}, expected ${offset}`);
          offset += chunk.data.length;
          await writer.write(chunk.data);
        },
      }),
    );
    this.#output = new Output({ format: new WebMOutputFormat({ appendOnly: true, minimumClusterDuration: 1 }), target });
    if (info.kind === "video") {
      this.#video = new EncodedVideoPacketSource("vp8");
      this.#output.addVideoTrack(this.#video, { name: info.displayName });
    } else {
      this.#audio = new EncodedAudioPacketSource("opus");
      this.#output.addAudioTrack(this.#audio, { name: info.displayName });
    }
    this.#sync = setInterval(() => {
      if (!this.#closed) void this.#writer.sync().catch(() => undefined);
    }, SYNC_INTERVAL_MS);
    this.#sync.unref();
  }

  static async create(dir: string, info: LiveTrackInfo, key: DataKey): Promise<LiveTrack> {
    const writer = await EncryptedFileWriter.create(`${dir}/${info.file}`, key, info.field, { chunkSize: CHUNK_BYTES[info.kind] });
    return new LiveTrack(info, writer);
  }

  get frames(): number {
    return this.#frames;
  }

  /**
   * Adds one frame received at `timestamp` seconds on the recording's timeline. Video starts at
   * a key frame (earlier frames cannot be decoded); returns false for a frame not written.
   */
  add(frame: Uint8Array, timestamp: number): boolean {
    if (this.#closed || this.#failed !== undefined) return false;
    // WebM counts in milliseconds: each frame gets a later millisecond than the one before, and
    // Opus frames that arrive in a burst (network jitter) are spaced by their 20 ms duration.
    // Whole milliseconds (the WebM timescale), so rounding can never make two frames equal.
    const ms = Math.round(timestamp * 1000);
    const tsMs = this.#lastTimestamp < 0 ? ms : Math.max(ms, Math.round(this.#lastTimestamp * 1000) + (this.#video ? 1 : AUDIO_FRAME_S * 1000));
    const ts = tsMs / 1000;
    let meta: EncodedVideoChunkMetadata | EncodedAudioChunkMetadata | undefined;
    let type: "key" | "delta" = "key";
    if (this.#video) {
      const size = vp8KeyframeSize(frame);
      type = size ? "key" : "delta";
      if (!this.#started) {
        if (!size) return false;
        meta = { decoderConfig: { codec: "vp8", codedWidth: size.width, codedHeight: size.height } };
      }
    } else if (!this.#started) {
      meta = { decoderConfig: { codec: "opus", numberOfChannels: 2, sampleRate: 48000, description: opusHead(2) } };
    }
    const first = !this.#started;
    this.#started = true;
    this.#lastTimestamp = ts;
    this.#frames++;
    const packet = new EncodedPacket(new Uint8Array(frame), type, ts, this.#video ? 0 : AUDIO_FRAME_S);
    this.#queue = this.#queue
      .then(async () => {
        if (first) await this.#output.start();
        if (this.#video) await this.#video.add(packet, meta as EncodedVideoChunkMetadata | undefined);
        else await this.#audio!.add(packet, meta as EncodedAudioChunkMetadata | undefined);
      })
      .catch((e: unknown) => {
        this.#failed ??= e;
      });
    return true;
  }

  /** Frames written so far become durable (complete chunks). */
  async flush(): Promise<void> {
    await this.#queue;
    if (!this.#closed) await this.#writer.sync();
  }

  /**
   * Ends the live file: the open cluster is written and the stream's final chunk closes it. The
   * result is still an append-only WebM (no index); finalize.ts builds the indexed file.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sync);
    await this.#queue;
    try {
      if (this.#started && this.#failed === undefined) await this.#output.finalize();
      else await this.#output.cancel();
    } catch {
      // finish what was written anyway
    }
    await this.#writer.finish();
  }
}
