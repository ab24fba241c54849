/**
 * Messages between a supervisor and its connector processes, as discriminated unions on `type`
 * validated with zod at each end (a connector process is a separate trust domain from the server:
 * nothing unvalidated crosses). Media keys never travel server <-> connector: the server hands
 * out join tickets and policy; SRTP keys travel only gateway -> call, inside the connector domain.
 */
import { z } from "zod";
import { ConnectorError } from "../errors.js";

const meetingId = z.string().regex(/^[0-9]{1,32}$/);
const ticket = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/);
const text = (max: number) => z.string().max(max);
const transport = z.enum(["udp", "tcp", "tls"]);
export const farLegSchema = z.strictObject({
  protocol: z.string().max(16),
  signaling: z.enum(["none", "udp", "tcp", "tls"]),
  media: z.enum(["none", "rtp", "srtp", "dtls-srtp"]),
  suite: z.string().max(64).optional(),
});
/** One direction's SDES key; `mki` (base64, 1..128 bytes) only under the Microsoft profile. */
const srtpTransfer = z.strictObject({
  suite: z.enum(["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"]),
  keySalt: z.string().max(64),
  mki: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).max(172).optional(),
});
export const streamSchema = z.strictObject({
  codec: z.enum(["opus", "g722", "pcmu", "pcma", "vp8", "h264"]),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().min(1).max(2),
  remoteAddress: z.string().max(64),
  remotePort: z.number().int().min(1).max(65535),
  remoteRtcpPort: z.number().int().min(1).max(65535),
  rtcpMux: z.boolean(),
  dtmfPayloadType: z.number().int().min(0).max(127).optional(),
  h264Mode: z.union([z.literal(0), z.literal(1)]).optional(),
  srtp: z.strictObject({ local: srtpTransfer, remote: srtpTransfer, tag: z.number().int().nonnegative(), profile: z.literal("microsoft").optional() }).optional(),
  dtls: z.strictObject({ remoteFingerprint: z.strictObject({ algorithm: z.string().max(16), value: z.string().max(200) }), role: z.enum(["server", "client"]) }).optional(),
  index: z.number().int().nonnegative(),
  direction: z.enum(["sendrecv", "sendonly", "recvonly", "inactive"]),
});
export type StreamTransfer = z.infer<typeof streamSchema>;
const mediaConfig = z.strictObject({
  audio: streamSchema,
  video: streamSchema.optional(),
  /** The gateway's DTLS certificate and key (DTLS-SRTP calls only; the connector domain only). */
  dtlsIdentity: z
    .strictObject({ certPem: z.string().max(8192), keyPem: z.string().max(8192), signatureHash: z.strictObject({ hash: z.number().int(), signature: z.number().int() }), fingerprint: z.string().max(200) })
    .optional(),
});
export type MediaConfigTransfer = z.infer<typeof mediaConfig>;

// ---- server <-> SIP gateway ------------------------------------------------------------------

/** PEM CA bundles (the server refuses larger ones at start; the system's is about 0.2 MB). */
const CA_BUNDLE_MAX = 1_000_000;
const listen = z.strictObject({ host: text(255), port: z.number().int().min(0).max(65535) });

