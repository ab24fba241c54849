/**
 * The server's side of the SIP connector: it starts the SIP gateway (a connector service in a
 * process of its own, from @conclave/connectors) under its supervisor, restarts it if it dies,
 * answers its questions (may this device join this meeting, and under which policy), hands out
 * tickets for host invitations, and tells hosts what happened to room systems.
 *
 * Nothing here touches media or keys: the gateway and its call processes are meeting members
 * with their own MLS credentials; the server only sees their signaling like any member's.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { ConnectorSupervisor, gatewayToServerSchema, parseIpc, SIP_GATEWAY_MODULE, type GatewayToServer, type ServerToGateway, type SupervisedProcess } from "@conclave/connectors/supervisor";
import type { Logger } from "../server.js";
import type { MeetingRegistry } from "../meetings/meeting-registry.js";
import type { MeetingConnectors } from "../meetings/live-meeting.js";
import type { Metrics } from "../observability/metrics.js";
import type { DialInPasscodes } from "./dial-in.js";


export interface SipServiceOptions {
  registry: MeetingRegistry;
  logger: Logger;
  /** SIP over TLS listener (the server's certificate). */
  tls?: { host: string; port: number; certFile: string; keyFile: string };
  /** Plain SIP over UDP listener. */
  udp?: { host: string; port: number };
  /** Plain SIP over TCP listener. */
  tcp?: { host: string; port: number };
  publicHost: string;
  mediaAddress: string;
  mediaPorts?: { min: number; max: number };
  signalingUrl: () => string;
  ca: string;
  accounts?: { username: string; password: string }[];
  deviceCa?: string;
  deviceTlsInsecure?: boolean;
  /** "Require encryption for 3rd-party endpoints (SIP/H.323)" for a meeting (its owner's setting). */
  requireEncryption: (meetingId: string) => boolean;
  /** conclave_sip_* metrics. */
  metrics?: Metrics;
  /** Phone dial-in through SIP trunks (absent: no trunk configured, no dial-in). */
  dialIn?: {
    /** `clientCa`: PEM of the CA the trunk's TLS client certificate must chain to (mutual TLS). */
    trunks: { address: string; username?: string; password?: string; profile?: "standard" | "microsoft"; clientCa?: string }[];
    /** Where the IVR's rendered prompts are cached (in the data directory). */
    promptsDir: string;
    passcodes: DialInPasscodes;
    /** Phone numbers shown in invitations. */
    numbers: string[];
    /** The "Phone dial-in" setting of the meeting's owner (the settings hierarchy, with locks). */
    allowed: (meetingId: string) => boolean;
  };
}

export interface SipListening {
  transport: "udp" | "tcp" | "tls";
  host: string;
  port: number;
}

const READY_TIMEOUT_MS = 20_000;

/** What happened to a room-system call (for the operator, tests and hosts). */
export interface SipCallEvent {
  meetingId: string;
  inviteId?: string;
  displayName: string;
  event: "ringing" | "joined" | "refused" | "failed" | "ended";
  detail: string;
  code?: string;
  memberId?: string;
  securityCode?: string;
}

/** A phone call's IVR started or finished a prompt (no digits, no number: the display name only). */
export interface DialInPromptEvent {
  displayName: string;
  prompt: string;
  phase: "start" | "end";
}

export class SipService extends EventEmitter<{ call: [SipCallEvent]; ivr: [DialInPromptEvent] }> implements MeetingConnectors {
  readonly #opts: SipServiceOptions;
  readonly #supervisor = new ConnectorSupervisor();
  #gateway: SupervisedProcess | undefined;
  #listening: SipListening[] = [];
  #ready: Promise<SipListening[]> | undefined;

  readonly #callEvents: ((event: string) => void) | undefined;

  constructor(opts: SipServiceOptions) {
    super();
    this.#opts = opts;
    if (opts.metrics) {
      const calls = opts.metrics.counter<"event">({
        name: "conclave_sip_call_events_total",
        help: "Room-system and phone (SIP) calls by what happened: ringing, joined, refused, failed, ended.",
        labelNames: ["event"],
      });
      this.#callEvents = (event) => calls.inc({ event });
      const running = (): boolean => this.#gateway?.running === true;
      opts.metrics.gauge({
        name: "conclave_sip_gateway_up",
        help: "1 while the SIP gateway process runs, 0 while it is down (restarting or given up).",
        collect() {
          this.set(running() ? 1 : 0);
        },
      });
    }
  }

  /** The gateway's process id while it runs (for the operator's tools and tests). */
  get gatewayPid(): number | undefined {
    return this.#gateway?.running ? this.#gateway.pid : undefined;
  }

  /** Where the gateway listens (after start). */
  get listening(): readonly SipListening[] {
    return this.#listening;
  }

