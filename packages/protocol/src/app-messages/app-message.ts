/**
 * End-to-end encrypted application messages: what members tell each other that the server must
 * not read: mute and camera state, host requests, spotlight, chat (group and private), files
 * shared in chat, reactions, raised hands, polls and breakout plans.
 *
 * Layers (docs/protocol.md §6.1):
 *   signaling `appMessage` (JSON, base64 field)                    relayed by the server, unread
 *     → MLSMessage(PrivateMessage, content_type = application)     RFC 9420 §6.3, this epoch's keys
 *       → application_data = UTF-8 JSON `{"v":1,"type":...,...}`   this module
 *
 * MLS authenticates the sender (its leaf signature) and encrypts the payload; this module only
 * types and bounds what is inside. Decoding is strict and fails one way: too large, not UTF-8, not
 * JSON, unknown version or type, extra or missing fields are each rejected with a ProtocolError.
 * A new kind is one more entry in `appMessageSchema` (and a row in docs/protocol.md); a receiver
 * that does not know a kind rejects it as APP_MESSAGE_UNSUPPORTED and carries on.
 */
import { z } from "zod";
import { ProtocolError } from "../errors.js";

export const APP_MESSAGE_VERSION = 1;
/** Largest application payload (the JSON inside the MLS message), in bytes. */
export const MAX_APP_MESSAGE_PAYLOAD_BYTES = 16 * 1024;
/** Largest encoded MLSMessage carrying one (payload + framing, signature, tag and padding). */
export const MAX_APP_MESSAGE_BYTES = 20 * 1024;
/** Largest payload sealed to one member (before its HPKE tag), after padding. */
export const MAX_SEALED_PAYLOAD_BYTES = 10 * 1024;
/** Sealed payloads are zero-padded to a multiple of this, so sizes say little (a vote is one block). */
export const SEALED_PADDING = 256;

const memberId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
const v = z.literal(APP_MESSAGE_VERSION);

/** Longest chat message, in UTF-16 code units (at most ~6 KB of JSON, well inside a payload). */
export const MAX_CHAT_TEXT = 2000;
/** Most breakout rooms a host can open at once. */
export const MAX_BREAKOUT_ROOMS = 50;
/** Most options a poll can offer. */
export const MAX_POLL_OPTIONS = 10;
/** The reactions a member can send: a fixed set, so a reaction is never free text. */
export const REACTIONS = ["👍", "👏", "❤️", "😂", "😮", "🎉", "🤔", "👎"] as const;
export type Reaction = (typeof REACTIONS)[number];
/** Longest caption text (one utterance), in UTF-16 code units. */
export const MAX_CAPTION_TEXT = 1000;
/** Latest caption time, in ms since the transcription started (24 hours). */
export const MAX_CAPTION_MS = 86_400_000;

/** A random id the sender picks (chat message, poll, plan): 8-32 URL-safe characters. */
const localId = z.string().regex(/^[A-Za-z0-9_-]{8,32}$/);
/** A breakout room id the host picks; the server routes by it (it sees only the id, never the name). */
export const roomIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/);
const b64 = (min: number, max: number) =>
  z.string().min(Math.ceil(min / 3) * 4).max(Math.ceil(max / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");
/** Exactly `n` bytes in canonical base64. */
const b64Exact = (n: number) => z.string().length(Math.ceil(n / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");

/**
 * Text people type: well-formed Unicode (no lone surrogates), no control characters but newline
 * and tab. It is displayed as text, never as markup.
 */
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => s.trim().length > 0 && !hasControlCharacter(s) && isWellFormed(s), "text");

/** C0 controls and DEL, except tab (9) and newline (10). */
function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10) || c === 0x7f) return true;
  }
  return false;
}

