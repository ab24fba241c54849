/**
 * The IVR's spoken prompts: rendered once with espeak-ng (Debian's text-to-speech, 22,050 Hz),
 * resampled with ffmpeg to 8 kHz (G.711) and 16 kHz (G.722), and cached as raw 16-bit mono PCM
 * in the data directory. A file's name carries a hash of its text and voice, so a changed prompt
 * is rendered again and a stale one is never played.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ConnectorError } from "../errors.js";

export const PROMPTS = {
  welcome: "Welcome to Conclave. Please enter the meeting ID, followed by the pound key.",
  badMeetingId: "That meeting ID is not valid. Please enter the meeting ID, followed by the pound key.",
  passcode: "Please enter the meeting passcode, followed by the pound key.",
  badPasscode: "That passcode is not correct. Please enter the meeting passcode, followed by the pound key.",
  tooManyAttempts: "Too many incorrect entries. Goodbye.",
  e2ee: "This meeting is end to end encrypted. Phones cannot join it, because the phone network cannot carry its encryption. Please join from the Conclave app. Goodbye.",
  dialInOff: "Phone dial in is turned off for this meeting. Goodbye.",
  unavailable: "This meeting cannot be joined right now. Please try again later. Goodbye.",
  waiting: "Please wait. The host will let you into the meeting soon.",
  joined: "You are in the meeting. Press star six to mute or unmute.",
  muted: "You are muted.",
  unmuted: "You are unmuted.",
  hostMuted: "The host muted you. Press star six to unmute.",
  askUnmute: "The host asks you to unmute. Press star six to unmute.",
  ended: "The meeting has ended. Goodbye.",
  removed: "The host removed you from the meeting. Goodbye.",
} as const;

export type PromptId = keyof typeof PROMPTS;
export type PromptRate = 8000 | 16000;
export const PROMPT_RATES: readonly PromptRate[] = [8000, 16000];

const VOICE = "en-us";
const SPEED_WPM = "160";
/** Each tool gets this long per prompt (they take tens of milliseconds). */
const TOOL_TIMEOUT_MS = 30_000;

function fileName(id: PromptId, rate: PromptRate): string {
  const digest = createHash("sha256").update(`${VOICE}\0${SPEED_WPM}\0${PROMPTS[id]}`).digest("hex").slice(0, 16);
  return `${id}-${digest}-${rate}.s16`;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: TOOL_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      const pkg = cmd === "espeak-ng" ? "espeak-ng" : "ffmpeg";
      reject(new ConnectorError("PSTN_PROMPT_FAILED", missing ? `${cmd} is not installed (Debian package ${pkg}; scripts/install-system-deps.sh)` : `${cmd}: ${String(stderr).slice(0, 200)}`));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Renders every prompt that is not cached yet into `dir` (created if needed), at 8 and 16 kHz.
 * Resolves with the number of prompts rendered (0 when all were cached).
 */
export async function renderPrompts(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let rendered = 0;
  for (const id of Object.keys(PROMPTS) as PromptId[]) {
    const targets = PROMPT_RATES.map((rate) => ({ rate, path: join(dir, fileName(id, rate)) }));
    if ((await Promise.all(targets.map((t) => exists(t.path)))).every(Boolean)) continue;
    const wav = join(dir, `.${id}-${process.pid}.wav`);
    try {
      await run("espeak-ng", ["-v", VOICE, "-s", SPEED_WPM, "-w", wav, PROMPTS[id]]);
      for (const t of targets) {
        // Write under a temporary name, then rename: a crash never leaves half a prompt cached.
        const tmp = `${t.path}.${process.pid}.tmp`;
        await run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", wav, "-ar", String(t.rate), "-ac", "1", "-f", "s16le", tmp]);
        await rename(tmp, t.path);
      }
    } finally {
      await rm(wav, { force: true });
    }
    rendered += 1;
  }
  return rendered;
}

/** The cached prompts at one rate, as 16-bit mono PCM. */
export class PromptSet {
  readonly rate: PromptRate;
  readonly #pcm: Map<PromptId, Int16Array>;

  private constructor(rate: PromptRate, pcm: Map<PromptId, Int16Array>) {
    this.rate = rate;
    this.#pcm = pcm;
  }

  /** Loads every prompt at `rate` from `dir` (renderPrompts must have run). */
  static async load(dir: string, rate: PromptRate): Promise<PromptSet> {
    const pcm = new Map<PromptId, Int16Array>();
    for (const id of Object.keys(PROMPTS) as PromptId[]) {
      let b: Buffer;
      try {
        b = await readFile(join(dir, fileName(id, rate)));
      } catch {
        throw new ConnectorError("PSTN_PROMPT_FAILED", `prompt ${id} at ${rate} Hz is not rendered`);
      }
      const samples = new Int16Array(b.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = b.readInt16LE(i * 2);
      pcm.set(id, samples);
    }
    return new PromptSet(rate, pcm);
  }

  get(id: PromptId): Int16Array {
    return this.#pcm.get(id)!;
  }
}
