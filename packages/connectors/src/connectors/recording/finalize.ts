/**
 * After the meeting (or after a recorder crashed): the live, append-only track files become
 *
 *   recording.webm  every track (each member's camera and microphone, named after the member),
 *                   packets copied as received (no transcoding), with a seek index (Cues) and a
 *                   duration, so players seek at once;
 *   audio.webm      the audio tracks only.
 *
 * Both are written through the KMS envelope like everything else. The live files of a crashed
 * recorder are read as far as they verify (EncryptedFileReader with allowIncomplete: every
 * complete chunk), which is how a kill -9 loses only the last seconds.
 *
 * The finalized WebM is assembled in memory (mediabunny patches sizes and the seek head at the
 * start of the file, and the KMS stream is append-only), so a recording must fit in the
 * process's memory: the recorder runs with a raised memory limit (docs/operations.md).
 */
import { rename, rm } from "node:fs/promises";
import { ALL_FORMATS, BufferTarget, CustomSource, EncodedAudioPacketSource, EncodedPacketSink, EncodedVideoPacketSource, Input, Output, WebMOutputFormat, type EncodedPacket, type InputTrack } from "mediabunny";
import { EncryptedFileReader, EncryptedFileWriter, type DataKey } from "@conclave/kms";
import type { LiveTrackInfo } from "./live-track.js";
import { CAPTIONS_FINAL_FIELD, finalizeCaptions } from "./captions.js";

export interface FinalizedFile {
  name: "recording.webm" | "audio.webm" | "captions.vtt";
  bytes: number;
}

export interface FinalizeResult {
  durationMs: number;
  tracks: number;
  files: FinalizedFile[];
}

/** The KMS stream field of each finalized file (binds its ciphertext to its name). */
export const FINAL_FIELDS: Record<FinalizedFile["name"], string> = { "recording.webm": "final.recording", "audio.webm": "final.audio", "captions.vtt": CAPTIONS_FINAL_FIELD };

interface OpenTrack {
  info: LiveTrackInfo;
  reader: EncryptedFileReader;
  input: Input;
  track: InputTrack;
}

export async function finalizeRecording(dir: string, tracks: readonly LiveTrackInfo[], key: DataKey): Promise<FinalizeResult> {
  const open: OpenTrack[] = [];
  try {
    for (const info of tracks) {
      const t = await openLiveTrack(dir, info, key);
      if (t) open.push(t);
    }
    const files: FinalizedFile[] = [];
    let durationS = 0;
    for (const [name, subset] of [
      ["recording.webm", open],
      ["audio.webm", open.filter((t) => t.info.kind === "audio")],
    ] as const) {
      const { bytes, end } = await mux(subset);
      durationS = Math.max(durationS, end);
      // Written under a temporary name and renamed into place: a reader (or a second finalize)
      // never sees a missing or half-written finalized file.
      const path = `${dir}/${name}.clvc`;
      const tmp = `${path}.tmp`;
      await rm(tmp, { force: true });
      const writer = await EncryptedFileWriter.create(tmp, key, FINAL_FIELDS[name]);
      try {
        await writer.write(bytes);
      } finally {
        await writer.finish();
        bytes.fill(0);
      }
      await rename(tmp, path);
      files.push({ name, bytes: bytes.length });
    }
    // Live captions received while recording (captions.ts), as WebVTT beside the media.
    const captions = await finalizeCaptions(dir, key);
    if (captions) files.push(captions);
    return { durationMs: Math.round(durationS * 1000), tracks: open.length, files };
  } finally {
    for (const t of open) {
      t.input.dispose();
      await t.reader.close();
    }
  }
}

/** A live track file as a mediabunny input, or null when nothing readable was written. */
async function openLiveTrack(dir: string, info: LiveTrackInfo, key: DataKey): Promise<OpenTrack | null> {
  let reader: EncryptedFileReader;
  try {
    reader = await EncryptedFileReader.open(`${dir}/${info.file}`, key, info.field, { allowIncomplete: true });
  } catch {
    return null; // not even a header: the recorder died before writing this track
  }
  if (reader.size === 0) {
    await reader.close();
    return null;
  }
  const input = new Input({
    formats: ALL_FORMATS,
    source: new CustomSource({ getSize: () => reader.size, read: (start, end) => reader.read(start, end) }),
  });
  try {
    const [track] = await input.getTracks();
    if (!track || (await new EncodedPacketSink(track).getFirstPacket()) === null) throw new Error("no packets");
    return { info, reader, input, track };
  } catch {
    input.dispose();
    await reader.close();
    return null;
  }
}

/** Copies the packets of `tracks` into one indexed WebM, in timestamp order across tracks. */
async function mux(tracks: readonly OpenTrack[]): Promise<{ bytes: Uint8Array; end: number }> {
  const target = new BufferTarget();
  const output = new Output({ format: new WebMOutputFormat(), target });
  const lanes: { it: AsyncGenerator<EncodedPacket>; next: EncodedPacket | undefined; add: (p: EncodedPacket, first: boolean) => Promise<void>; first: boolean }[] = [];
  for (const t of tracks) {
    const track = t.track;
    let add: (p: EncodedPacket, first: boolean) => Promise<void>;
    if (track.isVideoTrack()) {
      const config = await track.getDecoderConfig();
      if (!config) continue;
      const source = new EncodedVideoPacketSource("vp8");
      output.addVideoTrack(source, { name: t.info.displayName });
      add = (p, first) => source.add(p, first ? { decoderConfig: config as VideoDecoderConfig } : undefined);
    } else if (track.isAudioTrack()) {
      const config = await track.getDecoderConfig();
      if (!config) continue;
      const source = new EncodedAudioPacketSource("opus");
      output.addAudioTrack(source, { name: t.info.displayName });
      add = (p, first) => source.add(p, first ? { decoderConfig: config as AudioDecoderConfig } : undefined);
    } else {
      continue;
    }
    lanes.push({ it: new EncodedPacketSink(t.track).packets(), next: undefined, add, first: true });
  }
  await output.start();
  let end = 0;
  for (const lane of lanes) lane.next = await nextPacket(lane.it);
  for (;;) {
    let best: (typeof lanes)[number] | undefined;
    for (const l of lanes) if (l.next && (!best || l.next.timestamp < best.next!.timestamp)) best = l;
    if (!best) break;
    const p = best.next!;
    end = Math.max(end, p.timestamp + p.duration);
    await best.add(p, best.first);
    best.first = false;
    best.next = await nextPacket(best.it);
  }
  await output.finalize();
  return { bytes: new Uint8Array(target.buffer!), end };
}

/** The next packet, or undefined at the end (or where a cut-off live file stops making sense). */
async function nextPacket(it: AsyncGenerator<EncodedPacket>): Promise<EncodedPacket | undefined> {
  try {
    const r = await it.next();
    return r.done ? undefined : r.value;
  } catch {
    return undefined;
  }
}
