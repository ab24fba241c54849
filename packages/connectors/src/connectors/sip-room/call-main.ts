/**
 * The room-system call connector: one process per SIP call, started by the SIP gateway.
 *
 * It joins the meeting as a full MLS member with a connector credential (kind `sip`, the device's
 * display name, the far leg the gateway negotiated), decrypts the others' SFrame media, and
 * publishes the device's media SFrame-encrypted under its own sender key — the same Node
 * participant as `conclave bot`, with the device as its camera and microphone. It holds the
 * meeting's media keys and the call's SRTP keys; the server never does.
 */
import { NodeParticipant } from "@conclave/client/node";
import { childChannel, gatewayToCallSchema, type CallToGateway, type GatewayToCall, type MediaConfigTransfer, type StreamTransfer } from "../../framework/ipc.js";
import { SrtpKeyMaterial } from "../../media/sdes.js";
import { CallMedia } from "./call-media.js";
import type { DtlsIdentity } from "../../media/dtls.js";
import type { NegotiatedStream } from "./negotiate.js";

let media: CallMedia | undefined;
let participant: NodeParticipant | undefined;
let ended = false;

const channel = childChannel<GatewayToCall, CallToGateway>(gatewayToCallSchema, (m) => {
  void handle(m).catch((e: unknown) => end("CONNECTOR_PROCESS_FAILED", e instanceof Error ? e.message : "failed"));
});

function toStream<C extends string>(s: StreamTransfer): NegotiatedStream<C> {
  return {
    ...s,
    codec: s.codec as C,
    srtp: s.srtp ? { local: SrtpKeyMaterial.fromTransfer(s.srtp.local), remote: SrtpKeyMaterial.fromTransfer(s.srtp.remote), tag: s.srtp.tag } : undefined,
  } as NegotiatedStream<C>;
}

function configure(m: MediaConfigTransfer): void {
  media?.configure(toStream(m.audio), m.video ? toStream(m.video) : undefined, m.dtlsIdentity as DtlsIdentity | undefined);
}

async function handle(m: GatewayToCall): Promise<void> {
  switch (m.type) {
    case "prepare": {
      media = await CallMedia.open({ address: m.address, video: m.video, ...(m.portRange ? { portRange: m.portRange } : {}) });
      channel.send({ type: "ports", audio: media.ports.audio, ...(media.ports.video !== undefined ? { video: media.ports.video } : {}) });
      return;
    }
    case "join": {
      if (!media) throw new Error("join before prepare");
      configure(m.media);
      const p = new NodeParticipant({
        link: { signalingUrl: m.signalingUrl, meetingId: m.meetingId },
        displayName: m.displayName,
        kind: { kind: "connector", connector: "sip", farLeg: m.farLeg },
        connectorTicket: m.ticket,
        externalMedia: { audio: true, video: m.media.video !== undefined },
        ...(m.ca ? { ca: m.ca } : {}),
      });
      participant = p;
      let inGroup = false;
      p.on("waiting", () => channel.send({ type: "waiting" }));
      p.on("epoch", (e) => {
        if (!inGroup) {
          inGroup = true;
          channel.send({ type: "inGroup", memberId: p.memberId, securityCode: e.securityCode });
        }
      });
      p.on("error", (e) => {
        if (e.fatal) end(e.code, e.message);
      });
      p.on("closed", ({ reason }) => end("DISCONNECTED", reason || "the meeting connection closed"));
      media.onFatal = (code, detail) => end(code, detail);
      media.start(p);
      await p.join();
      return;
    }
    case "reconfigure":
      configure(m.media);
      return;
    case "hangup":
    case "shutdown":
      end("HANGUP", "the call ended", false);
      return;
    default: {
      const never: never = m;
      throw new Error(`unhandled ${(never as { type: string }).type}`);
    }
  }
}

/** Leaves the meeting (the others rekey without us), closes the media, tells the gateway, exits. */
function end(code: string, detail: string, tell = true): void {
  if (ended) return;
  ended = true;
  if (tell) channel.send({ type: "ended", code, detail: detail.slice(0, 300) });
  try {
    participant?.leave();
  } catch {
    // already gone
  }
  media?.close();
  // Let the leave message and the last IPC message go out.
  setTimeout(() => process.exit(0), 300).unref();
}

process.on("SIGTERM", () => end("HANGUP", "stopped", false));
process.on("uncaughtException", (e) => {
  process.stderr.write(`sip call connector: ${e.name}: ${e.message}\n`);
  end("CONNECTOR_PROCESS_FAILED", "internal error");
});
