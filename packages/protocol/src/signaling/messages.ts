/**
 * Signaling messages between a participant and the server, carried as JSON text frames over WSS.
 *
 * Every message is a discriminated union on `type`, validated with zod at the boundary on both
 * sides (CONVENTIONS habit 6): nothing unvalidated crosses. Binary MLS messages travel as base64.
 * The server is the MLS delivery service: it sees MLS framing (epoch, content type, sender) but
 * never any group secret. docs/protocol.md documents every message.
 */
import { z } from "zod";
import { ProtocolError } from "../errors.js";
import { FEATURE_KEYS, MAX_BREAKOUT_ROOMS, MAX_CHAT_TEXT, roomIdSchema, type FeatureKey } from "../app-messages/app-message.js";
import { MAX_BROADCAST_BYTES } from "../app-messages/breakout-broadcast.js";
import { MLS_SUITES } from "../mls/suites.js";

export const SIGNALING_PROTOCOL_VERSION = 1;
/** Largest signaling message accepted, in bytes of JSON text. Welcomes for large groups dominate. */
export const MAX_SIGNALING_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * Largest message before the server accepts the join: a join carries one key package (under
 * 5 KiB even for X-Wing), so nothing bigger is buffered for a stranger.
 */
export const MAX_PRE_JOIN_MESSAGE_BYTES = 16 * 1024;

const b64 = z.string().max(MAX_SIGNALING_MESSAGE_BYTES).regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");
const memberId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
// A name a host gives a member: 1..64 characters, no surrounding spaces, no control or bidi
// override characters (the rules of a credential's display name, mls/identity.ts).
// eslint-disable-next-line no-control-regex
const LABEL_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
const memberLabel = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => s.trim() === s && !LABEL_FORBIDDEN.test(s), "a name without surrounding spaces or control characters");
const meetingId = z.string().min(1).max(32).regex(/^[0-9]+$/);
const epoch = z.string().regex(/^(0|[1-9][0-9]{0,19})$/, "decimal epoch");
const sdp = z.string().min(1).max(64 * 1024);
const pcName = z.enum(["publish", "subscribe"]);
export const deviceToken = z.string().min(16).max(128).regex(/^[A-Za-z0-9_-]+$/);
const connectorKind = z.enum(["recording", "sip", "pstn", "streaming", "transcription"]);
export const memberKindSchema = z.union([
  z.strictObject({ kind: z.literal("person") }),
  z.strictObject({ kind: z.literal("connector"), connector: connectorKind }),
]);
export const encryptionSchema = z.enum(["e2ee", "enhanced"]);

/**
 * The meeting's effective feature settings (its owner's, with locks from above), sent to every
 * member; members enforce them on what they send and accept (app-messages/app-message.ts).
 */
export const meetingFeaturesSchema = z.strictObject(
  Object.fromEntries(FEATURE_KEYS.map((k) => [k, z.boolean()])) as Record<FeatureKey, z.ZodBoolean>,
);
/** A participant's token for the meeting's encrypted-file routes (32 random bytes, base64url). */
export const fileTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const roomId = roomIdSchema;
/** Where breakout rooms stand, as the server sees them: ids and who is assigned and present. */
export const breakoutRoomInfoSchema = z.strictObject({
  roomId,
  assigned: z.array(memberId).max(1000),
  present: z.array(memberId).max(1000),
});
export type BreakoutRoomInfo = z.infer<typeof breakoutRoomInfoSchema>;

export const memberInfoSchema = z.strictObject({
  memberId,
  displayName: z.string().min(1).max(64),
  kind: memberKindSchema,
  /** True once the member has joined the MLS group (has keys). */
  inGroup: z.boolean(),
  role: z.enum(["host", "cohost", "participant"]),
});
export const roleSchema = z.enum(["host", "cohost", "participant"]);
export type MeetingRole = z.infer<typeof roleSchema>;
export type MemberInfo = z.infer<typeof memberInfoSchema>;

export const trackInfoSchema = z.strictObject({
  mid: z.string().min(1).max(16),
  publicationId: z.string().min(1).max(64),
  ownerId: memberId,
  kind: z.enum(["audio", "video"]),
  source: z.enum(["microphone", "camera", "screen"]),
});
export type TrackInfo = z.infer<typeof trackInfoSchema>;

const iceCandidate = z.strictObject({
  pc: pcName,
  candidate: z.string().max(1024),
  mid: z.string().max(16),
});

// ---- participant -> server ----------------------------------------------------------------

