/**
 * The SIP user agent: the UA core over our transactions (RFC 3261 §8, §12-§15), typed.
 *
 * - Incoming calls: an out-of-dialog INVITE becomes an `IncomingCall` the application answers
 *   (ringing, accept with an SDP answer, or reject with a status and an explanation). A CANCEL
 *   ends it with 487. The accepted 2xx is retransmitted (T1 doubling to T2) until the ACK comes
 *   (§13.3.1.4); no ACK in 64*T1 ends the call with a BYE.
 * - Outgoing calls: `call()` sends an INVITE, answers digest challenges (401/407) once, ACKs the
 *   2xx (and every retransmission of it) and returns the dialog.
 * - Dialogs (`SipDialog`): re-INVITE both ways (the application answers offers), BYE both ways,
 *   OPTIONS in and out of dialogs, and session timers (RFC 4028): the refresher re-INVITEs at
 *   half the interval, the other side ends a session that nobody refreshed.
 * - REGISTER: with a DigestServer, configured accounts register (digest-authenticated) and can
 *   then be called by their address of record; INVITEs that claim a configured account in From
 *   must authenticate as it.
 * - Requests needing an extension we lack (Require) get 420; Max-Forwards 0 gets 483; unknown
 *   methods get 405 with Allow; requests for an unknown dialog get 481.
 */
import { EventEmitter } from "node:events";
import { ConnectorError } from "../errors.js";
import { ALLOW, SUPPORTED, explain, h, makeRequest, makeResponse, newCallId, newTag } from "./build.js";
import { answerChallenge, type DigestAccount, type DigestServer } from "./digest.js";
import { formatNameAddr, parseNameAddr, parseSessionExpires, parseVia, type NameAddr } from "./headers.js";
import { header, headerValues, parseCSeq, type SipHeader, type SipMessage, type SipRequest, type SipResponse } from "./message.js";
import { ClientTransaction, ServerTransaction, T1, T2, newBranch, topBranch, transactionKey } from "./transaction.js";
import type { Flow, SipTransport, SipTransportName } from "./transport.js";
import { formatHost, formatSipUri, parseSipUri, type SipUri } from "./uri.js";

export const DEFAULT_SESSION_EXPIRES = 1800;
export const MIN_SE = 90;

export interface SipUserAgentOptions {
  transport: SipTransport;
  /** The host name or address devices reach this UA at (Via, Contact). */
  publicHost: string;
  /** User part of our Contact and From (default "conclave"). */
  user?: string;
  /** Challenges REGISTER, and INVITEs claiming a configured account. */
  digest?: DigestServer;
  /** Credentials to answer a device's (or its proxy's) challenge on an outgoing call. */
  credentialsFor?: (target: SipUri) => DigestAccount | undefined;
  /** Session interval we ask for and accept (RFC 4028), default 1800 s; at least MIN_SE. */
  sessionExpires?: number;
}

export interface SipUserAgentEvents {
  invite: [IncomingCall];
}

interface Registration {
  contact: SipUri;
  flow: Flow;
  expires: number;
}

type TerminationReason = "remote-bye" | "local-bye" | "session-expired" | "no-ack" | "closed";

export class SipUserAgent extends EventEmitter<SipUserAgentEvents> {
  readonly transport: SipTransport;
  readonly #opts: SipUserAgentOptions;
  readonly #clientTx = new Map<string, ClientTransaction>();
  readonly #serverTx = new Map<string, ServerTransaction>();
  readonly #dialogs = new Map<string, SipDialog>();
  readonly #incoming = new Map<string, IncomingCall>();
  readonly #registrations = new Map<string, Registration>();
  #closed = false;

