/**
 * SIP transports (RFC 3261 §18): UDP datagrams, and TLS (or TCP) streams framed by
 * Content-Length. One SipTransport owns every socket it opens or accepts; close() ends them all.
 *
 * A message arrives with its Flow (transport, remote address and port, and the connection for
 * streams). Responses go back on the flow the request came on (§18.2.2); in-dialog requests reuse
 * the dialog's flow while it is open (RFC 5923), else a new connection goes to the target.
 * A stream that sends a malformed message is closed (its framing is lost); a malformed datagram
 * is dropped. Nothing from a message is logged.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { EventEmitter } from "node:events";
import { createServer as createTcpServer, connect as tcpConnect, isIP, type Server as TcpServer, type Socket } from "node:net";
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect, createServer as createTlsServer, TLSSocket, type Server as TlsServer } from "node:tls";
import { ConnectorError } from "../errors.js";
import { parseSipMessage, serializeSipMessage, SipStreamParser, type SipMessage } from "./message.js";

export type SipTransportName = "udp" | "tcp" | "tls";

export interface Flow {
  readonly transport: SipTransportName;
  readonly address: string;
  readonly port: number;
  /** The stream connection (tcp, tls); undefined for udp. */
  readonly connection?: Socket | undefined;
}

export interface SipListenOptions {
  /** host:port for SIP over TLS (certificate and key required). */
  tls?: {
    host: string;
    port: number;
    cert: string | Buffer;
    key: string | Buffer;
    /**
     * Mutual TLS (the Microsoft SIP profile: Teams Direct Routing, Skype for Business): peers must
     * present a certificate from these CAs, or the handshake fails.
     */
    clientCa?: string | Buffer;
    /**
     * Mutual TLS for some peers only (phone trunks with `clientCa`): a client certificate is asked
     * for and verified against these CAs, but peers without one still connect; whoever needs it
     * checks `peerCertifiedBy` (room systems keep calling without a certificate).
     */
    optionalClientCa?: string | Buffer;
  };
  /** host:port for SIP over UDP. */
  udp?: { host: string; port: number };
  /** host:port for SIP over TCP. */
  tcp?: { host: string; port: number };
  /** CA certificates trusted when the connector opens TLS to a device (default: the system's). */
  tlsClientCa?: string | Buffer;
  /** Accept any device certificate on outbound TLS (testing only). */
  tlsClientInsecure?: boolean;
  /** Our client certificate on outbound TLS (mutual TLS, the Microsoft SIP profile). */
  tlsClientCert?: { cert: string | Buffer; key: string | Buffer };
}

export interface SipTransportEvents {
  message: [SipMessage, Flow];
  /** A malformed message (dropped datagram, or a stream closed); for counters, never logged raw. */
  malformed: [Flow, ConnectorError];
}

export interface BoundAddress {
  transport: SipTransportName;
  host: string;
  port: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_STREAM_MS = 15 * 60_000;
const MAX_STREAMS = 1024;

export class SipTransport extends EventEmitter<SipTransportEvents> {
  readonly #opts: SipListenOptions;
  #udp: UdpSocket | undefined;
  #tlsServer: TlsServer | undefined;
  #tcpServer: TcpServer | undefined;
  readonly #streams = new Set<Socket>();
  /** Outbound (and inbound) streams by "transport:address:port" of the remote end. */
  readonly #byRemote = new Map<string, Socket>();
  readonly #bound: BoundAddress[] = [];
  #closed = false;

  private constructor(opts: SipListenOptions) {
    super();
    this.#opts = opts;
  }

