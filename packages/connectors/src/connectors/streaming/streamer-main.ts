/**
 * The live streaming connector: one process per stream, started by the server's streaming
 * service (packages/server/src/connectors/streaming-service.ts).
 *
 * It first connects to the destination (ffmpeg publishing black video and silence), so a refused
 * URL fails before anyone's media is touched; then it joins the meeting as a visible MLS member of
 * connector kind `streaming` whose credential declares the far leg (RTMP over TCP, or RTMPS over
 * TLS), so everyone's people list, indicator and shield exceptions show it. It decrypts every
 * member's media like any participant, mixes the audio, picks the active speaker's camera (or the
 * only one), or for the grid layout up to four cameras, and pipes both to ffmpeg, which transcodes
 * to H.264/AAC in FLV. When the ingest drops it restarts ffmpeg with backoff; when the host stops
 * it, or the meeting ends, it leaves and exits.
 */
import { Decoder as OpusDecoder } from "@evan/opus";
import { NodeParticipant } from "@conclave/client/node";
import { importDataKey, openString } from "@conclave/kms";
import { childChannel } from "../../framework/ipc.js";
import { AudioMixer, ActiveSpeaker, GridLayout } from "../../media/mixer.js";
import { decodeOpus, FRAME_SAMPLES_48K } from "../../media/audio-codec.js";
import { serverToStreamerSchema, type ServerToStreamer, type StreamerToServer } from "./messages.js";
import { blackKeyframe, GRID_TILES, RtmpPublisher, type StreamLayout } from "./rtmp-publisher.js";

/** Without progress from ffmpeg by then, the destination is taken as unreachable. */
const CONNECT_TIMEOUT_MS = 20_000;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000, 30_000];
/** A camera silent this long is not a candidate for the picture. */
const VIDEO_STALE_MS = 2000;
/** While no camera feeds the picture, a black key frame this often. */
const PLACEHOLDER_INTERVAL_MS = 200;
const KEYFRAME_REQUEST_INTERVAL_MS = 1000;

let participant: NodeParticipant | undefined;
let publisher: RtmpPublisher | undefined;
let stopping = false;
let everConnected = false;
let attempt = 0;
let url = "";
let streamKey = "";
/** The CA bundle for an rtmps:// ingest; undefined: the system's. */
let ingestCaFile: string | undefined;
let black: Uint8Array | undefined;
const mixer = new AudioMixer();
const speaker = new ActiveSpeaker();
let layout: StreamLayout = "speaker";
let grid: GridLayout | undefined;
const decoders = new Map<string, InstanceType<typeof OpusDecoder>>();
/** memberId -> when its camera last sent a frame. */
const cameras = new Map<string, number>();
/**
 * The stream's video inputs (one for the speaker layout, one per tile for the grid): whose camera
 * each shows, whether ffmpeg's decoder of that input has had a key frame of it yet, and when it
 * last got a real frame or the placeholder.
 */
interface Slot {
  member: string | undefined;
  started: boolean;
  lastReal: number;
  lastPlaceholder: number;
}
let slots: Slot[] = [];
const keyframeAsked = new Map<string, number>();
let ticker: ReturnType<typeof setInterval> | undefined;
let connectTimer: ReturnType<typeof setTimeout> | undefined;

const channel = childChannel<ServerToStreamer, StreamerToServer>(serverToStreamerSchema, (m) => {
  void handle(m).catch((e: unknown) => fail("CONNECTOR_PROCESS_FAILED", e instanceof Error ? redactKey(e.message) : "failed"));
});

function redactKey(s: string): string {
  return streamKey === "" ? s : s.split(streamKey).join("[stream key]");
}

