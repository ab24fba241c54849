/**
 * The whole Conclave server: the HTTPS/WSS foundation (server.ts) with meetings, the MLS delivery
 * service and the media relay plugged into its hooks. `conclave serve` runs this.
 */
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { join } from "node:path";
import { createHash, timingSafeEqual } from "node:crypto";
import { startServer, type RunningServer, type ServerContext } from "./server.js";
import type { LogSink, Logger } from "./observability/logger.js";
import { Metrics } from "./observability/metrics.js";
import { instrumentRelay } from "./observability/relay-metrics.js";
import { serverMetrics } from "./observability/server-metrics.js";
import { turnCredentials } from "./turn/credentials.js";
import { dataPaths, type ServerConfig } from "./config.js";
import { ServerError } from "./errors.js";
import { MeetingRegistry } from "./meetings/meeting-registry.js";
import { RateLimiter } from "./http/rate-limit.js";
import type { AttemptLimits } from "./http/attempt-guard.js";
import { OPEN_POLICY, type MediaRoom, type MeetingPolicy } from "./meetings/live-meeting.js";
import type { Meeting } from "./storage/meetings.js";
import { isRelayError, MediaRelay, type RelayOptions } from "./relay/index.js";
import { handleSignalingConnection, type SignalingTap } from "./signaling/connection.js";
import type { MeetingFilesLimits } from "./files/meeting-files.js";
import { meetingFeatures } from "./settings/meeting-features.js";
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { ConnectorTickets } from "./connectors/tickets.js";
import { SipService, type SipListening } from "./connectors/sip-service.js";
import { DialInPasscodes } from "./connectors/dial-in.js";
import { RecordingService } from "./connectors/recording-service.js";
import { StreamingService } from "./connectors/streaming-service.js";
import { TranscriptionService } from "./connectors/transcription-service.js";
import { resolveAll } from "./settings/resolve.js";

export interface ConclaveOptions {
  /** Default: warnings and errors as JSON lines on stderr. */
  logger?: LogSink | Logger;
  /** Default: a new registry with the process metrics (GET /metrics renders it). */
  metrics?: Metrics;
  /**
   * The media relay: its options, or false for a signaling-only server. Default: a relay with
   * the configuration's `media` settings (all interfaces, system-chosen ports when unset).
   * Given explicitly, these options replace `config.media` entirely.
   */
  relay?: RelayOptions | false;
  /** Called after everything else has closed (e.g. to close the relay). */
  onClosed?: () => void | Promise<void>;
  commitTimeoutMs?: number;
  /** Limits on guessing meeting IDs, passcodes and passwords (see DEFAULT_ATTEMPT_LIMITS). */
  limits?: AttemptLimits;
  /** How long members have to acknowledge a commit (see DeliveryService). */
  ackTimeoutMs?: number;
  /** How each meeting admits people (waiting room, join before host); default: open. */
  meetingPolicy?: (meeting: Meeting) => MeetingPolicy;
  /** WebSocket heartbeat interval (default HEARTBEAT_MS); a silent peer is cut off after two. */
  heartbeatMs?: number;
  /** Unsent bytes one signaling connection may hold before it is cut (default MAX_SEND_BACKLOG_BYTES). */
  maxSendBacklogBytes?: number;
  /** Sees every signaling text frame both ways (an audit hook; see SignalingOptions.tap). */
  signalingTap?: SignalingTap;
  /** Limits on files shared in meetings (defaults: DEFAULT_FILE_LIMITS). */
  fileLimits?: MeetingFilesLimits;
}

export interface ConclaveServer extends RunningServer {
  readonly registry: MeetingRegistry;
  /** The media relay, or null for a signaling-only server. */
  readonly relay: MediaRelay | null;
  /** The SIP connector for room systems, or null when no SIP listener is configured. */
  readonly sip: SipService | null;
  /** Where the SIP gateway listens (empty without SIP). */
  readonly sipListening: readonly SipListening[];
  /** Cloud recording (null for a signaling-only server: there is no media to record). */
  readonly recordings: RecordingService | null;
  /** Live streaming (null for a signaling-only server). */
  readonly streams: StreamingService | null;
  /** Live transcription (null for a signaling-only server: there is no audio to transcribe). */
  readonly transcriptions: TranscriptionService | null;
}

/**
 * Adapts a relay room to the meeting's media seam. With a logger, failures the operator can fix
 * (no free UDP port in the configured range) are logged as warnings.
 */
