/**
 * The transcription engine process interface (docs/architecture.md "Live transcription"):
 *
 * - The connector starts one engine process per speaker and writes that speaker's audio to its
 *   stdin as raw PCM: 16,000 Hz, mono, signed 16-bit little-endian (s16le), in real time, with
 *   silence written while the speaker sends nothing (so the stream's clock is the meeting's).
 * - The engine writes one JSON object per line to stdout for each utterance it recognises:
 *   `{"text": "...", "start": 1.23, "end": 2.5, "final": true}`, `start`/`end` in seconds since
 *   the first sample it read. `final: false` lines are partial results that a later line
 *   replaces (engines that do not stream partial results only write final ones).
 * - Closing stdin means the speaker is gone: the engine flushes what it heard and exits.
 * - stderr is the engine's own log (kept short in the connector's log, never the audio).
 *
 * Any program that does this is an engine: the built-in one (pocketsphinx-engine.ts, Debian's
 * pocketsphinx) or an organisation's own wrapper around whisper.cpp or Vosk
 * (`--transcription-engine CMD`). Its output is checked strictly: a line that is not such an
 * object (or is longer than MAX_LINE bytes) is dropped and counted, never trusted.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { z } from "zod";
import { TypedEmitter } from "@conclave/client";
import { MAX_CAPTION_TEXT } from "@conclave/protocol";

/** PCM the engine reads: 16 kHz mono s16le. */
export const ENGINE_SAMPLE_RATE = 16_000;
/** Longest stdout line accepted from an engine, in bytes. */
export const MAX_LINE = 16 * 1024;
/** Audio buffered for a slow engine before frames are dropped: 10 s of PCM. */
const MAX_BACKLOG_BYTES = ENGINE_SAMPLE_RATE * 2 * 10;

export const utteranceSchema = z.strictObject({
  text: z.string().max(4000),
  start: z.number().finite().min(0).max(86_400),
  end: z.number().finite().min(0).max(86_400),
  final: z.boolean(),
});
export type Utterance = z.infer<typeof utteranceSchema>;

export interface EngineEvents extends Record<string, unknown> {
  utterance: Utterance;
  /** A line that was not a valid utterance (dropped). */
  badLine: { length: number };
  /** The engine exited: `expected` when its stdin had been closed first. */
  exit: { code: number | null; signal: string | null; expected: boolean; stderr: string };
}

/** Parses newline-delimited engine output incrementally, bounding each line. */
export class LineSplitter {
  #buf = "";
  #skipping = false;
  readonly #onLine: (line: string) => void;
  readonly #onTooLong: (length: number) => void;

  constructor(onLine: (line: string) => void, onTooLong: (length: number) => void) {
    this.#onLine = onLine;
    this.#onTooLong = onTooLong;
  }

  push(chunk: string): void {
    let s = this.#buf + chunk;
    let nl: number;
    while ((nl = s.indexOf("\n")) >= 0) {
      const line = s.slice(0, nl);
      s = s.slice(nl + 1);
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      this.#onLine(line.replace(/\r$/, ""));
    }
    if (s.length > MAX_LINE) {
      if (!this.#skipping) this.#onTooLong(s.length);
      this.#skipping = true;
      s = "";
    }
    this.#buf = s;
  }

  end(): void {
    if (this.#buf.length > 0 && !this.#skipping) this.#onLine(this.#buf);
    this.#buf = "";
  }
}

/** Parses one engine output line strictly; null when it is not an utterance. */
export function parseUtterance(line: string): Utterance | null {
  if (line.trim() === "") return null;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  const r = utteranceSchema.safeParse(json);
  if (!r.success || r.data.end < r.data.start) return null;
  return r.data;
}

/** One running engine process (one speaker's audio). */
export class EngineProcess extends TypedEmitter<EngineEvents> {
  readonly #child: ChildProcessWithoutNullStreams;
  #ended = false;
  #exited = false;
  #stderr = "";
  /** Bytes of PCM dropped because the engine fell behind. */
  dropped = 0;

  /** Starts `argv` (program and arguments); its environment is the connector's. */
  constructor(argv: readonly string[]) {
    super();
    const [cmd, ...args] = argv;
    if (!cmd) throw new RangeError("an engine command is required");
    this.#child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const lines = new LineSplitter(
      (line) => {
        const u = parseUtterance(line);
        if (u) this.emit("utterance", u);
        else if (line.trim() !== "") this.emit("badLine", { length: line.length });
      },
      (length) => this.emit("badLine", { length }),
    );
    this.#child.stdout.setEncoding("utf8");
    this.#child.stdout.on("data", (c: string) => lines.push(c));
    this.#child.stdout.on("end", () => lines.end());
    this.#child.stderr.setEncoding("utf8");
    this.#child.stderr.on("data", (c: string) => {
      // Keep only the tail: enough to say why an engine failed.
      this.#stderr = (this.#stderr + c).slice(-2000);
    });
    this.#child.stdin.on("error", () => undefined); // EPIPE when the engine died: reported by `exit`
    this.#child.on("error", (e) => {
      this.#stderr = `${this.#stderr}\n${e.message}`.slice(-2000);
    });
    this.#child.on("close", (code, signal) => {
      this.#exited = true;
      this.emit("exit", { code, signal, expected: this.#ended, stderr: this.#stderr });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return !this.#exited;
  }

  /** Writes 16 kHz mono PCM; drops it (counted) while the engine is more than 10 s behind. */
  write(pcm: Int16Array): void {
    if (this.#ended || this.#exited) return;
    const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    if (this.#child.stdin.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped += bytes.length;
      return;
    }
    this.#child.stdin.write(Buffer.from(bytes)); // a copy: the caller reuses its buffers
  }

  /** No more audio: the engine flushes its last utterance and exits. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#child.stdin.end();
  }

  /** Ends it now (SIGKILL after a grace period if it ignores the end of its input). */
  kill(graceMs = 2000): void {
    this.end();
    if (this.#exited) return;
    const t = setTimeout(() => {
      if (!this.#exited) this.#child.kill("SIGKILL");
    }, graceMs);
    t.unref();
  }
}

/** What an engine said, made safe for a caption: no control characters, one line, bounded. */
export function captionText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  if (clean.length <= MAX_CAPTION_TEXT) return clean;
  // Never cut a surrogate pair in half.
  let cut = MAX_CAPTION_TEXT;
  const c = clean.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return clean.slice(0, cut);
}

