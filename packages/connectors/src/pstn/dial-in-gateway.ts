/**
 * Phone dial-in in the SIP gateway: INVITEs from the configured trunks (a carrier or the
 * organisation's PBX) become phone calls with an IVR; calls to phone numbers from anywhere else
 * are refused. One phone call connector process per call (call-main.ts) does the media, the IVR
 * and the meeting membership; this module does the SIP side and relays the IVR's questions to
 * the server (meeting lookup, passcode check against the meeting's limits).
 */
import { randomInt, X509Certificate } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { ConnectorSupervisor, SupervisedProcess } from "../framework/supervisor.js";
import { parseIpc, type GatewayToServer, type ServerToGateway, type StreamTransfer } from "../framework/ipc.js";
import { DigestServer } from "../sip/digest.js";
import { h } from "../sip/build.js";
import { header } from "../sip/message.js";
import type { IncomingCall, SipDialog } from "../sip/ua.js";
import { peerCertifiedBy } from "../sip/transport.js";
import type { SrtpProfile } from "../media/sdes.js";
import { buildAnswer, negotiateOffer, type Negotiation, type NegotiatedStream } from "../connectors/sip-room/negotiate.js";
import { phoneToGatewaySchema, type GatewayToPhone, type PhoneToGateway } from "./ipc.js";
import { callerDigits, callerKey, phoneDisplayName } from "./caller.js";
import { dtmfFromInfo } from "./dtmf.js";

const PHONE_MODULE = fileURLToPath(new URL("./call-main.js", import.meta.url));
const SERVER_TIMEOUT_MS = 10_000;

type Config = Extract<ServerToGateway, { type: "configure" }>;
type PstnConfig = NonNullable<Config["pstn"]>;

export interface DialInDeps {
  config: Config;
  pstn: PstnConfig;
  calls: ConnectorSupervisor;
  send(m: GatewayToServer): void;
  nextRequestId(): number;
}

interface Trunk {
  address: string;
  digest: DigestServer | undefined;
  username: string | undefined;
  srtpProfile: SrtpProfile;
  /** Mutual TLS: the CA certificates the trunk's client certificate must chain to. */
  clientCas: X509Certificate[] | undefined;
}

export class DialInGateway {
  readonly #deps: DialInDeps;
  readonly #trunks: Trunk[];
  /** Keys the caller digests the server sees; the server's, stable across gateway restarts. */
  readonly #callerSecret: Buffer;
  readonly #pending = new Map<number, (m: ServerToGateway) => void>();