/** A file shared in chat: the server holds only its ciphertext (files/file-crypto.ts). */
const fileFields = {
  /** The chat message's id. */
  id: localId,
  /** Where the ciphertext is stored on the meeting's server (POST /api/meetings/:id/files). */
  fileId: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  name: text(255).refine((s) => !/[\\/]/.test(s), "a file name without path separators"),
  /** Plaintext size in bytes. */
  size: z.number().int().min(0).max(2 ** 40),
  mediaType: z.string().max(127).regex(/^([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*)?$/),
  /** The fresh AES-256-GCM key of this one file (never reused), inside the MLS ciphertext. */
  key: b64Exact(32),
};

/** Every kind of application message, a discriminated union on `type`. */
export const appMessageSchema = z.discriminatedUnion("type", [
  /**
   * The sender's own media state: microphone on, camera on, sharing a screen. Sent on every
   * change, to everyone, and to each newcomer when it joins.
   */
  z.strictObject({ v, type: z.literal("mediaState"), mic: z.boolean(), camera: z.boolean(), screen: z.boolean() }),
  /**
   * A host or co-host to one member: "please unmute" (the member decides) or "mute" (the member's
   * app mutes itself). Receivers ignore it from anyone the server does not list as host or co-host.
   */
  z.strictObject({ v, type: z.literal("hostRequest"), action: z.enum(["mute", "askUnmute"]), target: memberId }),
  /** A host or co-host spotlights up to 4 members for everyone (an empty list ends it). */
  z.strictObject({ v, type: z.literal("spotlight"), memberIds: z.array(memberId).max(4) }),
  /** A group chat message to everyone in the group (setting inMeetingChat). */
  z.strictObject({ v, type: z.literal("chat"), id: localId, text: text(MAX_CHAT_TEXT) }),
  /** SEALED ONLY: a private chat message to the one member it is sealed to (setting privateChat). */
  z.strictObject({ v, type: z.literal("privateChat"), id: localId, text: text(MAX_CHAT_TEXT) }),
  /** A file shared in the group chat (settings inMeetingChat and fileSharing). */
  z.strictObject({ v, type: z.literal("file"), ...fileFields }),
  /** SEALED ONLY: a file shared in a private chat (settings privateChat and fileSharing). */
  z.strictObject({ v, type: z.literal("privateFile"), ...fileFields }),
  /** An emoji reaction, shown on the sender's tile for a few seconds (setting reactions). */
  z.strictObject({ v, type: z.literal("reaction"), emoji: z.enum(REACTIONS) }),
  /** The sender raises or lowers its own hand; hosts keep the raised hands in arrival order. */
  z.strictObject({ v, type: z.literal("hand"), raised: z.boolean() }),
  /** A host or co-host lowers someone's hand, for everyone (the member's app lowers it). */
  z.strictObject({ v, type: z.literal("lowerHand"), target: memberId }),
  /**
   * The sender started or stopped recording the meeting on its own device (local recording: the
   * file stays there). Sent to everyone, and again to each newcomer while it records, so that
   * everyone is told. Only the sender's own state: it names nobody else.
   */
  z.strictObject({ v, type: z.literal("localRecording"), state: z.enum(["started", "stopped"]) }),
  /** A host or co-host launches a poll (setting polling). Votes go sealed to the launcher only. */
  z.strictObject({
    v,
    type: z.literal("pollLaunch"),
    pollId: localId,
    question: text(300),
    options: z.array(text(100)).min(2).max(MAX_POLL_OPTIONS),
    /** Whether a voter may pick several options. */
    multiple: z.boolean(),
    /** Whether the launcher's app shows only totals (docs/threat-model.md says what it can still learn). */
    anonymous: z.boolean(),
  }),
  /** SEALED ONLY: one member's vote, sealed to the poll's launcher. */
  z.strictObject({
    v,
    type: z.literal("pollVote"),
    pollId: localId,
    choices: z
      .array(z.number().int().min(0).max(MAX_POLL_OPTIONS - 1))
      .min(1)
      .max(MAX_POLL_OPTIONS)
      .refine((c) => new Set(c).size === c.length, "distinct choices"),
  }),
  /** The launcher closes a poll: no more votes are counted. */
  z.strictObject({ v, type: z.literal("pollEnd"), pollId: localId }),
  /** The launcher shares a poll's results with everyone: votes per option and how many voted. */
  z.strictObject({
    v,
    type: z.literal("pollResults"),
    pollId: localId,
    counts: z.array(z.number().int().min(0).max(100_000)).min(2).max(MAX_POLL_OPTIONS),
    voters: z.number().int().min(0).max(100_000),
  }),
  /**
   * A host or co-host's breakout plan, to the main group before the rooms open: the rooms' names
   * (the server knows only their ids), the key of this plan's broadcasts to every room, and the
   * public key its broadcasts are signed with (the host's MLS keys change with every room it
   * visits, this one does not).
   */
  z.strictObject({
    v,
    type: z.literal("breakoutPlan"),
    planId: localId,
    rooms: z.array(z.strictObject({ roomId: roomIdSchema, name: text(64) })).min(1).max(MAX_BREAKOUT_ROOMS),
    broadcastKey: b64Exact(32),
    signingKey: b64(32, 256),
  }),
  /**
   * A live caption: what `speaker` said, from the meeting's transcription connector (the only
   * sender receivers accept it from: a member whose MLS credential is connector kind
   * `transcription`). `start`/`end` are ms since the transcription started; `final` is false for
   * a partial result a later caption with the same `seq` replaces.
   */
  z
    .strictObject({
      v,
      type: z.literal("caption"),
      speaker: memberId,
      seq: z.number().int().min(0).max(2 ** 31 - 1),
      text: text(MAX_CAPTION_TEXT),
      start: z.number().int().min(0).max(MAX_CAPTION_MS),
      end: z.number().int().min(0).max(MAX_CAPTION_MS),
      final: z.boolean(),
    })
    .refine((c) => c.end >= c.start, "end before start"),
  /**
   * A payload sealed to ONE member (RFC 9420 §5.1.3 EncryptWithLabel to the HPKE key of its leaf
   * in this epoch's tree): private chat, private files, poll votes. Every member of the epoch can
   * read this envelope, only the recipient can open `ct` (mls/session.ts sealApplicationMessage).
   */
  z.strictObject({
    v,
    type: z.literal("sealed"),
    to: memberId,
    toLeaf: z.number().int().min(0).max(65_535),
    /** HPKE encapsulated key: 32 bytes for X25519, 1,120 for X-Wing. */
    enc: b64(32, 1200),
    ct: b64(16 + SEALED_PADDING, MAX_SEALED_PAYLOAD_BYTES + 16),
  }),
]);
export type AppMessage = z.infer<typeof appMessageSchema>;
export type AppMessageType = AppMessage["type"];
export const APP_MESSAGE_TYPES: readonly AppMessageType[] = appMessageSchema.options.map((o) => o.shape.type.value);

/** Kinds that only ever travel sealed to one member; receivers refuse them in the clear. */
export const SEALED_ONLY_TYPES: ReadonlySet<AppMessageType> = new Set(["privateChat", "privateFile", "pollVote"]);

/**
 * The meeting settings (packages/server/src/settings) that govern application messages. They
 * travel with the meeting to every member (signaling `meetingState.features`); a member refuses
 * to send, and refuses to accept, a kind whose settings are off (FEATURE_DISABLED).
 * `chatHistory` governs no kind: it tells members' apps to also hand their group chat messages
 * to the server for saving (Enhanced meetings only; always false in E2EE ones).
 */
export const FEATURE_KEYS = ["inMeetingChat", "privateChat", "reactions", "polling", "breakoutRooms", "fileSharing", "chatHistory"] as const;
export type FeatureKey = (typeof FEATURE_KEYS)[number];
export type MeetingFeatures = Record<FeatureKey, boolean>;
/** Every feature off: what a member assumes until the server says what the meeting allows. */
export const NO_MEETING_FEATURES: Readonly<MeetingFeatures> = Object.freeze(Object.fromEntries(FEATURE_KEYS.map((k) => [k, false])) as MeetingFeatures);
/** The built-in defaults of these settings (a meeting whose owner changed nothing). */
export const DEFAULT_MEETING_FEATURES: Readonly<MeetingFeatures> = Object.freeze({
  inMeetingChat: true,
  privateChat: true,
  reactions: true,
  polling: true,
  breakoutRooms: true,
  fileSharing: true,
  chatHistory: false,
});

/** The settings a kind of message needs (all of them on); [] for kinds no setting governs. */
export function featuresFor(type: AppMessageType): readonly FeatureKey[] {
  switch (type) {
    case "chat":
      return ["inMeetingChat"];
    case "privateChat":
      return ["privateChat"];
    case "file":
      return ["inMeetingChat", "fileSharing"];
    case "privateFile":
      return ["privateChat", "fileSharing"];
    case "reaction":
      return ["reactions"];
    case "pollLaunch":
    case "pollVote":
    case "pollEnd":
    case "pollResults":
      return ["polling"];
    case "breakoutPlan":
      return ["breakoutRooms"];
    case "mediaState":
    case "hostRequest":
    case "spotlight":
    case "hand":
    case "lowerHand":
    case "localRecording":
    case "caption":
    case "sealed":
      return [];
    default: {
      const never: never = type;
      throw new ProtocolError("APP_MESSAGE_UNSUPPORTED", String(never));
    }
  }
}

/** The first setting of `features` that turns `type` off, or null when it is allowed. */
export function disabledFeature(type: AppMessageType, features: Readonly<MeetingFeatures>): FeatureKey | null {
  return featuresFor(type).find((f) => !features[f]) ?? null;
}

const utf8 = new TextEncoder();

export function encodeAppMessage(message: AppMessage): Uint8Array {
  const parsed = appMessageSchema.safeParse(message);
  if (!parsed.success) throw new ProtocolError("APP_MESSAGE_MALFORMED", describe(parsed.error.issues[0]));
  const bytes = utf8.encode(JSON.stringify(parsed.data));
  if (bytes.length > MAX_APP_MESSAGE_PAYLOAD_BYTES) {
    throw new ProtocolError("APP_MESSAGE_TOO_LARGE", `${bytes.length} bytes, at most ${MAX_APP_MESSAGE_PAYLOAD_BYTES}`);
  }
  return bytes;
}

export function decodeAppMessage(bytes: Uint8Array): AppMessage {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "bytes: expected a Uint8Array");
  if (bytes.length > MAX_APP_MESSAGE_PAYLOAD_BYTES) {
    throw new ProtocolError("APP_MESSAGE_TOO_LARGE", `${bytes.length} bytes, at most ${MAX_APP_MESSAGE_PAYLOAD_BYTES}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ProtocolError("APP_MESSAGE_MALFORMED", "not UTF-8 JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ProtocolError("APP_MESSAGE_MALFORMED", "not a JSON object");
  const { v: version, type } = json as { v?: unknown; type?: unknown };
  if (version !== APP_MESSAGE_VERSION) throw new ProtocolError("APP_MESSAGE_UNSUPPORTED", `version ${typeof version === "number" ? version : "missing"}`);
  if (typeof type !== "string" || !(APP_MESSAGE_TYPES as readonly string[]).includes(type)) {
    throw new ProtocolError("APP_MESSAGE_UNSUPPORTED", typeof type === "string" ? `type ${type.slice(0, 32)}` : "no type");
  }
  const parsed = appMessageSchema.safeParse(json);
  if (!parsed.success) throw new ProtocolError("APP_MESSAGE_MALFORMED", describe(parsed.error.issues[0]));
  return parsed.data;
}

/** Where a payload is wrong, without echoing its values (they are private to the meeting). */
function describe(issue: z.core.$ZodIssue | undefined): string {
  return issue ? `${issue.path.join(".") || "(root)"}: ${issue.code}` : "invalid";
}

/**
 * The bytes sealed to one member: an application message of a SEALED_ONLY kind, zero-padded to a
 * multiple of SEALED_PADDING (JSON never ends in a NUL byte, so the padding strips unambiguously).
 */
export function encodeSealedPayload(message: AppMessage): Uint8Array {
  if (!SEALED_ONLY_TYPES.has(message.type)) throw new ProtocolError("APP_MESSAGE_MALFORMED", `a ${message.type} message is never sealed`);
  const bytes = encodeAppMessage(message);
  const padded = new Uint8Array(Math.ceil(bytes.length / SEALED_PADDING) * SEALED_PADDING);
  if (padded.length > MAX_SEALED_PAYLOAD_BYTES) throw new ProtocolError("APP_MESSAGE_TOO_LARGE", `${bytes.length} bytes to seal, at most ${MAX_SEALED_PAYLOAD_BYTES}`);
  padded.set(bytes);
  return padded;
}

/** Strict inverse of encodeSealedPayload: padding only of zeros, block-aligned, a SEALED_ONLY kind. */
export function decodeSealedPayload(bytes: Uint8Array): AppMessage {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "bytes: expected a Uint8Array");
  if (bytes.length === 0 || bytes.length % SEALED_PADDING !== 0 || bytes.length > MAX_SEALED_PAYLOAD_BYTES) {
    throw new ProtocolError("APP_MESSAGE_MALFORMED", "sealed payload: not a whole number of padding blocks");
  }
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (bytes.length - end >= SEALED_PADDING) throw new ProtocolError("APP_MESSAGE_MALFORMED", "sealed payload: more padding than one block");
  const message = decodeAppMessage(bytes.subarray(0, end));
  if (!SEALED_ONLY_TYPES.has(message.type)) throw new ProtocolError("APP_MESSAGE_MALFORMED", `a ${message.type} message must not be sealed`);
  return message;
}

/** String.prototype.isWellFormed (Node 20+, every current browser), without relying on lib typings. */
function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}
