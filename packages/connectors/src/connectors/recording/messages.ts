/**
 * Messages between the server and a recording connector process, validated with zod at each end
 * (CONNECTOR_BAD_IPC otherwise). The server hands the process a join ticket and the recording's
 * data key (so the process encrypts what it writes itself: no clear media ever reaches the
 * server's process or the disk); the process reports progress, never media.
 */
import { z } from "zod";

const meetingId = z.string().regex(/^[0-9]{1,32}$/);
const recordingId = z.string().regex(/^[a-f0-9]{32}$/);
const dataKey = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  kind: z.literal("recording"),
  objectId: recordingId,
  key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
});

export const serverToRecorderSchema = z.discriminatedUnion("type", [
  /** Join the meeting as the `recording` connector and record into `dir`. */
  z.strictObject({
    type: z.literal("record"),
    recordingId,
    signalingUrl: z.string().max(512),
    meetingId,
    ticket: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/),
    ca: z.string().max(20_000).optional(),
    displayName: z.string().min(1).max(64),
    dir: z.string().max(4096),
    key: dataKey,
  }),
  /** Finalize what an earlier (crashed) recorder left in `dir`: the recovery path. */
  z.strictObject({ type: z.literal("recover"), recordingId, dir: z.string().max(4096), key: dataKey }),
  /** Stop recording, leave the meeting, finalize, exit. */
  z.strictObject({ type: z.literal("stop") }),
  z.strictObject({ type: z.literal("shutdown") }),
]);
export type ServerToRecorder = z.infer<typeof serverToRecorderSchema>;

const fileInfo = z.strictObject({
  name: z.enum(["recording.webm", "audio.webm", "captions.vtt"]),
  bytes: z.number().int().nonnegative(),
});

export const recorderToServerSchema = z.discriminatedUnion("type", [
  /** In the MLS group (everyone sees the recording member from now on). */
  z.strictObject({ type: z.literal("inGroup"), memberId: z.string().max(64) }),
  /** The first frame is on disk: the recording's timeline starts here. */
  z.strictObject({ type: z.literal("recording"), startedAt: z.number().int().nonnegative() }),
  /** Finalized files are on disk (encrypted); the process exits next. */
  z.strictObject({
    type: z.literal("finalized"),
    durationMs: z.number().int().nonnegative(),
    tracks: z.number().int().nonnegative(),
    files: z.array(fileInfo).max(3),
    recovered: z.boolean(),
  }),
  z.strictObject({ type: z.literal("failed"), code: z.string().max(64), detail: z.string().max(300) }),
]);
export type RecorderToServer = z.infer<typeof recorderToServerSchema>;