export const serverToGatewaySchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("shutdown") }),
  /**
   * The first message: where to listen and how to reach the server. Sent over IPC, not argv, so
   * the TLS key path and account passwords never show in a process list.
   */
  z.strictObject({
    type: z.literal("configure"),
    tls: listen.extend({ certFile: text(4096), keyFile: text(4096) }).optional(),
    udp: listen.optional(),
    tcp: listen.optional(),
    /** Host name or address devices reach us at (Via, Contact, SDP). */
    publicHost: text(255),
    /** Address the media sockets bind to and announce. */
    mediaAddress: text(64),
    mediaPorts: z.strictObject({ min: z.number().int(), max: z.number().int() }).optional(),
    /** wss://host:port/ws of this server, and the certificate to trust for it (PEM). */
    signalingUrl: text(512),
    ca: text(20_000).optional(),
    /** Devices that register / must authenticate (digest). */
    accounts: z.array(z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(8).max(256) })).max(1000).optional(),
    /** CA for outbound TLS to devices, and whether to skip verification (testing only). */
    deviceCa: text(CA_BUNDLE_MAX).optional(),
    deviceTlsInsecure: z.boolean().optional(),
    /** Phone dial-in (pstn/): the trunks calls are accepted from, and where the prompts are cached. */
    pstn: z
      .strictObject({
        trunks: z
          .array(
            z.strictObject({
              address: text(64),
              username: z.string().min(1).max(64).optional(),
              password: z.string().min(8).max(256).optional(),
              /** SDES dialect: "microsoft" answers AES_CM_128_HMAC_SHA1_32 and MKI lines (docs/operations.md §5c). */
              profile: z.enum(["standard", "microsoft"]).optional(),
              /** PEM of the CA the trunk's TLS client certificate must chain to: mutual TLS, calls over TLS only. */
              clientCa: text(CA_BUNDLE_MAX).optional(),
            }),
          )
          .min(1)
          .max(100),
        promptsDir: text(4096),
        /**
         * Keys the caller digests the server's guessing limits count by (base64url, 32 bytes):
         * derived from the dial-in key, so a caller's failures still count after the gateway
         * restarts (a fresh key per process would give every caller a clean slate).
         */
        callerSecret: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      })
      .optional(),
  }),
  /** The answer to `authorize`. */
  z.strictObject({
    type: z.literal("authorized"),
    requestId: z.number().int().nonnegative(),
    result: z.discriminatedUnion("ok", [
      z.strictObject({ ok: z.literal(true), ticket, requireEncryption: z.boolean(), meetingId }),
      z.strictObject({ ok: z.literal(false), status: z.number().int().min(400).max(699), reason: text(64), explanation: text(300), code: text(64) }),
    ]),
  }),
  /** A host asked to call a room system into a meeting. */
  z.strictObject({
    type: z.literal("dial"),
    inviteId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    meetingId,
    uri: text(512),
    displayName: text(64).optional(),
    ticket,
    requireEncryption: z.boolean(),
  }),
  /** The answer to `dialInLookup`: does the meeting take phone calls, and does it need a passcode. */
  z.strictObject({
    type: z.literal("dialInLookedUp"),
    requestId: z.number().int().nonnegative(),
    result: z.discriminatedUnion("ok", [z.strictObject({ ok: z.literal(true), passcodeRequired: z.boolean() }), z.strictObject({ ok: z.literal(false), code: text(64) })]),
  }),
  /** Hang up a call (the host removed the room system, or the meeting ended). */
  z.strictObject({ type: z.literal("hangup"), inviteId: z.string().max(64) }),
]);
export type ServerToGateway = z.infer<typeof serverToGatewaySchema>;

export const gatewayToServerSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ready"), listening: z.array(z.strictObject({ transport, host: text(255), port: z.number().int() })).max(4) }),
  /** A device dialed a meeting: may it come in, and under which policy? */
  z.strictObject({
    type: z.literal("authorize"),
    requestId: z.number().int().nonnegative(),
    meetingId,
    passcode: text(64).optional(),
    displayName: text(64),
    transport,
    address: text(64),
  }),
  /**
   * A phone caller entered a meeting ID (phone dial-in): may phones join it, and is a passcode
   * needed? `caller` is a keyed digest of the caller's number (never the number), so the server's
   * per-caller failure limits work without learning it.
   */
  z.strictObject({ type: z.literal("dialInLookup"), requestId: z.number().int().nonnegative(), meetingId: z.string().regex(/^[0-9]{1,20}$/), caller: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/) }),
  /** A phone caller entered the passcode: the server checks it against the meeting's limits. */
  z.strictObject({
    type: z.literal("dialInAuthorize"),
    requestId: z.number().int().nonnegative(),
    meetingId,
    passcode: z.string().regex(/^[0-9]{0,20}$/).optional(),
    caller: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  }),
  /** A phone call's IVR started or finished a prompt (the caller's display name; no digits entered). */
  z.strictObject({ type: z.literal("ivr"), displayName: text(64), prompt: z.string().regex(/^[A-Za-z0-9]{1,32}$/), phase: z.enum(["start", "end"]) }),
  /** What happened to a call, for the meeting's hosts and the operator (no media, no keys). */
  z.strictObject({
    type: z.literal("callEvent"),
    meetingId,
    inviteId: z.string().max(64).optional(),
    displayName: text(64),
    event: z.enum(["ringing", "joined", "refused", "failed", "ended"]),
    detail: text(300),
    code: text(64).optional(),
    /** joined: the connector member's id and its security code at that epoch (public facts). */
    memberId: z.string().max(64).optional(),
    securityCode: text(64).optional(),
    /** Which connector's call: room system (default) or phone dial-in. */
    connector: z.enum(["sip", "pstn"]).optional(),
  }),
]);
export type GatewayToServer = z.infer<typeof gatewayToServerSchema>;

