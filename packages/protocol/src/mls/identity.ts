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
 * Version 2 is a connector that describes its far leg (how the far side is reached and whether
 * that hop is encrypted), so every member can show it in the shield's exceptions list:
 *
 *   uint8  version            = 2
 *   uint8  kind               = 1 (connector; a person is always version 1)
 *   uint8  connector          as in version 1
 *   uint8  member_id_length   1..128, then member_id (UTF-8)
 *   uint16 display_name_length 1..256, then display_name (UTF-8)
 *   uint8  protocol_length    1..16, then protocol (ASCII letters, digits, "+./-": "SIP", "PSTN")
 *   uint8  signaling          0 none, 1 udp, 2 tcp, 3 tls (how the far side's signaling travels)
 *   uint8  media              0 none, 1 rtp, 2 srtp (keys in the signaling, RFC 4568),
 *                             3 dtls-srtp (RFC 5764)
 *   uint8  suite_length       0..64, then suite (ASCII upper-case letters, digits, "_"): the SRTP
 *                             protection profile; present exactly when media is srtp or dtls-srtp
 *
 * A connector without a far-leg description (version 1) is shown with an unknown, so
 * unencrypted, far leg.
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

export const FAR_LEG_SIGNALING = ["none", "udp", "tcp", "tls"] as const;
export type FarLegSignaling = (typeof FAR_LEG_SIGNALING)[number];
export const FAR_LEG_MEDIA = ["none", "rtp", "srtp", "dtls-srtp"] as const;
export type FarLegMedia = (typeof FAR_LEG_MEDIA)[number];

/** How a connector reaches its far side, as the connector itself declares it in its credential. */
export interface FarLeg {
  /** The far side's protocol: "SIP", "PSTN", "RTMP", ... (1..16 ASCII letters, digits, "+./-"). */
  protocol: string;
  /** How its signaling travels: "tls" protects SDES keys; "udp"/"tcp" carry them in clear. */
  signaling: FarLegSignaling;
  /** How its media travels. */
  media: FarLegMedia;
  /** The media protection profile (e.g. "AES_CM_128_HMAC_SHA1_80"); only with srtp or dtls-srtp. */
  suite?: string;
}

export type MemberIdentity =
  | { kind: "person"; memberId: string; displayName: string }
  | { kind: "connector"; memberId: string; displayName: string; connector: ConnectorKind; farLeg?: FarLeg };

export const MEMBER_IDENTITY_VERSION = 1;
/** The version of connector identities that carry a far-leg description. */
export const MEMBER_IDENTITY_VERSION_FAR_LEG = 2;
export const MAX_FAR_LEG_PROTOCOL_BYTES = 16;
export const MAX_FAR_LEG_SUITE_BYTES = 64;
const PROTOCOL_TOKEN = /^[A-Za-z0-9+./-]+$/;
const SUITE_TOKEN = /^[A-Z0-9_]+$/;
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
      const version = identity.farLeg === undefined ? MEMBER_IDENTITY_VERSION : MEMBER_IDENTITY_VERSION_FAR_LEG;
      head = [version, KIND_CONNECTOR, index + 1];
      break;
    }
    default:
      fail("kind: expected \"person\" or \"connector\"");
  }
  const tail = identity.kind === "connector" && identity.farLeg !== undefined ? encodeFarLeg(identity.farLeg) : new Uint8Array(0);
  const out = new Uint8Array(head.length + 1 + memberId.length + 2 + displayName.length + tail.length);
  out.set(head, 0);
  let off = head.length;
  out[off++] = memberId.length;
  out.set(memberId, off);
  off += memberId.length;
  out[off++] = displayName.length >> 8;
  out[off++] = displayName.length & 0xff;
  out.set(displayName, off);
  out.set(tail, off + displayName.length);
  return out;
}

/** Checks a far leg's fields (the one place its rules live) and returns it normalised. */
export function checkFarLeg(farLeg: unknown): FarLeg {
  if (typeof farLeg !== "object" || farLeg === null) fail("farLeg: expected an object");
  const f = farLeg as Record<string, unknown>;
  const protocol = f.protocol;
  if (typeof protocol !== "string" || protocol.length === 0 || protocol.length > MAX_FAR_LEG_PROTOCOL_BYTES || !PROTOCOL_TOKEN.test(protocol)) {
    fail(`farLeg.protocol: expected 1..${MAX_FAR_LEG_PROTOCOL_BYTES} ASCII letters, digits or "+./-"`);
  }
  if (!FAR_LEG_SIGNALING.includes(f.signaling as FarLegSignaling)) fail(`farLeg.signaling: expected one of ${FAR_LEG_SIGNALING.join(", ")}`);
  if (!FAR_LEG_MEDIA.includes(f.media as FarLegMedia)) fail(`farLeg.media: expected one of ${FAR_LEG_MEDIA.join(", ")}`);
  const media = f.media as FarLegMedia;
  const suite = f.suite === undefined || f.suite === "" ? undefined : f.suite;
  const encryptedMedia = media === "srtp" || media === "dtls-srtp";
  if (encryptedMedia) {
    if (typeof suite !== "string" || suite.length > MAX_FAR_LEG_SUITE_BYTES || !SUITE_TOKEN.test(suite)) {
      fail(`farLeg.suite: ${media} needs its protection profile (1..${MAX_FAR_LEG_SUITE_BYTES} of A-Z, 0-9, "_")`);
    }
  } else if (suite !== undefined) {
    fail(`farLeg.suite: ${media} media has no protection profile`);
  }
  return { protocol, signaling: f.signaling as FarLegSignaling, media, ...(suite !== undefined ? { suite: suite as string } : {}) };
}

