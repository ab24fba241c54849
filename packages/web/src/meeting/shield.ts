/**
 * The encryption shield, computed from the MLS member list (the group's own credentials, not
 * the server's presence list):
 *
 * - "e2ee"      lock:         an E2EE meeting; every member is a person's device.
 * - "encrypted" green check:  an Enhanced meeting with no exception.
 * - "partial"   yellow "!":   some member is a connector whose far side cannot be encrypted all
 *                             the way (phone dial-in, SIP/H.323 room system, live stream).
 *
 * Every such member is an exception, listed by name.
 */
import type { MemberIdentity } from "@conclave/protocol";
import { t, type MessageKey } from "../i18n/i18n.js";

export type ShieldState = "e2ee" | "encrypted" | "partial";

export interface ShieldException {
  memberId: string;
  displayName: string;
  connector: "pstn" | "sip" | "streaming";
  /** Why this connection is not encrypted all the way, in plain words. */
  reason: string;
}

export interface Shield {
  state: ShieldState;
  exceptions: ShieldException[];
  /** Server-side members that hold the meeting's keys (recording, transcription): visible, not exceptions. */
  keyHoldingConnectors: { memberId: string; displayName: string; connector: string }[];
}

const EXCEPTION_REASONS: Record<ShieldException["connector"], MessageKey> = {
  pstn: "exception.pstn",
  sip: "exception.sip",
  streaming: "exception.streaming",
};

export function computeShield(encryption: "e2ee" | "enhanced", members: readonly MemberIdentity[]): Shield {
  const exceptions: ShieldException[] = [];
  const keyHoldingConnectors: Shield["keyHoldingConnectors"] = [];
  for (const m of members) {
    if (m.kind !== "connector") continue;
    if (m.connector === "pstn" || m.connector === "sip" || m.connector === "streaming") {
      exceptions.push({ memberId: m.memberId, displayName: m.displayName, connector: m.connector, reason: t(EXCEPTION_REASONS[m.connector]) });
    } else {
      keyHoldingConnectors.push({ memberId: m.memberId, displayName: m.displayName, connector: m.connector });
    }
  }
  const state: ShieldState = exceptions.length > 0 ? "partial" : encryption === "e2ee" ? "e2ee" : "encrypted";
  return { state, exceptions, keyHoldingConnectors };
}

export function connectorLabel(connector: string): string {
  switch (connector) {
    case "pstn":
    case "sip":
    case "streaming":
    case "recording":
    case "transcription":
      return t(`connector.${connector}`);
    default:
      return t("connector.other");
  }
}
