/**
 * The built-in transcription engine: Debian's `pocketsphinx` (5prealpha, its
 * `pocketsphinx_continuous` program) with the `pocketsphinx-en-us` model, behind the engine
 * process interface of engine.ts (16 kHz s16le PCM on stdin, JSON utterances on stdout).
 *
 * `pocketsphinx_continuous -infile /dev/stdin` reads raw PCM, segments it into utterances by
 * voice activity and prints each one when it ends: the hypothesis line, then with `-time yes`
 * one line per word `word start end confidence` (seconds since the stream began) ending with
 * `</s>`. Its stdin must be a pipe: Node hands children a socket, which `/dev/stdin` cannot open,
 * hence `sh -c 'cat | exec pocketsphinx_continuous …'`.
 *
 * Accuracy is modest (about 30-50% of words wrong on read English; far worse on accents, noise,
 * jargon or synthetic voices): docs/operations.md says how to plug in a better engine.
 *
 * Run as a program: `node pocketsphinx-engine.js [--hmm DIR] [--lm FILE] [--dict FILE]`.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";

export const POCKETSPHINX_BINARY = "pocketsphinx_continuous";
const MODEL = "/usr/share/pocketsphinx/model/en-us";
export const DEFAULT_MODEL = { hmm: `${MODEL}/en-us`, lm: `${MODEL}/en-us.lm.bin`, dict: `${MODEL}/cmudict-en-us.dict` } as const;

const WORD_LINE = /^(\S+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/;
/** Tokens pocketsphinx reports that are not words: silence, fillers, noise, alternates' markers. */
const NOT_A_WORD = /^(<s>|<\/s>|<sil>|\[[A-Z_]+\]|\+\+[A-Z_]+\+\+)$/;

export interface PocketsphinxUtterance {
  text: string;
  start: number;
  end: number;
  final: true;
}

/**
 * Turns pocketsphinx_continuous `-time yes` output into utterances, line by line: a hypothesis
 * line opens one, word lines give its times, `</s>` (or the next hypothesis, or the end) closes it.
 */
export class PocketsphinxOutputParser {
  #text: string | null = null;
  #start: number | null = null;
  #end: number | null = null;
  readonly #emit: (u: PocketsphinxUtterance) => void;

  constructor(emit: (u: PocketsphinxUtterance) => void) {
    this.#emit = emit;
  }

  line(raw: string): void {
    const line = raw.trim();
    if (line === "") return;
    const w = WORD_LINE.exec(line);
    if (w) {
      const word = w[1]!;
      if (word === "</s>") {
        this.flush();
        return;
      }
      if (NOT_A_WORD.test(word)) return;
      const start = Number(w[2]);
      const end = Number(w[3]);
      this.#start ??= start;
      this.#end = Math.max(this.#end ?? end, end);
      return;
    }
    // A hypothesis line: the previous utterance (if its `</s>` never came) ends here.
    this.flush();
    this.#text = line;
  }

  flush(): void {
    const text = this.#text?.trim();
    if (text && this.#start !== null && this.#end !== null) this.#emit({ text, start: round(this.#start), end: round(Math.max(this.#end, this.#start)), final: true });
    this.#text = null;
    this.#start = null;
    this.#end = null;
  }
}

const round = (s: number): number => Math.round(s * 1000) / 1000;

/** The pocketsphinx_continuous argv for a model. */
export function pocketsphinxArgs(model: { hmm: string; lm: string; dict: string }): string[] {
  return ["-infile", "/dev/stdin", "-hmm", model.hmm, "-lm", model.lm, "-dict", model.dict, "-samprate", "16000", "-time", "yes", "-logfn", "/dev/null"];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function main(argv: string[]): void {
  const model: { hmm: string; lm: string; dict: string } = { ...DEFAULT_MODEL };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]?.replace(/^--/, "");
    const v = argv[i + 1];
    if ((k !== "hmm" && k !== "lm" && k !== "dict") || v === undefined) {
      process.stderr.write("usage: pocketsphinx-engine [--hmm DIR] [--lm FILE] [--dict FILE]\n");
      process.exit(2);
    }
    model[k] = v;
  }
  for (const p of Object.values(model)) {
    if (!existsSync(p)) {
      process.stderr.write(`pocketsphinx-engine: ${p} is missing (install the Debian packages pocketsphinx and pocketsphinx-en-us)\n`);
      process.exit(3);
    }
  }
  const cmd = `cat | exec ${POCKETSPHINX_BINARY} ${pocketsphinxArgs(model).map(shellQuote).join(" ")}`;
  const child = spawn("/bin/sh", ["-c", cmd], { stdio: ["pipe", "pipe", "inherit"] });
  const parser = new PocketsphinxOutputParser((u) => process.stdout.write(`${JSON.stringify(u)}\n`));
  let buf = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      parser.line(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    if (buf.length > 64 * 1024) buf = ""; // not pocketsphinx output
  });
  child.stdout.on("end", () => {
    if (buf) parser.line(buf);
    parser.flush();
  });
  child.stdin.on("error", () => undefined);
  process.stdin.pipe(child.stdin);
  child.on("error", (e) => {
    process.stderr.write(`pocketsphinx-engine: ${e.message}\n`);
    process.exit(4);
  });
  child.on("close", (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`pocketsphinx-engine: ${POCKETSPHINX_BINARY} exited with ${code}\n`);
    process.exitCode = code === 0 ? 0 : 1;
  });
  process.on("SIGTERM", () => child.kill("SIGTERM"));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(process.argv.slice(2));