export function relayMediaRoom(relay: MediaRelay, meetingId: string, logger?: Pick<LogSink, "warn">): MediaRoom {
  const room = relay.createRoom(meetingId);
  const warnIfOperational = (e: unknown): void => {
    if (isRelayError(e, "RELAY_PORTS_EXHAUSTED")) logger?.warn("media relay: a participant gets no media", e);
  };
  return {
    addPeer(memberId, events) {
      const peer = room.addPeer(memberId);
      peer.on("subscribeOffer", (o) => events.subscribeOffer(o.sdp, [...o.tracks]));
      peer.on("localCandidate", (c) => events.localCandidate(c.pc, c.candidate, c.mid));
      peer.on("negotiationFailed", warnIfOperational);
      return {
        handlePublishOffer: (sdp, tracks) =>
          peer.handlePublishOffer(sdp, tracks).catch((e: unknown) => {
            warnIfOperational(e);
            throw e;
          }),
        handleSubscribeAnswer: (sdp) => peer.handleSubscribeAnswer(sdp),
        addIceCandidate: (pc, candidate, mid) => peer.addIceCandidate(pc, candidate, mid),
        close: () => room.removePeer(memberId),
      };
    },
    close: () => room.close(),
  };
}

export async function startConclave(config: ServerConfig, opts: ConclaveOptions = {}): Promise<ConclaveServer> {
  let registry: MeetingRegistry | undefined;
  let adminToken: string | null = null;
  let serverContext: ServerContext | null = null;
  const relaySettings = opts.relay === false ? undefined : (opts.relay ?? relayOptions(config));
  if (relaySettings?.listenAddress !== undefined) await checkBindable(relaySettings.listenAddress);
  const relay = relaySettings === undefined ? null : new MediaRelay(relaySettings);
  let sip: SipService | null = null;
  let recordings: RecordingService | null = null;
  let streams: StreamingService | null = null;
  let transcriptions: TranscriptionService | null = null;
  const tickets = new ConnectorTickets();
  const metrics = opts.metrics ?? new Metrics();
  // One security-log line per address and kind of abuse per 10 s (a flood would write one per socket).
  const abuseLog = new RateLimiter({ limit: 1, windowMs: 10_000 });
  if (relay) instrumentRelay(relay, metrics);
  const running = await startServer(config, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.fileLimits ? { fileLimits: opts.fileLimits } : {}),
    ...(opts.limits ? { attemptLimits: opts.limits } : {}),
    metrics,
    connectors: () => sip ?? undefined,
    recordings: () => recordings ?? undefined,
    streams: () => streams ?? undefined,
    transcriptions: () => transcriptions ?? undefined,
    routes(_router, context) {
      const { settings, users } = context.database;
      // A meeting's features follow its owner's settings as they are now (an admin-token
      // meeting: the account's), so a lock added above applies to every meeting at once.
      const featuresFor = (m: Meeting) => {
        const ownerId = context.meetings.meetingPolicy(m.id)?.ownerUserId ?? null;
        const owner = ownerId === null ? undefined : users.get(ownerId);
        return meetingFeatures(resolveAll(owner === undefined ? { account: settings.account() } : settings.levelsFor(owner)), m.encryption);
      };
      registry = new MeetingRegistry({
        store: context.meetings,
        featuresFor,
        files: context.files,
        onChatArchive: (meetingId, message) => context.database.chat.record(meetingId, message),
        ...(relay ? { createMediaRoom: (id: string) => relayMediaRoom(relay, id, context.logger) } : {}),
        ...(opts.commitTimeoutMs !== undefined ? { commitTimeoutMs: opts.commitTimeoutMs } : {}),
        ...(opts.ackTimeoutMs !== undefined ? { ackTimeoutMs: opts.ackTimeoutMs } : {}),
        attempts: context.attempts,
        security: context.security,
        // A meeting admits people as its scheduled settings say (waiting room, join before host).
        policyFor: opts.meetingPolicy ?? ((m) => context.meetings.meetingPolicy(m.id) ?? OPEN_POLICY),
        isOwner: (m, userId) => context.meetings.meetingPolicy(m.id)?.ownerUserId === userId,
        metrics,
        ...(config.turn ? { iceServersFor: (memberId: string) => [turnIceServer(config.turn!, memberId)] } : {}),
        // Sealed at rest in the background: a live meeting never waits for the KMS.
        onParticipant: (meetingId, event) => context.database.participants.record(meetingId, event),
        tickets,
        connectors: () => sip ?? undefined,
      });
      serverContext = context;
      const live = registry;
      context.files.setPolicy((meetingId) => live.get(meetingId)?.features.fileSharing ?? false);
      settings.onChange(() => live.refreshFeatures());
    },
    onSignalingConnection(ws, req) {
      // Browsers send Origin on WebSocket upgrades: refuse pages from other sites (cross-site
      // WebSocket hijacking would ride on the session cookie). Non-browser clients send none.
      const origin = req.headers.origin;
      if (origin !== undefined && !sameOrigin(origin, req.headers.host, serverContext?.publicUrl())) {
        serverContext?.security.warn("WebSocket refused: cross-origin", undefined, { event: "cross_origin", ip: req.socket.remoteAddress ?? "unknown", origin: origin.slice(0, 200) });
        ws.close(4403, "cross-origin");
        return;
      }
      handleSignalingConnection(ws, req, registry!, {
        ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
        ...(opts.maxSendBacklogBytes !== undefined ? { maxSendBacklogBytes: opts.maxSendBacklogBytes } : {}),
        ...(opts.signalingTap ? { tap: opts.signalingTap } : {}),
        metrics: serverMetrics(metrics),
        onAbuse: (event, address, joined) => {
          const key = `${event}:${address}`;
          if (abuseLog.isLimited(key)) return;
          abuseLog.record(key);
          serverContext?.security.warn("signaling connection cut", undefined, { event, ip: address, joined });
        },
        // A signed-in user (session cookie) hosts the meetings it owns; the admin API token
        // (Authorization: Bearer, from automation such as `conclave bot`) hosts any meeting.
        authenticate: (r) => ({
          userId: serverContext?.userFromRequest(r)?.userId ?? null,
          admin: adminToken !== null && bearerMatches(r.headers.authorization, adminToken),
        }),
      });
    },
    async onClose() {
      // Recordings finalize and room systems hang up first (their connectors leave the
      // meetings), then the meetings close.
      await streams?.close();
      await transcriptions?.close();
      await recordings?.close();
      await sip?.close();
      registry?.close();
      relay?.close();
      await opts.onClosed?.();
    },
  }).catch((e: unknown) => {
    relay?.close();
    throw e;
  });
  if (relaySettings !== undefined) running.context.logger.info(describeRelay(relaySettings));
  adminToken = running.adminToken;
  if (relay) {
    recordings = recordingService(config, running, registry!);
    await recordings.start();
    streams = streamingService(config, running, registry!);
    await streams.start();
    transcriptions = transcriptionService(config, running, registry!);
  }
  let sipListening: SipListening[] = [];
  if (config.sip !== undefined) {
    sip = sipService(config, running, registry!, relaySettings);
    try {
      sipListening = await sip.start();
    } catch (e) {
      await running.close();
      throw new ServerError("LISTEN_FAILED", `the SIP connector could not start: ${(e as Error).message}`, { cause: e });
    }
    for (const l of sipListening) running.context.logger.info(`SIP over ${l.transport.toUpperCase()} on ${l.host}:${l.port}`);
  }
  return { ...running, registry: registry!, relay, sip, sipListening, recordings, streams, transcriptions };
}

