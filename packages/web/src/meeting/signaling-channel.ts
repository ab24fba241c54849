/**
 * The browser's signaling channel: a WebSocket to wss://<this host>/ws implementing the client
 * SDK's SignalingChannel. It also remembers the last fatal error the server sent, so the page can
 * tell a refused join (wrong passcode, meeting ended: do not retry) from a network blip
 * (reconnect) even if the socket closes before the session has processed that message.
 */
import type { SignalingChannel } from "@conclave/client";

export interface ServerFatal {
  code: string;
  message: string;
}

export class BrowserSignalingChannel implements SignalingChannel {
  readonly #ws: WebSocket;
  #fatal: ServerFatal | null = null;
  #meetingEnded = false;
  #closeInfo: { code: number; reason: string } | null = null;
  readonly #messageHandlers: ((text: string) => void)[] = [];
  readonly #closeHandlers: ((code: number, reason: string) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return; // the protocol is text only
      this.#peek(event.data);
      for (const h of this.#messageHandlers) h(event.data);
    };
    ws.onclose = (event: CloseEvent) => {
      this.#closeInfo = { code: event.code, reason: event.reason };
      for (const h of this.#closeHandlers) h(event.code, event.reason);
    };
  }

  /** Opens the socket; rejects if it cannot be opened (server unreachable, TLS refused). */
  static connect(url = defaultSignalingUrl(), timeoutMs = 10_000): Promise<BrowserSignalingChannel> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(e instanceof Error ? e : new Error("cannot open the signaling connection"));
        return;
      }
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error("the server did not answer in time"));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(new BrowserSignalingChannel(ws));
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error("the server could not be reached"));
      };
    });
  }

  /** The last fatal error the server sent on this connection, if any. */
  get fatalError(): ServerFatal | null {
    return this.#fatal;
  }

  /** The server said the meeting ended (a host ended it, or the server is shutting down). */
  get meetingEnded(): boolean {
    return this.#meetingEnded;
  }

  get closeInfo(): { code: number; reason: string } | null {
    return this.#closeInfo;
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
  }

  close(code?: number, reason?: string): void {
    if (this.#ws.readyState === WebSocket.CLOSED || this.#ws.readyState === WebSocket.CLOSING) return;
    // Browsers only allow 1000 and 3000-4999 from scripts.
    const c = code === 1000 || (code !== undefined && code >= 3000 && code <= 4999) ? code : 1000;
    this.#ws.close(c, reason?.slice(0, 120));
  }

  onMessage(handler: (text: string) => void): void {
    this.#messageHandlers.push(handler);
  }

  onClose(handler: (code: number, reason: string) => void): void {
    this.#closeHandlers.push(handler);
  }

  /** Notes fatal errors and the end of the meeting without parsing anything else. */
  #peek(text: string): void {
    if (!text.includes('"error"') && !text.includes('"meetingEnded"')) return;
    try {
      const msg = JSON.parse(text) as { type?: unknown; code?: unknown; message?: unknown; fatal?: unknown };
      if (msg.type === "error" && msg.fatal === true && typeof msg.code === "string") {
        this.#fatal = { code: msg.code, message: typeof msg.message === "string" ? msg.message : "" };
      } else if (msg.type === "meetingEnded") {
        // The host ended it, or the server is shutting down: the caller checks which.
        this.#meetingEnded = true;
      }
    } catch {
      // the session reports malformed messages itself
    }
  }
}

export function defaultSignalingUrl(): string {
  return `wss://${location.host}/ws`;
}
