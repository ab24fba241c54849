/**
 * Messages between the server and a transcription connector process, validated with zod at each
 * end (CONNECTOR_BAD_IPC otherwise). The server hands the process a join ticket and the engine
 * command to run per speaker; the process reports progress and counts, never audio or captions
 * (captions go to the members end to end encrypted; the server's process never sees their text).
 */
import { z } from "zod";

const meetingId = z.string().regex(/^[0-9]{1,32}$/);

export const serverToTranscriberSchema = z.discriminatedUnion("type", [
  /** Join the meeting as the `transcription` connector and caption every speaker. */
  z.strictObject({
    type: z.literal("transcribe"),
    signalingUrl: z.string().max(512),
    meetingId,
    ticket: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/),
    ca: z.string().max(20_000).optional(),
    displayName: z.string().min(1).max(64),
    /** The engine program and its arguments, started once per speaker (engine.ts). */
    engine: z.array(z.string().min(1).max(4096)).min(1).max(64),
  }),
  /** Stop: flush every engine, send the last captions, leave, exit. */
  z.strictObject({ type: z.literal("stop") }),
  z.strictObject({ type: z.literal("shutdown") }),
]);
export type ServerToTranscriber = z.infer<typeof serverToTranscriberSchema>;

export const transcriberToServerSchema = z.discriminatedUnion("type", [
  /** In the MLS group (everyone sees the transcription member from now on). */
  z.strictObject({ type: z.literal("inGroup"), memberId: z.string().max(64) }),
  /** How many captions were sent so far, and engine health (no text). */
  z.strictObject({
    type: z.literal("progress"),
    captions: z.number().int().nonnegative(),
    speakers: z.number().int().nonnegative(),
    engineFailures: z.number().int().nonnegative(),
    droppedAudioMs: z.number().int().nonnegative(),
  }),
  /** An engine process failed (it is restarted for the next audio); `detail` is its log tail. */
  z.strictObject({ type: z.literal("engineFailed"), detail: z.string().max(300) }),
  /** Left the meeting; the process exits next. */
  z.strictObject({ type: z.literal("stopped"), captions: z.number().int().nonnegative() }),
  z.strictObject({ type: z.literal("failed"), code: z.string().max(64), detail: z.string().max(300) }),
]);
export type TranscriberToServer = z.infer<typeof transcriberToServerSchema>;
