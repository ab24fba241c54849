/**
 * The phone call connector: one process per dial-in call, started by the SIP gateway when a
 * configured trunk's INVITE is answered.
 *
 * It runs the IVR (prompts, DTMF, meeting ID and passcode checked by the server), then joins the
 * meeting as a full MLS member with a connector credential of kind `pstn`, the display name
 * "Phone ••• 1234" and the trunk leg's protection, decrypts the others' SFrame audio into the
 * phone's mix, and publishes the phone's voice SFrame-encrypted under its own sender key. It
 * holds the meeting's media keys and the call's SRTP keys; the server never does.
 */
import { NodeParticipant } from "@conclave/client/node";
import { childChannel } from "../framework/ipc.js";
import { SrtpKeyMaterial } from "../media/sdes.js";
import type { AudioCodecName, NegotiatedStream } from "../connectors/sip-room/negotiate.js";
import type { StreamTransfer } from "../framework/ipc.js";
import { gatewayToPhoneSchema, type GatewayToPhone, type PhoneToGateway } from "./ipc.js";
import { PhoneMedia } from "./phone-media.js";
import { PromptSet } from "./prompts.js";
import { DialInIvr, SILENCE_MS, type IvrAction } from "./ivr.js";
import type { DtmfDigit } from "./dtmf.js";

/** The whole IVR (entering ID and passcode) must be done within this time. */
const IVR_TIMEOUT_MS = 180_000;
/** The waiting-room prompt repeats this often while the caller waits for a host. */
const WAITING_REPEAT_MS = 15_000;

let media: PhoneMedia | undefined;
let participant: NodeParticipant | undefined;
let ivr: DialInIvr | undefined;
let start: Extract<GatewayToPhone, { type: "start" }> | undefined;
let ended = false;
let joinedMeeting: string | undefined;
let lastKey: DtmfDigit | undefined;
let nextRequest = 1;
let ivrTimer: ReturnType<typeof setTimeout> | undefined;
/** Repeats the prompt when the caller types nothing for SILENCE_MS after it ends. */
let silenceTimer: ReturnType<typeof setTimeout> | undefined;

function armSilence(): void {
  clearTimeout(silenceTimer);
  if (ended || !ivr || (ivr.state !== "meetingId" && ivr.state !== "passcode")) return;
  silenceTimer = setTimeout(() => ivr?.silence(), SILENCE_MS);
}
let waitingTimer: ReturnType<typeof setInterval> | undefined;

const channel = childChannel<GatewayToPhone, PhoneToGateway>(gatewayToPhoneSchema, (m) => {
  void handle(m).catch((e: unknown) => end("CONNECTOR_PROCESS_FAILED", e instanceof Error ? e.message : "failed"));
});

function toStream(s: StreamTransfer): NegotiatedStream<AudioCodecName> {
  return {
    ...s,
    codec: s.codec as AudioCodecName,
    srtp: s.srtp ? { local: SrtpKeyMaterial.fromTransfer(s.srtp.local), remote: SrtpKeyMaterial.fromTransfer(s.srtp.remote), tag: s.srtp.tag, ...(s.srtp.profile ? { profile: s.srtp.profile } : {}) } : undefined,
  } as NegotiatedStream<AudioCodecName>;
}

