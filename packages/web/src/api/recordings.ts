/** Cloud recordings (docs/api.md "Recordings"): start/stop a meeting's, list, delete. */
import { z } from "zod";
import { apiRequest } from "./http.js";

const recording = z.object({
  id: z.string(),
  meetingId: z.string(),
  ownerUserId: z.string().nullable().optional(),
  status: z.enum(["starting", "recording", "finalizing", "ready", "failed"]),
  recovered: z.boolean(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  stoppedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  tracks: z.number().nullable(),
  files: z.array(z.object({ name: z.enum(["recording.webm", "audio.webm", "captions.vtt"]), bytes: z.number(), url: z.string() })),
  error: z.string().nullable(),
});
export type Recording = z.infer<typeof recording>;

const envelope = z.object({ recording });

export async function listRecordings(): Promise<Recording[]> {
  return (await apiRequest("/api/recordings", { schema: z.object({ recordings: z.array(recording) }) })).recordings;
}

export function deleteRecording(id: string): Promise<null> {
  return apiRequest(`/api/recordings/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export async function startRecording(meetingId: string): Promise<Recording> {
  return (await apiRequest(`/api/meetings/${encodeURIComponent(meetingId)}/recording`, { method: "POST", schema: envelope })).recording;
}

export async function stopRecording(meetingId: string): Promise<Recording> {
  return (await apiRequest(`/api/meetings/${encodeURIComponent(meetingId)}/recording`, { method: "DELETE", schema: envelope })).recording;
}