/** Cloud recording: recorder processes join as `recording` connectors; files under <dataDir>/recordings. */
function recordingService(config: ServerConfig, running: RunningServer, registry: MeetingRegistry): RecordingService {
  const context = running.context;
  const { database } = context;
  const serverHost = config.host !== undefined && config.host !== "0.0.0.0" && config.host !== "::" ? config.host : "127.0.0.1";
  const settingsOf = (owner: string | null) => {
    const user = owner === null ? undefined : database.users.get(owner);
    return resolveAll(user === undefined ? { account: database.settings.account() } : database.settings.levelsFor(user));
  };
  return new RecordingService({
    registry,
    logger: context.logger,
    dir: join(config.dataDir, "recordings"),
    keys: () => database.keys,
    signalingUrl: () => `wss://${serverHost.includes(":") ? `[${serverHost}]` : serverHost}:${running.port}/ws`,
    ca: readFileSync(running.certFile, "utf8"),
    meeting: (id) => {
      const m = context.meetings.get(id);
      return m === undefined ? undefined : { encryption: m.encryption, ownerUserId: context.meetings.meetingPolicy(id)?.ownerUserId ?? null, ended: m.endedAt !== undefined };
    },
    recordingAllowed: (owner) => settingsOf(owner).cloudRecording.value,
    retentionDays: (owner) => {
      const v = settingsOf(owner).recordingRetention.value;
      return v === "forever" ? null : Number(v.slice(0, -1));
    },
  });
}