function encodeFarLeg(farLeg: FarLeg): Uint8Array {
  const f = checkFarLeg(farLeg);
  const protocol = utf8.encode(f.protocol);
  const suite = utf8.encode(f.suite ?? "");
  const out = new Uint8Array(1 + protocol.length + 2 + 1 + suite.length);
  let off = 0;
  out[off++] = protocol.length;
  out.set(protocol, off);
  off += protocol.length;
  out[off++] = FAR_LEG_SIGNALING.indexOf(f.signaling);
  out[off++] = FAR_LEG_MEDIA.indexOf(f.media);
  out[off++] = suite.length;
  out.set(suite, off);
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
  if (version !== MEMBER_IDENTITY_VERSION && version !== MEMBER_IDENTITY_VERSION_FAR_LEG) fail(`identity bytes: unknown version ${version}`);
  const kind = u8();
  if (version === MEMBER_IDENTITY_VERSION_FAR_LEG && kind !== KIND_CONNECTOR) fail("identity bytes: version 2 is for connectors only");
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
  let farLeg: FarLeg | undefined;
  if (version === MEMBER_IDENTITY_VERSION_FAR_LEG) {
    const ascii = (field: string, len: number, max: number): string => {
      if (len > max) fail(`${field}: longer than ${max} bytes`);
      need(len);
      let v = "";
      for (let i = 0; i < len; i++) {
        const c = bytes[off + i]!;
        if (c < 0x21 || c > 0x7e) fail(`${field}: not printable ASCII`);
        v += String.fromCharCode(c);
      }
      off += len;
      return v;
    };
    const protocol = ascii("farLeg.protocol", u8(), MAX_FAR_LEG_PROTOCOL_BYTES);
    const signaling = FAR_LEG_SIGNALING[u8()];
    const media = FAR_LEG_MEDIA[u8()];
    if (signaling === undefined) fail("farLeg.signaling: unknown value");
    if (media === undefined) fail("farLeg.media: unknown value");
    const suite = ascii("farLeg.suite", u8(), MAX_FAR_LEG_SUITE_BYTES);
    farLeg = checkFarLeg({ protocol, signaling, media, ...(suite !== "" ? { suite } : {}) });
  }
  if (off !== bytes.length) fail(`identity bytes: trailing bytes after the ${farLeg ? "far leg" : "display name"}`);
  if (connector === undefined) return { kind: "person", memberId, displayName };
  return farLeg === undefined ? { kind: "connector", memberId, displayName, connector } : { kind: "connector", memberId, displayName, connector, farLeg };
}

/**
 * Whether a connector's far leg is encrypted on its hop. Only TLS signaling with SRTP (SDES keys
 * inside TLS) or DTLS-SRTP counts: SDES keys offered over plain UDP/TCP crossed the network in
 * clear, and a DTLS fingerprint sent in clear can be swapped by whoever sits on the path. Even an
 * encrypted far leg is hop by hop: the connector and the far device can read the media.
 */
export function farLegEncrypted(farLeg: FarLeg | undefined): boolean {
  return farLeg !== undefined && farLeg.signaling === "tls" && (farLeg.media === "srtp" || farLeg.media === "dtls-srtp");
}

/** Short protection label for the exceptions list: "TLS + SRTP", "TLS + DTLS-SRTP" or "unencrypted". */
export function farLegProtection(farLeg: FarLeg | undefined): string {
  if (!farLegEncrypted(farLeg)) return "unencrypted";
  return farLeg!.media === "srtp" ? "TLS + SRTP" : "TLS + DTLS-SRTP";
}

/** One line describing a far leg: "SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80", "SIP/UDP + RTP (unencrypted)". */
export function describeFarLeg(farLeg: FarLeg | undefined): string {
  if (farLeg === undefined) return "far leg not described (unencrypted)";
  const transport = farLeg.signaling === "none" ? farLeg.protocol : `${farLeg.protocol}/${farLeg.signaling.toUpperCase()}`;
  const media = farLeg.media === "none" ? "" : ` + ${farLeg.media.toUpperCase()}${farLeg.suite ? ` ${farLeg.suite}` : ""}`;
  let why = "";
  if (!farLegEncrypted(farLeg)) {
    why = farLeg.media === "srtp" ? " (unencrypted: SRTP keys sent without TLS)" : farLeg.media === "dtls-srtp" ? " (unencrypted: DTLS fingerprint sent without TLS)" : " (unencrypted)";
  }
  return `${transport}${media}${why}`;
}
