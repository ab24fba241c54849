/**
 * Every error the connectors package raises, with a stable string code (one table per package;
 * docs/protocol.md §8 lists the same codes and a test checks the two agree).
 */
export const CONNECTOR_ERRORS = {
  SIP_BAD_MESSAGE: "The SIP message is malformed.",
  SIP_MESSAGE_TOO_LARGE: "The SIP message is larger than the connector accepts.",
  SIP_BAD_URI: "The SIP URI is malformed.",
  SIP_BAD_HEADER: "A SIP header is malformed.",
  SIP_TRANSPORT_FAILED: "The SIP transport could not send or connect.",
  SIP_TIMEOUT: "The SIP peer did not answer in time.",
  SIP_CALL_FAILED: "The call could not be established.",
  SIP_CLOSED: "This SIP object is closed.",
  SDP_BAD: "The session description is malformed.",
  SDP_NO_COMMON_MEDIA: "The device offers no audio codec the connector supports.",
  SRTP_BAD_KEY: "The SRTP key parameters are malformed.",
  SRTP_AUTH_FAILED: "An SRTP packet failed authentication.",
  SRTP_REPLAY: "An SRTP packet was already received or is too old.",
  MEDIA_CODEC_FAILED: "The media codec could not encode or decode a frame.",
  CONNECTOR_PROCESS_FAILED: "The connector process failed.",
  CONNECTOR_LIMIT_EXCEEDED: "The connector process exceeded its resource limits and was stopped.",
  CONNECTOR_BAD_IPC: "A message between the server and a connector process is malformed.",
} as const;

export type ConnectorErrorCode = keyof typeof CONNECTOR_ERRORS;

export class ConnectorError extends Error {
  readonly code: ConnectorErrorCode;
  constructor(code: ConnectorErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${CONNECTOR_ERRORS[code]} (${detail})` : CONNECTOR_ERRORS[code], options);
    this.name = "ConnectorError";
    this.code = code;
  }
}

export function isConnectorError(e: unknown, code?: ConnectorErrorCode): e is ConnectorError {
  return e instanceof ConnectorError && (code === undefined || e.code === code);
}
