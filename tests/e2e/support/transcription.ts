/**
 * Helpers for the live transcription tests: the LibriVox clips of Debian's pocketsphinx-testdata
 * (read English with a reference transcript), played by a bot as its Opus microphone in real
 * time, and the word overlap between captions and the reference.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { Encoder } from "@evan/opus";
import type { NodeParticipant } from "@conclave/client/node";
import { Resampler } from "@conclave/connectors";
import { MissingSystemBinaryError, systemRequirements } from "@conclave/test-support";

export const TESTDATA = "/usr/share/pocketsphinx/test/data/librivox";
export const MODEL_LM = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin";
export const CLIPS = [
  "sense_and_sensibility_01_austen_64kb-0870",
  "sense_and_sensibility_01_austen_64kb-0880",
  "sense_and_sensibility_01_austen_64kb-0890",
  "sense_and_sensibility_01_austen_64kb-0920",
  "sense_and_sensibility_01_austen_64kb-0930",
];
/** A data file of a Debian package from the REQUIREMENTS table: fails (never skips) when absent. */
export function requireSystemFile(path: string): void {
  if (!existsSync(path)) throw new MissingSystemBinaryError(path, systemRequirements().get(path));
}

/** The clip's 16 kHz mono s16le samples (the WAV's data chunk). */
export function wavSamples(file: string): Int16Array {
  const b = readFileSync(file);
  assert.equal(b.toString("latin1", 0, 4), "RIFF");
  let off = 12;
  while (off + 8 <= b.length) {
    const id = b.toString("latin1", off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === "fmt ") {
      assert.equal(b.readUInt16LE(off + 10), 1, "mono");
      assert.equal(b.readUInt32LE(off + 12), 16000, "16 kHz");
    }
    if (id === "data") return new Int16Array(b.buffer.slice(b.byteOffset + off + 8, b.byteOffset + off + 8 + size));
    off += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

/** The clips one after another with 1.5 s of silence around each, at 48 kHz. */
export function programme(clips: readonly string[] = CLIPS): Int16Array {
  const up = new Resampler(16000, 48000);
  const gap = new Int16Array(16000 * 1.5);
  const parts: Int16Array[] = [up.process(gap)];
  for (const c of clips) {
    parts.push(up.process(wavSamples(`${TESTDATA}/${c}.wav`)), up.process(gap));
  }
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The reference words of the clips (pocketsphinx-testdata's own transcription). */
export function referenceWords(clips: readonly string[] = CLIPS): string[] {
  const lines = readFileSync(`${TESTDATA}/transcription`, "utf8").split("\n");
  const words: string[] = [];
  for (const c of clips) {
    const line = lines.find((l) => l.includes(`(${c})`));
    assert.ok(line, `the reference transcript has ${c}`);
    words.push(...line.replace(/\(.*\)/, "").replace(/<\/?s>/g, "").trim().split(/\s+/));
  }
  return words.map(norm).filter(Boolean);
}

export const norm = (w: string): string => w.toLowerCase().replace(/\(\d+\)$/, "").replace(/[^a-z']/g, "");

/** Multiset overlap: the share of reference words that the hypothesis also has. */
export function wordOverlap(reference: string[], hypothesis: string[]): number {
  const pool = new Map<string, number>();
  for (const w of hypothesis) pool.set(w, (pool.get(w) ?? 0) + 1);
  let hit = 0;
  for (const w of reference) {
    const n = pool.get(w) ?? 0;
    if (n > 0) {
      hit++;
      pool.set(w, n - 1);
    }
  }
  return hit / reference.length;
}

/** Sends `pcm` (48 kHz mono) as 20 ms Opus frames in real time; resolves when it has all gone. */
export function play(p: NodeParticipant, pcm: Int16Array): Promise<void> {
  const encoder = new Encoder({ channels: 1, sample_rate: 48000, application: "voip" });
  const frames = Math.ceil(pcm.length / 960);
  const start = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      // Catch up on whatever is due (timers are late on a loaded machine): real-time overall.
      const due = Math.min(frames, Math.floor((performance.now() - start) / 20) + 1);
      for (; sent < due; sent++) {
        const frame = new Int16Array(960);
        frame.set(pcm.subarray(sent * 960, sent * 960 + 960));
        void p.sendFrame("audio", encoder.encode(frame), (sent + 1) * 960);
      }
      if (sent >= frames) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
}