  static async listen(opts: SipListenOptions): Promise<SipTransport> {
    const t = new SipTransport(opts);
    try {
      await t.#start();
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }

  /** Where each listener is bound (ports resolved when 0 was asked for). */
  get bound(): readonly BoundAddress[] {
    return this.#bound;
  }

  boundFor(transport: SipTransportName): BoundAddress | undefined {
    return this.#bound.find((b) => b.transport === transport);
  }

  async #start(): Promise<void> {
    const o = this.#opts;
    if (o.udp) {
      const sock = createSocket({ type: isIP(o.udp.host) === 6 ? "udp6" : "udp4", reuseAddr: false });
      this.#udp = sock;
      sock.on("message", (data, rinfo) => {
        const flow: Flow = { transport: "udp", address: rinfo.address, port: rinfo.port };
        // RFC 5626 §4.4.1: a CRLF keep-alive over UDP is just dropped.
        if (data.length <= 4 && data.every((b) => b === 13 || b === 10)) return;
        let msg: SipMessage;
        try {
          msg = parseSipMessage(data, { datagram: true });
        } catch (e) {
          this.emit("malformed", flow, asConnectorError(e));
          return;
        }
        this.emit("message", msg, flow);
      });
      sock.on("error", () => undefined);
      await new Promise<void>((resolve, reject) => {
        sock.once("error", reject);
        sock.bind(o.udp!.port, o.udp!.host, () => {
          sock.off("error", reject);
          resolve();
        });
      });
      this.#bound.push({ transport: "udp", host: o.udp.host, port: sock.address().port });
    }
    if (o.tls) {
      const mutual =
        o.tls.clientCa !== undefined
          ? { requestCert: true, rejectUnauthorized: true, ca: o.tls.clientCa }
          : o.tls.optionalClientCa !== undefined
            ? { requestCert: true, rejectUnauthorized: false, ca: o.tls.optionalClientCa }
            : {};
      const server = createTlsServer({ cert: o.tls.cert, key: o.tls.key, minVersion: "TLSv1.2", handshakeTimeout: CONNECT_TIMEOUT_MS, ...mutual });
      this.#tlsServer = server;
      server.on("secureConnection", (socket) => this.#adopt(socket, "tls"));
      server.on("tlsClientError", () => undefined);
      server.on("error", () => undefined);
      this.#bound.push({ transport: "tls", host: o.tls.host, port: await listenOn(server, o.tls.host, o.tls.port) });
    }
    if (o.tcp) {
      const server = createTcpServer((socket) => this.#adopt(socket, "tcp"));
      this.#tcpServer = server;
      server.on("error", () => undefined);
      this.#bound.push({ transport: "tcp", host: o.tcp.host, port: await listenOn(server, o.tcp.host, o.tcp.port) });
    }
  }

  #adopt(socket: Socket, transport: "tcp" | "tls"): void {
    if (this.#closed || this.#streams.size >= MAX_STREAMS) {
      socket.destroy();
      return;
    }
    this.#streams.add(socket);
    const flow: Flow = { transport, address: normaliseAddress(socket.remoteAddress ?? ""), port: socket.remotePort ?? 0, connection: socket };
    const key = `${transport}:${flow.address}:${flow.port}`;
    this.#byRemote.set(key, socket);
    const parser = new SipStreamParser();
    socket.setTimeout(IDLE_STREAM_MS, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      let messages: SipMessage[];
      try {
        messages = parser.push(chunk);
      } catch (e) {
        this.emit("malformed", flow, asConnectorError(e));
        socket.destroy();
        return;
      }
      for (const m of messages) this.emit("message", m, flow);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.#streams.delete(socket);
      if (this.#byRemote.get(key) === socket) this.#byRemote.delete(key);
    });
  }

  /** Sends on a flow: the flow's connection if it is still open, else a datagram or a new connection. */
  async send(msg: SipMessage, flow: Flow): Promise<void> {
    if (this.#closed) throw new ConnectorError("SIP_CLOSED", "transport");
    const bytes = serializeSipMessage(msg);
    if (flow.transport === "udp") {
      const udp = this.#udp;
      if (!udp) throw new ConnectorError("SIP_TRANSPORT_FAILED", "no UDP listener");
      await new Promise<void>((resolve, reject) => udp.send(bytes, flow.port, flow.address, (e) => (e ? reject(new ConnectorError("SIP_TRANSPORT_FAILED", e.message)) : resolve())));
      return;
    }
    let socket = flow.connection && !flow.connection.destroyed && flow.connection.writable ? flow.connection : this.#byRemote.get(`${flow.transport}:${flow.address}:${flow.port}`);
    if (!socket || socket.destroyed) socket = await this.#connect(flow.transport, flow.address, flow.port);
    await new Promise<void>((resolve, reject) => socket!.write(bytes, (e) => (e ? reject(new ConnectorError("SIP_TRANSPORT_FAILED", e.message)) : resolve())));
  }

  /** The open flow to a remote end, if any (to reuse a device's own connection). */
  flowTo(transport: SipTransportName, address: string, port: number): Flow {
    const connection = this.#byRemote.get(`${transport}:${normaliseAddress(address)}:${port}`);
    return { transport, address: normaliseAddress(address), port, connection };
  }

  async #connect(transport: "tcp" | "tls", address: string, port: number): Promise<Socket> {
    const o = this.#opts;
    const socket: Socket = await new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ConnectorError("SIP_TRANSPORT_FAILED", `connecting to ${address}:${port} timed out`));
      }, CONNECT_TIMEOUT_MS);
      const done = (e?: Error) => {
        clearTimeout(timer);
        if (e) reject(new ConnectorError("SIP_TRANSPORT_FAILED", `${transport} to ${address}:${port}: ${e.message}`));
        else resolve(s);
      };
      const s: Socket =
        transport === "tls"
          ? (tlsConnect({
              host: address,
              port,
              minVersion: "TLSv1.2",
              ...(isIP(address) === 0 ? { servername: address } : {}),
              ...(o.tlsClientCa ? { ca: o.tlsClientCa } : {}),
              ...(o.tlsClientCert ? { cert: o.tlsClientCert.cert, key: o.tlsClientCert.key } : {}),
              rejectUnauthorized: o.tlsClientInsecure !== true,
              // A device's certificate names the device, not necessarily the address we dial.
              checkServerIdentity: () => undefined,
            }) as TLSSocket)
          : tcpConnect({ host: address, port });
      s.once(transport === "tls" ? "secureConnect" : "connect", () => done());
      s.once("error", (e) => done(e));
    });
    this.#adopt(socket, transport);
    return socket;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams) s.destroy();
    this.#streams.clear();
    this.#byRemote.clear();
    const closing: Promise<void>[] = [];
    if (this.#udp) {
      const u = this.#udp;
      closing.push(new Promise((r) => u.close(() => r())));
    }
    for (const server of [this.#tlsServer, this.#tcpServer]) {
      if (server?.listening) closing.push(new Promise((r) => server.close(() => r())));
    }
    await Promise.all(closing);
    this.removeAllListeners();
  }
}

function listenOn(server: TcpServer | TlsServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve(typeof addr === "object" && addr !== null ? addr.port : port);
    });
  });
}

function normaliseAddress(a: string): string {
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

function asConnectorError(e: unknown): ConnectorError {
  return e instanceof ConnectorError ? e : new ConnectorError("SIP_BAD_MESSAGE", e instanceof Error ? e.name : "unknown");
}

/**
 * Whether the flow is SIP over TLS whose peer presented a certificate that the TLS handshake
 * verified (against the listener's CAs) AND whose chain runs through one of `cas`: with several
 * trunks, each trunk's CA vouches only for its own trunk.
 */
export function peerCertifiedBy(flow: Flow, cas: readonly X509Certificate[]): boolean {
  const socket = flow.connection;
  if (flow.transport !== "tls" || !(socket instanceof TLSSocket) || !socket.authorized) return false;
  let cert = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert !== undefined && cert.raw !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const x = new X509Certificate(cert.raw);
    if (cas.some((ca) => x.fingerprint256 === ca.fingerprint256 || (x.checkIssued(ca) && x.verify(ca.publicKey)))) return true;
    cert = cert.issuerCertificate;
  }
  return false;
}