// ---- SIP gateway <-> call connector ------------------------------------------------------------

export const gatewayToCallSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("shutdown") }),
  /** Bind the media ports (the SDP answer or offer names them). */
  z.strictObject({ type: z.literal("prepare"), address: text(64), video: z.boolean(), portRange: z.strictObject({ min: z.number().int(), max: z.number().int() }).optional() }),
  /** Join the meeting as a sip connector and bridge the negotiated media. */
  z.strictObject({
    type: z.literal("join"),
    signalingUrl: text(512),
    meetingId,
    ticket,
    ca: text(20_000).optional(),
    displayName: text(64),
    farLeg: farLegSchema,
    media: mediaConfig,
  }),
  /** A re-INVITE changed the media. */
  z.strictObject({ type: z.literal("reconfigure"), media: mediaConfig }),
  /** The device hung up. */
  z.strictObject({ type: z.literal("hangup") }),
]);
export type GatewayToCall = z.infer<typeof gatewayToCallSchema>;

export const callToGatewaySchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ports"), audio: z.number().int(), video: z.number().int().optional() }),
  /** Waiting for a host to let the device in. */
  z.strictObject({ type: z.literal("waiting") }),
  /** In the MLS group: the member id and the first security code. */
  z.strictObject({ type: z.literal("inGroup"), memberId: z.string().max(64), securityCode: text(64) }),
  /** The meeting side ended (removed, meeting ended, refused): hang up with this explanation. */
  z.strictObject({ type: z.literal("ended"), code: text(64), detail: text(300) }),
  z.strictObject({ type: z.literal("stats"), stats: z.record(z.string(), z.number()) }),
]);
export type CallToGateway = z.infer<typeof callToGatewaySchema>;

/** Parses a message with `schema`, or throws CONNECTOR_BAD_IPC (naming the path, never values). */
export function parseIpc<T>(schema: z.ZodType<T>, message: unknown): T {
  const r = schema.safeParse(message);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConnectorError("CONNECTOR_BAD_IPC", issue ? `${issue.path.join(".") || "(root)"}: ${issue.code}` : "invalid");
  }
  return r.data;
}

/**
 * In a connector process: the typed channel to its supervisor. Messages that fail validation are
 * dropped (and counted); a lost channel (the parent died) ends the process.
 */
export function childChannel<In, Out>(schema: z.ZodType<In>, onMessage: (m: In) => void): { send(m: Out): void } {
  if (!process.send) throw new ConnectorError("CONNECTOR_PROCESS_FAILED", "not started with an IPC channel");
  process.on("message", (raw) => {
    let m: In;
    try {
      m = parseIpc(schema, raw);
    } catch (e) {
      process.stderr.write(`ipc: dropped a malformed message (${(e as Error).message})\n`);
      return;
    }
    onMessage(m);
  });
  process.on("disconnect", () => process.exit(0));
  return {
    send(m: Out) {
      if (process.connected) process.send!(m as object);
    },
  };
}
