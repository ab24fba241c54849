// One native PeerConnection (node-datachannel / libdatachannel) and the rules for driving it.
//
// libdatachannel quirks, measured with node-datachannel 0.33.4 (libdatachannel 0.24.5), that this
// class exists to contain:
// - Every native callback holds a thread-safe function that keeps the Node process alive. A
//   PeerConnection releases its own only if onStateChange was registered and it reaches
//   "closed"; a Track releases its onClosed callback when it closes, but its onOpen/onMessage
//   callbacks only when track.close() is called on that wrapper, even if libdatachannel already
//   closed the track (as it does when a connection fails). So every track is adopted here:
//   close() is called on it when it reports closed, and on every remaining one (before the
//   PeerConnection) when the connection closes.
// - setLocalDescription("offer") on a PeerConnection with no track aborts the whole process (an
//   uncaught C++ exception). Offers are only made with at least one track (see SubscribeConnection).
// - A remote description whose m-sections are all removed (port 0) is rejected ("no active media").
// - Local descriptions and candidates arrive on separate callback queues, so a candidate can
//   overtake the description it belongs to. Candidates are held back until the description has
//   been handed to signaling.
// - When the relay is the offerer, a remote peer that already has the offer and the relay's
//   candidates runs ICE and sends its DTLS ClientHello before its answer arrives. Applying the
//   answer then connects ICE at once, and libdatachannel starts DTLS before it has committed the
//   answer's fingerprint: "DTLS alert: unknown CA", the connection fails and tears itself down
//   (seen with Chromium about one run in ten). So the subscribe connection holds its candidates
//   until the answer is applied (SubscribeConnection.handleAnswer).
// - When no socket can be bound (every port of the configured range taken, or a bind address
//   that is not local), gathering candidates throws a C++ exception on a native thread, which
//   aborts the whole process. Each connection binds one UDP port (IPv4 and IPv6 share it), so the
//   relay counts its connections against the range's size (PortBudget) and refuses the one that
//   would not fit; startConclave checks the bind address before creating the relay.

import { PeerConnection, type RtcConfig, type Track } from "node-datachannel";
import { RelayError } from "./errors.js";
import { announceCandidate, announceDescription, normalizeCandidate } from "./sdp.js";

export type PcName = "publish" | "subscribe";

/** The options every native connection is created with (see RelayOptions). */
export interface ConnectionOptions {
  readonly listenAddress: string | undefined;
  readonly announcedAddress: string | undefined;
  readonly portRange: { readonly min: number; readonly max: number } | undefined;
  readonly iceServers: readonly string[];
  readonly negotiationTimeoutMs: number;
  /** Present with a port range: the relay-wide count of connections holding one of its ports. */
  readonly portBudget: PortBudget | undefined;
}

/**
 * How many native connections may exist at once with a port range: one UDP port each. Ports of
 * the range that another process holds are not counted; the range must be Conclave's alone.
 */
export class PortBudget {
  readonly min: number;
  readonly max: number;
  private used = 0;

  constructor(range: { readonly min: number; readonly max: number }) {
    this.min = range.min;
    this.max = range.max;
  }

  get inUse(): number {
    return this.used;
  }

  /** Takes a port's worth of the range, or throws RELAY_PORTS_EXHAUSTED. */
  take(): void {
    if (this.used >= this.max - this.min + 1) {
      throw new RelayError("RELAY_PORTS_EXHAUSTED", `${this.used} connections hold UDP ports ${this.min}-${this.max}`);
    }
    this.used++;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }
}

export interface ConnectionHooks {
  readonly localCandidate: (candidate: string, mid: string) => void;
  readonly stateChange: (state: string) => void;
}