async function handle(m: ServerToStreamer): Promise<void> {
  switch (m.type) {
    case "stream": {
      const key = importDataKey(m.key);
      streamKey = openString(key, "streamKey", Buffer.from(m.sealedStreamKey, "base64"));
      key.destroy();
      url = m.url;
      layout = m.layout;
      grid = layout === "grid" ? new GridLayout(GRID_TILES) : undefined;
      slots = Array.from({ length: grid ? GRID_TILES : 1 }, () => ({ member: undefined, started: false, lastReal: 0, lastPlaceholder: 0 }));
      ingestCaFile = m.ingestCaFile;
      black = await blackKeyframe();
      startPublisher(() => void join(m));
      ticker = setInterval(tick, 20);
      return;
    }
    case "stop":
    case "shutdown":
      stop();
      return;
    default: {
      const never: never = m;
      throw new Error(`unhandled ${(never as { type: string }).type}`);
    }
  }
}

/** Starts ffmpeg; `onFirstConnect` runs once, the first time a destination accepts. */
function startPublisher(onFirstConnect?: () => void): void {
  const n = attempt;
  let connected = false;
  connectTimer = setTimeout(() => publisher?.kill(), CONNECT_TIMEOUT_MS);
  publisher = new RtmpPublisher(url, streamKey, {
    onConnected() {
      connected = true;
      clearTimeout(connectTimer);
      attempt = 0;
      channel.send({ type: "connected", attempt: n });
      // The decoders of the new ffmpeg need key frames.
      for (const slot of slots) slot.started = false;
      if (!everConnected) {
        everConnected = true;
        onFirstConnect?.();
      }
    },
    onExit(lastError) {
      clearTimeout(connectTimer);
      publisher = undefined;
      if (stopping) return;
      const detail = lastError || (connected ? "the ingest closed the connection" : "no answer from the destination");
      if (!everConnected) {
        // The first connection failed: the URL is refused (wrong host, port, application or key).
        fail("STREAM_REFUSED", detail);
        return;
      }
      attempt++;
      const delayMs = BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)]!;
      channel.send({ type: "reconnecting", attempt, delayMs, detail });
      setTimeout(() => {
        if (!stopping) startPublisher();
      }, delayMs).unref();
    },
  }, { caFile: ingestCaFile, layout });
}

async function join(m: Extract<ServerToStreamer, { type: "stream" }>): Promise<void> {
  const tls = m.url.startsWith("rtmps://");
  const p = new NodeParticipant({
    link: { signalingUrl: m.signalingUrl, meetingId: m.meetingId },
    displayName: m.displayName,
    // The far leg, as everyone's shield shows it: RTMP over TCP (unencrypted) or RTMPS (TLS).
    kind: { kind: "connector", connector: "streaming", farLeg: { protocol: tls ? "RTMPS" : "RTMP", signaling: tls ? "tls" : "tcp", media: "none" } },
    connectorTicket: m.ticket,
    // Receive only: the stream publishes nothing into the meeting.
    externalMedia: { audio: false, video: false },
    ...(m.ca ? { ca: m.ca } : {}),
  });
  participant = p;
  let inGroup = false;
  p.on("epoch", () => {
    if (!inGroup) {
      inGroup = true;
      channel.send({ type: "inGroup", memberId: p.memberId });
    }
    // Members who left are no longer mixed or shown.
    const present = new Set(p.session.groupMembers.map((x) => x.identity.memberId));
    for (const id of [...decoders.keys()]) if (!present.has(id)) forget(id);
    for (const id of [...cameras.keys()]) if (!present.has(id)) forget(id);
  });
  p.on("frame", (f) => {
    if (stopping) return;
    if (f.kind === "audio") {
      let dec = decoders.get(f.ownerId);
      if (!dec) decoders.set(f.ownerId, (dec = new OpusDecoder({ channels: 1, sample_rate: 48000 })));
      try {
        mixer.push(f.ownerId, decodeOpus(dec, f.frame));
      } catch {
        // a corrupt packet: skip it
      }
      return;
    }
    if (f.source !== "camera") return;
    const fresh = !cameras.has(f.ownerId);
    cameras.set(f.ownerId, Date.now());
    if (fresh) choose();
    const input = slots.findIndex((x) => x.member === f.ownerId);
    const slot = slots[input];
    if (!slot || !publisher?.connected) return;
    if (!slot.started) {
      if (!f.keyframe) {
        askKeyframe(f.ownerId);
        return;
      }
      slot.started = true;
    }
    slot.lastReal = Date.now();
    publisher.writeVideo(f.frame, input);
  });
  p.on("error", (e) => {
    if (e.fatal) fail(e.code, e.message);
  });
  p.on("closed", () => stop());
  await p.join();
}

