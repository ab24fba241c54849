/** Live streaming (docs/api.md "POST /api/meetings/:id/stream"): start, read and stop a meeting's stream. */
import { z } from "zod";
import { apiRequest } from "./http.js";

const stream = z.object({
  id: z.string(),
  meetingId: z.string(),
  destination: z.string(),
  tls: z.boolean(),
  layout: z.enum(["speaker", "grid"]),
  status: z.enum(["connecting", "live", "reconnecting", "stopped", "failed"]),
  startedAt: z.string(),
  connectedAt: z.string().nullable(),
  reconnects: z.number(),
  error: z.string().nullable(),
});
export type Stream = z.infer<typeof stream>;

const envelope = z.object({ stream });

export async function startStream(meetingId: string, url: string, streamKey: string, layout: Stream["layout"] = "speaker"): Promise<Stream> {
  return (await apiRequest(`/api/meetings/${encodeURIComponent(meetingId)}/stream`, { method: "POST", body: { url, streamKey, layout }, schema: envelope })).stream;
}

export async function stopStream(meetingId: string): Promise<Stream> {
  return (await apiRequest(`/api/meetings/${encodeURIComponent(meetingId)}/stream`, { method: "DELETE", schema: envelope })).stream;
}
