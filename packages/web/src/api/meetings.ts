/**
 * Meetings in the HTTP API: the public facts the join screen needs, creation with the admin
 * token (the start page), and scheduling by signed-in users (create, list, edit, delete, passcode).
 */
import { z } from "zod";
import { apiRequest } from "./http.js";

export type Encryption = "e2ee" | "enhanced";
const encryption = z.enum(["e2ee", "enhanced"]);

// postQuantum defaults to false for servers from before post-quantum meetings.
const postQuantum = z.boolean().optional().default(false);
/** Phone dial-in for the invitation (meetings that take phones, on servers with SIP trunks). */
const dialIn = z.object({ numbers: z.array(z.string().max(40)).max(50), phonePasscode: z.string().regex(/^[0-9]{8}$/).nullable() });
export type DialIn = z.infer<typeof dialIn>;
const createdMeeting = z.object({ id: z.string(), url: z.string(), passcode: z.string().nullable(), encryption, postQuantum, dialIn: dialIn.optional() });
export type CreatedMeeting = z.infer<typeof createdMeeting>;

const meetingInfo = z.object({
  id: z.string(),
  encryption,
  /** The MLS group uses the X-Wing post-quantum suite: the key package must be for it. */
  postQuantum,
  passcodeRequired: z.boolean(),
  ended: z.boolean(),
  /** Present for the meeting's owner and admins only. */
  ownerUserId: z.string().nullable().optional(),
});
export type MeetingInfo = z.infer<typeof meetingInfo>;

const meetingDetails = z.object({
  id: z.string(),
  encryption,
  postQuantum,
  passcodeRequired: z.boolean(),
  ended: z.boolean(),
  url: z.string(),
  ownerUserId: z.string().nullable(),
  topic: z.string().nullable(),
  startAt: z.string().nullable(),
  durationMin: z.number().nullable(),
  waitingRoom: z.boolean(),
  joinBeforeHost: z.boolean(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  settings: z
    .object({ values: z.record(z.string(), z.union([z.boolean(), z.string()])), unavailable: z.record(z.string(), z.string()) })
    .nullable(),
});
export type MeetingDetails = z.infer<typeof meetingDetails>;

const newPasscode = z.object({ passcode: z.string(), url: z.string(), dialIn: dialIn.optional() });

/** What a scheduled meeting is made of; absent fields follow the owner's settings. */
export interface MeetingOptions {
  topic?: string | null;
  startAt?: string | null;
  durationMin?: number | null;
  encryption?: Encryption;
  /** Only at creation: a meeting's MLS suite cannot change. */
  postQuantum?: boolean;
  waitingRoom?: boolean;
  joinBeforeHost?: boolean;
}

/** Start page: an instant meeting with the admin token. */
export function createMeetingWithToken(token: string, enc: Encryption): Promise<CreatedMeeting> {
  return apiRequest("/api/meetings", { method: "POST", body: { encryption: enc }, credentials: { kind: "token", token }, schema: createdMeeting });
}

/**
 * A meeting's public facts (and, for its signed-in owner, who owns it). A stale session does
 * not fail this: the server treats the caller as anonymous.
 */
export function getMeeting(id: string): Promise<MeetingInfo> {
  return apiRequest(`/api/meetings/${encodeURIComponent(id)}`, { schema: meetingInfo, quietExpiry: true });
}

export function scheduleMeeting(opts: MeetingOptions & { passcode?: boolean }): Promise<CreatedMeeting> {
  return apiRequest("/api/meetings", { method: "POST", body: withoutNulls(opts), schema: createdMeeting });
}

export async function listMeetings(): Promise<MeetingDetails[]> {
  return (await apiRequest("/api/meetings", { schema: z.object({ meetings: z.array(meetingDetails) }) })).meetings;
}

export function updateMeeting(id: string, changes: MeetingOptions): Promise<MeetingDetails> {
  return apiRequest(`/api/meetings/${encodeURIComponent(id)}`, { method: "PATCH", body: changes, schema: meetingDetails });
}

export function deleteMeeting(id: string): Promise<null> {
  return apiRequest(`/api/meetings/${encodeURIComponent(id)}`, { method: "DELETE" });
}

/** A new passcode (the old one stops working); shown this once. */
export function resetPasscode(id: string): Promise<z.infer<typeof newPasscode>> {
  return apiRequest(`/api/meetings/${encodeURIComponent(id)}/passcode`, { method: "POST", schema: newPasscode });
}

export function removePasscode(id: string): Promise<null> {
  return apiRequest(`/api/meetings/${encodeURIComponent(id)}/passcode`, { method: "DELETE" });
}

/** Creation takes no nulls: an absent field means "not set". */
function withoutNulls(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}