  /** Starts the gateway and resolves once it listens (rejects if it cannot). */
  start(): Promise<SipListening[]> {
    if (this.#ready) return this.#ready;
    const gateway = this.#supervisor.spawn({
      name: "sip-gateway",
      module: SIP_GATEWAY_MODULE,
      limits: { heapMb: 256, rssMb: 512 },
      restart: true,
      maxRestarts: 5,
    });
    this.#gateway = gateway;
    gateway.on("log", (line) => this.#opts.logger.warn(`sip gateway: ${line}`));
    gateway.on("started", () => this.#send(this.#configure()));
    gateway.on("exit", ({ reason, restarting }) => {
      if (reason !== "stopped") this.#opts.logger.warn(`sip gateway exited (${reason})${restarting ? "; restarting" : "; not restarting"}`);
    });
    this.#ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the SIP gateway did not start in time")), READY_TIMEOUT_MS);
      const onExit = () => {
        clearTimeout(timer);
        reject(new Error("the SIP gateway could not start (is the address in use?)"));
      };
      gateway.once("exit", onExit);
      gateway.on("message", (raw) => {
        let m: GatewayToServer;
        try {
          m = parseIpc(gatewayToServerSchema, raw);
        } catch (e) {
          this.#opts.logger.warn(`sip gateway: ${(e as Error).message}`);
          return;
        }
        if (m.type === "ready") {
          this.#listening = m.listening;
          clearTimeout(timer);
          gateway.off("exit", onExit);
          resolve(m.listening);
          return;
        }
        void this.#onMessage(m);
      });
    });
    // The first configure goes out on "started", which fired inside spawn(): send it now too.
    this.#send(this.#configure());
    return this.#ready;
  }

  #configure(): ServerToGateway {
    const o = this.#opts;
    return {
      type: "configure",
      ...(o.tls ? { tls: o.tls } : {}),
      ...(o.udp ? { udp: o.udp } : {}),
      ...(o.tcp ? { tcp: o.tcp } : {}),
      publicHost: o.publicHost,
      mediaAddress: o.mediaAddress,
      ...(o.mediaPorts ? { mediaPorts: o.mediaPorts } : {}),
      signalingUrl: o.signalingUrl(),
      ca: o.ca,
      ...(o.accounts ? { accounts: o.accounts } : {}),
      ...(o.deviceCa ? { deviceCa: o.deviceCa } : {}),
      ...(o.deviceTlsInsecure ? { deviceTlsInsecure: true } : {}),
      ...(o.dialIn ? { pstn: { trunks: o.dialIn.trunks.map((t) => ({ ...t })), promptsDir: o.dialIn.promptsDir, callerSecret: o.dialIn.passcodes.callerSecret() } } : {}),
    };
  }

  #send(m: ServerToGateway): void {
    this.#gateway?.send(m);
  }

  async #onMessage(m: Exclude<GatewayToServer, { type: "ready" }>): Promise<void> {
    switch (m.type) {
      case "authorize": {
        const r = await this.#opts.registry.authorizeConnector({ meetingId: m.meetingId, ...(m.passcode ? { passcode: m.passcode } : {}), address: `sip:${m.address}`, connector: "sip" });
        if (r.ok) {
          this.#send({ type: "authorized", requestId: m.requestId, result: { ok: true, ticket: r.ticket, meetingId: r.meeting.id, requireEncryption: this.#opts.requireEncryption(r.meeting.id) } });
          return;
        }
        const sip = SIP_STATUS[r.code] ?? { status: 403, reason: "Forbidden" };
        this.#send({ type: "authorized", requestId: m.requestId, result: { ok: false, status: sip.status, reason: sip.reason, explanation: r.message.slice(0, 300), code: r.code } });
        if (r.code === "CONNECTOR_NOT_ALLOWED") {
          this.#opts.registry.get(m.meetingId)?.notifyHosts("ROOM_SYSTEM_REFUSED", `${m.displayName} tried to join by SIP and was refused: end-to-end encrypted meetings admit no room systems or other connectors.`);
        }
        return;
      }
      case "ivr":
        this.emit("ivr", { displayName: m.displayName, prompt: m.prompt, phase: m.phase });
        return;
      case "dialInLookup": {
        const dialIn = this.#opts.dialIn;
        const r = dialIn ? await this.#opts.registry.lookupForDialIn(m.meetingId, `pstn:${m.caller}`) : ({ ok: false, code: "SERVER_CLOSED" } as const);
        if (r.ok && !dialIn!.allowed(r.meeting.id)) {
          this.#send({ type: "dialInLookedUp", requestId: m.requestId, result: { ok: false, code: "DIAL_IN_DISABLED" } });
          return;
        }
        if (!r.ok && r.code === "CONNECTOR_NOT_ALLOWED") {
          this.#opts.registry.get(m.meetingId)?.notifyHosts("PHONE_REFUSED", "A phone tried to dial in and was refused: end-to-end encrypted meetings admit no phones or other connectors.");
        }
        this.#send({ type: "dialInLookedUp", requestId: m.requestId, result: r.ok ? { ok: true, passcodeRequired: r.passcodeRequired } : { ok: false, code: r.code } });
        return;
      }
      case "dialInAuthorize": {
        const dialIn = this.#opts.dialIn;
        if (!dialIn || !dialIn.allowed(m.meetingId)) {
          this.#send({ type: "authorized", requestId: m.requestId, result: { ok: false, status: 403, reason: "Forbidden", explanation: "phone dial-in is off for this meeting", code: "DIAL_IN_DISABLED" } });
          return;
        }
        const r = await this.#opts.registry.authorizeConnector({
          meetingId: m.meetingId,
          ...(m.passcode !== undefined ? { passcode: m.passcode } : {}),
          address: `pstn:${m.caller}`,
          connector: "pstn",
          checkPasscode: (id, passcode) => Promise.resolve(dialIn.passcodes.verify(id, passcode)),
        });
        if (r.ok) {
          this.#send({ type: "authorized", requestId: m.requestId, result: { ok: true, ticket: r.ticket, meetingId: r.meeting.id, requireEncryption: false } });
        } else {
          this.#send({ type: "authorized", requestId: m.requestId, result: { ok: false, status: 403, reason: "Forbidden", explanation: r.message.slice(0, 300), code: r.code } });
        }
        return;
      }
      case "callEvent": {
        const { type: _type, ...event } = m;
        this.#callEvents?.(m.event);
        this.emit("call", event);
        const live = this.#opts.registry.get(m.meetingId);
        if (!live) return;
        if (m.connector === "pstn") {
          const phone: Record<typeof m.event, string> = {
            ringing: `${m.displayName} is waiting to be let in.`,
            joined: `${m.displayName} joined by phone (${m.detail}).`,
            refused: `${m.displayName} could not join by phone: ${m.detail}`,
            failed: `The phone call from ${m.displayName} failed: ${m.detail}`,
            ended: `${m.displayName} hung up.`,
          };
          live.notifyHosts(`PHONE_${m.event.toUpperCase()}`, phone[m.event]);
          return;
        }
        const text: Record<typeof m.event, string> = {
          ringing: `Calling ${m.displayName}…`,
          joined: `${m.displayName} joined by SIP (${m.detail}).`,
          refused: `${m.displayName} could not join by SIP: ${m.detail}`,
          failed: `The call to ${m.displayName} failed: ${m.detail}`,
          ended: `${m.displayName} hung up.`,
        };
        live.notifyHosts(`ROOM_SYSTEM_${m.event.toUpperCase()}`, text[m.event]);
        return;
      }
      default: {
        const never: never = m;
        throw new Error(`unhandled ${(never as { type: string }).type}`);
      }
    }
  }

  /** Whether phones can dial in (trunks configured). */
  get dialInEnabled(): boolean {
    return this.#opts.dialIn !== undefined;
  }

  /**
   * The meeting's numeric phone passcode (for invitations: whoever may see the meeting's passcode
   * may see this); null when the meeting has none, undefined when dial-in is off or no such meeting.
   */
  phonePasscode(meetingId: string): string | null | undefined {
    return this.#opts.dialIn?.passcodes.phonePasscode(meetingId);
  }

  /** MeetingConnectors: what an invitation says about dialing in (meetings that take phones only). */
  dialIn(meetingId: string): { numbers: string[]; phonePasscode: string | null } | undefined {
    const d = this.#opts.dialIn;
    if (!d || !d.allowed(meetingId)) return undefined;
    const phonePasscode = d.passcodes.phonePasscode(meetingId);
    return phonePasscode === undefined ? undefined : { numbers: [...d.numbers], phonePasscode };
  }

  /** MeetingConnectors: a host calls a room system in. */
  inviteRoomSystem(meetingId: string, uri: string, displayName: string | undefined): { ok: true; inviteId: string } | { ok: false; code: "SIP_DISABLED" | "BAD_REQUEST"; detail?: string } {
    if (!this.#gateway?.running) return { ok: false, code: "SIP_DISABLED" };
    if (!/^sips?:[^\s<>"]{1,500}$/.test(uri)) return { ok: false, code: "BAD_REQUEST", detail: "expected a sip: or sips: URI" };
    const inviteId = randomBytes(12).toString("base64url");
    const ticket = this.#opts.registry.hostTicket(meetingId, "sip");
    this.#send({ type: "dial", inviteId, meetingId, uri, ...(displayName ? { displayName } : {}), ticket, requireEncryption: this.#opts.requireEncryption(meetingId) });
    return { ok: true, inviteId };
  }

  async close(): Promise<void> {
    await this.#supervisor.close();
  }
}

/** How a refused join reads to a SIP device. */
const SIP_STATUS: Partial<Record<string, { status: number; reason: string }>> = {
  MEETING_NOT_FOUND: { status: 404, reason: "Not Found" },
  MEETING_ENDED: { status: 410, reason: "Gone" },
  WRONG_PASSCODE: { status: 403, reason: "Forbidden" },
  RATE_LIMITED: { status: 486, reason: "Busy Here" },
  CONNECTOR_NOT_ALLOWED: { status: 403, reason: "Forbidden" },
  SERVER_CLOSED: { status: 503, reason: "Service Unavailable" },
};