  constructor(deps: DialInDeps) {
    this.#deps = deps;
    this.#callerSecret = Buffer.from(deps.pstn.callerSecret, "base64url");
    this.#trunks = deps.pstn.trunks.map((t) => ({
      address: normalizeAddress(t.address),
      username: t.username,
      digest: t.username && t.password ? new DigestServer(deps.config.publicHost, [{ username: t.username, password: t.password }]) : undefined,
      srtpProfile: t.profile ?? "standard",
      clientCas: t.clientCa !== undefined ? pemCertificates(t.clientCa) : undefined,
    }));
  }

  /**
   * Whether this INVITE is the dial-in's: from a trunk ("trunk"), or a phone number dialed from
   * anywhere else ("refuse"); null for room-system calls (sip:<meeting id>…).
   */
  claims(call: IncomingCall): "trunk" | "refuse" | null {
    const from = normalizeAddress(call.flow.address);
    if (this.#trunks.some((t) => t.address === from)) return "trunk";
    const user = call.requestUri.user ?? "";
    return user.startsWith("+") ? "refuse" : null;
  }

  /** The server answered one of our questions: true when it was ours. */
  onServer(m: ServerToGateway): boolean {
    if (m.type !== "authorized" && m.type !== "dialInLookedUp") return false;
    const waiter = this.#pending.get(m.requestId);
    if (!waiter) return false;
    this.#pending.delete(m.requestId);
    waiter(m);
    return true;
  }

  async onInvite(call: IncomingCall): Promise<void> {
    if (this.claims(call) === "refuse") {
      call.reject(403, "Forbidden", "Phone calls are accepted only from this server's configured SIP trunks");
      return;
    }
    const trunk = this.#trunks.find((t) => t.address === normalizeAddress(call.flow.address))!;
    // Mutual TLS (the Microsoft profile's SBCs): the address alone does not make a call the trunk's.
    if (trunk.clientCas && !peerCertifiedBy(call.flow, trunk.clientCas)) {
      call.reject(403, "Forbidden", "This trunk must call over SIP/TLS with a client certificate from its configured CA");
      return;
    }
    if (trunk.digest) {
      const who = trunk.digest.verify(header(call.request, "Authorization"), "INVITE");
      if (who === null || who === "stale" || who !== trunk.username) {
        call.reject(401, "Unauthorized", undefined, [h("WWW-Authenticate", trunk.digest.challenge("SHA-256", who === "stale")), h("WWW-Authenticate", trunk.digest.challenge("MD5", who === "stale"))]);
        return;
      }
    }
    // Phones have audio only; DTLS-SRTP is for browsers and room systems, not trunks.
    const result = negotiateOffer(call.offer, { signaling: call.flow.transport, requireEncryption: false, allowDtls: false, allowH264: false, srtpProfile: trunk.srtpProfile });
    if (!result.ok) {
      call.reject(result.status, result.reason, result.explanation);
      return;
    }
    const n: Negotiation = { ...result.negotiation, video: undefined };
    const digits = callerDigits(call.from);
    const name = phoneDisplayName(digits);
    const caller = callerKey(digits, this.#callerSecret);
    const c = this.#deps.config;
    const proc = this.#deps.calls.spawn({ name: `phone-call ${name}`, module: PHONE_MODULE, limits: { heapMb: 192, rssMb: 384 }, restart: false, stopGraceMs: 3000 });
    proc.on("log", (line) => process.stderr.write(`phone call: ${line}\n`));
    call.once("cancelled", () => void proc.stop());
    try {
      const ports = await this.#ask(proc, { type: "prepare", address: c.mediaAddress, ...(c.mediaPorts ? { portRange: c.mediaPorts } : {}) }, (m) => (m.type === "ports" ? m : undefined));
      const answer = buildAnswer(n, { address: c.mediaAddress, audioPort: ports.audio, videoPort: undefined }, randomInt(1, 2 ** 31), 1);
      const dialog = await call.accept(answer);
      send(proc, { type: "start", audio: transfer(n.audio), promptsDir: this.#deps.pstn.promptsDir, displayName: name, farLeg: n.farLeg, signalingUrl: c.signalingUrl, ...(c.ca ? { ca: c.ca } : {}) });
      this.#bridge(dialog, proc, n, name, caller, trunk.srtpProfile);
    } catch (e) {
      if (!call.answered) call.reject(500, "Server Internal Error", "The phone connector could not start");
      void proc.stop();
      process.stderr.write(`dial-in: ${(e as Error).message}\n`);
    }
  }

  #bridge(dialog: SipDialog, proc: SupervisedProcess, n: Negotiation, name: string, caller: string, srtpProfile: SrtpProfile): void {
    let current = n;
    let meetingId: string | undefined;
    let joined = false;
    dialog.on("info", ({ contentType, body }) => {
      const digit = dtmfFromInfo(contentType, body);
      if (digit) send(proc, { type: "dtmf", digit });
    });
    dialog.on("offer", ({ sdp, respond }) => {
      const r = negotiateOffer(sdp, { signaling: dialog.flow.transport, requireEncryption: current.farLeg.media !== "rtp", allowDtls: false, allowH264: false, srtpProfile });
      if (!r.ok) return respond(null, r.explanation);
      if (r.negotiation.farLeg.media !== current.farLeg.media) return respond(null, "The media encryption cannot change during the call");
      current = { ...r.negotiation, video: undefined };
      send(proc, { type: "reconfigure", audio: transfer(current.audio) });
      respond(buildAnswer(current, { address: this.#deps.config.mediaAddress, audioPort: portOf.get(proc)!, videoPort: undefined }, randomInt(1, 2 ** 31), 2));
    });
    dialog.once("terminated", () => {
      send(proc, { type: "hangup" });
      setTimeout(() => void proc.stop(), 2000).unref();
      if (meetingId && joined) this.#deps.send({ type: "callEvent", meetingId, displayName: name, event: "ended", detail: "the phone hung up", connector: "pstn" });
    });
    proc.on("message", (raw) => {
      let m: PhoneToGateway;
      try {
        m = parseIpc(phoneToGatewaySchema, raw);
      } catch {
        return;
      }
      switch (m.type) {
        case "lookup":
          void this.#server<Extract<ServerToGateway, { type: "dialInLookedUp" }>>({ type: "dialInLookup", requestId: 0, meetingId: m.meetingId, caller }, { ok: false, code: "SERVER_TIMEOUT" }).then((r) =>
            send(proc, { type: "lookedUp", requestId: m.requestId, result: r }),
          );
          return;
        case "authorize":
          void this.#server<Extract<ServerToGateway, { type: "authorized" }>>({ type: "dialInAuthorize", requestId: 0, meetingId: m.meetingId, ...(m.passcode !== undefined ? { passcode: m.passcode } : {}), caller }, { ok: false, status: 503, reason: "Service Unavailable", explanation: "timeout", code: "SERVER_TIMEOUT" }).then((r) => {
            send(proc, { type: "authorized", requestId: m.requestId, result: r.ok ? { ok: true, ticket: r.ticket, meetingId: r.meetingId } : { ok: false, code: r.code } });
          });
          return;
        case "waiting":
          meetingId = m.meetingId;
          this.#deps.send({ type: "callEvent", meetingId: m.meetingId, displayName: name, event: "ringing", detail: "waiting to be let in", connector: "pstn" });
          return;
        case "inGroup":
          meetingId = m.meetingId;
          joined = true;
          this.#deps.send({ type: "callEvent", meetingId: m.meetingId, displayName: name, event: "joined", detail: protectionOf(current), memberId: m.memberId, securityCode: m.securityCode, connector: "pstn" });
          return;
        case "ended":
          if (m.meetingId && !joined) this.#deps.send({ type: "callEvent", meetingId: m.meetingId, displayName: name, event: "refused", detail: m.detail, code: m.code, connector: "pstn" });
          void dialog.bye();
          return;
        case "prompt":
          this.#deps.send({ type: "ivr", displayName: name, prompt: m.prompt, phase: m.phase });
          return;
        case "ports":
          return;
        default: {
          const never: never = m;
          throw new Error(`unhandled ${(never as { type: string }).type}`);
        }
      }
    });
    proc.on("exit", () => void dialog.bye());
  }

  /** Asks the server; resolves with its answer's result, or `fallback` after SERVER_TIMEOUT_MS. */
  #server<A extends { result: unknown }>(m: Extract<GatewayToServer, { type: "dialInLookup" | "dialInAuthorize" }>, fallback: A["result"]): Promise<A["result"]> {
    const requestId = this.#deps.nextRequestId();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        resolve(fallback);
      }, SERVER_TIMEOUT_MS);
      this.#pending.set(requestId, (answer) => {
        clearTimeout(timer);
        resolve((answer as unknown as A).result);
      });
      this.#deps.send({ ...m, requestId });
    });
  }

  #ask<T>(proc: SupervisedProcess, msg: GatewayToPhone, pick: (m: PhoneToGateway) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error("the phone call connector did not answer in time"));
      }, 15_000);
      const onMessage = (raw: unknown) => {
        let m: PhoneToGateway;
        try {
          m = parseIpc(phoneToGatewaySchema, raw);
        } catch {
          return;
        }
        const v = pick(m);
        if (v !== undefined) {
          if (m.type === "ports") portOf.set(proc, m.audio);
          cleanup();
          resolve(v);
        }
      };
      const onExit = () => {
        cleanup();
        reject(new Error("the phone call connector exited"));
      };
      const cleanup = () => {
        clearTimeout(timer);
        proc.off("message", onMessage);
        proc.off("exit", onExit);
      };
      proc.on("message", onMessage);
      proc.on("exit", onExit);
      send(proc, msg);
    });
  }
}

