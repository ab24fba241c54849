/**
 * The cloud recording connector: one process per recording, started by the server's recording
 * service (packages/server/src/connectors/recording-service.ts).
 *
 * It joins the meeting as a visible MLS member of connector kind `recording` (everyone's people
 * list, recording indicator and shield panel show it; an e2ee group refuses it), receives every
 * member's media like any participant, decrypts the SFrame layer, and writes each member's
 * camera and microphone as received into append-only WebM files encrypted under the recording's
 * data key (live-track.ts). When the host stops it, or the meeting ends, it leaves, closes the
 * live files and writes the finalized files (finalize.ts), then exits.
 *
 * Started with `recover` instead of `record`, it finalizes what a crashed recorder left.
 */
import { rename, writeFile, readFile } from "node:fs/promises";
import { NodeParticipant } from "@conclave/client/node";
import { importDataKey, open as openSealed, seal, type DataKey } from "@conclave/kms";
import { childChannel } from "../../framework/ipc.js";
import { serverToRecorderSchema, type RecorderToServer, type ServerToRecorder } from "./messages.js";
import { LiveTrack, type LiveTrackInfo } from "./live-track.js";
import { finalizeRecording } from "./finalize.js";
import { CaptionLog } from "./captions.js";

/** The sealed list of live track files (who and what each one is). */
export const TRACKS_FILE = "tracks.sealed";
const TRACKS_FIELD = "tracks";
const KEYFRAME_REQUEST_INTERVAL_MS = 1000;

let participant: NodeParticipant | undefined;
let key: DataKey | undefined;
let dir = "";
let stopping: Promise<void> | undefined;
const tracks = new Map<string, Promise<LiveTrack | null>>();
const infos: LiveTrackInfo[] = [];
let t0: number | undefined;
const keyframeAsked = new Map<string, number>();

const channel = childChannel<ServerToRecorder, RecorderToServer>(serverToRecorderSchema, (m) => {
  void handle(m).catch((e: unknown) => fail("CONNECTOR_PROCESS_FAILED", e instanceof Error ? e.message : "failed"));
});

