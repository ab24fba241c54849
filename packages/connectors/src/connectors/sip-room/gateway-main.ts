/**
 * The SIP gateway: a connector service the server supervises. It terminates SIP (TLS, and UDP
 * or TCP when enabled) for room systems and softphones, and runs one call connector process per call.
 *
 * Inbound: a device dials `sip:<meetingId>.<passcode>@host` (or `sip:<meetingId>@host` for a
 * meeting without passcode). The gateway negotiates the media (which also tells whether the far
 * leg is encrypted), asks the server whether the device may come in (meeting exists, passcode,
 * not end-to-end encrypted, "Require encryption for 3rd-party endpoints"), starts a call process
 * that joins the meeting with the single-use ticket the server issued, and answers 200 OK once
 * that member holds the meeting's keys (180 Ringing while it waits to be admitted).
 * Outbound: the server asks it to dial a URI for a host; the call process joins once answered.
 * Either side hanging up ends the call process, which leaves the meeting (the group rekeys).
 */
import { readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { ConnectorSupervisor, type SupervisedProcess } from "../../framework/supervisor.js";
import { callToGatewaySchema, childChannel, parseIpc, serverToGatewaySchema, type CallToGateway, type GatewayToServer, type MediaConfigTransfer, type ServerToGateway, type StreamTransfer } from "../../framework/ipc.js";
import { DigestServer } from "../../sip/digest.js";
import { SipTransport } from "../../sip/transport.js";
import { SipUserAgent, type IncomingCall, type SipDialog } from "../../sip/ua.js";
import { parseSipUri, type SipUri } from "../../sip/uri.js";
import { buildAnswer, buildOffer, negotiateOffer, readAnswer, type Negotiation, type NegotiatedStream } from "./negotiate.js";
import { fileURLToPath } from "node:url";
import { createDtlsIdentity, type DtlsIdentity } from "../../media/dtls.js";
import { DialInGateway } from "../../pstn/dial-in-gateway.js";
import { renderPrompts } from "../../pstn/prompts.js";

type Config = Extract<ServerToGateway, { type: "configure" }>;

const CALL_MODULE = fileURLToPath(new URL("./call-main.js", import.meta.url));
const AUTHORIZE_TIMEOUT_MS = 10_000;
/** How long a device may ring: joining, plus waiting for a host in a waiting room. */
const JOIN_TIMEOUT_MS = 300_000;

let config: Config | undefined;
/** Our DTLS certificate for DTLS-SRTP devices (one per gateway process, like a browser's). */
let dtlsIdentity: DtlsIdentity | undefined;
let ua: SipUserAgent | undefined;
const calls = new ConnectorSupervisor();
let nextRequest = 1;
const pending = new Map<number, (r: Extract<ServerToGateway, { type: "authorized" }>["result"]) => void>();
const outbound = new Map<string, { abort: AbortController; hangup?: () => void }>();
/** Phone dial-in (pstn/), when trunks are configured. */
let dialIn: DialInGateway | undefined;

const server = childChannel<ServerToGateway, GatewayToServer>(serverToGatewaySchema, (m) => {
  void onServer(m).catch((e: unknown) => process.stderr.write(`sip gateway: ${(e as Error).message}\n`));
});

async function onServer(m: ServerToGateway): Promise<void> {
  switch (m.type) {
    case "configure":
      if (config) return;
      config = m;
      await start(m);
      return;
    case "dialInLookedUp":
      dialIn?.onServer(m);
      return;
    case "authorized":
      if (dialIn?.onServer(m)) return;
      pending.get(m.requestId)?.(m.result);
      pending.delete(m.requestId);
      return;
    case "dial":
      void dial(m);
      return;
    case "hangup": {
      const o = outbound.get(m.inviteId);
      o?.abort.abort();
      o?.hangup?.();
      return;
    }
    case "shutdown":
      await shutdown();
      return;
    default: {
      const never: never = m;
      throw new Error(`unhandled ${(never as { type: string }).type}`);
    }
  }
}

/** Trunks with mutual TLS: their CAs, asked of every TLS peer but required only of those trunks. */
function trunkClientCas(c: Config): { optionalClientCa?: string } {
  const cas = (c.pstn?.trunks ?? []).flatMap((t) => (t.clientCa !== undefined ? [t.clientCa] : []));
  return cas.length > 0 ? { optionalClientCa: cas.join("\n") } : {};
}

async function start(c: Config): Promise<void> {
  dtlsIdentity = await createDtlsIdentity();
  const transport = await SipTransport.listen({
    ...(c.tls ? { tls: { host: c.tls.host, port: c.tls.port, cert: readFileSync(c.tls.certFile), key: readFileSync(c.tls.keyFile), ...trunkClientCas(c) } } : {}),
    ...(c.udp ? { udp: { host: c.udp.host, port: c.udp.port } } : {}),
    ...(c.tcp ? { tcp: { host: c.tcp.host, port: c.tcp.port } } : {}),
    ...(c.deviceCa ? { tlsClientCa: c.deviceCa } : {}),
    ...(c.deviceTlsInsecure ? { tlsClientInsecure: true } : {}),
  });
  if (c.pstn) {
    // Rendered once into the data directory; later starts find them cached.
    await renderPrompts(c.pstn.promptsDir);
    dialIn = new DialInGateway({ config: c, pstn: c.pstn, calls, send: (m) => server.send(m), nextRequestId: () => nextRequest++ });
  }
  const digest = c.accounts && c.accounts.length > 0 ? new DigestServer(c.publicHost, c.accounts) : undefined;
  ua = new SipUserAgent({
    transport,
    publicHost: c.publicHost,
    ...(digest ? { digest } : {}),
  });
  ua.on("invite", (call) => void onInvite(call).catch(() => call.reject(500, "Server Internal Error", "The connector failed; try again")));
  server.send({ type: "ready", listening: transport.bound.map((b) => ({ transport: b.transport, host: b.host, port: b.port })) });
}

/** `<meetingId>.<passcode>` or `<meetingId>` in the Request-URI's user part. */
export function meetingFromUri(uri: SipUri): { meetingId: string; passcode?: string } | null {
  const m = /^([0-9]{6,32})(?:\.([A-Za-z0-9]{1,64}))?$/.exec(uri.user ?? "");
  if (!m) return null;
  return { meetingId: m[1]!, ...(m[2] !== undefined ? { passcode: m[2] } : {}) };
}

function authorize(req: Omit<Extract<GatewayToServer, { type: "authorize" }>, "type" | "requestId">): Promise<Extract<ServerToGateway, { type: "authorized" }>["result"]> {
  const requestId = nextRequest++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(requestId);
      resolve({ ok: false, status: 503, reason: "Service Unavailable", explanation: "The meeting server did not answer; try again", code: "SERVER_TIMEOUT" });
    }, AUTHORIZE_TIMEOUT_MS);
    pending.set(requestId, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
    server.send({ type: "authorize", requestId, ...req });
  });
}

