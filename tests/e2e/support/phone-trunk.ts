/**
 * A Conclave server with phone dial-in for the PSTN end-to-end tests: SIP over UDP and TLS on
 * loopback, the given trunks in its config file, and what the tests wait for — the IVR's prompts
 * and the calls' events from the SIP service, bots' epochs, and a tone in what a baresip phone
 * has decoded.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, startConclave, type ConclaveServer } from "@conclave/server";
import { Decoder } from "@evan/opus";
import { NodeParticipant } from "@conclave/client/node";
import type { EpochEvent } from "@conclave/client";
import { toneCorrelation, type Baresip } from "./baresip.js";
import { waitFor } from "./harness.js";

export interface IvrEvent {
  displayName: string;
  prompt: string;
  phase: string;
}

export interface Bot {
  p: NodeParticipant;
  epochs: EpochEvent[];
}

type Meeting = { id: string; passcode: string | null };

export class PhoneTrunkServer {
  /** Every IVR prompt started and ended so far, in order. */
  readonly ivrEvents: IvrEvent[] = [];

  private constructor(
    readonly server: ConclaveServer,
    readonly dataDir: string,
    /** The server's TLS certificate (PEM), for bots. */
    readonly ca: string,
  ) {
    server.sip!.on("ivr", (e) => this.ivrEvents.push(e));
  }

  /** `trunks` as in the config file's `sipTrunks`; `limits` as startConclave's (attempt guard). */
  static async start(opts: { trunks: unknown[]; limits?: { targetFailures: number; windowMs: number } }): Promise<PhoneTrunkServer> {
    const dataDir = await mkdtemp(join(tmpdir(), "conclave-pstn-"));
    const configFile = join(dataDir, "conclave.json");
    await writeFile(configFile, JSON.stringify({ sipTrunks: opts.trunks, dialInNumbers: ["+1 555 0100"] }));
    const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir, sipUdpListen: "127.0.0.1:0", sipListen: "127.0.0.1:0", config: configFile }, env: {} });
    const server = await startConclave(config, {
      logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) },
      relay: { listenAddress: "127.0.0.1" },
      ...(opts.limits ? { limits: opts.limits } : {}),
    });
    return new PhoneTrunkServer(server, dataDir, await readFile(server.certFile, "utf8"));
  }

  /** The SIP gateway's port for `transport` now (a restarted gateway listens on a new ephemeral port). */
  sipPort(transport: "udp" | "tls"): number {
    return this.server.sip!.listening.find((l) => l.transport === transport)!.port;
  }

  link(meeting: Meeting): string {
    return `https://127.0.0.1:${this.server.port}/m/${meeting.id}${meeting.passcode ? `#pwd=${meeting.passcode}` : ""}`;
  }

  /** A Node participant in the meeting, recording its epochs. */
  async bot(meeting: Meeting, name: string): Promise<Bot> {
    const p = new NodeParticipant({ link: this.link(meeting), displayName: name, ca: this.ca });
    const epochs: EpochEvent[] = [];
    p.on("epoch", (e) => epochs.push(e));
    await p.join();
    return { p, epochs };
  }

  /** Waits for the `n`-th time (1-based) the IVR of `displayName`'s call reached `phase` of `prompt`. */
  prompt(displayName: string, id: string, phase: "start" | "end", n = 1, ms = 30_000): Promise<unknown> {
    const sip = this.server.sip!;
    return waitFor(`the IVR to ${phase} prompt ${id} (#${n}) for ${displayName}`, ms, (wake) => {
      sip.on("ivr", wake);
      return () => sip.off("ivr", wake);
    }, () => (this.ivrEvents.filter((e) => e.displayName === displayName && e.prompt === id && e.phase === phase).length >= n ? true : undefined)).catch((e: Error) => {
      throw new Error(`${e.message}; the IVR so far: ${this.ivrEvents.filter((x) => x.displayName === displayName).map((x) => `${x.prompt} ${x.phase}`).join(", ")}`);
    });
  }

  /** The SIP service's next `event` for a call into `meetingId`. */
  callEvent(meetingId: string, event: string, ms = 45_000): Promise<Record<string, unknown>> {
    const sip = this.server.sip!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} call event for ${meetingId}`)), ms);
      const on = (e: { meetingId: string; event: string }) => {
        if (e.meetingId === meetingId && e.event === event) {
          clearTimeout(timer);
          sip.off("call", on);
          resolve(e as unknown as Record<string, unknown>);
        }
      };
      sip.on("call", on);
    });
  }

  async close(): Promise<void> {
    await this.server.close();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** Waits until the bot's latest epoch satisfies `pred`. */
export function waitEpoch(b: Bot, what: string, pred: (e: EpochEvent) => boolean, ms = 30_000): Promise<EpochEvent> {
  return waitFor(what, ms, (wake) => b.p.on("epoch", wake), () => {
    const e = b.epochs.at(-1);
    return e && pred(e) ? e : undefined;
  });
}

/** Waits until what `caller` has decoded so far holds a `hz` tone (correlation above 0.6). */
export function phoneHearsTone(caller: Baresip, hz: number, ms: number): Promise<true> {
  let best = 0;
  let unreadable = "";
  return waitFor(`the phone to hear the ${hz} Hz tone`, ms, (wake) => {
    const poll = setInterval(wake, 250);
    return () => clearInterval(poll);
  }, () => {
    let heard: { rate: number; samples: Float64Array };
    try {
      heard = caller.receivedAudio();
    } catch (e) {
      unreadable = (e as Error).message; // nothing decoded yet, or a header still being written
      return undefined;
    }
    unreadable = "";
    best = Math.max(best, toneCorrelation(heard.samples, heard.rate, hz));
    return best > 0.6 || undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}: best correlation ${best.toFixed(2)}${unreadable ? `; last read failed: ${unreadable}` : ""}`);
  });
}

/**
 * The first 4 s of `memberId`'s voice as bot `b` decrypts and decodes it (48 kHz), once `b` has
 * decrypted at least 150 of its audio frames (3 s).
 */
export async function voiceAtBot(b: Bot, memberId: string): Promise<Float64Array> {
  const samples: number[] = [];
  const decoder = new Decoder({ channels: 1, sample_rate: 48000 });
  const off = b.p.on("frame", (f) => {
    if (f.ownerId === memberId && f.kind === "audio" && samples.length < 48000 * 4) {
      const pcm = decoder.decode(f.frame);
      samples.push(...new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1));
    }
  });
  try {
    await waitFor("the bot to decrypt the phone's audio", 40_000, (wake) => b.p.on("frame", wake), () => (b.p.stats().bySender[memberId]?.audio ?? 0) >= 150 || undefined);
  } finally {
    off();
  }
  return Float64Array.from(samples);
}
