/**
 * The whole Conclave server: the HTTPS/WSS foundation (server.ts) with meetings, the MLS delivery
 * service and the media relay plugged into its hooks. `conclave serve` runs this.
 */
import { startServer, type Logger, type RunningServer } from "./server.js";
import type { ServerConfig } from "./config.js";
import { MeetingRegistry } from "./meetings/meeting-registry.js";
import type { MediaRoom } from "./meetings/live-meeting.js";
import { MediaRelay, type RelayOptions } from "./relay/index.js";
import { handleSignalingConnection } from "./signaling/connection.js";

export interface ConclaveOptions {
  logger?: Logger;
  /**
   * The media relay: its options (default: a relay bound to all interfaces), or false for a
   * signaling-only server.
   */
  relay?: RelayOptions | false;
  /** Called after everything else has closed (e.g. to close the relay). */
  onClosed?: () => void | Promise<void>;
  commitTimeoutMs?: number;
}

export interface ConclaveServer extends RunningServer {
  readonly registry: MeetingRegistry;
  /** The media relay, or null for a signaling-only server. */
  readonly relay: MediaRelay | null;
}

/** Adapts a relay room to the meeting's media seam. */
export function relayMediaRoom(relay: MediaRelay, meetingId: string): MediaRoom {
  const room = relay.createRoom(meetingId);
  return {
    addPeer(memberId, events) {
      const peer = room.addPeer(memberId);
      peer.on("subscribeOffer", (o) => events.subscribeOffer(o.sdp, [...o.tracks]));
      peer.on("localCandidate", (c) => events.localCandidate(c.pc, c.candidate, c.mid));
      return {
        handlePublishOffer: (sdp, tracks) => peer.handlePublishOffer(sdp, tracks),
        handleSubscribeAnswer: (sdp) => peer.handleSubscribeAnswer(sdp),
        addIceCandidate: (pc, candidate, mid) => peer.addIceCandidate(pc, candidate, mid),
        close: () => room.removePeer(memberId),
      };
    },
    close: () => room.close(),
  };
}

export async function startConclave(config: ServerConfig, opts: ConclaveOptions = {}): Promise<ConclaveServer> {
  let registry: MeetingRegistry | undefined;
  const relay = opts.relay === false ? null : new MediaRelay(opts.relay ?? {});
  const running = await startServer(config, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    routes(_router, context) {
      registry = new MeetingRegistry({
        store: context.meetings,
        ...(relay ? { createMediaRoom: (id: string) => relayMediaRoom(relay, id) } : {}),
        ...(opts.commitTimeoutMs !== undefined ? { commitTimeoutMs: opts.commitTimeoutMs } : {}),
      });
    },
    onSignalingConnection(ws, req) {
      handleSignalingConnection(ws, req, registry!);
    },
    async onClose() {
      registry?.close();
      relay?.close();
      await opts.onClosed?.();
    },
  }).catch((e: unknown) => {
    relay?.close();
    throw e;
  });
  return { ...running, registry: registry!, relay };
}