const portOf = new WeakMap<SupervisedProcess, number>();

function send(proc: SupervisedProcess, m: GatewayToPhone): void {
  proc.send(m);
}

/** IPv4-mapped IPv6 (::ffff:192.0.2.1) compares equal to the IPv4 address; case folded. */
export function normalizeAddress(a: string): string {
  const s = a.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (mapped) return mapped[1]!;
  return s;
}

/** Every certificate of a PEM bundle (the gateway's config was validated by the server). */
function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function protectionOf(n: Negotiation): string {
  return n.farLeg.signaling === "tls" && n.farLeg.media === "srtp" ? "TLS + SRTP to the trunk" : "unencrypted to the trunk";
}

function transfer(s: NegotiatedStream<string>): StreamTransfer {
  return {
    codec: s.codec as StreamTransfer["codec"],
    payloadType: s.payloadType,
    clockRate: s.clockRate,
    channels: s.channels,
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    remoteRtcpPort: s.remoteRtcpPort,
    rtcpMux: s.rtcpMux,
    ...(s.dtmfPayloadType !== undefined ? { dtmfPayloadType: s.dtmfPayloadType } : {}),
    ...(s.srtp ? { srtp: { local: s.srtp.local.toTransfer(), remote: s.srtp.remote.toTransfer(), tag: s.srtp.tag, ...(s.srtp.profile === "microsoft" ? { profile: "microsoft" as const } : {}) } } : {}),
    index: s.index,
    direction: s.direction,
  };
}
