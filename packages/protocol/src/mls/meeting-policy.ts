/**
 * The meeting's encryption type, bound into the MLS group (RFC 9420 §13: a GroupContext
 * extension). The founder writes it when it creates the group; every joiner reads it from the
 * Welcome's GroupContext, which all members authenticate (it enters the key schedule through the
 * GroupContext), and every member enforces it on every commit. So whether connectors may hold the
 * meeting's keys is decided by the group itself, never by what the server says later.
 *
 * Wire format (extension_data), version 1:
 *
 *   uint8 version    = 1
 *   uint8 encryption 0 = e2ee (no connector may be a member), 1 = enhanced (visible connectors allowed)
 *
 * The extension type is in the private-use range (RFC 9420 §17.3: 0xF000-0xFFFF). Members list it
 * in their capabilities (RFC 9420 §7.2), and a commit that changes or drops it is refused.
 */
import { ProtocolError } from "../errors.js";
import type { MemberIdentity } from "./identity.js";

export const MEETING_POLICY_EXTENSION_TYPE = 0xf0c1;
export const MEETING_POLICY_VERSION = 1;

export type MeetingEncryption = "e2ee" | "enhanced";

export interface MeetingPolicyExtension {
  encryption: MeetingEncryption;
}

const ENCRYPTIONS: readonly MeetingEncryption[] = ["e2ee", "enhanced"];

export function encodeMeetingPolicy(policy: MeetingPolicyExtension): Uint8Array {
  const index = ENCRYPTIONS.indexOf(policy?.encryption);
  if (index < 0) throw new ProtocolError("INVALID_ARGUMENT", 'encryption: expected "e2ee" or "enhanced"');
  return Uint8Array.of(MEETING_POLICY_VERSION, index);
}

/** Strict: exactly two bytes, a known version and a known encryption (else MLS_BAD_MESSAGE). */
export function decodeMeetingPolicy(bytes: Uint8Array): MeetingPolicyExtension {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 2) {
    throw new ProtocolError("MLS_BAD_MESSAGE", "meeting policy extension: expected 2 bytes");
  }
  if (bytes[0] !== MEETING_POLICY_VERSION) throw new ProtocolError("MLS_BAD_MESSAGE", `meeting policy extension: unknown version ${bytes[0]}`);
  const encryption = ENCRYPTIONS[bytes[1]!];
  if (encryption === undefined) throw new ProtocolError("MLS_BAD_MESSAGE", `meeting policy extension: unknown encryption ${bytes[1]}`);
  return { encryption };
}

/** The rule every member applies: an end-to-end encrypted group admits people's devices only. */
export function admitsMember(encryption: MeetingEncryption, identity: MemberIdentity): boolean {
  return encryption === "enhanced" || identity.kind === "person";
}
