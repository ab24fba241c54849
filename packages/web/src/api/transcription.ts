/** Live transcription (docs/api.md "Live transcription"): a host starts and stops a meeting's. */
import { z } from "zod";
import { apiRequest } from "./http.js";

const transcription = z.object({
  meetingId: z.string(),
  status: z.enum(["starting", "transcribing", "stopped", "failed"]),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  memberId: z.string().nullable(),
  captions: z.number(),
  speakers: z.number(),
  engineFailures: z.number(),
  error: z.string().nullable(),
});
export type Transcription = z.infer<typeof transcription>;

const envelope = z.object({ transcription });

export async function startTranscription(meetingId: string): Promise<Transcription> {
  return (await apiRequest(`/api/meetings/${encodeURIComponent(meetingId)}/transcription`, { method: "POST", schema: envelope })).transcription;
}

export async function stopTranscription(meetingId: string): Promise<Transcription> {
  return (await apiRequest(`/api/meetings/${encodeURIComponent(meetingId)}/transcription`, { method: "DELETE", schema: envelope })).transcription;
}