function forget(id: string): void {
  decoders.delete(id);
  cameras.delete(id);
  mixer.remove(id);
  for (const slot of slots) {
    if (slot.member !== id) continue;
    slot.member = undefined;
    if (grid) slot.lastReal = 0; // the placeholder at once (see choose)
  }
}

function askKeyframe(id: string): void {
  const last = keyframeAsked.get(id) ?? 0;
  if (Date.now() - last < KEYFRAME_REQUEST_INTERVAL_MS) return;
  keyframeAsked.set(id, Date.now());
  participant?.requestKeyframe(id);
}

/**
 * Picks the cameras on the stream among members whose camera is on: the active speaker, or the
 * grid's tiles. A slot that changes hands waits for a key frame of its new camera.
 */
function choose(): void {
  const now = Date.now();
  const candidates = new Set([...cameras].filter(([, t]) => now - t < VIDEO_STALE_MS).map(([id]) => id));
  const levels = mixer.levels();
  const chosen = grid ? grid.update(levels, candidates, now) : [speaker.update(levels, candidates, now)];
  chosen.forEach((next, i) => {
    const slot = slots[i]!;
    if (next === slot.member) return;
    slot.member = next;
    slot.started = false;
    // ffmpeg's xstack waits for every tile: a tile that changed hands shows the placeholder at
    // once until its new camera's key frame, instead of stalling the whole grid for a second.
    if (grid) slot.lastReal = 0;
    if (next !== undefined) askKeyframe(next);
  });
}

/** Every 20 ms: the audio mix up to now, the camera choice, the placeholder picture of idle inputs. */
function tick(): void {
  const pub = publisher;
  if (!pub || stopping) return;
  // Audio follows the stream's clock (sample count against elapsed time), so A/V stay in step.
  let budget = 10;
  while (pub.samples < pub.elapsed() * 48_000 && budget-- > 0) pub.writeAudio(participant ? mixer.mix() : new Int16Array(FRAME_SAMPLES_48K));
  if (participant) choose();
  const now = Date.now();
  slots.forEach((slot, i) => {
    if (now - slot.lastReal <= 1000 || now - slot.lastPlaceholder < PLACEHOLDER_INTERVAL_MS || !black) return;
    slot.lastPlaceholder = now;
    // The next real frame must again be a key frame (the decoder saw the placeholder in between).
    slot.started = false;
    pub.writeVideo(black, i);
  });
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  if (ticker) clearInterval(ticker);
  clearTimeout(connectTimer);
  try {
    participant?.leave();
  } catch {
    // already gone
  }
  const pub = publisher;
  const done = (): void => {
    channel.send({ type: "stopped" });
    exitSoon();
  };
  if (!pub) return done();
  pub.close();
  const wait = setInterval(() => {
    if (!publisher) {
      clearInterval(wait);
      done();
    }
  }, 50);
  // publisher's exit handler clears `publisher`; keep it until then.
}

function fail(code: string, detail: string): void {
  channel.send({ type: "failed", code: code.slice(0, 64), detail: redactKey(detail).slice(0, 300) });
  if (!stopping) stop();
  else exitSoon(1);
}

function exitSoon(code = 0): void {
  streamKey = "";
  // Let the last IPC message go out.
  setTimeout(() => process.exit(code), 200).unref();
}

process.on("SIGTERM", () => stop());
process.on("uncaughtException", (e) => {
  process.stderr.write(`streaming connector: ${e.name}: ${redactKey(e.message)}\n`);
  fail("CONNECTOR_PROCESS_FAILED", "internal error");
});
