/**
 * A real SIP room system for tests: Debian's baresip, headless, driven through its ctrl_tcp
 * module (JSON commands in netstrings: `dial`, `hangup`; events such as CALL_ESTABLISHED and
 * CALL_CLOSED). It sends a known tone from a WAV file (aufile), fake video (fakevideo), and
 * writes what it receives to dump-*-dec.wav (sndfile) for the test to analyse.
 *
 * baresip is a system package (scripts/install-system-deps.sh): without it the test fails with a
 * clear message instead of skipping.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { requireSystemBinary } from "@conclave/test-support";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface BaresipEvent {
  type: string;
  param?: string;
  [k: string]: unknown;
}

export interface BaresipOptions {
  /** The account's user (and display name). */
  user: string;
  /** mediaenc: srtp-mand (TLS+SRTP), srtp, or none. */
  mediaenc?: "srtp-mand" | "srtp" | "dtls_srtp" | "none";
  /** Default transport of the account (what it dials with unless the URI says otherwise). */
  transport?: "tls" | "udp" | "tcp";
  audioCodecs?: string;
  /** e.g. "H264" for an H.264-only device (needs baresip-ffmpeg's avcodec module). */
  videoCodecs?: string;
  /** Frequency of the tone it sends (Hz). */
  toneHz?: number;
  /** Answer incoming calls automatically (for outbound-invite tests). */
  autoAnswer?: boolean;
  video?: boolean;
  /** PEM file with certificate and key for its TLS listener (default: a fresh self-signed one). */
  certificate?: string;
  /** The loopback address it binds and calls from (default 127.0.0.1; e.g. 127.0.0.2 to be "elsewhere"). */
  address?: string;
  /** Channels of its audio (1 for G.711-only phones; default 2, as Opus wants). */
  channels?: 1 | 2;
  /** Sample rate of its audio source and recording (8000 for G.711-only phones; default 48000). */
  rate?: number;
}

/** A self-signed certificate for 127.0.0.1 (cert and key in one PEM), e.g. to trust as a device CA. */
export function makeDeviceCertificate(dir: string): { pem: string; certFile: string } {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "device-key.pem"), "-out", join(dir, "device-cert.pem")], { stdio: "ignore" });
  const pem = join(dir, "device.pem");
  writeFileSync(pem, readFileSync(join(dir, "device-cert.pem"), "utf8") + readFileSync(join(dir, "device-key.pem"), "utf8"));
  return { pem, certFile: join(dir, "device-cert.pem") };
}

export function requireBaresip(): void {
  // Fails (never skips) naming the Debian package, from scripts/install-system-deps.sh.
  requireSystemBinary("baresip");
  requireSystemBinary("openssl");
  requireSystemBinary("ffmpeg");
  if (!existsSync("/usr/lib/baresip/modules/ctrl_tcp.so")) throw new Error("baresip's modules are missing: install baresip-core");
  if (!existsSync("/usr/lib/baresip/modules/avcodec.so")) throw new Error("baresip's H.264 module is missing: install baresip-ffmpeg");
}

/** A port p with p (UDP+TCP) and p+1 (TCP, baresip's TLS) free. */
async function freeSipPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    // Linux hands out odd ports for bind(0); baresip wants its port and the next one.
    const base = p % 2 === 0 ? p : p + 1;
    if (base + 1 > 65535) continue;
    const ok = await Promise.all([tcpFree(base), udpFree(base), tcpFree(base + 1)]);
    if (ok.every(Boolean)) return base;
  }
  throw new Error("no free port pair for baresip");
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => resolve(false));
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** 16-bit PCM WAV, `channels` channels, a sine at `hz` for `seconds`. */
export function writeToneWav(path: string, hz: number, seconds: number, rate = 48000, channels = 2): void {
  const frames = rate * seconds;
  const data = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(12000 * Math.sin((2 * Math.PI * hz * i) / rate));
    for (let c = 0; c < channels; c++) data.writeInt16LE(v, (i * channels + c) * 2);
  }
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([header, data]));
}

/**
 * Reads a 16-bit PCM WAV (as baresip's sndfile writes it) into mono samples and its rate. A file
 * still being written has no final data size yet (0 or 0xFFFFFFFF): then everything written so far.
 */