async function handle(m: GatewayToPhone): Promise<void> {
  switch (m.type) {
    case "prepare":
      media = await PhoneMedia.open(m.address, onDigit, m.portRange);
      channel.send({ type: "ports", audio: media.port });
      return;
    case "start": {
      if (!media) throw new Error("start before prepare");
      start = m;
      media.configure(toStream(m.audio));
      media.onPrompt = (prompt, phase) => {
        channel.send({ type: "prompt", prompt, phase });
        // The silence timer runs from the end of a prompt; a new prompt stops it.
        if (phase === "end") armSilence();
        else clearTimeout(silenceTimer);
      };
      const prompts = { "8000": await PromptSet.load(m.promptsDir, 8000), "16000": await PromptSet.load(m.promptsDir, 16000) };
      media.start(prompts);
      ivr = new DialInIvr(onIvr);
      ivrTimer = setTimeout(() => {
        if (ivr?.state !== "done") onIvr({ type: "hangup", prompt: "tooManyAttempts", code: "IVR_TIMEOUT" });
      }, IVR_TIMEOUT_MS);
      ivr.start();
      return;
    }
    case "reconfigure":
      media?.configure(toStream(m.audio));
      return;
    case "dtmf":
      onDigit(m.digit);
      return;
    case "lookedUp":
      ivr?.lookupResult(m.result);
      return;
    case "authorized":
      ivr?.authorizeResult(m.result);
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

function onDigit(d: DtmfDigit): void {
  if (ended) return;
  if (ivr && ivr.state !== "done") {
    // Typing interrupts the prompt (barge-in) and restarts the silence timer.
    media?.stopPrompt();
    ivr.digit(d);
    armSilence();
    return;
  }
  if (!participant) return;
  // In the meeting: *6 toggles mute (after a host's mute too: only people unmute, and they may).
  if (lastKey === "*" && d === "6") {
    setMuted(!media!.muted);
    media!.play(media!.muted ? "muted" : "unmuted");
    lastKey = undefined;
    return;
  }
  lastKey = d;
}

/**
 * Mutes or unmutes the caller: the connector stops (or resumes) forwarding its voice, and every
 * member learns the new state from the participant's end-to-end encrypted announcement.
 */
function setMuted(muted: boolean): void {
  if (!media) return;
  media.muted = muted;
  participant?.setMicOn(!muted);
}

function onIvr(a: IvrAction): void {
  if (ended || !media) return;
  switch (a.type) {
    case "play":
      media.play(a.prompt);
      return;
    case "lookup":
      clearTimeout(silenceTimer);
      channel.send({ type: "lookup", requestId: nextRequest++, meetingId: a.meetingId });
      return;
    case "authorize":
      clearTimeout(silenceTimer);
      channel.send({ type: "authorize", requestId: nextRequest++, meetingId: a.meetingId, ...(a.passcode !== undefined ? { passcode: a.passcode } : {}) });
      return;
    case "hangup":
      clearTimeout(ivrTimer);
      clearTimeout(silenceTimer);
      // The caller hears why, then the call ends.
      media.play(a.prompt, () => end(a.code, `dial-in refused (${a.code})`));
      return;
    case "join":
      clearTimeout(ivrTimer);
      clearTimeout(silenceTimer);
      void join(a.meetingId, a.ticket).catch((e: unknown) => end("CONNECTOR_PROCESS_FAILED", (e as Error).message));
      return;
    default: {
      const never: never = a;
      throw new Error(`unhandled ${(never as { type: string }).type}`);
    }
  }
}

async function join(meetingId: string, ticket: string): Promise<void> {
  const s = start!;
  const p = new NodeParticipant({
    link: { signalingUrl: s.signalingUrl, meetingId },
    displayName: s.displayName,
    kind: { kind: "connector", connector: "pstn", farLeg: s.farLeg },
    connectorTicket: ticket,
    externalMedia: { audio: true, video: false },
    ...(s.ca ? { ca: s.ca } : {}),
  });
  participant = p;
  joinedMeeting = meetingId;
  let inGroup = false;
  p.on("waiting", () => {
    channel.send({ type: "waiting", meetingId });
    media?.play("waiting");
    waitingTimer ??= setInterval(() => {
      if (!inGroup && !media?.playing) media?.play("waiting");
    }, WAITING_REPEAT_MS);
  });
  p.on("epoch", (e) => {
    if (!inGroup) {
      inGroup = true;
      clearInterval(waitingTimer);
      media?.attach(p);
      media?.play("joined");
      channel.send({ type: "inGroup", meetingId, memberId: p.memberId, securityCode: e.securityCode });
    }
  });
  // A host's mute (the participant has checked it comes from a host or co-host, and announced
  // the mute to everyone): the caller's voice stops here and the caller hears why and how to
  // unmute. A host's "please unmute" only plays a prompt: the caller decides, with *6.
  p.on("hostRequest", ({ action }) => {
    if (!media) return;
    if (action === "mute") {
      if (media.muted) return;
      setMuted(true);
      media.play("hostMuted");
    } else if (media.muted) {
      media.play("askUnmute");
    }
  });
  // The last words before the call ends, said once. A host's removal arrives as an error and as
  // the close reason (the server closes with "REMOVED_BY_HOST"), in either order.
  let goodbye = false;
  const removed = (): void => {
    if (goodbye || ended) return;
    if (!media) return end("REMOVED_BY_HOST", "removed by a host");
    goodbye = true;
    media.play("removed", () => end("REMOVED_BY_HOST", "removed by a host"));
  };
  p.on("error", (e) => {
    if (!e.fatal || goodbye) return;
    if (e.code === "REMOVED_BY_HOST") return removed();
    end(e.code, e.message);
  });
  p.on("closed", ({ reason }) => {
    if (goodbye) return;
    if (reason === "REMOVED_BY_HOST") return removed();
    // The meeting ended or the connection is gone for good: say so, then hang up.
    if (ended || !media) return end("DISCONNECTED", reason || "the meeting connection closed");
    goodbye = true;
    media.play("ended", () => end("DISCONNECTED", reason || "the meeting connection closed"));
  });
  await p.join();
}

/** Leaves the meeting (the others rekey without us), closes the media, tells the gateway, exits. */
function end(code: string, detail: string, tell = true): void {
  if (ended) return;
  ended = true;
  clearTimeout(ivrTimer);
  clearTimeout(silenceTimer);
  clearInterval(waitingTimer);
  if (tell) channel.send({ type: "ended", code, detail: detail.slice(0, 300), ...(joinedMeeting ? { meetingId: joinedMeeting } : {}) });
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
  process.stderr.write(`phone call connector: ${e.name}: ${e.message}\n`);
  end("CONNECTOR_PROCESS_FAILED", "internal error");
});