async function handle(m: ServerToRecorder): Promise<void> {
  switch (m.type) {
    case "record": {
      key = importDataKey(m.key);
      dir = m.dir;
      await saveTracks();
      const p = new NodeParticipant({
        link: { signalingUrl: m.signalingUrl, meetingId: m.meetingId },
        displayName: m.displayName,
        kind: { kind: "connector", connector: "recording" },
        connectorTicket: m.ticket,
        // Receive only: the recorder publishes nothing.
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
      });
      p.on("frame", (f) => onFrame(p, f.ownerId, f.kind, f.frame));
      // Live captions (from the transcription member only) are saved with the recording.
      const captionLog = new CaptionLog(m.dir, key);
      p.on("caption", (c) => {
        if (c.final && t0 !== undefined && !stopping) void captionLog.add((performance.now() - t0) / 1000, c.end - c.start, c.speakerName, c.text).catch(() => undefined);
      });
      p.on("error", (e) => {
        if (e.fatal) fail(e.code, e.message);
      });
      // The meeting ended (or we were removed): finalize what we have.
      p.on("closed", () => void stop());
      await p.join();
      return;
    }
    case "recover": {
      key = importDataKey(m.key);
      dir = m.dir;
      const list = await loadTracks(dir, key);
      const r = await finalizeRecording(dir, list, key);
      channel.send({ type: "finalized", durationMs: r.durationMs, tracks: r.tracks, files: r.files, recovered: true });
      exitSoon();
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

function onFrame(p: NodeParticipant, ownerId: string, kind: "audio" | "video", frame: Uint8Array): void {
  if (stopping || !key) return;
  const now = performance.now();
  if (t0 === undefined) {
    t0 = now;
    channel.send({ type: "recording", startedAt: Date.now() });
  }
  const ts = (now - t0) / 1000;
  const id = `${ownerId}/${kind}`;
  let track = tracks.get(id);
  if (!track) {
    const n = infos.length;
    const displayName = p.session.groupMembers.find((m) => m.identity.memberId === ownerId)?.identity.displayName ?? ownerId;
    const info: LiveTrackInfo = { file: `live-${n}-${kind}.webm.clvc`, field: `live.${n}.${kind}`, memberId: ownerId, displayName, kind };
    infos.push(info);
    track = LiveTrack.create(dir, info, key).then(
      async (t) => {
        await saveTracks();
        return t;
      },
      () => null,
    );
    tracks.set(id, track);
  }
  const copy = new Uint8Array(frame);
  void track.then((t) => {
    if (!t || t.add(copy, ts) || kind !== "video") return;
    // Video starts at a key frame: ask the sender for one (at most once a second).
    const last = keyframeAsked.get(ownerId) ?? 0;
    if (Date.now() - last > KEYFRAME_REQUEST_INTERVAL_MS) {
      keyframeAsked.set(ownerId, Date.now());
      p.requestKeyframe(ownerId);
    }
  });
}

/** The list of live files, sealed (member names are personal data) and replaced atomically. */
let saving: Promise<void> = Promise.resolve();
function saveTracks(): Promise<void> {
  // One write at a time (each replaces the whole list), in order.
  saving = saving.then(async () => {
    if (!key) return;
    const tmp = `${dir}/${TRACKS_FILE}.tmp`;
    await writeFile(tmp, seal(key, TRACKS_FIELD, JSON.stringify(infos)), { mode: 0o600 });
    await rename(tmp, `${dir}/${TRACKS_FILE}`);
  });
  return saving;
}

async function loadTracks(d: string, k: DataKey): Promise<LiveTrackInfo[]> {
  const sealed = await readFile(`${d}/${TRACKS_FILE}`);
  const list = JSON.parse(openSealed(k, TRACKS_FIELD, sealed).toString("utf8")) as LiveTrackInfo[];
  // Names come from our own sealed file; still, only plain file names inside the directory.
  return list.filter((t) => /^live-[0-9]+-(audio|video)\.webm\.clvc$/.test(t.file) && (t.kind === "audio" || t.kind === "video"));
}

/**
 * Stops recording, finalizes once and exits. Idempotent: `stopping` is set before any of the work
 * runs, because leaving emits the participant's `closed` event synchronously, whose handler calls
 * stop() again (it once ran a second, concurrent finalize over the same files).
 */
function stop(): Promise<void> {
  stopping ??= Promise.resolve()
    .then(finalizeAndExit)
    .catch((e: unknown) => {
      channel.send({ type: "failed", code: "CONNECTOR_PROCESS_FAILED", detail: (e instanceof Error ? e.message : "finalize failed").slice(0, 300) });
      exitSoon(1);
    });
  return stopping;
}

async function finalizeAndExit(): Promise<void> {
  try {
    participant?.leave();
  } catch {
    // already gone
  }
  const open = (await Promise.all(tracks.values())).filter((t): t is LiveTrack => t !== null);
  await Promise.all(open.map((t) => t.close()));
  if (!key) return exitSoon();
  const r = await finalizeRecording(dir, infos, key);
  channel.send({ type: "finalized", durationMs: r.durationMs, tracks: r.tracks, files: r.files, recovered: false });
  exitSoon();
}

/** Reports a failure, then finalizes what was written (stop() exits when that is done or failed). */
function fail(code: string, detail: string): void {
  channel.send({ type: "failed", code: code.slice(0, 64), detail: detail.slice(0, 300) });
  // Recovering (or not yet started): there is nothing live to finalize.
  if (participant) void stop();
  else exitSoon(1);
}

function exitSoon(code = 0): void {
  key?.destroy();
  // Let the last IPC message go out.
  setTimeout(() => process.exit(code), 200).unref();
}

process.on("SIGTERM", () => void stop());
process.on("uncaughtException", (e) => {
  process.stderr.write(`recording connector: ${e.name}: ${e.message}\n`);
  fail("CONNECTOR_PROCESS_FAILED", "internal error");
});
