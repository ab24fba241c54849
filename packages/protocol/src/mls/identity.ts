/**
 * The member identity carried in the `identity` field of an MLS basic credential
 * (RFC 9420 §5.3, `opaque identity<V>`). Every member reads every other member's identity from
 * the ratchet tree, so this is what the member list, the shield and the exceptions list show.
 *
 * Wire format, version 1 (all integers big-endian):
 *
 *   uint8  version            = 1
 *   uint8  kind               0 = person, 1 = connector
 *   uint8  connector          only when kind = 1: 1 recording, 2 sip, 3 pstn, 4 streaming,
 *                             5 transcription
 *   uint8  member_id_length   1..128, then member_id (UTF-8)
 *   uint16 display_name_length 1..256, then display_name (UTF-8)
 *
 * Strings must be well-formed UTF-8, in Unicode NFC, and free of control characters, so each
 * identity has exactly one encoding and cannot smuggle line breaks or bidi tricks into a member
 * list. The decoder rejects everything else (truncation, trailing bytes, unknown versions or
 * kinds, over-long or empty strings) with MLS_BAD_CREDENTIAL.
 *
 * A basic credential is a claim, not a proof: MLS binds it to the member's signature key, but
 * nothing here proves the claim is true. Members check each other through the security code
 * (the epoch authenticator), or an authentication service added later.
 */
import { ProtocolError } from "../errors.js";
import { utf8 } from "../bytes.js";

export const CONNECTOR_KINDS = ["recording", "sip", "pstn", "streaming", "transcription"] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

export type MemberIdentity =
  | { kind: "person"; memberId: string; displayName: string }
  | { kind: "connector"; memberId: string; displayName: string; connector: ConnectorKind };

export const MEMBER_IDENTITY_VERSION = 1;
export const MAX_MEMBER_ID_BYTES = 128;
export const MAX_DISPLAY_NAME_BYTES = 256;

const KIND_PERSON = 0;
const KIND_CONNECTOR = 1;

// C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate characters.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

function fail(detail: string): never {
  throw new ProtocolError("MLS_BAD_CREDENTIAL", detail);
}

/** Returns the UTF-8 bytes of a field after checking its content rules; `field` names it. */
function encodeField(field: string, value: unknown, maxBytes: number): Uint8Array {
  if (typeof value !== "string") fail(`${field}: expected a string`);
  const bytes = utf8.encode(value);
  // TextEncoder silently replaces lone surrogates; a round trip that changes the string means the
  // input was not well-formed Unicode.
  if (utf8.decode(bytes) !== value) fail(`${field}: not well-formed Unicode`);
  checkText(field, value, bytes.length, maxBytes);
  return bytes;
}

function checkText(field: string, value: string, byteLength: number, maxBytes: number): void {
  if (byteLength === 0) fail(`${field}: empty`);
  if (byteLength > maxBytes) fail(`${field}: longer than ${maxBytes} bytes`);
  if (FORBIDDEN_CHARS.test(value)) fail(`${field}: contains a control or bidi-override character`);
  if (value.normalize("NFC") !== value) fail(`${field}: not in Unicode NFC`);
}

export function encodeMemberIdentity(identity: MemberIdentity): Uint8Array {
  if (typeof identity !== "object" || identity === null) fail("identity: expected an object");
  const memberId = encodeField("memberId", identity.memberId, MAX_MEMBER_ID_BYTES);
  const displayName = encodeField("displayName", identity.displayName, MAX_DISPLAY_NAME_BYTES);
  let head: number[];
  switch (identity.kind) {
    case "person":
      head = [MEMBER_IDENTITY_VERSION, KIND_PERSON];
      break;
    case "connector": {
      const index = CONNECTOR_KINDS.indexOf(identity.connector);
      if (index < 0) fail("connector: unknown connector kind");
      head = [MEMBER_IDENTITY_VERSION, KIND_CONNECTOR, index + 1];
      break;
    }
    default:
      fail("kind: expected \"person\" or \"connector\"");
  }
  const out = new Uint8Array(head.length + 1 + memberId.length + 2 + displayName.length);
  out.set(head, 0);
  let off = head.length;
  out[off++] = memberId.length;
  out.set(memberId, off);
  off += memberId.length;
  out[off++] = displayName.length >> 8;
  out[off++] = displayName.length & 0xff;
  out.set(displayName, off);
  return out;
}

export function decodeMemberIdentity(bytes: Uint8Array): MemberIdentity {
  if (!(bytes instanceof Uint8Array)) fail("identity bytes: expected a Uint8Array");
  let off = 0;
  const need = (n: number): void => {
    if (off + n > bytes.length) fail("identity bytes: truncated");
  };
  const u8 = (): number => {
    need(1);
    return bytes[off++]!;
  };
  const text = (field: string, len: number, maxBytes: number): string => {
    if (len > maxBytes) fail(`${field}: longer than ${maxBytes} bytes`);
    need(len);
    let value: string;
    try {
      value = utf8.decode(bytes.subarray(off, off + len));
    } catch {
      fail(`${field}: invalid UTF-8`);
    }
    off += len;
    checkText(field, value, len, maxBytes);
    return value;
  };

  const version = u8();
  if (version !== MEMBER_IDENTITY_VERSION) fail(`identity bytes: unknown version ${version}`);
  const kind = u8();
  let connector: ConnectorKind | undefined;
  if (kind === KIND_CONNECTOR) {
    const c = u8();
    connector = CONNECTOR_KINDS[c - 1];
    if (c === 0 || connector === undefined) fail(`identity bytes: unknown connector kind ${c}`);
  } else if (kind !== KIND_PERSON) {
    fail(`identity bytes: unknown member kind ${kind}`);
  }
  const memberId = text("memberId", u8(), MAX_MEMBER_ID_BYTES);
  const nameLen = (u8() << 8) | u8();
  const displayName = text("displayName", nameLen, MAX_DISPLAY_NAME_BYTES);
  if (off !== bytes.length) fail("identity bytes: trailing bytes after the display name");
  return connector === undefined
    ? { kind: "person", memberId, displayName }
    : { kind: "connector", memberId, displayName, connector };
}