  constructor(opts: SipUserAgentOptions) {
    super();
    this.transport = opts.transport;
    this.#opts = opts;
    opts.transport.on("message", (m, flow) => this.#onMessage(m, flow));
  }

  get publicHost(): string {
    return this.#opts.publicHost;
  }

  get sessionExpires(): number {
    return Math.max(MIN_SE, this.#opts.sessionExpires ?? DEFAULT_SESSION_EXPIRES);
  }

  /** The dialogs in progress (for tests and the operator). */
  get dialogs(): readonly SipDialog[] {
    return [...this.#dialogs.values()];
  }

  // ---- building blocks shared with dialogs and calls -------------------------------------

  /** @internal Our Via for a request on `transport`. */
  via(transport: SipTransportName, branch = newBranch()): SipHeader {
    const port = this.transport.boundFor(transport)?.port;
    return h("Via", `SIP/2.0/${transport.toUpperCase()} ${formatHost(this.#opts.publicHost)}${port ? `:${port}` : ""};branch=${branch};rport`);
  }

  /** @internal Our Contact for `transport`: always with port and transport (baresip needs both). */
  contact(transport: SipTransportName): string {
    const port = this.transport.boundFor(transport)?.port;
    const uri = `sip:${this.#opts.user ?? "conclave"}@${formatHost(this.#opts.publicHost)}${port ? `:${port}` : ""};transport=${transport}`;
    return `<${uri}>`;
  }

  /** @internal Sends a request in a new client transaction; resolves with the final response. */
  request(req: SipRequest, flow: Flow, onProvisional?: (r: SipResponse) => void): Promise<SipResponse> {
    if (this.#closed) return Promise.reject(new ConnectorError("SIP_CLOSED", "user agent"));
    return new Promise((resolve, reject) => {
      const key = transactionKey(req)!;
      const tx = new ClientTransaction(this.transport, req, flow, {
        onResponse: (r) => {
          if (r.status < 200) {
            onProvisional?.(r);
            return;
          }
          // Keep INVITE transactions a while to absorb retransmitted final responses.
          setTimeout(() => this.#clientTx.delete(key), 64 * T1).unref();
          resolve(r);
        },
        onTimeout: (e) => {
          this.#clientTx.delete(key);
          reject(e);
        },
        ...(req.method === "INVITE" ? { ackFor: (r: SipResponse) => ackForNon2xx(req, r) } : {}),
      });
      this.#clientTx.set(key, tx);
      tx.start();
    });
  }

  /** @internal */
  registerDialog(d: SipDialog): void {
    this.#dialogs.set(d.key, d);
  }

  /** @internal */
  forgetDialog(d: SipDialog): void {
    if (this.#dialogs.get(d.key) === d) this.#dialogs.delete(d.key);
  }

  /** The flow to reach a URI: its transport parameter (or sips: → TLS), its port or the default. */
  flowFor(uri: SipUri): Flow {
    const param = uri.params.get("transport")?.toLowerCase();
    const transport: SipTransportName = uri.scheme === "sips" || param === "tls" ? "tls" : param === "tcp" ? "tcp" : param === "udp" ? "udp" : this.transport.boundFor("tls") ? "tls" : "udp";
    const port = uri.port ?? (transport === "tls" ? 5061 : 5060);
    return this.transport.flowTo(transport, uri.host, port);
  }

  /** A registered account's current contact (REGISTER), for calling it by name. */
  registeredContact(username: string): { uri: SipUri; flow: Flow } | undefined {
    const r = this.#registrations.get(username);
    if (!r || r.expires < Date.now()) return undefined;
    return { uri: r.contact, flow: r.flow };
  }

  // ---- outgoing calls --------------------------------------------------------------------

  /**
   * Calls `target` with an SDP offer. Resolves with the dialog and the SDP answer when the call
   * is answered; rejects with SIP_CALL_FAILED (with the status) or SIP_TIMEOUT.
   * `onProgress` sees provisional responses (180 Ringing, 183).
   */
  async call(target: SipUri, offer: string, opts: { displayName?: string; onProgress?: (status: number) => void; signal?: AbortSignal } = {}): Promise<{ dialog: SipDialog; answer: string }> {
    const registered = target.user !== undefined && target.host === this.#opts.publicHost ? this.registeredContact(target.user) : undefined;
    const remoteTarget = registered?.uri ?? target;
    const flow = registered?.flow ?? this.flowFor(remoteTarget);
    const localTag = newTag();
    const callId = newCallId(this.#opts.publicHost);
    const fromUri = `sip:${this.#opts.user ?? "conclave"}@${formatHost(this.#opts.publicHost)}`;
    const from = formatNameAddr({ displayName: opts.displayName, uri: fromUri, params: { tag: localTag } });
    const to = formatNameAddr({ uri: formatSipUri(target) });
    let cseq = 1;
    let authorization: SipHeader | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const branch = newBranch();
      const req = makeRequest(
        "INVITE",
        formatSipUri(remoteTarget),
        [
          this.via(flow.transport, branch),
          h("From", from),
          h("To", to),
          h("Call-ID", callId),
          h("CSeq", `${cseq} INVITE`),
          h("Contact", this.contact(flow.transport)),
          h("Allow", ALLOW),
          h("Supported", SUPPORTED),
          h("Session-Expires", String(this.sessionExpires)),
          h("Min-SE", String(MIN_SE)),
          h("Content-Type", "application/sdp"),
          ...(authorization ? [authorization] : []),
        ],
        Buffer.from(offer, "utf8"),
      );
      let cancelled = false;
      const onAbort = () => {
        cancelled = true;
        this.#cancel(req, flow);
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      let res: SipResponse;
      try {
        res = await this.request(req, flow, (r) => opts.onProgress?.(r.status));
      } finally {
        opts.signal?.removeEventListener("abort", onAbort);
      }
      if (res.status >= 200 && res.status < 300) {
        const dialog = SipDialog.fromUacResponse(this, req, res, flow, localTag, cseq);
        dialog.ack(res);
        if (cancelled) {
          void dialog.bye();
          throw new ConnectorError("SIP_CALL_FAILED", "cancelled");
        }
        return { dialog, answer: Buffer.from(res.body).toString("utf8") };
      }
      if ((res.status === 401 || res.status === 407) && attempt === 0 && !authorization) {
        const challenge = header(res, res.status === 401 ? "WWW-Authenticate" : "Proxy-Authenticate");
        const account = this.#opts.credentialsFor?.(target);
        const value = challenge && account ? answerChallenge(challenge, account, "INVITE", formatSipUri(remoteTarget)) : null;
        if (value) {
          authorization = h(res.status === 401 ? "Authorization" : "Proxy-Authorization", value);
          cseq += 1;
          continue;
        }
      }
      throw new ConnectorError("SIP_CALL_FAILED", `${res.status} ${res.reason}`);
    }
    throw new ConnectorError("SIP_CALL_FAILED", "authentication failed");
  }

  #cancel(invite: SipRequest, flow: Flow): void {
    const cancel = makeRequest("CANCEL", invite.uri, [
      invite.headers.find((x) => x.name === "Via")!,
      h("From", header(invite, "From")!),
      h("To", header(invite, "To")!),
      h("Call-ID", header(invite, "Call-ID")!),
      h("CSeq", `${parseCSeq(header(invite, "CSeq")!).seq} CANCEL`),
    ]);
    this.request(cancel, flow).catch(() => undefined);
  }

  /** Sends OPTIONS to a URI (a keep-alive or capability query); resolves with the status. */
  async options(target: SipUri): Promise<number> {
    const flow = this.flowFor(target);
    const req = makeRequest("OPTIONS", formatSipUri(target), [
      this.via(flow.transport),
      h("From", formatNameAddr({ uri: `sip:${this.#opts.user ?? "conclave"}@${formatHost(this.#opts.publicHost)}`, params: { tag: newTag() } })),
      h("To", formatNameAddr({ uri: formatSipUri(target) })),
      h("Call-ID", newCallId(this.#opts.publicHost)),
      h("CSeq", "1 OPTIONS"),
      h("Accept", "application/sdp"),
    ]);
    return (await this.request(req, flow)).status;
  }

  // ---- incoming ----------------------------------------------------------------------------

  #onMessage(msg: SipMessage, flow: Flow): void {
    if (this.#closed) return;
    try {
      if (msg.kind === "response") this.#onResponse(msg);
      else this.#onRequest(msg, flow);
    } catch {
      // A request whose headers do not parse deeper than the framing: answer 400 when we can.
      if (msg.kind === "request" && msg.method !== "ACK") this.#respondStateless(msg, flow, 400, "Bad Request");
    }
  }

  #onResponse(r: SipResponse): void {
    const key = transactionKey(r);
    const tx = key ? this.#clientTx.get(key) : undefined;
    if (tx) {
      tx.receive(r);
      return;
    }
    // A retransmitted 2xx to our INVITE (its transaction is gone): ACK it again (§13.2.2.4).
    if (r.status >= 200 && r.status < 300 && parseCSeq(header(r, "CSeq")!).method === "INVITE") {
      const d = this.#dialogs.get(dialogKey(header(r, "Call-ID")!, tagOf(header(r, "From")!), tagOf(header(r, "To")!)));
      d?.ack(r);
    }
  }

  #onRequest(req: SipRequest, flow: Flow): void {
    const key = transactionKey(req);
    if (key === undefined) {
      if (req.method !== "ACK") this.#respondStateless(req, flow, 400, "Bad Request");
      return;
    }
    if (req.method === "ACK") {
      this.#onAck(req);
      return;
    }
    const existing = this.#serverTx.get(key);
    if (existing) {
      existing.retransmission();
      return;
    }
    const tx = new ServerTransaction(this.transport, req, flow, () => this.#serverTx.delete(key));
    this.#serverTx.set(key, tx);

    const maxForwards = header(req, "Max-Forwards");
    if (maxForwards !== undefined && Number(maxForwards) === 0) return tx.respond(makeResponse(req, 483, "Too Many Hops", { toTag: newTag() }));
    const required = headerValues(req, "Require").filter((x) => x.toLowerCase() !== "timer");
    if (required.length > 0 && req.method !== "CANCEL") {
      return tx.respond(makeResponse(req, 420, "Bad Extension", { toTag: newTag(), headers: [h("Unsupported", required.join(", "))] }));
    }

    if (req.method === "CANCEL") return this.#onCancel(req, tx);
    const toTag = tagOf(header(req, "To")!);
    if (toTag !== undefined) {
      const d = this.#dialogs.get(dialogKey(header(req, "Call-ID")!, toTag, tagOf(header(req, "From")!)));
      if (!d) return tx.respond(makeResponse(req, 481, "Call/Transaction Does Not Exist"));
      d.onRequest(req, tx);
      return;
    }
    switch (req.method) {
      case "INVITE":
        return this.#onInvite(req, tx, flow);
      case "OPTIONS":
        return tx.respond(
          makeResponse(req, 200, "OK", { toTag: newTag(), headers: [h("Allow", ALLOW), h("Accept", "application/sdp"), h("Supported", SUPPORTED)] }),
        );
      case "REGISTER":
        return this.#onRegister(req, tx, flow);
      case "BYE":
      case "UPDATE":
        return tx.respond(makeResponse(req, 481, "Call/Transaction Does Not Exist", { toTag: newTag() }));
      default:
        return tx.respond(makeResponse(req, 405, "Method Not Allowed", { toTag: newTag(), headers: [h("Allow", ALLOW)] }));
    }
  }

  #onAck(req: SipRequest): void {
    // ACK for a non-2xx final response: same branch as the INVITE (§17.2.3).
    const branch = topBranch(req);
    const tx = branch ? this.#serverTx.get(`${branch}|INVITE`) : undefined;
    if (tx && tx.finalSent && (tx.lastResponse?.status ?? 0) >= 300) {
      tx.ack();
      return;
    }
    // ACK for a 2xx: its own transaction, matched to the dialog.
    const toTag = tagOf(header(req, "To")!);
    if (toTag === undefined) return;
    const d = this.#dialogs.get(dialogKey(header(req, "Call-ID")!, toTag, tagOf(header(req, "From")!)));
    d?.onAck(req);
  }

  #onCancel(req: SipRequest, tx: ServerTransaction): void {
    const branch = topBranch(req);
    const inviteKey = `${branch}|INVITE`;
    const call = this.#incoming.get(inviteKey);
    if (!call || call.answered) {
      tx.respond(makeResponse(req, 481, "Call/Transaction Does Not Exist", { toTag: newTag() }));
      return;
    }
    tx.respond(makeResponse(req, 200, "OK", { toTag: call.toTag }));
    call.cancelled();
  }

  #onInvite(req: SipRequest, tx: ServerTransaction, flow: Flow): void {
    let from: NameAddr;
    let to: NameAddr;
    try {
      from = parseNameAddr(header(req, "From")!);
      to = parseNameAddr(header(req, "To")!);
      parseSipUri(req.uri);
    } catch {
      tx.respond(makeResponse(req, 400, "Bad Request", { toTag: newTag() }));
      return;
    }
    if (from.params.get("tag") === undefined) {
      tx.respond(makeResponse(req, 400, "Bad Request", { toTag: newTag() }));
      return;
    }
    // An INVITE claiming a configured account must prove it.
    const digest = this.#opts.digest;
    if (digest && digest.hasAccount(from.uri.user)) {
      const who = digest.verify(header(req, "Authorization"), "INVITE");
      if (who === null || who === "stale" || who !== from.uri.user) {
        tx.respond(makeResponse(req, 401, "Unauthorized", { toTag: newTag(), headers: [h("WWW-Authenticate", digest.challenge("SHA-256", who === "stale")), h("WWW-Authenticate", digest.challenge("MD5", who === "stale"))] }));
        return;
      }
    }
    // Session timers (RFC 4028 §8): refuse too short an interval with 422 and our Min-SE.
    const se = header(req, "Session-Expires");
    if (se !== undefined) {
      const parsed = parseSessionExpires(se);
      if (parsed.seconds < MIN_SE) {
        tx.respond(makeResponse(req, 422, "Session Interval Too Small", { toTag: newTag(), headers: [h("Min-SE", String(MIN_SE))] }));
        return;
      }
    }
    const key = transactionKey(req)!;
    const call = new IncomingCall(this, req, tx, flow, from, to);
    this.#incoming.set(key, call);
    call.once("ended", () => setTimeout(() => this.#incoming.delete(key), 64 * T1).unref());
    tx.respond(makeResponse(req, 100, "Trying"));
    this.emit("invite", call);
  }

  #onRegister(req: SipRequest, tx: ServerTransaction, flow: Flow): void {
    const digest = this.#opts.digest;
    if (!digest) {
      tx.respond(makeResponse(req, 403, "Forbidden", { toTag: newTag(), headers: explain(this.#opts.publicHost, 403, "This server accepts no registrations") }));
      return;
    }
    let to: NameAddr;
    try {
      to = parseNameAddr(header(req, "To")!);
    } catch {
      tx.respond(makeResponse(req, 400, "Bad Request", { toTag: newTag() }));
      return;
    }
    const who = digest.verify(header(req, "Authorization"), "REGISTER");
    if (who === null || who === "stale" || who !== to.uri.user) {
      tx.respond(makeResponse(req, 401, "Unauthorized", { toTag: newTag(), headers: [h("WWW-Authenticate", digest.challenge("SHA-256", who === "stale")), h("WWW-Authenticate", digest.challenge("MD5", who === "stale"))] }));
      return;
    }
    const contacts = headerValues(req, "Contact");
    const expiresHeader = Number(header(req, "Expires") ?? "3600");
    let contact: NameAddr | undefined;
    try {
      contact = contacts[0] !== undefined && contacts[0] !== "*" ? parseNameAddr(contacts[0]) : undefined;
    } catch {
      tx.respond(makeResponse(req, 400, "Bad Request", { toTag: newTag() }));
      return;
    }
    const expires = Math.min(3600, Math.max(0, Number(contact?.params.get("expires") ?? expiresHeader) || 0));
    if (!contact || expires === 0) {
      this.#registrations.delete(who);
      tx.respond(makeResponse(req, 200, "OK", { toTag: newTag() }));
      return;
    }
    this.#registrations.set(who, { contact: contact.uri, flow, expires: Date.now() + expires * 1000 });
    tx.respond(makeResponse(req, 200, "OK", { toTag: newTag(), headers: [h("Contact", `<${formatSipUri(contact.uri)}>;expires=${expires}`), h("Expires", String(expires))] }));
  }

  #respondStateless(req: SipRequest, flow: Flow, status: number, reason: string): void {
    try {
      this.transport.send(makeResponse(req, status, reason, { toTag: newTag() }), flow).catch(() => undefined);
    } catch {
      // not even the headers needed for a response: drop it
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const byes = [...this.#dialogs.values()].map((d) => d.bye().catch(() => undefined));
    await Promise.race([Promise.all(byes), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.#closed = true;
    for (const d of this.#dialogs.values()) d.terminate("closed");
    for (const tx of this.#clientTx.values()) tx.cancelTimers();
    for (const tx of this.#serverTx.values()) tx.close();
    this.#clientTx.clear();
    this.#serverTx.clear();
    this.#dialogs.clear();
    this.removeAllListeners();
  }
}

export interface IncomingCallEvents {
  /** The caller gave up (CANCEL) before we answered. */
  cancelled: [];
  ended: [];
}

/** An INVITE waiting for the application's answer. */
export class IncomingCall extends EventEmitter<IncomingCallEvents> {
  readonly request: SipRequest;
  readonly flow: Flow;
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly toTag = newTag();
  readonly #ua: SipUserAgent;
  readonly #tx: ServerTransaction;
  #answered = false;

  constructor(ua: SipUserAgent, request: SipRequest, tx: ServerTransaction, flow: Flow, from: NameAddr, to: NameAddr) {
    super();
    this.#ua = ua;
    this.request = request;
    this.#tx = tx;
    this.flow = flow;
    this.from = from;
    this.to = to;
  }

  get answered(): boolean {
    return this.#answered;
  }

  /** The Request-URI (what the device dialed). */
  get requestUri(): SipUri {
    return parseSipUri(this.request.uri);
  }

  get offer(): string {
    return Buffer.from(this.request.body).toString("utf8");
  }

  /** Whether the signaling arrived over TLS (SDES keys in it were not sent in clear). */
  get secure(): boolean {
    return this.flow.transport === "tls";
  }

  ringing(): void {
    if (!this.#answered) this.#tx.respond(makeResponse(this.request, 180, "Ringing", { toTag: this.toTag, headers: [h("Contact", this.#ua.contact(this.flow.transport))] }));
  }

  /** Refuses the call; `explanation` goes into Warning and Reason headers for the device to show. */
  reject(status: number, reason: string, explanation?: string, extra: SipHeader[] = []): void {
    if (this.#answered) return;
    this.#answered = true;
    const headers = [...(explanation ? explain(this.#ua.publicHost, status, explanation) : []), ...extra];
    this.#tx.respond(makeResponse(this.request, status, reason, { toTag: this.toTag, headers }));
    this.emit("ended");
  }

  /**
   * Answers with 200 OK and `answer` as SDP. Resolves with the confirmed dialog when the ACK
   * arrives (rejects, after a BYE, when none comes in 64*T1).
   */
  accept(answer: string): Promise<SipDialog> {
    if (this.#answered) return Promise.reject(new ConnectorError("SIP_CALL_FAILED", "already answered"));
    this.#answered = true;
    const dialog = SipDialog.fromUasRequest(this.#ua, this.request, this.flow, this.toTag);
    const headers: SipHeader[] = [h("Contact", this.#ua.contact(this.flow.transport)), h("Allow", ALLOW), h("Supported", SUPPORTED), h("Content-Type", "application/sdp")];
    headers.push(...dialog.negotiateSessionTimerAsUas(this.request));
    const ok = makeResponse(this.request, 200, "OK", { toTag: this.toTag, headers, body: Buffer.from(answer, "utf8") });
    this.#tx.respond(ok);
    this.emit("ended");
    return dialog.awaitAck(ok, answer);
  }

  /** @internal CANCEL arrived. */
  cancelled(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#tx.respond(makeResponse(this.request, 487, "Request Terminated", { toTag: this.toTag }));
    this.emit("cancelled");
    this.emit("ended");
  }
}

export interface SipDialogEvents {
  /**
   * The device sent a re-INVITE (or UPDATE) with an SDP offer. The listener must call `respond`
   * with an SDP answer, or with null to refuse it (488).
   */
  offer: [{ sdp: string; respond: (answer: string | null, explanation?: string) => void }];
  terminated: [TerminationReason];
}

/** One SIP dialog (§12): its identifiers, sequence numbers, remote target and session timer. */
export class SipDialog extends EventEmitter<SipDialogEvents> {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly role: "uac" | "uas";
  readonly #ua: SipUserAgent;
  readonly #localUri: string;
  readonly #remoteUri: string;
  #remoteTarget: SipUri;
  #flow: Flow;
  #localSeq: number;
  #remoteSeq: number | undefined;
  #state: "confirming" | "confirmed" | "terminated" = "confirming";
  #ackWait: { ok: SipResponse; resolve: (d: SipDialog) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout>; retransmit: ReturnType<typeof setTimeout> | undefined } | undefined;
  #lastAck: SipRequest | undefined;
  #localSdp = "";
  #sessionTimer: { seconds: number; weRefresh: boolean; timer: ReturnType<typeof setTimeout> | undefined } | undefined;

  private constructor(ua: SipUserAgent, init: { callId: string; localTag: string; remoteTag: string; role: "uac" | "uas"; localUri: string; remoteUri: string; remoteTarget: SipUri; flow: Flow; localSeq: number; remoteSeq: number | undefined }) {
    super();
    this.#ua = ua;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.role = init.role;
    this.#localUri = init.localUri;
    this.#remoteUri = init.remoteUri;
    this.#remoteTarget = init.remoteTarget;
    this.#flow = init.flow;
    this.#localSeq = init.localSeq;
    this.#remoteSeq = init.remoteSeq;
    ua.registerDialog(this);
  }

  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  get state(): "confirming" | "confirmed" | "terminated" {
    return this.#state;
  }

  /** The negotiated session interval and who refreshes, if session timers are in use. */
  get sessionTimer(): { seconds: number; refresher: "us" | "them" } | undefined {
    const t = this.#sessionTimer;
    return t ? { seconds: t.seconds, refresher: t.weRefresh ? "us" : "them" } : undefined;
  }

  get flow(): Flow {
    return this.#flow;
  }

  static fromUasRequest(ua: SipUserAgent, req: SipRequest, flow: Flow, localTag: string): SipDialog {
    const from = header(req, "From")!;
    const contact = headerValues(req, "Contact")[0];
    const remoteTarget = contact ? parseNameAddr(contact).uri : parseNameAddr(from).uri;
    return new SipDialog(ua, {
      callId: header(req, "Call-ID")!,
      localTag,
      remoteTag: tagOf(from)!,
      role: "uas",
      localUri: header(req, "To")!.replace(/;\s*tag=[^;]*/i, ""),
      remoteUri: from,
      remoteTarget,
      flow,
      localSeq: Math.floor(Math.random() * 10_000) + 1,
      remoteSeq: parseCSeq(header(req, "CSeq")!).seq,
    });
  }

  static fromUacResponse(ua: SipUserAgent, req: SipRequest, res: SipResponse, flow: Flow, localTag: string, cseq: number): SipDialog {
    const to = header(res, "To")!;
    const contact = headerValues(res, "Contact")[0];
    const remoteTarget = contact ? parseNameAddr(contact).uri : parseSipUri(req.uri);
    const d = new SipDialog(ua, {
      callId: header(req, "Call-ID")!,
      localTag,
      remoteTag: tagOf(to) ?? "",
      role: "uac",
      localUri: header(req, "From")!,
      remoteUri: to,
      remoteTarget,
      flow,
      localSeq: cseq,
      remoteSeq: undefined,
    });
    d.#localSdp = Buffer.from(req.body).toString("utf8");
    d.#state = "confirmed";
    d.#startSessionTimerAsUac(res);
    return d;
  }

  /** @internal UAC: sends (or re-sends, for a retransmitted 2xx) the ACK (§13.2.2.4). */
  ack(res: SipResponse): void {
    if (this.#lastAck && parseCSeq(header(res, "CSeq")!).seq === parseCSeq(header(this.#lastAck, "CSeq")!).seq) {
      this.#ua.transport.send(this.#lastAck, this.#flow).catch(() => undefined);
      return;
    }
    const seq = parseCSeq(header(res, "CSeq")!).seq;
    const ack = makeRequest("ACK", formatSipUri(this.#remoteTarget), [
      this.#ua.via(this.#flow.transport),
      h("From", this.#fromHeader()),
      h("To", this.#toHeader()),
      h("Call-ID", this.callId),
      h("CSeq", `${seq} ACK`),
    ]);
    this.#lastAck = ack;
    this.#ua.transport.send(ack, this.#flow).catch(() => undefined);
  }

  /** @internal UAS: retransmits the 2xx until the ACK (§13.3.1.4). */
  awaitAck(ok: SipResponse, answer: string): Promise<SipDialog> {
    this.#localSdp = answer;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#ackWait = undefined;
        reject(new ConnectorError("SIP_TIMEOUT", "no ACK for the 200 OK"));
        void this.bye().catch(() => undefined);
        this.terminate("no-ack");
      }, 64 * T1);
      timer.unref();
      this.#ackWait = { ok, resolve, reject, timer, retransmit: undefined };
      const retransmit = (interval: number) => {
        const w = this.#ackWait;
        if (!w) return;
        w.retransmit = setTimeout(() => {
          if (this.#ackWait !== w) return;
          this.#ua.transport.send(ok, this.#flow).catch(() => undefined);
          retransmit(Math.min(interval * 2, T2));
        }, interval);
        w.retransmit.unref();
      };
      retransmit(T1);
    });
  }

  /** @internal */
  onAck(req: SipRequest): void {
    const w = this.#ackWait;
    if (!w) return;
    if (parseCSeq(header(req, "CSeq")!).seq !== parseCSeq(header(w.ok, "CSeq")!).seq) return;
    clearTimeout(w.timer);
    if (w.retransmit) clearTimeout(w.retransmit);
    this.#ackWait = undefined;
    if (this.#state === "confirming") {
      this.#state = "confirmed";
      this.#armSessionTimer();
      w.resolve(this);
    }
  }

  /** @internal A request within this dialog. */
  onRequest(req: SipRequest, tx: ServerTransaction): void {
    const seq = parseCSeq(header(req, "CSeq")!).seq;
    if (this.#remoteSeq !== undefined && seq < this.#remoteSeq && req.method !== "ACK") {
      tx.respond(makeResponse(req, 500, "Server Internal Error", { headers: [h("Retry-After", "1")] }));
      return;
    }
    this.#remoteSeq = seq;
    const contact = headerValues(req, "Contact")[0];
    switch (req.method) {
      case "BYE":
        tx.respond(makeResponse(req, 200, "OK"));
        this.terminate("remote-bye");
        return;
      case "OPTIONS":
        tx.respond(makeResponse(req, 200, "OK", { headers: [h("Allow", ALLOW), h("Supported", SUPPORTED)] }));
        return;
      case "INVITE":
      case "UPDATE": {
        if (this.#state === "terminated") {
          tx.respond(makeResponse(req, 481, "Call/Transaction Does Not Exist"));
          return;
        }
        if (contact) {
          try {
            this.#remoteTarget = parseNameAddr(contact).uri;
          } catch {
            // keep the old target
          }
        }
        const sdp = Buffer.from(req.body).toString("utf8");
        const finish = (answer: string | null, explanation?: string) => {
          if (answer === null) {
            tx.respond(makeResponse(req, 488, "Not Acceptable Here", { headers: explanation ? explain(this.#ua.publicHost, 488, explanation) : [] }));
            return;
          }
          this.#localSdp = answer;
          const headers = [h("Contact", this.#ua.contact(this.#flow.transport)), h("Supported", SUPPORTED), h("Content-Type", "application/sdp"), ...this.negotiateSessionTimerAsUas(req)];
          const ok = makeResponse(req, 200, "OK", { headers, body: Buffer.from(answer, "utf8") });
          tx.respond(ok);
          if (req.method === "INVITE") {
            // The re-INVITE's 2xx is retransmitted until its ACK too.
            this.#state = "confirming";
            void this.awaitAck(ok, answer).catch(() => undefined);
          }
          this.#armSessionTimer();
        };
        if (sdp.trim() === "") {
          // An offer-less re-INVITE (or a refresh UPDATE): our current SDP is the offer/answer.
          finish(this.#localSdp);
          return;
        }
        if (this.listenerCount("offer") === 0) {
          finish(null, "renegotiation is not supported");
          return;
        }
        this.emit("offer", { sdp, respond: finish });
        return;
      }
      default:
        tx.respond(makeResponse(req, 405, "Method Not Allowed", { headers: [h("Allow", ALLOW)] }));
    }
  }

  /** Ends the call from our side (BYE). Idempotent. */
  async bye(reason: TerminationReason = "local-bye"): Promise<void> {
    if (this.#state === "terminated") return;
    const req = this.#inDialogRequest("BYE");
    this.terminate(reason);
    try {
      await this.#ua.request(req, this.#flow);
    } catch {
      // The device is gone: the dialog is over anyway.
    }
  }

  /** Sends a re-INVITE with `offer` (or our last SDP, as a session refresh); resolves with the answer. */
  async reinvite(offer = this.#localSdp): Promise<string> {
    if (this.#state === "terminated") throw new ConnectorError("SIP_CLOSED", "dialog");
    const req = this.#inDialogRequest("INVITE", [h("Contact", this.#ua.contact(this.#flow.transport)), h("Supported", SUPPORTED), h("Content-Type", "application/sdp"), ...(this.#sessionTimer ? [h("Session-Expires", `${this.#sessionTimer.seconds};refresher=${this.role === "uac" ? "uac" : "uas"}`)] : [])], offer);
    const res = await this.#ua.request(req, this.#flow);
    if (res.status >= 200 && res.status < 300) {
      this.ack(res);
      this.#localSdp = offer;
      this.#armSessionTimer();
      return Buffer.from(res.body).toString("utf8");
    }
    if (res.status === 481 || res.status === 408) this.terminate("remote-bye");
    throw new ConnectorError("SIP_CALL_FAILED", `re-INVITE: ${res.status} ${res.reason}`);
  }

  #inDialogRequest(method: string, extra: SipHeader[] = [], body = ""): SipRequest {
    this.#localSeq += 1;
    return makeRequest(
      method,
      formatSipUri(this.#remoteTarget),
      [this.#ua.via(this.#flow.transport), h("From", this.#fromHeader()), h("To", this.#toHeader()), h("Call-ID", this.callId), h("CSeq", `${this.#localSeq} ${method}`), ...extra],
      Buffer.from(body, "utf8"),
    );
  }

  #fromHeader(): string {
    return this.role === "uac" ? this.#localUri : `${this.#localUri};tag=${this.localTag}`;
  }

  #toHeader(): string {
    return this.role === "uac" ? this.#remoteUri : this.#remoteUri;
  }

  /**
   * @internal RFC 4028 §9 as UAS: honour the UAC's interval and refresher; if it supports timers
   * but chose no refresher, it refreshes; if it does not support them, we do (with re-INVITEs).
   * Returns the headers for the 2xx.
   */
  negotiateSessionTimerAsUas(req: SipRequest): SipHeader[] {
    const supported = headerValues(req, "Supported").some((x) => x.toLowerCase() === "timer");
    const se = header(req, "Session-Expires");
    let seconds = this.#ua.sessionExpires;
    let refresher: "uac" | "uas";
    if (se !== undefined) {
      const parsed = parseSessionExpires(se);
      seconds = Math.max(MIN_SE, parsed.seconds);
      refresher = parsed.refresher ?? (supported ? "uac" : "uas");
    } else {
      refresher = supported ? "uac" : "uas";
    }
    // In a re-INVITE from the device the roles stay those of the dialog.
    const weRefresh = this.role === "uas" ? refresher === "uas" : refresher === "uac";
    this.#sessionTimer = { seconds, weRefresh, timer: this.#sessionTimer?.timer };
    const headers = [h("Session-Expires", `${seconds};refresher=${refresher}`)];
    if (supported) headers.push(h("Require", "timer"));
    return headers;
  }

  #startSessionTimerAsUac(res: SipResponse): void {
    const se = header(res, "Session-Expires");
    if (se === undefined) {
      // The device does not do session timers: we refresh (RFC 4028 §7.2).
      this.#sessionTimer = { seconds: this.#ua.sessionExpires, weRefresh: true, timer: undefined };
    } else {
      const parsed = parseSessionExpires(se);
      this.#sessionTimer = { seconds: Math.max(MIN_SE, parsed.seconds), weRefresh: parsed.refresher !== "uas", timer: undefined };
    }
    this.#armSessionTimer();
  }

  #armSessionTimer(): void {
    const t = this.#sessionTimer;
    if (!t || this.#state === "terminated") return;
    if (t.timer) clearTimeout(t.timer);
    if (t.weRefresh) {
      t.timer = setTimeout(() => {
        this.reinvite().catch(() => {
          void this.bye();
        });
      }, (t.seconds * 1000) / 2);
    } else {
      // RFC 4028 §10: without a refresh, BYE at Session-Expires minus min(32, SE/3).
      t.timer = setTimeout(() => void this.bye("session-expired"), (t.seconds - Math.min(32, t.seconds / 3)) * 1000);
    }
    t.timer.unref();
  }

  /** @internal Marks the dialog over and tells the application once. */
  terminate(reason: TerminationReason): void {
    if (this.#state === "terminated") return;
    this.#state = "terminated";
    if (this.#sessionTimer?.timer) clearTimeout(this.#sessionTimer.timer);
    if (this.#ackWait) {
      clearTimeout(this.#ackWait.timer);
      if (this.#ackWait.retransmit) clearTimeout(this.#ackWait.retransmit);
      this.#ackWait.reject(new ConnectorError("SIP_CALL_FAILED", `dialog ended: ${reason}`));
      this.#ackWait = undefined;
    }
    this.#ua.forgetDialog(this);
    this.emit("terminated", reason);
  }
}

function ackForNon2xx(invite: SipRequest, r: SipResponse): SipRequest {
  // §17.1.1.3: same Request-URI, top Via, From, Call-ID, CSeq number; To from the response.
  return makeRequest("ACK", invite.uri, [
    invite.headers.find((x) => x.name === "Via")!,
    h("From", header(invite, "From")!),
    h("To", header(r, "To")!),
    h("Call-ID", header(invite, "Call-ID")!),
    h("CSeq", `${parseCSeq(header(invite, "CSeq")!).seq} ACK`),
  ]);
}

export function tagOf(nameAddr: string): string | undefined {
  try {
    return parseNameAddr(nameAddr).params.get("tag") ?? undefined;
  } catch {
    return undefined;
  }
}

function dialogKey(callId: string, localTag: string | undefined, remoteTag: string | undefined): string {
  return `${callId}|${localTag ?? ""}|${remoteTag ?? ""}`;
}

/** The host and port a request's top Via names (for diagnostics). */
export function viaOf(msg: SipMessage): string | undefined {
  try {
    const v = parseVia(header(msg, "Via")!.split(",")[0]!);
    return `${v.host}:${v.port ?? ""}`;
  } catch {
    return undefined;
  }
}