function displayNameOf(call: IncomingCall): string {
  return memberName(call.from.displayName ?? call.from.uri.user);
}

/**
 * A name the member identity takes: no control or bidi-override characters (a line break would
 * also end the SIP header the name is sent in), NFC, at most 64 UTF-16 units (the join message's
 * limit) without a split surrogate pair.
 */
function memberName(raw: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  let clean = (raw ?? "").replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu, "").normalize("NFC").trim().slice(0, 64);
  if (/[\ud800-\udbff]$/.test(clean)) clean = clean.slice(0, -1);
  return clean.length > 0 ? clean : "Room system";
}

async function onInvite(call: IncomingCall): Promise<void> {
  if (dialIn?.claims(call)) return dialIn.onInvite(call);
  const c = config!;
  const target = meetingFromUri(call.requestUri);
  if (!target) {
    call.reject(404, "Not Found", "Dial sip:<meeting id>.<passcode>@<server> (or sip:<meeting id>@<server> for a meeting without passcode)");
    return;
  }
  const name = displayNameOf(call);
  const auth = await authorize({ meetingId: target.meetingId, ...(target.passcode ? { passcode: target.passcode } : {}), displayName: name, transport: call.flow.transport, address: call.flow.address });
  if (!auth.ok) {
    call.reject(auth.status, auth.reason, auth.explanation);
    return;
  }
  const result = negotiateOffer(call.offer, { signaling: call.flow.transport, requireEncryption: auth.requireEncryption });
  if (!result.ok) {
    call.reject(result.status, result.reason, result.explanation);
    server.send({ type: "callEvent", meetingId: target.meetingId, displayName: name, event: "refused", detail: result.explanation, code: "ENCRYPTION_REQUIRED" });
    return;
  }
  const n = result.negotiation;
  const proc = spawnCall(name);
  let cancelled = false;
  call.once("cancelled", () => {
    cancelled = true;
    void proc.stop();
  });
  try {
    const ports = await request(proc, { type: "prepare", address: c.mediaAddress, video: n.video !== undefined, ...(c.mediaPorts ? { portRange: c.mediaPorts } : {}) }, "ports");
    if (ports.type !== "ports") throw new Error("unexpected");
    proc.send({ type: "join", signalingUrl: c.signalingUrl, meetingId: auth.meetingId, ticket: auth.ticket, ...(c.ca ? { ca: c.ca } : {}), displayName: name, farLeg: n.farLeg, media: transfer(n) });
    let joined: CallToGateway;
    try {
      joined = await waitFor(proc, (m) => {
        if (m.type === "waiting") call.ringing();
        return m.type === "inGroup" || m.type === "ended";
      }, JOIN_TIMEOUT_MS);
    } catch {
      call.reject(480, "Temporarily Unavailable", "Nobody let the device into the meeting; call again later");
      void proc.stop();
      return;
    }
    if (cancelled) return;
    if (joined.type === "ended") {
      const e2ee = joined.code === "CONNECTOR_NOT_ALLOWED";
      call.reject(e2ee ? 403 : 480, e2ee ? "Forbidden" : "Temporarily Unavailable", e2ee ? "This meeting is end-to-end encrypted: room systems cannot join it" : `The meeting did not let the device in (${joined.code})`);
      server.send({ type: "callEvent", meetingId: target.meetingId, displayName: name, event: "refused", detail: joined.detail, code: joined.code });
      return;
    }
    if (joined.type !== "inGroup") throw new Error("unexpected message from the call connector");
    const answer = buildAnswer(n, { address: c.mediaAddress, audioPort: ports.audio, videoPort: ports.video }, randomInt(1, 2 ** 31), 1, dtlsIdentity?.fingerprint);
    const dialog = await call.accept(answer);
    server.send({ type: "callEvent", meetingId: target.meetingId, displayName: name, event: "joined", detail: protectionOf(n), memberId: joined.memberId, securityCode: joined.securityCode });
    bridge(dialog, proc, n, target.meetingId, name, call.flow.transport);
  } catch (e) {
    if (!call.answered) call.reject(500, "Server Internal Error", "The connector could not join the meeting");
    void proc.stop();
    server.send({ type: "callEvent", meetingId: target.meetingId, displayName: name, event: "failed", detail: (e as Error).message.slice(0, 300) });
  }
}

