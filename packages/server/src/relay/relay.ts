// The media relay: a WebRTC SFU that forwards what it cannot read. It owns rooms; rooms own
// peers; peers own their publish and subscribe connections; publications fan out to
// subscriptions. close() cascades down that tree.

import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import { type ConnectionOptions, PortBudget } from "./connection.js";
import { RelayError } from "./errors.js";
import { RelayRoom } from "./room.js";

export interface RelayOptions {
  /**
   * Local address to bind ICE sockets to (default: all interfaces). Tests use "127.0.0.1". It
   * must be an address of this machine: libdatachannel aborts the process otherwise.
   */
  readonly listenAddress?: string;
  /** Address written into host candidates instead of the local one (NAT, containers). */
  readonly announcedAddress?: string;
  /**
   * UDP port range for ICE (inclusive). Each peer uses up to two ports (publish and subscribe);
   * a connection that would need more ports than the range has fails with RELAY_PORTS_EXHAUSTED.
   */
  readonly portRange?: { readonly min: number; readonly max: number };
  /** STUN/TURN servers as libdatachannel URLs ("stun:host:port", "turn:user:pass@host:port"). */
  readonly iceServers?: readonly string[];
  /** How long to wait for the WebRTC stack to produce a description (default 10 s). */
  readonly negotiationTimeoutMs?: number;
  /**
   * Minimum gap between keyframe requests sent to one publisher; closer ones merge into one sent
   * at the end of the gap (default 500 ms). Keep it above 300 ms: Chromium ignores a keyframe
   * request that comes within 300 ms of the previous one.
   */
  readonly keyframeRequestIntervalMs?: number;
  /** REMB cap sent to video publishers, in bit/s (default 2.5 Mbit/s). */
  readonly maxVideoBitrate?: number;
}

export type MediaRelayEvents = { room: [RelayRoom]; close: [] };

export class MediaRelay extends EventEmitter<MediaRelayEvents> {
  private readonly connectionOptions: ConnectionOptions;
  private readonly keyframeRequestIntervalMs: number;
  private readonly maxVideoBitrate: number;
  private readonly roomMap = new Map<string, RelayRoom>();
  private _closed = false;

  constructor(options: RelayOptions = {}) {
    super();
    const { listenAddress, announcedAddress, portRange } = options;
    if (listenAddress !== undefined && isIP(listenAddress) === 0) {
      throw new RelayError("RELAY_BAD_ARGUMENT", "listenAddress must be an IP address");
    }
    if (announcedAddress !== undefined && (announcedAddress.length === 0 || /\s/.test(announcedAddress))) {
      throw new RelayError("RELAY_BAD_ARGUMENT", "announcedAddress must be an IP address or host name");
    }
    if (
      portRange !== undefined &&
      !(
        Number.isInteger(portRange.min) &&
        Number.isInteger(portRange.max) &&
        portRange.min >= 1024 &&
        portRange.max <= 65535 &&
        portRange.min <= portRange.max
      )
    ) {
      throw new RelayError("RELAY_BAD_ARGUMENT", "portRange must satisfy 1024 <= min <= max <= 65535");
    }
    const positive = (v: number | undefined, name: string, fallback: number): number => {
      if (v === undefined) return fallback;
      if (!Number.isFinite(v) || v <= 0) throw new RelayError("RELAY_BAD_ARGUMENT", `${name} must be a positive number`);
      return v;
    };
    this.connectionOptions = {
      listenAddress,
      announcedAddress,
      portRange: portRange === undefined ? undefined : { min: portRange.min, max: portRange.max },
      iceServers: [...(options.iceServers ?? [])],
      negotiationTimeoutMs: positive(options.negotiationTimeoutMs, "negotiationTimeoutMs", 10_000),
      portBudget: portRange === undefined ? undefined : new PortBudget(portRange),
    };
    this.keyframeRequestIntervalMs = positive(options.keyframeRequestIntervalMs, "keyframeRequestIntervalMs", 500);
    this.maxVideoBitrate = Math.round(positive(options.maxVideoBitrate, "maxVideoBitrate", 2_500_000));
  }

  get closed(): boolean {
    return this._closed;
  }

  get rooms(): ReadonlyMap<string, RelayRoom> {
    return this.roomMap;
  }

  createRoom(roomId: string): RelayRoom {
    if (this._closed) throw new RelayError("RELAY_CLOSED", "relay");
    if (typeof roomId !== "string" || roomId.length === 0 || roomId.length > 256) {
      throw new RelayError("RELAY_BAD_ARGUMENT", "room id must be a non-empty string of at most 256 characters");
    }
    if (this.roomMap.has(roomId)) throw new RelayError("RELAY_DUPLICATE_ROOM", roomId);
    const room = new RelayRoom(roomId, {
      options: this.connectionOptions,
      keyframeRequestIntervalMs: this.keyframeRequestIntervalMs,
      maxVideoBitrate: this.maxVideoBitrate,
    });
    this.roomMap.set(roomId, room);
    room.once("close", () => this.roomMap.delete(roomId));
    this.emit("room", room);
    return room;
  }

  getRoom(roomId: string): RelayRoom | undefined {
    return this.roomMap.get(roomId);
  }

  /** Closes every room, peer and native connection. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const room of [...this.roomMap.values()]) room.close();
    this.roomMap.clear();
    this.emit("close");
    this.removeAllListeners();
  }
}