/** Live streaming: streamer processes join as `streaming` connectors; sealed keys under <dataDir>/streams. */
function streamingService(config: ServerConfig, running: RunningServer, registry: MeetingRegistry): StreamingService {
  const context = running.context;
  const { database } = context;
  const serverHost = config.host !== undefined && config.host !== "0.0.0.0" && config.host !== "::" ? config.host : "127.0.0.1";
  return new StreamingService({
    registry,
    logger: context.logger,
    dir: join(config.dataDir, "streams"),
    keys: () => database.keys,
    signalingUrl: () => `wss://${serverHost.includes(":") ? `[${serverHost}]` : serverHost}:${running.port}/ws`,
    ca: readFileSync(running.certFile, "utf8"),
    ...(config.streamingCa !== undefined ? { ingestCaFile: config.streamingCa } : {}),
    meeting: (id) => {
      const m = context.meetings.get(id);
      return m === undefined ? undefined : { encryption: m.encryption, ownerUserId: context.meetings.meetingPolicy(id)?.ownerUserId ?? null, ended: m.endedAt !== undefined };
    },
    streamingAllowed: (owner) => {
      const user = owner === null ? undefined : database.users.get(owner);
      return resolveAll(user === undefined ? { account: database.settings.account() } : database.settings.levelsFor(user)).liveStreaming.value;
    },
  });
}

/** Live transcription: one connector process per transcribed meeting, captions end to end encrypted to members. */
function transcriptionService(config: ServerConfig, running: RunningServer, registry: MeetingRegistry): TranscriptionService {
  const context = running.context;
  const { database } = context;
  const serverHost = config.host !== undefined && config.host !== "0.0.0.0" && config.host !== "::" ? config.host : "127.0.0.1";
  return new TranscriptionService({
    registry,
    logger: context.logger,
    signalingUrl: () => `wss://${serverHost.includes(":") ? `[${serverHost}]` : serverHost}:${running.port}/ws`,
    ca: readFileSync(running.certFile, "utf8"),
    meeting: (id) => {
      const m = context.meetings.get(id);
      return m === undefined ? undefined : { encryption: m.encryption, ownerUserId: context.meetings.meetingPolicy(id)?.ownerUserId ?? null, ended: m.endedAt !== undefined };
    },
    transcriptionAllowed: (owner) => {
      const user = owner === null ? undefined : database.users.get(owner);
      return resolveAll(user === undefined ? { account: database.settings.account() } : database.settings.levelsFor(user)).liveTranscription.value;
    },
    ...(config.transcriptionEngine !== undefined ? { engine: config.transcriptionEngine } : {}),
  });
}

/** The SIP connector of a configuration: the gateway listens with the server's certificate. */
function sipService(config: ServerConfig, running: RunningServer, registry: MeetingRegistry, relay: RelayOptions | undefined): SipService {
  const sipConfig = config.sip!;
  const context = running.context;
  const tlsListen = sipConfig.tlsListen;
  const specific = (h: string | undefined) => (h !== undefined && h !== "0.0.0.0" && h !== "::" ? h : undefined);
  const listenHost = specific(tlsListen?.host) ?? specific(sipConfig.udpListen?.host) ?? specific(sipConfig.tcpListen?.host);
  const publicHost = listenHost ?? (config.publicUrl ? new URL(config.publicUrl).hostname : firstAddress());
  const mediaAddress = relay?.announcedAddress ?? specific(relay?.listenAddress) ?? listenHost ?? firstAddress();
  const serverHost = specific(config.host) ?? "127.0.0.1";
  const { database } = context;
  return new SipService({
    registry,
    logger: context.logger,
    ...(tlsListen ? { tls: { host: tlsListen.host, port: tlsListen.port, certFile: running.certFile, keyFile: keyFileOf(config) } } : {}),
    ...(sipConfig.udpListen ? { udp: sipConfig.udpListen } : {}),
    ...(sipConfig.tcpListen ? { tcp: sipConfig.tcpListen } : {}),
    publicHost,
    mediaAddress,
    ...(relay?.portRange ? { mediaPorts: { min: relay.portRange.min, max: relay.portRange.max } } : {}),
    signalingUrl: () => `wss://${serverHost.includes(":") ? `[${serverHost}]` : serverHost}:${running.port}/ws`,
    ca: readFileSync(running.certFile, "utf8"),
    ...(sipConfig.accounts ? { accounts: sipConfig.accounts.map((a) => ({ ...a })) } : {}),
    ...(sipConfig.deviceCaFile ? { deviceCa: readFileSync(sipConfig.deviceCaFile, "utf8") } : {}),
    metrics: context.metrics,
    ...(sipConfig.trunks && sipConfig.trunks.length > 0
      ? {
          dialIn: {
            trunks: sipConfig.trunks.map((t) => ({
              address: t.address,
              ...(t.username !== undefined ? { username: t.username } : {}),
              ...(t.password !== undefined ? { password: t.password } : {}),
              ...(t.profile !== undefined ? { profile: t.profile } : {}),
              ...(t.clientCa !== undefined ? { clientCa: readFileSync(t.clientCa, "utf8") } : {}),
            })),
            promptsDir: join(config.dataDir, "prompts"),
            numbers: [...(sipConfig.dialInNumbers ?? [])],
            passcodes: DialInPasscodes.open(config.dataDir, (id) => context.meetings.passcodeHash(id)),
            allowed: (meetingId: string) => {
              const owner = context.meetings.meetingPolicy(meetingId)?.ownerUserId ?? null;
              const user = owner === null ? undefined : database.users.get(owner);
              const resolved = resolveAll(user === undefined ? { account: database.settings.account() } : database.settings.levelsFor(user));
              return resolved.phoneDialIn.value;
            },
          },
        }
      : {}),
    requireEncryption: (meetingId) => {
      const owner = context.meetings.meetingPolicy(meetingId)?.ownerUserId ?? null;
      const user = owner === null ? undefined : database.users.get(owner);
      const resolved = resolveAll(user === undefined ? { account: database.settings.account() } : database.settings.levelsFor(user));
      return resolved.requireEncryptedThirdParty.value;
    },
  });
}

