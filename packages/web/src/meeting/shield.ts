/**
 * The encryption shield, computed from the MLS member list (the group's own credentials, not the
 * server's presence list) by the one function both the browser and `conclave bot` use
 * (`computeShield` in @conclave/protocol): "e2ee" lock, "encrypted" green check, "partial"
 * yellow "!", and every exception by name with its far leg's protection.
 */
export { computeShield, type Shield, type ShieldException, type ShieldState } from "@conclave/protocol";
import { t } from "../i18n/i18n.js";

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

/** What a key-holding connector does with the media, in plain words (the shield panel). */
export function connectorMeaning(connector: string): string {
  switch (connector) {
    case "recording":
      return "Recording: stored encrypted at rest on this server; the meeting's owner and admins can play it.";
    case "transcription":
      return "Transcription: audio processed on this server, which turns speech into captions; the captions reach participants end to end encrypted, and nothing is stored.";
    default:
      return "Holds the meeting's keys on this server.";
  }
}
