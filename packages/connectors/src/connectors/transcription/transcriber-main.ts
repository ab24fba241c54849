/**
 * The live transcription connector: one process per meeting being transcribed, started by the
 * server's transcription service (packages/server/src/connectors/transcription-service.ts).
 *
 * It joins the meeting as a visible MLS member of connector kind `transcription` (everyone's
 * people list and shield panel show it; an e2ee group refuses it), receives every member's audio
 * like any participant, decrypts the SFrame layer, decodes each speaker's Opus to 48 kHz PCM,
 * resamples it to 16 kHz mono and feeds it to that speaker's engine process (engine.ts: the
 * built-in pocketsphinx adapter, or the organisation's own). Each utterance an engine reports is
 * sent to the group as a `caption` MLS application message naming the speaker: the server relays
 * it without being able to read it. Nothing is written to disk; the server's process is told
 * counts, never text.
 */
import { Decoder as OpusDecoder } from "@evan/opus";
import { NodeParticipant } from "@conclave/client/node";
import { MAX_CAPTION_MS } from "@conclave/protocol";
import { childChannel } from "../../framework/ipc.js";
import { decodeOpus } from "../../media/audio-codec.js";
import { Resampler } from "../../media/resample.js";
import { captionText, EngineProcess, ENGINE_SAMPLE_RATE, type Utterance } from "./engine.js";
import { serverToTranscriberSchema, type ServerToTranscriber, type TranscriberToServer } from "./messages.js";

/** How often silence is written for speakers who send nothing (so engines end their utterances). */
const TICK_MS = 100;
/** Audio late by more than this is taken as a pause and filled with silence. */
const LATE_MS = 300;
/** An engine that fails this often for one speaker is not started again for them. */
const MAX_ENGINE_STARTS = 4;
const STOP_FLUSH_MS = 10_000;
const PROGRESS_MS = 2000;

interface Speaker {
  memberId: string;
  engine: EngineProcess | null;
  decoder: InstanceType<typeof OpusDecoder>;
  resampler: Resampler;
  /** When this engine's stream began, in ms since the transcription started. */
  offsetMs: number;
  /** performance.now() at the stream's first sample. */
  streamStart: number;
  /** Samples written to the engine since streamStart. */
  written: number;
  seq: number;
  starts: number;
}

let participant: NodeParticipant | undefined;
let engineArgv: string[] = [];
let t0 = 0;
let stopping: Promise<void> | undefined;
let captions = 0;
let engineFailures = 0;
let droppedBytes = 0;
const speakers = new Map<string, Speaker>();
let tick: ReturnType<typeof setInterval> | undefined;
let progress: ReturnType<typeof setInterval> | undefined;

const channel = childChannel<ServerToTranscriber, TranscriberToServer>(serverToTranscriberSchema, (m) => {
  void handle(m).catch((e: unknown) => fail("CONNECTOR_PROCESS_FAILED", e instanceof Error ? e.message : "failed"));
});

async function handle(m: ServerToTranscriber): Promise<void> {
  switch (m.type) {
    case "transcribe": {
      if (participant) return;
      engineArgv = m.engine;
      const p = new NodeParticipant({
        link: { signalingUrl: m.signalingUrl, meetingId: m.meetingId },
        displayName: m.displayName,
        kind: { kind: "connector", connector: "transcription" },
        connectorTicket: m.ticket,
        // Receive only: the transcriber publishes nothing but captions.
        externalMedia: { audio: false, video: false },
        ...(m.ca ? { ca: m.ca } : {}),
      });
      participant = p;
      let inGroup = false;
      p.on("epoch", (e) => {
        if (!inGroup) {
          inGroup = true;
          t0 = performance.now();
          channel.send({ type: "inGroup", memberId: p.memberId });
        }
        // A speaker who left: its engine flushes and stops.
        const present = new Set(e.members.map((x) => x.identity.memberId));
        for (const [id, s] of speakers) {
          if (!present.has(id)) {
            s.engine?.end();
            speakers.delete(id);
          }
        }
      });
      p.on("frame", (f) => {
        if (f.kind === "audio") onAudio(f.ownerId, f.frame);
      });
      p.on("error", (e) => {
        if (e.fatal) fail(e.code, e.message);
      });
      p.on("closed", () => void stop());
      tick = setInterval(fillSilence, TICK_MS);
      progress = setInterval(report, PROGRESS_MS);
      await p.join();
      return;
    }
    case "stop":
    case "shutdown":
      await stop();
      return;
    default: {
      const never: never = m;
      throw new Error(`unhandled ${(never as { type: string }).type}`);
    }
  }
}

function report(): void {
  channel.send({ type: "progress", captions, speakers: speakers.size, engineFailures, droppedAudioMs: Math.round(droppedBytes / (ENGINE_SAMPLE_RATE * 2) * 1000) });
}

