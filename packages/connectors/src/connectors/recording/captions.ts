/**
 * Captions saved with a cloud recording. The recorder is an MLS member like any other, so while
 * live transcription runs in the meeting it receives the `caption` application messages too
 * (only from the transcription member: collaboration/captions.ts checks the credential). Each
 * final caption is kept on the recording's timeline, in `captions.sealed` (the whole list, sealed
 * under the recording's data key and replaced atomically, so a crash loses nothing already
 * written); finalizing writes `captions.vtt` (WebVTT, one cue per caption with the speaker as a
 * voice span) as a KMS chunked stream beside the WebM files. Nothing is written in clear.
 *
 * A cue is placed when its caption reached the recorder, ending there, as long as the utterance
 * was: captions arrive about a second after the words (the engine waits for a pause).
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { EncryptedFileWriter, open as openSealed, seal, type DataKey } from "@conclave/kms";

export const CAPTIONS_FILE = "captions.sealed";
const CAPTIONS_FIELD = "captions";
/** The KMS stream field of the finalized WebVTT file. */
export const CAPTIONS_FINAL_FIELD = "final.captions";
/** Most cues kept (about 10 hours of continuous speech). */
const MAX_CUES = 20_000;

export interface CaptionCue {
  /** Seconds on the recording's timeline. */
  start: number;
  end: number;
  speaker: string;
  text: string;
}

export class CaptionLog {
  readonly #dir: string;
  readonly #key: DataKey;
  readonly #cues: CaptionCue[] = [];
  #saving: Promise<void> = Promise.resolve();

  constructor(dir: string, key: DataKey) {
    this.#dir = dir;
    this.#key = key;
  }

  /** A final caption that arrived `atS` seconds into the recording. */
  add(atS: number, durationMs: number, speaker: string, text: string): Promise<void> {
    if (this.#cues.length >= MAX_CUES) return this.#saving;
    const end = Math.max(0, atS);
    this.#cues.push({ start: Math.max(0, end - Math.max(0, durationMs) / 1000), end, speaker, text });
    return this.#save();
  }

  /** Every write replaces the whole list, one at a time, in order. */
  #save(): Promise<void> {
    const next = this.#saving.then(async () => {
      const tmp = `${this.#dir}/${CAPTIONS_FILE}.tmp`;
      await writeFile(tmp, seal(this.#key, CAPTIONS_FIELD, JSON.stringify(this.#cues)), { mode: 0o600 });
      await rename(tmp, `${this.#dir}/${CAPTIONS_FILE}`);
    });
    this.#saving = next.catch(() => undefined);
    return next;
  }

  /** Resolves when every caption so far is on disk. */
  flush(): Promise<void> {
    return this.#saving;
  }
}

/** The sealed cues a recorder left in `dir` (none when there were no captions). */
export async function loadCues(dir: string, key: DataKey): Promise<CaptionCue[]> {
  let sealed: Buffer;
  try {
    sealed = await readFile(`${dir}/${CAPTIONS_FILE}`);
  } catch {
    return [];
  }
  const list = JSON.parse(openSealed(key, CAPTIONS_FIELD, sealed).toString("utf8")) as unknown;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is CaptionCue =>
      typeof c === "object" && c !== null && Number.isFinite((c as CaptionCue).start) && Number.isFinite((c as CaptionCue).end) && typeof (c as CaptionCue).speaker === "string" && typeof (c as CaptionCue).text === "string",
  );
}

function timestamp(s: number): string {
  const ms = Math.round(Math.max(0, s) * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(sec)}.${pad(ms % 1000, 3)}`;
}

/** WebVTT cue text: markup characters escaped, one line. */
function escapeVtt(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/[\r\n]+/g, " ");
}

/** The cues as a WebVTT file (W3C WebVTT), in time order, the speaker as a voice span. */
export function toWebVtt(cues: readonly CaptionCue[]): string {
  const sorted = [...cues].sort((a, b) => a.start - b.start);
  const body = sorted.map((c, i) => `${i + 1}\n${timestamp(c.start)} --> ${timestamp(Math.max(c.end, c.start + 0.001))}\n<v ${escapeVtt(c.speaker)}>${escapeVtt(c.text)}</v>\n`);
  return `WEBVTT\n\n${body.join("\n")}`;
}

/** Writes `captions.vtt` (a KMS stream) from the sealed cues; null when there are none. */
export async function finalizeCaptions(dir: string, key: DataKey): Promise<{ name: "captions.vtt"; bytes: number } | null> {
  const cues = await loadCues(dir, key);
  if (cues.length === 0) return null;
  const bytes = Buffer.from(toWebVtt(cues), "utf8");
  const path = `${dir}/captions.vtt.clvc`;
  const tmp = `${path}.tmp`;
  await rm(tmp, { force: true });
  const writer = await EncryptedFileWriter.create(tmp, key, CAPTIONS_FINAL_FIELD);
  try {
    await writer.write(bytes);
  } finally {
    await writer.finish();
    bytes.fill(0);
  }
  await rename(tmp, path);
  return { name: "captions.vtt", bytes: bytes.length };
}