/** After the call is up: hang-ups both ways, re-INVITEs, the end of the call process. */
function bridge(dialog: SipDialog, proc: SupervisedProcess, n: Negotiation, meetingId: string, name: string, signaling: "udp" | "tcp" | "tls", inviteId?: string): void {
  let current = n;
  dialog.on("offer", ({ sdp, respond }) => {
    const r = negotiateOffer(sdp, { signaling, requireEncryption: current.farLeg.media !== "rtp" });
    if (!r.ok) return respond(null, r.explanation);
    // The far leg's protection is part of the member's credential: it may not change mid-call.
    if (r.negotiation.farLeg.media !== current.farLeg.media) return respond(null, "The media encryption cannot change during the call");
    const ports = currentPorts.get(proc);
    if (!ports) return respond(null, "The call's media is gone");
    current = r.negotiation;
    proc.send({ type: "reconfigure", media: transfer(current) });
    respond(buildAnswer(current, { address: config!.mediaAddress, audioPort: ports.audio, videoPort: ports.video }, randomInt(1, 2 ** 31), 2, dtlsIdentity?.fingerprint));
  });
  dialog.once("terminated", () => {
    proc.send({ type: "hangup" });
    setTimeout(() => void proc.stop(), 2000).unref();
    server.send({ type: "callEvent", meetingId, ...(inviteId ? { inviteId } : {}), displayName: name, event: "ended", detail: "the call ended" });
  });
  proc.on("message", (raw) => {
    let m: CallToGateway;
    try {
      m = parseIpc(callToGatewaySchema, raw);
    } catch {
      return;
    }
    if (m.type === "ended") void dialog.bye();
  });
  proc.on("exit", ({ reason }) => {
    if (reason === "limit") {
      server.send({ type: "callEvent", meetingId, ...(inviteId ? { inviteId } : {}), displayName: name, event: "failed", detail: "the call connector exceeded its resource limits and was stopped", code: "CONNECTOR_LIMIT_EXCEEDED" });
    }
    void dialog.bye();
  });
  if (inviteId) outbound.set(inviteId, { abort: new AbortController(), hangup: () => void dialog.bye() });
}

