/**
 * The encryption shield, computed from the MLS member list (the group's own credentials, not the
 * server's presence list) by the one function both the browser and `conclave bot` use
 * (`computeShield` in @conclave/protocol): "e2ee" lock, "encrypted" green check, "partial"
 * yellow "!", and every exception by name with its far leg's protection.
 *
 * `computeShield` is isomorphic and its texts (reason, description, protection) are English, for
 * the bot's JSON and logs. The web app shows them in the reader's language instead: the functions
 * below say the same things from the exception's stable fields (connector kind, far leg, name)
 * with the message catalogue. In English they give exactly the protocol's words (a unit test
 * checks it).
 */
export { computeShield, type Shield, type ShieldException, type ShieldState } from "@conclave/protocol";
import { farLegEncrypted, farLegProtection, type FarLeg } from "@conclave/protocol";
import type { ShieldException } from "@conclave/protocol";
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
    case "transcription":
      return t(`shield.meaning.${connector}`);
    default:
      return t("shield.meaning.other");
  }
}

/**
 * A protection label ("TLS + SRTP", "TLS + DTLS-SRTP", "TLS" or "unencrypted", from
 * `farLegProtection` or `ShieldException.protection`) for display: the technical names stay,
 * "unencrypted" is translated.
 */
export function protectionLabel(protection: string): string {
  return protection === "unencrypted" ? t("shield.unencrypted") : protection;
}

/** The far leg's protection for display (the people list). */
export function farLegProtectionLabel(farLeg: FarLeg | undefined): string {
  return protectionLabel(farLegProtection(farLeg));
}

/** An exception's far leg in one line ("SIP/TLS + SRTP AES_CM_128_HMAC_SHA1_80", "SIP/UDP + RTP (unencrypted)"). */
export function exceptionDescription(x: Pick<ShieldException, "connector" | "farLeg" | "farLegEncrypted">): string {
  const farLeg = x.farLeg;
  if (x.connector === "streaming") {
    return x.farLegEncrypted ? `${farLeg!.protocol}/TLS` : t("shield.farLeg.plain", { leg: `${farLeg?.protocol ?? "RTMP"}/TCP` });
  }
  if (farLeg === undefined) return t("shield.farLeg.undescribed");
  const transport = farLeg.signaling === "none" ? farLeg.protocol : `${farLeg.protocol}/${farLeg.signaling.toUpperCase()}`;
  const media = farLeg.media === "none" ? "" : ` + ${farLeg.media.toUpperCase()}${farLeg.suite ? ` ${farLeg.suite}` : ""}`;
  const leg = `${transport}${media}`;
  if (farLegEncrypted(farLeg)) return leg;
  if (farLeg.media === "srtp") return t("shield.farLeg.srtpWithoutTls", { leg });
  if (farLeg.media === "dtls-srtp") return t("shield.farLeg.dtlsWithoutTls", { leg });
  return t("shield.farLeg.plain", { leg });
}

/**
 * "live stream to rtmp://host/app" from the stream member's name, which the server makes
 * ("Live stream to rtmp://host/app"); any other name is quoted as it is.
 */
function streamName(displayName: string): string {
  const to = /^Live stream to (.+)$/s.exec(displayName);
  return to ? t("shield.streamTo", { destination: to[1]! }) : t("shield.streamNamed", { name: displayName });
}

/** Why an exception's connection is not encrypted all the way, in plain words. */
export function exceptionReason(x: Pick<ShieldException, "connector" | "farLeg" | "farLegEncrypted" | "displayName">): string {
  if (x.connector === "streaming") {
    const stream = streamName(x.displayName);
    return x.farLegEncrypted ? t("shield.reason.streamTls", { stream }) : t("shield.reason.streamPlain", { stream });
  }
  const what = x.connector === "pstn" ? t("connector.pstn") : x.connector === "sip" ? t("shield.what.sip") : t("connector.other");
  const protection = farLegProtection(x.farLeg);
  if (x.connector === "pstn") {
    // The phone leg ends at the trunk (a carrier or PBX); beyond it the phone network has no encryption.
    return farLegEncrypted(x.farLeg) ? t("shield.reason.phoneEncrypted", { what, protection }) : t("shield.reason.phonePlain", { what });
  }
  return farLegEncrypted(x.farLeg) ? t("shield.reason.deviceEncrypted", { what, protection }) : t("shield.reason.devicePlain", { what });
}
