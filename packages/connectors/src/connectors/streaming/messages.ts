/**
 * Messages between the server and a live streaming connector process, validated with zod at
 * each end (CONNECTOR_BAD_IPC otherwise). The server hands the process a join ticket, the
 * destination URL (without the stream key) and the stream key sealed under the stream's KMS data
 * key, with that data key: the process opens the key itself, so the clear key never crosses the
 * server's logs or disk. The process reports progress, never media and never the key.
 */
import { z } from "zod";

const meetingId = z.string().regex(/^[0-9]{1,32}$/);
const streamId = z.string().regex(/^[a-f0-9]{32}$/);

export const serverToStreamerSchema = z.discriminatedUnion("type", [
  /** Connect to the destination, then join the meeting as the `streaming` connector and stream it. */
  z.strictObject({
    type: z.literal("stream"),
    streamId,
    signalingUrl: z.string().max(512),
    meetingId,
    ticket: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/),
    /** PEM of the meeting server's CA, for the connector's own connection to the server. */
    ca: z.string().max(20_000).optional(),
    /** Absolute path of the CA bundle an rtmps:// ingest's certificate must chain to; absent: the system's. */
    ingestCaFile: z.string().regex(/^\//, "an absolute path").max(4096).optional(),
    displayName: z.string().min(1).max(64),
    /** The picture: the active speaker's camera, or a 2×2 grid of cameras. */
    layout: z.enum(["speaker", "grid"]),
    /** rtmp:// or rtmps:// URL of the ingest application, without the stream key. */
    url: z.string().regex(/^rtmps?:\/\//).max(1024),
    /** The stream key, sealed (base64) under `key` with the field `streamKey`. */
    sealedStreamKey: z.string().regex(/^[A-Za-z0-9+/]+=*$/).max(4096),
    key: z.strictObject({
      id: z.string().regex(/^[0-9a-f]{32}$/),
      kind: z.literal("stream"),
      objectId: streamId,
      key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
    }),
  }),
  /** Stop streaming, leave the meeting, exit. */
  z.strictObject({ type: z.literal("stop") }),
  z.strictObject({ type: z.literal("shutdown") }),
]);
export type ServerToStreamer = z.infer<typeof serverToStreamerSchema>;

export const streamerToServerSchema = z.discriminatedUnion("type", [
  /** The destination accepted the stream (ffmpeg is publishing). */
  z.strictObject({ type: z.literal("connected"), attempt: z.number().int().nonnegative() }),
  /** In the MLS group: everyone sees the streaming member; the meeting's media goes out from now on. */
  z.strictObject({ type: z.literal("inGroup"), memberId: z.string().max(64) }),
  /** The ingest dropped; ffmpeg restarts after `delayMs`. `detail` never holds the key. */
  z.strictObject({ type: z.literal("reconnecting"), attempt: z.number().int().positive(), delayMs: z.number().int().nonnegative(), detail: z.string().max(300) }),
  /** Stopped (by the host, or the meeting ended); the process exits next. */
  z.strictObject({ type: z.literal("stopped") }),
  z.strictObject({ type: z.literal("failed"), code: z.string().max(64), detail: z.string().max(300) }),
]);
export type StreamerToServer = z.infer<typeof streamerToServerSchema>;