export const clientMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("join"),
    version: z.literal(SIGNALING_PROTOCOL_VERSION),
    meetingId,
    passcode: z.string().max(64).optional(),
    /** Chosen by the participant (random); must equal the memberId in the key package credential. */
    memberId,
    displayName: z.string().min(1).max(64),
    /** An MLS KeyPackage (MLSMessage), base64. Its credential must name this member. */
    keyPackage: b64,
    /**
     * A connector started by the server presents the single-use ticket the server gave it (in
     * place of the passcode). Only connector credentials may carry one.
     */
    connectorTicket: z.string().min(32).max(128).regex(/^[A-Za-z0-9_-]+$/).optional(),
    /**
     * A random token this browser profile (or Node participant instance) keeps and presents at
     * every join, so a host's ban refuses this device and not everyone behind its network address.
     * The server keeps only its SHA-256, in memory, for the meeting's bans; it is never shown to
     * anyone. Without one, an anonymous participant is banned by address.
     */
    deviceToken: deviceToken.optional(),
    /**
     * false: this member takes part in signaling and MLS only (no WebRTC): the server opens no
     * media connections for it. Absent means true.
     */
    media: z.boolean().optional(),
  }),
  /**
   * The founder created the MLS group at epoch 0. `groupInfo` is its public, signed GroupInfo
   * (MLSMessage) with the ratchet tree: the delivery service checks commits against it.
   */
  z.strictObject({ type: z.literal("groupCreated"), groupId: b64, groupInfo: b64 }),
  /** An MLS commit for `epoch`; `welcome` when it adds members. */
  z.strictObject({
    type: z.literal("commit"),
    epoch,
    commit: b64,
    welcome: b64.optional(),
    /** memberIds whose key packages the commit adds (the Welcome goes to them). */
    added: z.array(memberId).max(1000),
    /** memberIds whose leaves the commit removes. */
    removed: z.array(memberId).max(1000),
  }),
  /**
   * The designated committer could not add these joiners: their key packages fail MLS validation
   * (e.g. a bad signature). The delivery service drops them so the others are not held up.
   */
  z.strictObject({ type: z.literal("badKeyPackages"), epoch, memberIds: z.array(memberId).min(1).max(1000) }),
  /** The joiner processed its Welcome and is now at `epoch`, whose transcript hash it reports. */
  z.strictObject({ type: z.literal("welcomeProcessed"), epoch, transcriptHash: b64 }),
  /**
   * The member applied the commit for `epoch` (so it is at epoch + 1), and reports the new epoch's
   * confirmed transcript hash (public). Every member acknowledges every commit it applies.
   */
  z.strictObject({ type: z.literal("commitAck"), epoch, transcriptHash: b64 }),
  /**
   * The member could not apply the commit for `epoch` (or refused it: it removes someone the
   * server did not announce as gone) and stays at `epoch`. `keyPackage` is a fresh one, used to
   * add it again if the others could apply the commit.
   */
  z.strictObject({ type: z.literal("commitFailed"), epoch, reason: z.string().max(200), keyPackage: b64 }),
  /** A member could not process a commit or Welcome and must rejoin with a new key package. */
  z.strictObject({ type: z.literal("groupFailure"), reason: z.string().max(200), keyPackage: b64 }),
  /** The participant's publish connection offer, with what each m-section carries. */
  z.strictObject({
    type: z.literal("publishOffer"),
    sdp,
    tracks: z.array(z.strictObject({ mid: z.string().min(1).max(16), kind: z.enum(["audio", "video"]), source: z.enum(["microphone", "camera", "screen"]) })).max(16),
  }),
  z.strictObject({ type: z.literal("subscribeAnswer"), sdp }),
  z.strictObject({ type: z.literal("ice"), ...iceCandidate.shape }),
  z.strictObject({ type: z.literal("leave") }),
  z.strictObject({ type: z.literal("ping"), nonce: z.number().int().nonnegative() }),
  // Host controls (host or co-host only; others get NOT_HOST).
  /** Let a waiting participant in (it is then added to the MLS group). */
  z.strictObject({ type: z.literal("admit"), memberId }),
  /** Turn a waiting participant away. */
  z.strictObject({ type: z.literal("deny"), memberId }),
  /** Remove a participant: immediate rekey; it may not rejoin unless allowRejoin. */
  z.strictObject({ type: z.literal("remove"), memberId, allowRejoin: z.boolean().optional() }),
  z.strictObject({ type: z.literal("lockMeeting"), locked: z.boolean() }),
  /** End the meeting for everyone (host only). */
  z.strictObject({ type: z.literal("endMeeting") }),
  z.strictObject({ type: z.literal("setRole"), memberId, role: z.enum(["cohost", "participant"]) }),
  /**
   * Host or co-host: give a phone (`pstn`) or room system (`sip`) member a name for everyone (its
   * own name is the caller's last digits or what the device announced). People keep their names.
   */
  z.strictObject({ type: z.literal("renameMember"), memberId, displayName: memberLabel }),
  /**
   * Host or co-host of an Enhanced meeting: call a room system (SIP URI) into the meeting. It
   * joins as a visible sip connector member; progress comes back as `notice` messages.
   */
  z.strictObject({ type: z.literal("inviteRoomSystem"), uri: z.string().min(5).max(512), displayName: z.string().min(1).max(64).optional() }),
  /**
   * An end-to-end encrypted application message (an MLS PrivateMessage of a recent epoch,
   * app-messages/app-message.ts) for the group, or only for the members in `to`. The server
   * checks the framing (group, epoch, content type), size and rate, and relays it unread.
   */
  z.strictObject({ type: z.literal("appMessage"), message: b64, to: z.array(memberId).min(1).max(1000).optional() }),
  // Breakout rooms (each one its own MLS group and relay room; docs/protocol.md §6.5).
  /**
   * Leave the current group (the main meeting's or a room's) and join another with a fresh key
   * package: `roomId` null is the main meeting. Participants may go to the room they are assigned
   * to while rooms are open, and back to the main meeting; hosts and co-hosts anywhere.
   */
  z.strictObject({ type: z.literal("moveRoom"), roomId: roomId.nullable(), keyPackage: b64 }),
  /** Host or co-host: open breakout rooms with these assignments (or change them while open). */
  z.strictObject({
    type: z.literal("breakoutOpen"),
    rooms: z
      .array(z.strictObject({ roomId, members: z.array(memberId).max(1000) }))
      .min(1)
      .max(MAX_BREAKOUT_ROOMS)
      .refine((r) => new Set(r.map((x) => x.roomId)).size === r.length, "distinct room ids"),
    /** Close the rooms by themselves after this long (seconds). */
    durationSec: z.number().int().min(30).max(24 * 3600).optional(),
  }),
  /** Host or co-host: close the rooms; everyone returns to the main meeting. */
  z.strictObject({ type: z.literal("breakoutClose") }),
  /** Host or co-host: an encrypted, signed message for every room (app-messages/breakout-broadcast.ts). */
  z.strictObject({ type: z.literal("breakoutBroadcast"), message: b64.max(Math.ceil(MAX_BROADCAST_BYTES / 3) * 4) }),
  /**
   * ENHANCED meetings whose settings save chat (meetingState.features.chatHistory) only: a copy of
   * a group chat message this participant sent, IN CLEAR over TLS, for the server to keep sealed
   * under the KMS. The server refuses it in every other meeting.
   */
  z.strictObject({ type: z.literal("chatArchive"), id: z.string().regex(/^[A-Za-z0-9_-]{8,32}$/), text: z.string().min(1).max(MAX_CHAT_TEXT) }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

// ---- server -> participant ----------------------------------------------------------------

/** A TURN server with short-lived credentials (RTCIceServer), given only to admitted participants. */
export const iceServerSchema = z.strictObject({
  urls: z.array(z.string().regex(/^turns?:[^\s]{1,250}$/)).min(1).max(8),
  username: z.string().min(1).max(256),
  credential: z.string().min(1).max(256),
});
export type IceServerInfo = z.infer<typeof iceServerSchema>;

export const serverMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("joined"),
    memberId,
    meetingId,
    encryption: encryptionSchema,
    /** The MLS cipher suite of the meeting's group (X-Wing in post-quantum meetings). */
    mlsSuite: z.enum([MLS_SUITES.default, MLS_SUITES.postQuantum]).optional(),
    members: z.array(memberInfoSchema),
    /** TURN servers to reach the relay through (when the server has --turn-url). */
    iceServers: z.array(iceServerSchema).max(4).optional(),
    /** Set when this is a breakout room's group (after a moveRoom); absent for the main meeting. */
    room: roomId.optional(),
    /** For the meeting's encrypted-file routes (POST/GET /api/meetings/:id/files), while connected. */
    fileToken: fileTokenSchema.optional(),
  }),
  /** You are the first member: create the MLS group with this id, then send groupCreated. */
  z.strictObject({ type: z.literal("createGroup"), groupId: b64 }),
  z.strictObject({ type: z.literal("memberJoined"), member: memberInfoSchema }),
  z.strictObject({ type: z.literal("memberUpdated"), member: memberInfoSchema }),
  z.strictObject({ type: z.literal("memberLeft"), memberId, reason: z.enum(["left", "disconnected", "removed", "moved"]) }),
  /** Asks a member to commit these changes to the group (the delivery service's request). */
  z.strictObject({
    type: z.literal("commitRequest"),
    epoch,
    add: z.array(z.strictObject({ memberId, keyPackage: b64 })).max(1000),
    remove: z.array(memberId).max(1000),
  }),
  /** A commit accepted for `epoch` (the group moves to epoch + 1). */
  z.strictObject({ type: z.literal("commit"), epoch, commit: b64, from: memberId }),
  z.strictObject({ type: z.literal("commitAccepted"), epoch }),
  /** The commit that started `epoch` stands: members forget the epoch before it. */
  z.strictObject({ type: z.literal("epochConfirmed"), epoch }),
  /**
   * The commit for `epoch` was voided (members could not apply it): the group is back at `epoch`.
   * Members that applied it return to `epoch`; a replacement commit follows.
   */
  z.strictObject({ type: z.literal("rollback"), epoch, reason: z.string().max(200) }),
  /** Another commit won this epoch (or it was wrong): discard the pending commit and rebase. */
  z.strictObject({ type: z.literal("commitRejected"), epoch, reason: z.string().max(200) }),
  z.strictObject({ type: z.literal("welcome"), epoch, welcome: b64, ratchetTree: b64.optional() }),
  z.strictObject({ type: z.literal("publishAnswer"), sdp }),
  z.strictObject({ type: z.literal("subscribeOffer"), sdp, tracks: z.array(trackInfoSchema) }),
  z.strictObject({ type: z.literal("ice"), ...iceCandidate.shape }),
  z.strictObject({ type: z.literal("pong"), nonce: z.number().int().nonnegative() }),
  z.strictObject({ type: z.literal("meetingEnded") }),
  /**
   * You are waiting to be let in: by a host (waiting room) or until a host arrives. Nothing else
   * about the meeting is sent until then: no members, no key material, no media.
   */
  z.strictObject({ type: z.literal("waiting"), meetingId, reason: z.enum(["waitingRoom", "hostAbsent"]) }),
  /** To hosts and co-hosts: who is waiting. */
  z.strictObject({
    type: z.literal("waitingList"),
    entries: z.array(z.strictObject({ memberId, displayName: z.string().min(1).max(64) })).max(1000),
  }),
  /** The meeting's host-controlled state and its effective feature settings. */
  z.strictObject({ type: z.literal("meetingState"), locked: z.boolean(), features: meetingFeaturesSchema }),
  /** Breakout rooms: open or not, who is assigned and present where, and where you are now. */
  z.strictObject({
    type: z.literal("breakoutState"),
    open: z.boolean(),
    rooms: z.array(breakoutRoomInfoSchema).max(MAX_BREAKOUT_ROOMS),
    /** When the rooms close by themselves (ms since the Unix epoch), if a host set a duration. */
    endsAt: z.number().int().nonnegative().nullable(),
    /** The room this participant is in (null: the main meeting). */
    room: roomId.nullable(),
  }),
  /** A host's encrypted broadcast to every room (relayed unread). */
  z.strictObject({ type: z.literal("breakoutBroadcast"), from: memberId, message: b64.max(Math.ceil(MAX_BROADCAST_BYTES / 3) * 4) }),
  /** An encrypted application message from `from` (a claim: MLS authenticates the real sender). */
  z.strictObject({ type: z.literal("appMessage"), from: memberId, message: b64 }),
  z.strictObject({ type: z.literal("error"), code: z.string().max(64), message: z.string().max(500), fatal: z.boolean() }),
  /**
   * To hosts and co-hosts: something about the meeting they should know, e.g. a room system that
   * dialed in and was refused, and why (ROOM_SYSTEM_REFUSED, ROOM_SYSTEM_RINGING,
   * ROOM_SYSTEM_JOINED, ROOM_SYSTEM_FAILED, ROOM_SYSTEM_ENDED).
   */
  z.strictObject({ type: z.literal("notice"), code: z.string().max(64), message: z.string().max(500) }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

function parseWith<T>(schema: z.ZodType<T>, text: unknown): T {
  if (typeof text !== "string") throw new ProtocolError("MESSAGE_MALFORMED", "expected a text frame");
  if (text.length > MAX_SIGNALING_MESSAGE_BYTES) throw new ProtocolError("MESSAGE_TOO_LARGE");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProtocolError("MESSAGE_MALFORMED", "not JSON");
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    // The path and issue code say what is wrong without echoing values (which may be secrets).
    const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.code}` : "invalid";
    throw new ProtocolError("MESSAGE_MALFORMED", where);
  }
  return result.data;
}

export function parseClientMessage(text: unknown): ClientMessage {
  return parseWith(clientMessageSchema, text);
}

export function parseServerMessage(text: unknown): ServerMessage {
  return parseWith(serverMessageSchema, text);
}

export function encodeMessage(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}

/** Base64 for binary fields (works in browsers and Node without Buffer). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  // Strict: canonical padding only (Node's atob accepts unpadded input).
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new ProtocolError("MESSAGE_MALFORMED", "invalid base64");
  }
  let s: string;
  try {
    s = atob(text);
  } catch {
    throw new ProtocolError("MESSAGE_MALFORMED", "invalid base64");
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