const currentPorts = new Map<SupervisedProcess, { audio: number; video: number | undefined }>();

function spawnCall(name: string): SupervisedProcess {
  const proc = calls.spawn({
    name: `sip-call ${name}`,
    module: CALL_MODULE,
    limits: { heapMb: 192, rssMb: 384 },
    restart: false,
    stopGraceMs: 3000,
  });
  // The call's log lines (no keys, no media) go to the server's log through ours.
  proc.on("log", (line) => process.stderr.write(`call ${name}: ${line}\n`));
  return proc;
}

function request(proc: SupervisedProcess, msg: object, answer: CallToGateway["type"]): Promise<CallToGateway & { audio: number; video?: number }> {
  proc.send(msg);
  return waitFor(proc, (m) => m.type === answer, 15_000).then((m) => {
    if (m.type === "ports") currentPorts.set(proc, { audio: m.audio, video: m.video });
    return m as CallToGateway & { audio: number; video?: number };
  });
}

function waitFor(proc: SupervisedProcess, pred: (m: CallToGateway) => boolean, ms: number): Promise<CallToGateway> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error("the call connector did not answer in time"));
    }, ms);
    const onMessage = (raw: unknown) => {
      let m: CallToGateway;
      try {
        m = parseIpc(callToGatewaySchema, raw);
      } catch {
        return;
      }
      if (pred(m)) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error("the call connector exited"));
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.off("message", onMessage);
      proc.off("exit", onExit);
    };
    proc.on("message", onMessage);
    proc.on("exit", onExit);
  });
}

function transfer(n: Negotiation): MediaConfigTransfer {
  const one = (s: NegotiatedStream<string>): StreamTransfer => ({
    codec: s.codec as StreamTransfer["codec"],
    payloadType: s.payloadType,
    clockRate: s.clockRate,
    channels: s.channels,
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    remoteRtcpPort: s.remoteRtcpPort,
    rtcpMux: s.rtcpMux,
    ...(s.dtmfPayloadType !== undefined ? { dtmfPayloadType: s.dtmfPayloadType } : {}),
    ...(s.h264Mode !== undefined ? { h264Mode: s.h264Mode } : {}),
    ...(s.srtp ? { srtp: { local: s.srtp.local.toTransfer(), remote: s.srtp.remote.toTransfer(), tag: s.srtp.tag } } : {}),
    ...(s.dtls ? { dtls: s.dtls } : {}),
    index: s.index,
    direction: s.direction,
  });
  const dtls = n.audio.dtls && dtlsIdentity ? { dtlsIdentity: { certPem: dtlsIdentity.certPem, keyPem: dtlsIdentity.keyPem, signatureHash: { hash: dtlsIdentity.signatureHash.hash, signature: dtlsIdentity.signatureHash.signature }, fingerprint: dtlsIdentity.fingerprint } } : {};
  return { audio: one(n.audio), ...(n.video ? { video: one(n.video) } : {}), ...dtls };
}