export function readWav(path: string): { rate: number; samples: Float64Array } {
  const b = readFileSync(path);
  if (b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE") throw new Error(`${path} is not a WAV file`);
  let off = 12;
  let rate = 0;
  let channels = 1;
  let bits = 16;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === "fmt ") {
      channels = b.readUInt16LE(off + 10);
      rate = b.readUInt32LE(off + 12);
      bits = b.readUInt16LE(off + 22);
    } else if (id === "data") {
      if (bits !== 16) throw new Error("expected 16-bit PCM");
      const unfinished = size === 0 || size === 0xffffffff;
      const end = unfinished ? b.length : Math.min(b.length, off + 8 + size);
      const n = Math.floor((end - off - 8) / (2 * channels));
      const samples = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let c = 0; c < channels; c++) acc += b.readInt16LE(off + 8 + (i * channels + c) * 2);
        samples[i] = acc / channels;
      }
      return { rate, samples };
    }
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path} has no data chunk`);
}

export class Baresip {
  readonly dir: string;
  readonly sipPort: number;
  readonly user: string;
  readonly events: BaresipEvent[] = [];
  readonly #proc: ChildProcess;
  readonly #ctrl: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: { pred: (e: BaresipEvent) => boolean; resolve: (e: BaresipEvent) => void }[] = [];
  #token = 0;
  #log = "";

  private constructor(dir: string, sipPort: number, user: string, proc: ChildProcess, ctrl: Socket) {
    this.dir = dir;
    this.sipPort = sipPort;
    this.user = user;
    this.#proc = proc;
    this.#ctrl = ctrl;
    proc.stdout?.on("data", (d: Buffer) => (this.#log = (this.#log + d.toString()).slice(-20000)));
    proc.stderr?.on("data", (d: Buffer) => (this.#log = (this.#log + d.toString()).slice(-20000)));
    ctrl.on("data", (d: Buffer) => this.#onData(d));
    ctrl.on("error", () => undefined);
  }

  /** The TLS port baresip listens on (its SIP port + 1). */
  get tlsPort(): number {
    return this.sipPort + 1;
  }

  get log(): string {
    return this.#log;
  }

  static async start(opts: BaresipOptions): Promise<Baresip> {
    requireBaresip();
    const dir = mkdtempSync(join(tmpdir(), "conclave-baresip-"));
    const sipPort = await freeSipPort();
    const ctrlPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const address = opts.address ?? "127.0.0.1";
    const channels = opts.channels ?? 2;
    const rate = opts.rate ?? 48000;
    writeToneWav(join(dir, "tone.wav"), opts.toneHz ?? 1000, 60, rate, channels);
    // baresip's TLS listener needs a certificate (cert and key in one PEM file).
    const certificate = opts.certificate ?? makeDeviceCertificate(dir).pem;
    const video = opts.video !== false;
    writeFileSync(
      join(dir, "config"),
      [
        "poll_method epoll",
        `sip_listen ${address}:${sipPort}`,
        `sip_certificate ${certificate}`,
        "call_local_timeout 120",
        "call_max_calls 4",
        "audio_player aufile,/dev/null",
        `audio_source aufile,${join(dir, "tone.wav")}`,
        "audio_alert aufile,/dev/null",
        `audio_srate ${rate}`,
        `audio_channels ${channels}`,
        ...(video ? ["video_source fakevideo,nil", "video_size 320x240", "video_fps 15"] : []),
        `net_interface ${address}`,
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module g722.so",
        "module opus.so",
        ...(video ? ["module vp8.so", "module avcodec.so", "module fakevideo.so"] : []),
        "module aufile.so",
        "module sndfile.so",
        "module srtp.so",
        "module dtls_srtp.so",
        "module_app account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        "opus_bitrate 32000",
        "",
      ].join("\n"),
    );
    const transport = opts.transport ?? "tls";
    const params = [
      "regint=0",
      ...(opts.mediaenc && opts.mediaenc !== "none" ? [`mediaenc=${opts.mediaenc}`] : []),
      `audio_codecs=${opts.audioCodecs ?? "opus/48000/2,PCMU/8000/1"}`,
      ...(opts.videoCodecs ? [`video_codecs=${opts.videoCodecs}`] : []),
      ...(opts.autoAnswer ? ["answermode=auto"] : []),
    ];
    writeFileSync(join(dir, "accounts"), `"${opts.user}" <sip:${opts.user}@${address};transport=${transport}>;${params.join(";")}\n`);
    const proc = spawn("baresip", ["-f", dir], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const ctrl = await connectWithRetry(ctrlPort, 10_000);
    const b = new Baresip(dir, sipPort, opts.user, proc, ctrl);
    return b;
  }

  #onData(d: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, d]);
    for (;;) {
      const colon = this.#buffer.indexOf(":");
      if (colon < 0) return;
      const len = Number(this.#buffer.subarray(0, colon).toString());
      if (!Number.isInteger(len) || this.#buffer.length < colon + 1 + len + 1) return;
      const json = this.#buffer.subarray(colon + 1, colon + 1 + len).toString();
      this.#buffer = this.#buffer.subarray(colon + 1 + len + 1);
      let msg: BaresipEvent;
      try {
        msg = JSON.parse(json) as BaresipEvent;
      } catch {
        continue;
      }
      if ((msg as { event?: boolean }).event) {
        this.events.push(msg);
        for (const w of [...this.#waiters]) {
          if (w.pred(msg)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(msg);
          }
        }
      }
    }
  }

  /** Sends a ctrl_tcp command (e.g. "dial", "hangup"). */
  command(command: string, params = ""): void {
    const msg = JSON.stringify({ command, params, token: String(++this.#token) });
    this.#ctrl.write(`${Buffer.byteLength(msg)}:${msg},`);
  }

  dial(uri: string): void {
    this.command("dial", uri);
  }

  /** Sends DTMF key presses (RTP telephone events when negotiated), one ctrl_tcp command per key. */
  sendDtmf(keys: string): void {
    for (const k of keys) this.command("sndcode", k);
  }

  hangup(): void {
    this.command("hangup");
  }

  /** Resolves with the first event (already seen or coming) of `type` matching `pred`. */
  waitEvent(type: string, ms: number, pred: (e: BaresipEvent) => boolean = () => true): Promise<BaresipEvent> {
    const match = (e: BaresipEvent) => e.type === type && pred(e);
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`baresip: no ${type} event in ${ms} ms; events: ${JSON.stringify(this.events.map((e) => [e.type, e.param]))}\n${this.#log.slice(-3000)}`)), ms);
      this.#waiters.push({ pred: match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  /**
   * What baresip received and decoded (sndfile's dump-*-dec.wav), readable during the call too.
   * baresip starts a new file whenever it sets up its decoder again, so every file of the call is
   * read, in the order of their names (which start with the time they were opened).
   */
  receivedAudio(): { rate: number; samples: Float64Array } {
    const files = readdirSync(this.dir).filter((f) => f.startsWith("dump-") && f.endsWith("-dec.wav")).sort();
    if (files.length === 0) throw new Error("baresip recorded no received audio");
    const parts = files.map((f) => readWav(join(this.dir, f)));
    const rate = parts.at(-1)!.rate;
    const same = parts.filter((p) => p.rate === rate);
    const samples = new Float64Array(same.reduce((n, p) => n + p.samples.length, 0));
    let at = 0;
    for (const p of same) {
      samples.set(p.samples, at);
      at += p.samples.length;
    }
    return { rate, samples };
  }

  async close(): Promise<void> {
    this.#ctrl.destroy();
    if (this.#proc.exitCode === null) {
      const exited = new Promise((r) => this.#proc.once("exit", r));
      this.#proc.kill("SIGTERM");
      const kill = setTimeout(() => this.#proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function connectWithRetry(port: number, ms: number): Promise<Socket> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(port, "127.0.0.1", () => resolve(s));
        s.once("error", reject);
      });
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`baresip's ctrl_tcp did not come up: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Normalized cross-correlation of `signal` with a reference sine of `hz` (best phase, over
 * windows of 100 ms); the largest value over the recording. 1 = the tone is all there is.
 */
export function toneCorrelation(signal: Float64Array, rate: number, hz: number): number {
  const win = Math.floor(rate / 10);
  let best = 0;
  for (let start = 0; start + win <= signal.length; start += win) {
    let s = 0;
    let c = 0;
    let energy = 0;
    for (let i = 0; i < win; i++) {
      const x = signal[start + i]!;
      const ph = (2 * Math.PI * hz * i) / rate;
      s += x * Math.sin(ph);
      c += x * Math.cos(ph);
      energy += x * x;
    }
    if (energy <= 0) continue;
    // |<x, e^{i w t}>| / (|x| * |ref|), with |ref|^2 = win / 2 for each quadrature component.
    const ncc = Math.sqrt(s * s + c * c) / Math.sqrt(energy * (win / 2));
    if (ncc > best) best = ncc;
  }
  return best;
}
