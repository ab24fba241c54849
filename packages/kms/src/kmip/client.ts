/**
 * A small KMIP 1.4 client over mutual TLS (KMIP 1.4 §10: TLS on port 5696, client
 * certificates). npm has no KMIP client, so this one speaks exactly the operations Conclave
 * needs, one request at a time per connection, with strict framing and decoding of whatever
 * the server sends back.
 */
import { connect, type TLSSocket } from "node:tls";
import { isIP } from "node:net";
import { KmsError } from "../errors.js";
import { readResponse, requestMessage, type KmipFailure, type OperationName } from "./messages.js";
import { decodeTtlv, encodeTtlv, ttlvMessageLength, DEFAULT_MAX_TTLV_BYTES, type TtlvItem } from "./ttlv.js";

export interface KmipClientOptions {
  readonly host: string;
  readonly port: number;
  /** PEM: the CA that signed the server's certificate (the server's name must match it). */
  readonly ca: string | Buffer;
  /** PEM: this client's certificate and private key (mutual TLS). */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Default 10 s. */
  readonly requestTimeoutMs?: number;
}

/** A KMIP server's refusal, with its result reason (KMIP 1.4 §9.1.3.2.29). */
export class KmipOperationError extends KmsError {
  readonly failure: KmipFailure;
  constructor(operation: OperationName, failure: KmipFailure) {
    // The server's result message is not echoed: it may quote request fields.
    super("KMS_KMIP_FAILED", `${operation}: result status ${failure.status}, reason 0x${(failure.reason ?? 0).toString(16)}`);
    this.failure = failure;
  }
}

interface Pending {
  readonly operation: OperationName;
  readonly bytes: Buffer;
  readonly resolve: (payload: readonly TtlvItem[]) => void;
  readonly reject: (e: unknown) => void;
}

export class KmipClient {
  readonly #options: KmipClientOptions;
  #socket: TLSSocket | undefined;
  #connecting: Promise<TLSSocket> | undefined;
  readonly #queue: Pending[] = [];
  #busy = false;
  #closed = false;

  constructor(options: KmipClientOptions) {
    this.#options = options;
  }

  get location(): string {
    const host = isIP(this.#options.host) === 6 ? `[${this.#options.host}]` : this.#options.host;
    return `kmip://${host}:${this.#options.port}`;
  }

  /** Send one operation; resolves with the response payload's fields. */
  request(operation: OperationName, payload: TtlvItem[]): Promise<readonly TtlvItem[]> {
    if (this.#closed) return Promise.reject(new KmsError("KMS_CLOSED"));
    const bytes = encodeTtlv(requestMessage(operation, payload));
    return new Promise((resolve, reject) => {
      this.#queue.push({ operation, bytes, resolve, reject });
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        try {
          next.resolve(await this.#roundTrip(next));
        } catch (e) {
          next.reject(e);
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  async #connect(): Promise<TLSSocket> {
    if (this.#socket !== undefined && !this.#socket.destroyed) return this.#socket;
    this.#connecting ??= new Promise<TLSSocket>((resolve, reject) => {
      const o = this.#options;
      const socket = connect({
        host: o.host,
        port: o.port,
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        minVersion: "TLSv1.2",
        ...(isIP(o.host) === 0 ? { servername: o.host } : {}),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KmsError("KMS_UNAVAILABLE", `${this.location}: no TLS connection within ${o.connectTimeoutMs ?? 5000} ms`));
      }, o.connectTimeoutMs ?? 5000);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.on("error", () => {}); // reported through the pending request
        this.#socket = socket;
        resolve(socket);
      });
      socket.once("error", (e) => {
        clearTimeout(timer);
        socket.destroy();
        const code = (e as NodeJS.ErrnoException).code ?? e.message;
        reject(new KmsError("KMS_UNAVAILABLE", `${this.location}: ${code}`, { cause: e }));
      });
    }).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #roundTrip(p: Pending): Promise<readonly TtlvItem[]> {
    const reused = this.#socket !== undefined && !this.#socket.destroyed;
    try {
      return await this.#exchange(p);
    } catch (e) {
      // A server may close an idle connection just as we reuse it: that request never reached
      // it, so it is sent once more on a fresh connection.
      if (reused && e instanceof KmsError && e.code === "KMS_UNAVAILABLE" && /closed before answering/.test(e.message)) {
        return this.#exchange(p);
      }
      throw e;
    }
  }

  async #exchange(p: Pending): Promise<readonly TtlvItem[]> {
    const socket = await this.#connect();
    const timeoutMs = this.#options.requestTimeoutMs ?? 10_000;
    const response = await new Promise<Buffer>((resolve, reject) => {
      let buffered: Buffer = Buffer.alloc(0);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("close", onClose);
      };
      const fail = (e: KmsError): void => {
        cleanup();
        // The framing of this connection can no longer be trusted.
        socket.destroy();
        reject(e);
      };
      const onData = (chunk: Buffer): void => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        let total: number | undefined;
        try {
          total = ttlvMessageLength(buffered, DEFAULT_MAX_TTLV_BYTES);
        } catch (e) {
          fail(e as KmsError);
          return;
        }
        if (total === undefined || buffered.length < total) return;
        if (buffered.length > total) {
          fail(new KmsError("KMS_KMIP_MALFORMED", "the server sent more than one response"));
          return;
        }
        cleanup();
        resolve(buffered);
      };
      const onClose = (): void =>
        fail(new KmsError("KMS_UNAVAILABLE", `${this.location}: the connection ${buffered.length === 0 ? "closed before answering" : "closed mid-answer"}`));
      const timer = setTimeout(() => fail(new KmsError("KMS_UNAVAILABLE", `${this.location}: no answer within ${timeoutMs} ms`)), timeoutMs);
      socket.on("data", onData);
      socket.once("close", onClose);
      socket.write(p.bytes);
    });
    const result = readResponse(decodeTtlv(response), p.operation);
    if (!result.ok) throw new KmipOperationError(p.operation, result.failure);
    return result.payload;
  }

  /** Idempotent; pending requests fail with KMS_CLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#queue.splice(0)) p.reject(new KmsError("KMS_CLOSED"));
    this.#socket?.destroy();
  }
}