/** Outbound: call a room system for a host. */
async function dial(m: Extract<ServerToGateway, { type: "dial" }>): Promise<void> {
  const c = config!;
  // From a host (signaling or HTTP API): cleaned like a device's own name before it goes into
  // the INVITE's From header and the connector's credential.
  const name = memberName(m.displayName);
  let target: SipUri;
  try {
    target = parseSipUri(m.uri);
  } catch (e) {
    server.send({ type: "callEvent", meetingId: m.meetingId, inviteId: m.inviteId, displayName: name, event: "failed", detail: (e as Error).message, code: "SIP_BAD_URI" });
    return;
  }
  const abort = new AbortController();
  outbound.set(m.inviteId, { abort });
  const secure = ua!.flowFor(target).transport === "tls";
  if (m.requireEncryption && !secure) {
    server.send({ type: "callEvent", meetingId: m.meetingId, inviteId: m.inviteId, displayName: name, event: "failed", detail: "this meeting requires encryption for room systems: call a sips: URI or one with ;transport=tls", code: "ENCRYPTION_REQUIRED" });
    return;
  }
  const proc = spawnCall(name);
  try {
    const ports = await request(proc, { type: "prepare", address: c.mediaAddress, video: true, ...(c.mediaPorts ? { portRange: c.mediaPorts } : {}) }, "ports");
    const offer = buildOffer({ address: c.mediaAddress, audioPort: ports.audio, videoPort: ports.video }, { srtp: secure || m.requireEncryption, sessionId: randomInt(1, 2 ** 31) });
    const { dialog, answer } = await ua!.call(target, offer.sdp, {
      displayName: name,
      signal: abort.signal,
      onProgress: (status) => {
        if (status === 180 || status === 183) server.send({ type: "callEvent", meetingId: m.meetingId, inviteId: m.inviteId, displayName: name, event: "ringing", detail: "ringing" });
      },
    });
    const n = readAnswer(answer, offer, dialog.flow.transport);
    if (m.requireEncryption && !(n.farLeg.signaling === "tls" && n.farLeg.media === "srtp")) {
      await dialog.bye();
      throw new Error("the device answered without TLS and SRTP, which this meeting requires");
    }
    proc.send({ type: "join", signalingUrl: c.signalingUrl, meetingId: m.meetingId, ticket: m.ticket, ...(c.ca ? { ca: c.ca } : {}), displayName: name, farLeg: n.farLeg, media: transfer(n) });
    bridge(dialog, proc, n, m.meetingId, name, dialog.flow.transport, m.inviteId);
    const joined = await waitFor(proc, (x) => x.type === "inGroup" || x.type === "ended", JOIN_TIMEOUT_MS);
    if (joined.type === "ended") throw new Error(`the meeting did not let the device in (${joined.code})`);
    if (joined.type !== "inGroup") throw new Error("unexpected message from the call connector");
    server.send({ type: "callEvent", meetingId: m.meetingId, inviteId: m.inviteId, displayName: name, event: "joined", detail: protectionOf(n), memberId: joined.memberId, securityCode: joined.securityCode });
  } catch (e) {
    void proc.stop();
    outbound.delete(m.inviteId);
    server.send({ type: "callEvent", meetingId: m.meetingId, inviteId: m.inviteId, displayName: name, event: "failed", detail: (e as Error).message.slice(0, 300), code: "SIP_CALL_FAILED" });
  }
}

function protectionOf(n: Negotiation): string {
  return n.farLeg.signaling === "tls" && n.farLeg.media === "srtp" ? "TLS + SRTP" : "unencrypted";
}

async function shutdown(): Promise<void> {
  await ua?.close();
  await calls.close();
  await ua?.transport.close();
  process.exit(0);
}

process.on("SIGTERM", () => void shutdown());
process.on("uncaughtException", (e) => {
  process.stderr.write(`sip gateway: ${e.name}: ${e.message}\n`);
});