function keyFileOf(config: ServerConfig): string {
  return config.keyFile ?? dataPaths(config.dataDir).keyFile;
}

/** The first non-internal IPv4 address, for SDP when nothing more specific is configured. */
function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

function turnIceServer(turn: NonNullable<ServerConfig["turn"]>, memberId: string): { urls: string[]; username: string; credential: string } {
  const c = turnCredentials(turn, memberId);
  return { urls: [...c.urls], username: c.username, credential: c.credential };
}

/** The relay options a configuration asks for (an empty object: the relay's defaults). */
export function relayOptions(config: ServerConfig): RelayOptions {
  const media = config.media;
  if (media === undefined) return {};
  return {
    ...(media.listenAddress !== undefined ? { listenAddress: media.listenAddress } : {}),
    ...(media.announcedAddress !== undefined ? { announcedAddress: media.announcedAddress } : {}),
    ...(media.portRange !== undefined ? { portRange: { min: media.portRange.min, max: media.portRange.max } } : {}),
  };
}

/** One line for the operator: where media goes. iceServers are left out: TURN URLs carry credentials. */
function describeRelay(o: RelayOptions): string {
  const ports = o.portRange ? `UDP ports ${o.portRange.min}-${o.portRange.max}` : "any free UDP port";
  const bind = o.listenAddress ?? "all interfaces";
  const announced = o.announcedAddress ? `, announced as ${o.announcedAddress}` : "";
  return `media relay on ${bind}, ${ports}${announced}`;
}

/**
 * Fails with CONFIG_INVALID unless a UDP socket can bind `address`. libdatachannel would abort
 * the whole process at the first media negotiation instead ("Failed to gather local ICE
 * candidates", a C++ exception on a native thread).
 */
async function checkBindable(address: string): Promise<void> {
  const socket = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, address, () => resolve());
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new ServerError(
      "CONFIG_INVALID",
      `the media listen address ${address} is not an address of this machine (${code}); use one that \`ip address\` lists, or leave it unset for all interfaces`,
      { cause: e },
    );
  } finally {
    socket.close();
  }
}

/** Constant-time check of an `Authorization: Bearer <token>` header. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m) return false;
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}

/**
 * True when an Origin header is exactly this server's origin (RFC 6454: scheme, host and port):
 * https, with the host and port the request was sent to (its Host header), or the configured
 * public URL's origin. `http://` pages, other ports and `null` origins are refused.
 */
export function sameOrigin(origin: string, host: string | undefined, publicUrl?: string): boolean {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  // An Origin is only scheme://host[:port]: anything more is not a browser's.
  if (o.protocol !== "https:" || o.origin !== origin.toLowerCase().replace(/\/$/, "")) return false;
  const allowed = new Set<string>();
  if (host !== undefined && /^[A-Za-z0-9.:[\]-]+$/.test(host)) {
    try {
      allowed.add(new URL(`https://${host}`).origin);
    } catch {
      // a malformed Host header allows nothing
    }
  }
  if (publicUrl !== undefined) allowed.add(new URL(publicUrl).origin);
  return allowed.has(o.origin);
}
