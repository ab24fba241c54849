/**
 * SIP transactions (RFC 3261 §17): retransmissions over UDP, absorbing request retransmissions,
 * and the timers that end a transaction. Reliable transports (TLS, TCP) send once.
 *
 * - Client INVITE (§17.1.1): Timer A retransmits until any response, Timer B gives up after
 *   64*T1; a non-2xx final response is ACKed here (same branch), a 2xx goes to the UA core
 *   (which ACKs it in its own transaction, §13.2.2.4).
 * - Client non-INVITE (§17.1.2): Timer E retransmits (T1 doubling to T2), Timer F gives up.
 * - Server INVITE (§17.2.1): a retransmitted INVITE gets the latest response again; a non-2xx
 *   final response is retransmitted (Timer G) until the ACK (Timer H gives up). 2xx
 *   retransmission belongs to the UA core (§13.3.1.4), not here.
 * - Server non-INVITE (§17.2.2): a retransmitted request gets the final response again.
 * Matching is by the top Via's branch (magic cookie z9hG4bK, §17.2.3) and method.
 */
import { randomBytes } from "node:crypto";
import { ConnectorError } from "../errors.js";
import { parseVia } from "./headers.js";
import { header, parseCSeq, type SipMessage, type SipRequest, type SipResponse } from "./message.js";
import type { Flow, SipTransport } from "./transport.js";

export const T1 = 500;
export const T2 = 4000;
export const T4 = 5000;

export function newBranch(): string {
  return `z9hG4bK${randomBytes(12).toString("hex")}`;
}

export function topBranch(msg: SipMessage): string | undefined {
  const via = header(msg, "Via");
  if (via === undefined) return undefined;
  try {
    // The first Via value (a header may carry several, comma-separated).
    const first = via.split(",")[0]!;
    return parseVia(first).params.get("branch") ?? undefined;
  } catch {
    return undefined;
  }
}

interface Timers {
  set(fn: () => void, ms: number): void;
  clear(): void;
}

function timers(): Timers {
  const all = new Set<ReturnType<typeof setTimeout>>();
  return {
    set(fn, ms) {
      const t = setTimeout(() => {
        all.delete(t);
        fn();
      }, ms);
      t.unref?.();
      all.add(t);
    },
    clear() {
      for (const t of all) clearTimeout(t);
      all.clear();
    },
  };
}

export class ClientTransaction {
  readonly branch: string;
  readonly request: SipRequest;
  readonly flow: Flow;
  #transport: SipTransport;
  #timers = timers();
  #done = false;
  #gotResponse = false;
  #onResponse: (r: SipResponse) => void;
  #onTimeout: (e: ConnectorError) => void;
  readonly #ackFor: ((r: SipResponse) => SipRequest) | undefined;

  constructor(
    transport: SipTransport,
    request: SipRequest,
    flow: Flow,
    handlers: { onResponse: (r: SipResponse) => void; onTimeout: (e: ConnectorError) => void; ackFor?: (r: SipResponse) => SipRequest },
  ) {
    this.#transport = transport;
    this.request = request;
    this.flow = flow;
    this.branch = topBranch(request) ?? "";
    this.#onResponse = handlers.onResponse;
    this.#onTimeout = handlers.onTimeout;
    this.#ackFor = handlers.ackFor;
  }

  get isInvite(): boolean {
    return this.request.method === "INVITE";
  }

  start(): void {
    this.#send();
    if (this.flow.transport === "udp") this.#retransmit(T1);
    this.#timers.set(() => this.#timeout(), 64 * T1);
  }

  #send(): void {
    this.#transport.send(this.request, this.flow).catch((e: unknown) => {
      if (this.#done) return;
      this.#done = true;
      this.#timers.clear();
      this.#onTimeout(e instanceof ConnectorError ? e : new ConnectorError("SIP_TRANSPORT_FAILED"));
    });
  }

  #retransmit(interval: number): void {
    this.#timers.set(() => {
      if (this.#done) return;
      if (this.isInvite && this.#gotResponse) return; // Timer A stops at the first response
      this.#send();
      this.#retransmit(this.isInvite ? interval * 2 : Math.min(interval * 2, this.#gotResponse ? T2 : T2));
    }, interval);
  }

  #timeout(): void {
    if (this.#done) return;
    this.#done = true;
    this.#timers.clear();
    this.#onTimeout(new ConnectorError("SIP_TIMEOUT", `${this.request.method} got no final response`));
  }

  /** A response whose branch and method match this transaction. */
  receive(r: SipResponse): void {
    if (this.#done) {
      // A retransmitted non-2xx final response to an INVITE: ACK it again.
      if (this.isInvite && r.status >= 300 && this.#ackFor) this.#transport.send(this.#ackFor(r), this.flow).catch(() => undefined);
      return;
    }
    this.#gotResponse = true;
    if (r.status < 200) {
      this.#onResponse(r);
      return;
    }
    this.#done = true;
    this.#timers.clear();
    if (this.isInvite && r.status >= 300 && this.#ackFor) this.#transport.send(this.#ackFor(r), this.flow).catch(() => undefined);
    this.#onResponse(r);
  }

  cancelTimers(): void {
    this.#done = true;
    this.#timers.clear();
  }
}

export class ServerTransaction {
  readonly request: SipRequest;
  readonly flow: Flow;
  #transport: SipTransport;
  #last: SipResponse | undefined;
  #timers = timers();
  #acked = false;
  #terminated = false;
  readonly #onEnd: () => void;

  constructor(transport: SipTransport, request: SipRequest, flow: Flow, onEnd: () => void) {
    this.#transport = transport;
    this.request = request;
    this.flow = flow;
    this.#onEnd = onEnd;
  }

  get finalSent(): boolean {
    return this.#last !== undefined && this.#last.status >= 200;
  }

  get lastResponse(): SipResponse | undefined {
    return this.#last;
  }

  /** Sends a response (only one final response; later ones are ignored). */
  respond(r: SipResponse): void {
    if (this.finalSent || this.#terminated) return;
    this.#last = r;
    this.#transport.send(r, this.flow).catch(() => undefined);
    if (r.status < 200) return;
    const isInvite = this.request.method === "INVITE";
    if (isInvite && r.status >= 300 && this.flow.transport === "udp") this.#retransmitFinal(T1);
    // Keep absorbing retransmissions (Timer J / H), then forget.
    this.#timers.set(() => this.#end(), this.flow.transport === "udp" || isInvite ? 64 * T1 : 0);
  }

  #retransmitFinal(interval: number): void {
    this.#timers.set(() => {
      if (this.#acked || this.#terminated || !this.#last) return;
      this.#transport.send(this.#last, this.flow).catch(() => undefined);
      this.#retransmitFinal(Math.min(interval * 2, T2));
    }, interval);
  }

  /** The same request again (a retransmission): answer with the latest response. */
  retransmission(): void {
    if (this.#last) this.#transport.send(this.#last, this.flow).catch(() => undefined);
  }

  /** The ACK for a non-2xx final response. */
  ack(): void {
    this.#acked = true;
  }

  #end(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#timers.clear();
    this.#onEnd();
  }

  close(): void {
    this.#end();
  }
}

export function transactionKey(msg: SipMessage): string | undefined {
  const branch = topBranch(msg);
  if (branch === undefined || !branch.startsWith("z9hG4bK")) return undefined;
  const method = parseCSeq(header(msg, "CSeq")!).method;
  // An ACK for a non-2xx response and a CANCEL match the INVITE's server transaction by branch;
  // they are looked up with their own keys by the UA.
  return `${branch}|${method}`;
}
