/**
 * End-to-end encrypted application messages: what members tell each other that the server must
 * not read (mute and camera state, host requests, spotlight; chat, reactions and polls come later).
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

const memberId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
const v = z.literal(APP_MESSAGE_VERSION);

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
]);
export type AppMessage = z.infer<typeof appMessageSchema>;
export type AppMessageType = AppMessage["type"];
export const APP_MESSAGE_TYPES: readonly AppMessageType[] = appMessageSchema.options.map((o) => o.shape.type.value);

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
