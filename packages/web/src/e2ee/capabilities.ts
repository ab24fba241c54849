/**
 * Can this browser encrypt media frames itself? Conclave sends no media it has not SFrame-
 * encrypted, so a browser without encoded transforms cannot take part in any meeting (checked
 * before connecting, so not even signaling starts).
 */

export type EncodedTransformMode = "script-transform" | "encoded-streams";

interface SenderWithStreams {
  createEncodedStreams?: unknown;
}

export function detectEncodedTransform(): EncodedTransformMode | null {
  const g = globalThis as { RTCRtpScriptTransform?: unknown; RTCRtpSender?: { prototype: SenderWithStreams }; RTCRtpReceiver?: { prototype: SenderWithStreams }; Worker?: unknown; RTCPeerConnection?: unknown };
  if (typeof g.RTCPeerConnection !== "function" || typeof g.Worker !== "function") return null;
  if (typeof g.RTCRtpScriptTransform === "function") return "script-transform";
  if (typeof g.RTCRtpSender?.prototype.createEncodedStreams === "function" && typeof g.RTCRtpReceiver?.prototype.createEncodedStreams === "function") {
    return "encoded-streams";
  }
  return null;
}