function onAudio(ownerId: string, frame: Uint8Array): void {
  if (stopping || !participant) return;
  let s = speakers.get(ownerId);
  if (!s) {
    s = {
      memberId: ownerId,
      engine: null,
      decoder: new OpusDecoder({ channels: 1, sample_rate: 48000 }),
      resampler: new Resampler(48000, ENGINE_SAMPLE_RATE),
      offsetMs: 0,
      streamStart: 0,
      written: 0,
      seq: 0,
      starts: 0,
    };
    speakers.set(ownerId, s);
  }
  if (!s.engine && !startEngine(s)) return;
  let pcm48: Int16Array;
  try {
    pcm48 = decodeOpus(s.decoder, frame);
  } catch {
    return; // a corrupt packet (from a hostile or broken sender): skip it
  }
  const pcm16 = s.resampler.process(pcm48);
  writePcm(s, pcm16);
}

function startEngine(s: Speaker): boolean {
  if (s.starts >= MAX_ENGINE_STARTS) return false;
  s.starts++;
  const now = performance.now();
  s.offsetMs = Math.max(0, Math.round(now - t0));
  s.streamStart = now;
  s.written = 0;
  let engine: EngineProcess;
  try {
    engine = new EngineProcess(engineArgv);
  } catch (e) {
    engineFailed(s, e instanceof Error ? e.message : "could not start");
    return false;
  }
  s.engine = engine;
  engine.on("utterance", (u) => void sendCaption(s, u));
  engine.on("exit", ({ code, signal, expected, stderr }) => {
    droppedBytes += engine.dropped;
    if (s.engine === engine) s.engine = null;
    if (!expected || (code !== 0 && code !== null)) engineFailed(s, `exit ${code ?? signal ?? "?"}: ${stderr.trim().split("\n").slice(-2).join(" | ")}`);
  });
  return true;
}

function engineFailed(s: Speaker, detail: string): void {
  engineFailures++;
  channel.send({ type: "engineFailed", detail: `speaker ${s.memberId.slice(0, 8)}: ${detail}`.slice(0, 300) });
}

function writePcm(s: Speaker, pcm: Int16Array): void {
  if (!s.engine) return;
  s.engine.write(pcm);
  s.written += pcm.length;
}

/** Keeps each engine's stream on the meeting's clock: a pause is silence, not nothing. */
function fillSilence(): void {
  const now = performance.now();
  for (const s of speakers.values()) {
    if (!s.engine) continue;
    const due = Math.floor(((now - s.streamStart) * ENGINE_SAMPLE_RATE) / 1000);
    const late = (LATE_MS * ENGINE_SAMPLE_RATE) / 1000;
    if (s.written < due - late) writePcm(s, new Int16Array(due - s.written - (TICK_MS * ENGINE_SAMPLE_RATE) / 1000));
  }
}

async function sendCaption(s: Speaker, u: Utterance): Promise<void> {
  const p = participant;
  if (!p) return;
  const text = captionText(u.text);
  if (text === "" || !/\p{L}|\p{N}/u.test(text)) return;
  if (!p.session.groupMembers.some((m) => m.identity.memberId === s.memberId)) return; // gone meanwhile
  const at = (sec: number) => Math.min(MAX_CAPTION_MS, Math.max(0, Math.round(s.offsetMs + sec * 1000)));
  const start = at(u.start);
  const end = Math.max(start, at(u.end));
  const seq = s.seq;
  if (u.final) s.seq++;
  try {
    await p.session.sendAppMessage({ v: 1, type: "caption", speaker: s.memberId, seq, text, start, end, final: u.final });
    if (u.final) captions++;
  } catch (e) {
    process.stderr.write(`transcription connector: a caption could not be sent (${(e as { code?: string }).code ?? "error"})\n`);
  }
}

function stop(): Promise<void> {
  stopping ??= (async () => {
    if (tick) clearInterval(tick);
    // Every engine flushes its last utterance (its caption goes out) before the connector leaves.
    const running = [...speakers.values()].map((s) => s.engine).filter((e): e is EngineProcess => e !== null);
    await Promise.race([
      Promise.all(
        running.map(
          (e) =>
            new Promise<void>((res) => {
              if (!e.running) return res();
              e.on("exit", () => res());
              e.end();
            }),
        ),
      ),
      new Promise((r) => setTimeout(r, STOP_FLUSH_MS).unref()),
    ]);
    // Captions of the last utterances are sent from the engines' exit path: let them go out.
    await new Promise((r) => setTimeout(r, 300));
    for (const e of running) e.kill(0);
    if (progress) clearInterval(progress);
    report();
    try {
      participant?.leave();
    } catch {
      // already gone
    }
    channel.send({ type: "stopped", captions });
    exitSoon();
  })();
  return stopping;
}

function fail(code: string, detail: string): void {
  channel.send({ type: "failed", code: code.slice(0, 64), detail: detail.slice(0, 300) });
  if (!stopping) void stop();
}

function exitSoon(code = 0): void {
  setTimeout(() => process.exit(code), 200).unref();
}

process.on("SIGTERM", () => void stop());
process.on("uncaughtException", (e) => {
  process.stderr.write(`transcription connector: ${e.name}: ${e.message}\n`);
  fail("CONNECTOR_PROCESS_FAILED", "internal error");
});