export abstract class RelayConnection {
  readonly name: PcName;
  protected readonly options: ConnectionOptions;
  private readonly label: string;
  private readonly hooks: ConnectionHooks;
  private pc: PeerConnection | undefined;
  private holdsPort = false;
  private readonly ownedTracks = new Set<Track>();
  private remoteMid: string | undefined;
  private readonly pendingRemoteCandidates: { candidate: string; mid: string | undefined }[] = [];
  private waiter:
    | { resolve: (sdp: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
    | undefined;
  private localCandidatesHeld = true;
  private readonly heldLocalCandidates: { candidate: string; mid: string }[] = [];
  private releaseTimer: NodeJS.Immediate | undefined;
  private _state = "new";
  private _closed = false;

  constructor(name: PcName, label: string, options: ConnectionOptions, hooks: ConnectionHooks) {
    this.name = name;
    this.label = label;
    this.options = options;
    this.hooks = hooks;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** The native connection state: new, connecting, connected, disconnected, failed, closed. */
  get state(): string {
    return this._state;
  }

  protected get hasPeerConnection(): boolean {
    return this.pc !== undefined;
  }

  protected peerConnection(): PeerConnection {
    if (this._closed) throw new RelayError("RELAY_CLOSED", `${this.name} connection`);
    if (this.pc) return this.pc;
    const config: RtcConfig = { iceServers: [...this.options.iceServers], disableAutoNegotiation: true };
    if (this.options.listenAddress !== undefined) config.bindAddress = this.options.listenAddress;
    if (this.options.portRange !== undefined) {
      config.portRangeBegin = this.options.portRange.min;
      config.portRangeEnd = this.options.portRange.max;
    }
    this.options.portBudget?.take();
    this.holdsPort = this.options.portBudget !== undefined;
    let pc: PeerConnection;
    try {
      pc = new PeerConnection(this.label, config);
    } catch (err) {
      this.releasePort();
      throw err;
    }
    pc.onStateChange((state) => {
      this._state = state;
      if (!this._closed) this.hooks.stateChange(state);
    });
    pc.onLocalDescription((sdp) => {
      const w = this.waiter;
      if (!w) return;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(announceDescription(sdp, this.options.announcedAddress));
    });
    pc.onLocalCandidate((candidate, mid) => {
      if (this._closed) return;
      const c = announceCandidate(normalizeCandidate(candidate), this.options.announcedAddress);
      if (this.localCandidatesHeld) this.heldLocalCandidates.push({ candidate: c, mid });
      else this.hooks.localCandidate(c, mid);
    });
    pc.onTrack((track) => {
      if (this._closed) {
        track.onClosed(() => undefined);
        this.closeTrack(track);
        return;
      }
      this.onRemoteTrack(track);
    });
    this.pc = pc;
    return pc;
  }

  /** Called for tracks the remote side created (publish connection); must adopt them. */
  protected onRemoteTrack(track: Track): void {
    this.adoptTrack(track);
  }

  /** Registers a native track so that close() releases it (see the quirks above). */
  protected adoptTrack(track: Track, onClosed?: () => void): void {
    if (this.ownedTracks.has(track)) return;
    this.ownedTracks.add(track);
    // The only onClosed registration for this wrapper (libdatachannel keeps one callback).
    track.onClosed(() => {
      this.ownedTracks.delete(track);
      // Releases the wrapper's other native callbacks (see the quirks above).
      this.closeTrack(track);
      onClosed?.();
    });
  }

  protected closeTrack(track: Track): void {
    try {
      track.close();
    } catch {
      // already destroyed
    }
  }

  /**
   * Runs `start` (which must call setLocalDescription) and resolves with the local description,
   * with candidates announced. Rejects after the negotiation timeout or when closed.
   */
  protected localDescription(start: (pc: PeerConnection) => void): Promise<string> {
    const pc = this.peerConnection();
    if (this.waiter) return Promise.reject(new RelayError("RELAY_NEGOTIATION_STATE", "already negotiating"));
    this.localCandidatesHeld = true;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new RelayError("RELAY_NEGOTIATION_TIMEOUT", `${this.name} connection`));
      }, this.options.negotiationTimeoutMs);
      this.waiter = { resolve, reject, timer };
      try {
        start(pc);
      } catch (err) {
        clearTimeout(timer);
        this.waiter = undefined;
        reject(new RelayError("RELAY_BAD_SDP", `libdatachannel: ${errorMessage(err)}`));
      }
    });
  }

  /**
   * Releases the local candidates held back since the last description was started. Runs after
   * the current microtasks so that a caller awaiting the description sends it first.
   */
  protected releaseLocalCandidates(): void {
    if (this.releaseTimer || this._closed) return;
    this.releaseTimer = setImmediate(() => {
      this.releaseTimer = undefined;
      if (this._closed) return;
      this.localCandidatesHeld = false;
      for (const c of this.heldLocalCandidates.splice(0)) this.hooks.localCandidate(c.candidate, c.mid);
    });
  }

  /** Applies a remote description; libdatachannel errors become RELAY_BAD_SDP. */
  protected setRemoteDescription(sdp: string, type: "offer" | "answer", firstMid: string | undefined): void {
    const pc = this.peerConnection();
    try {
      pc.setRemoteDescription(sdp, type);
    } catch (err) {
      throw new RelayError("RELAY_BAD_SDP", `libdatachannel: ${errorMessage(err)}`);
    }
    this.remoteMid ??= firstMid;
    for (const c of this.pendingRemoteCandidates.splice(0)) this.applyCandidate(c.candidate, c.mid);
  }

  addIceCandidate(candidate: string, mid: string | undefined): void {
    if (this._closed) throw new RelayError("RELAY_CLOSED", `${this.name} connection`);
    if (typeof candidate !== "string" || (mid !== undefined && typeof mid !== "string")) {
      throw new RelayError("RELAY_BAD_CANDIDATE", "candidate and mid must be strings");
    }
    const c = normalizeCandidate(candidate.trim());
    if (c === "") return; // end-of-candidates
    if (!/^candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ \S+/.test(c)) {
      throw new RelayError("RELAY_BAD_CANDIDATE", "not an ICE candidate line (RFC 8839 §5.1)");
    }
    if (this.remoteMid === undefined) {
      if (this.pendingRemoteCandidates.length >= 64) {
        throw new RelayError("RELAY_BAD_CANDIDATE", "too many candidates before the description");
      }
      this.pendingRemoteCandidates.push({ candidate: c, mid });
      return;
    }
    this.applyCandidate(c, mid);
  }

  private applyCandidate(candidate: string, mid: string | undefined): void {
    try {
      this.peerConnection().addRemoteCandidate(candidate, mid ?? (this.remoteMid as string));
    } catch (err) {
      throw new RelayError("RELAY_BAD_CANDIDATE", `libdatachannel: ${errorMessage(err)}`);
    }
  }

  /** Closes every track, then the PeerConnection. Idempotent. */
  protected closeConnection(): void {
    if (this._closed) return;
    this._closed = true;
    if (this.releaseTimer) clearImmediate(this.releaseTimer);
    this.releaseTimer = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(new RelayError("RELAY_CLOSED", `${this.name} connection`));
    }
    for (const track of [...this.ownedTracks]) this.closeTrack(track);
    this.ownedTracks.clear();
    try {
      this.pc?.close();
    } catch {
      // already closed
    }
    // libdatachannel has released the socket once close() returns (measured: a new connection
    // can bind the same port at once).
    this.releasePort();
    this._state = "closed";
  }

  private releasePort(): void {
    if (!this.holdsPort) return;
    this.holdsPort = false;
    this.options.portBudget?.release();
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
