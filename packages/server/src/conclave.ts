/**
 * The whole Conclave server: the HTTPS/WSS foundation (server.ts) with meetings, the MLS delivery
 * service and the media relay plugged into its hooks. `conclave serve` runs this.
 */
import { startServer, type Logger, type RunningServer } from "./server.js";
import type { ServerConfig } from "./config.js";
import { MeetingRegistry } from "./meetings/meeting-registry.js";
import type { MediaRoom } from "./meetings/live-meeting.js";
import { handleSignalingConnection } from "./signaling/connection.js";

export interface ConclaveOptions {
  logger?: Logger;
  /** Creates each meeting's media room; omit for signaling only (the relay is wired by default in serve). */
  createMediaRoom?: (meetingId: string) => MediaRoom;
  /** Called after everything else has closed (e.g. to close the relay). */
  onClosed?: () => void | Promise<void>;
  commitTimeoutMs?: number;
}

export interface ConclaveServer extends RunningServer {
  readonly registry: MeetingRegistry;
}

export async function startConclave(config: ServerConfig, opts: ConclaveOptions = {}): Promise<ConclaveServer> {
  let registry: MeetingRegistry | undefined;
  const running = await startServer(config, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    routes(_router, context) {
      registry = new MeetingRegistry({
        store: context.meetings,
        ...(opts.createMediaRoom ? { createMediaRoom: opts.createMediaRoom } : {}),
        ...(opts.commitTimeoutMs !== undefined ? { commitTimeoutMs: opts.commitTimeoutMs } : {}),
      });
    },
    onSignalingConnection(ws, req) {
      handleSignalingConnection(ws, req, registry!);
    },
    async onClose() {
      registry?.close();
      await opts.onClosed?.();
    },
  });
  return { ...running, registry: registry! };
}
