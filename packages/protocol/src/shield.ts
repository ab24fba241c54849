/**
 * The encryption shield, computed from the MLS member list (the group's own credentials, which
 * every member authenticates; never the server's presence list) and the group's own encryption
 * type (its policy extension). The browser app and `conclave bot --json` both use this function.
 *
 * - "e2ee"      lock:         an E2EE group; every member is a person's device.
 * - "encrypted" green check:  an Enhanced group with no exception.
 * - "partial"   yellow "!":   some member is a connector whose far side is not reached end to end
 *                             (phone dial-in, SIP/H.323 room system, live stream): its far leg is
 *                             at best encrypted hop by hop, and may be unencrypted.
 *
 * Every such member is an exception, listed by name with its far leg's protection as the
 * connector declares it in its credential (docs/threat-model.md: what that claim proves).
 * Recording and transcription connectors hold the keys visibly but send media nowhere live, so
 * they are listed apart, not as exceptions.
 */
import {
  describeFarLeg,
  farLegEncrypted,
  farLegProtection,
  type ConnectorKind,
  type FarLeg,
  type MemberIdentity,
} from "./mls/identity.js";
import type { MeetingEncryption } from "./mls/meeting-policy.js";

export type ShieldState = "e2ee" | "encrypted" | "partial";

/** Connector kinds whose far side is reached outside the meeting's end-to-end encryption. */
export const EXCEPTION_CONNECTORS: readonly ConnectorKind[] = ["sip", "pstn", "streaming"];

export interface ShieldException {
  memberId: string;
  displayName: string;
  connector: ConnectorKind;
  farLeg: FarLeg | undefined;
  /** True when the far leg is encrypted on its hop (TLS signaling and SRTP / DTLS-SRTP media). */
  farLegEncrypted: boolean;
  /** "TLS + SRTP", "TLS + DTLS-SRTP", "TLS" (a live stream over RTMPS) or "unencrypted". */
  protection: string;
  /** e.g. "SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80". */
  description: string;
  /** Why this connection is not encrypted all the way, in plain words. */
  reason: string;
}

export interface KeyHoldingConnector {
  memberId: string;
  displayName: string;
  connector: ConnectorKind;
}

export interface Shield {
  state: ShieldState;
  exceptions: ShieldException[];
  /** Server-side members that hold the meeting's keys but are not exceptions (recording, transcription). */
  keyHoldingConnectors: KeyHoldingConnector[];
}

const WHAT: Record<string, string> = {
  pstn: "Phone dial-in",
  sip: "Room system (SIP/H.323)",
  streaming: "Live stream",
};

/**
 * A live stream's far leg: RTMP over TLS (RTMPS) protects it on the way to the ingest; plain RTMP
 * over TCP does not. The media travels inside that one connection (media "none").
 */
function streamLegTls(farLeg: FarLeg | undefined): boolean {
  return farLeg !== undefined && farLeg.signaling === "tls";
}

/** "live stream to rtmp://host/app" from the member's name ("Live stream to rtmp://host/app"). */
function streamName(displayName: string): string {
  return displayName.startsWith("Live stream") ? `live stream${displayName.slice("Live stream".length)}` : `live stream "${displayName}"`;
}

function reasonFor(connector: ConnectorKind, farLeg: FarLeg | undefined, displayName: string): string {
  const what = WHAT[connector] ?? "Connector";
  if (connector === "streaming") {
    return streamLegTls(farLeg)
      ? `${streamName(displayName)}: encrypted (TLS) only as far as the streaming service, not end to end: the connector, the service and everyone watching the stream can see and hear the meeting.`
      : `${streamName(displayName)}: unencrypted beyond the connector: anyone on the network path to the streaming service, the service and everyone watching the stream can see and hear the meeting.`;
  }
  if (connector === "pstn") {
    // The phone leg ends at the trunk (a carrier or PBX); beyond it the phone network has no encryption.
    return farLegEncrypted(farLeg)
      ? `${what}: encrypted (${farLegProtection(farLeg)}) only as far as the phone trunk; beyond it the call crosses the phone network unencrypted, and the connector, the trunk and the phone network can hear this phone's audio and the meeting audio sent to it.`
      : `${what}: unencrypted beyond the connector: the network to the phone trunk, the trunk and the phone network can hear this phone's audio and the meeting audio sent to it.`;
  }
  if (farLegEncrypted(farLeg)) {
    return `${what}: encrypted (${farLegProtection(farLeg)}) only up to the device, not end to end: the connector and the device can read this media.`;
  }
  return `${what}: not encrypted between the connector and the device; anyone on that network path can listen.`;
}

export function computeShield(encryption: MeetingEncryption, members: readonly MemberIdentity[]): Shield {
  const exceptions: ShieldException[] = [];
  const keyHoldingConnectors: KeyHoldingConnector[] = [];
  for (const m of members) {
    if (m.kind !== "connector") continue;
    if (EXCEPTION_CONNECTORS.includes(m.connector)) {
      const stream = m.connector === "streaming";
      const tls = stream ? streamLegTls(m.farLeg) : farLegEncrypted(m.farLeg);
      exceptions.push({
        memberId: m.memberId,
        displayName: m.displayName,
        connector: m.connector,
        farLeg: m.farLeg,
        farLegEncrypted: tls,
        protection: stream ? (tls ? "TLS" : "unencrypted") : farLegProtection(m.farLeg),
        description: stream ? (tls ? `${m.farLeg!.protocol}/TLS` : `${m.farLeg?.protocol ?? "RTMP"}/TCP (unencrypted)`) : describeFarLeg(m.farLeg),
        reason: reasonFor(m.connector, m.farLeg, m.displayName),
      });
    } else {
      keyHoldingConnectors.push({ memberId: m.memberId, displayName: m.displayName, connector: m.connector });
    }
  }
  // A connector in an E2EE group cannot happen (every member refuses one); if it ever did, the
  // shield must not show the lock.
  const anyConnector = members.some((m) => m.kind === "connector");
  const state: ShieldState = exceptions.length > 0 ? "partial" : encryption === "e2ee" && !anyConnector ? "e2ee" : "encrypted";
  return { state, exceptions, keyHoldingConnectors };
}
