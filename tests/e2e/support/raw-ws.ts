/**
 * A WebSocket client written byte by byte over TLS, for tests that must send what a well-behaved
 * library never would: half a frame, a frame header promising megabytes, nothing at all.
 */
import { connect, type TLSSocket } from "node:tls";
import { connect as tcpConnect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";

export interface RawWs {
  socket: TLSSocket;
  /** Resolves when the server closes the connection (or it errors). */
  closed: Promise<void>;
  /** Bytes the server sent after the upgrade (close frames, messages). */
  received(): Buffer;
  /** Writes one masked client frame header (FIN, opcode) announcing `length` payload bytes. */
  frameHeader(length: number, opcode?: number): void;
  /** Writes payload bytes (masked with a zero key, so sent as is). */
  payload(bytes: Buffer): void;
  /** A whole masked text frame. */
  text(message: string): void;
}

/** Opens TLS, upgrades to a WebSocket on /ws, and resolves once the 101 arrived. */
export function openRawWs(port: number, ca: string, localAddress?: string): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost", ...(localAddress ? { localAddress } : {}) });
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const closed = new Promise<void>((r) => {
      socket.once("close", () => r());
      socket.once("error", () => r());
    });
    socket.on("error", (e) => {
      if (!upgraded) reject(e);
    });
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (upgraded) return;
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      buf = buf.subarray(end + 4);
      if (!head.startsWith("HTTP/1.1 101")) {
        reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        return;
      }
      upgraded = true;
      const mask = Buffer.alloc(4); // zero mask: payload bytes go out unchanged
      const raw: RawWs = {
        socket,
        closed,
        received: () => buf,
        frameHeader(length, opcode = 0x1) {
          let h: Buffer;
          if (length < 126) h = Buffer.from([0x80 | opcode, 0x80 | length]);
          else if (length < 65536) {
            h = Buffer.alloc(4);
            h[0] = 0x80 | opcode;
            h[1] = 0x80 | 126;
            h.writeUInt16BE(length, 2);
          } else {
            h = Buffer.alloc(10);
            h[0] = 0x80 | opcode;
            h[1] = 0x80 | 127;
            h.writeBigUInt64BE(BigInt(length), 2);
          }
          socket.write(Buffer.concat([h, mask]));
        },
        payload(bytes) {
          socket.write(bytes);
        },
        text(message) {
          const body = Buffer.from(message);
          raw.frameHeader(body.length);
          raw.payload(body);
        },
      };
      resolve(raw);
    });
    socket.once("secureConnect", () => {
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: localhost:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}

/** A plain TCP connection that sends nothing (not even a TLS ClientHello). */
export function openIdleTcp(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
    s.once("error", reject);
  });
}

/** The close code in a close frame the server sent, if any. */
export function closeCode(bytes: Buffer): number | null {
  for (let i = 0; i + 1 < bytes.length; ) {
    const opcode = bytes[i]! & 0x0f;
    let len = bytes[i + 1]! & 0x7f;
    let off = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(off));
      off += 8;
    }
    if (opcode === 0x8 && len >= 2) return bytes.readUInt16BE(off);
    i = off + len;
  }
  return null;
}
