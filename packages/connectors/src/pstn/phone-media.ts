/**
 * A phone call's audio, between the trunk's RTP/SRTP and the meeting:
 *
 *   phone ──(RTP/SRTP)──► telephone-event? ─► DTMF (IVR, *6)
 *                       └► G.711/G.722 decode ─► Opus ─► participant (SFrame) ─► meeting  [unless muted]
 *   meeting ─► participant (decrypted Opus per member) ─► decode ─► mixer ─┐
 *   IVR prompts (cached 8/16 kHz PCM) ────────────────────────────────────┴► phone codec ─► phone
 *
 * Audio only (phones have no video). Before the caller is admitted the phone hears prompts and
 * nothing of the meeting: the participant does not exist yet, or (in the waiting room) receives
 * nothing. Codecs, mixer, RTP and SRTP are the connector framework's (media/…).
 */
import { createSocket, type Socket } from "node:dgram";
import { randomInt } from "node:crypto";
import { Decoder as OpusDecoder, Encoder as OpusEncoder } from "@evan/opus";
import type { NodeParticipant } from "@conclave/client/node";
import { createDeviceAudioCodec, decodeOpus, FRAME_SAMPLES_48K, type DeviceAudioCodec } from "../media/audio-codec.js";
import { AudioMixer } from "../media/mixer.js";
import { decodeRtp, encodeEmptyRr, encodeRtp, isRtcp } from "../media/rtp.js";
import { PLAIN_RTP, SrtpProtection, type MediaProtection } from "../media/srtp.js";
import { AesCmSrtp } from "../microsoft/srtp-aes-cm.js";
import { ConnectorError } from "../errors.js";
import { encodeG711 } from "../media/g711.js";
import { Resampler } from "../media/resample.js";
import type { AudioCodecName, NegotiatedStream } from "../connectors/sip-room/negotiate.js";
import { DtmfReceiver, type DtmfDigit } from "./dtmf.js";
import type { PromptId, PromptSet } from "./prompts.js";

export interface PhoneMediaStats {
  packetsIn: number;
  packetsOut: number;
  framesToMeeting: number;
  dtmfEvents: number;
  rejected: number;
}

/** Samples of one 20 ms frame at a rate. */
const frameAt = (rate: number) => (rate * 20) / 1000;

export class PhoneMedia {
  readonly stats: PhoneMediaStats = { packetsIn: 0, packetsOut: 0, framesToMeeting: 0, dtmfEvents: 0, rejected: 0 };
  readonly #rtp: Socket;
  readonly #rtcp: Socket;
  #protection: MediaProtection = PLAIN_RTP;
  #remote: { address: string; port: number; rtcpPort: number; rtcpMux: boolean } | undefined;
  #stream: NegotiatedStream<AudioCodecName> | undefined;
  #codec: DeviceAudioCodec | undefined;
  readonly #ssrc = randomInt(1, 0xffffffff);
  #seq = randomInt(0, 0x10000);
  #ts = randomInt(0, 0x100000000);
  readonly #dtmf: DtmfReceiver;
  readonly #mixer = new AudioMixer();
  readonly #decoders = new Map<string, InstanceType<typeof OpusDecoder>>();
  #participant: NodeParticipant | undefined;
  #uplinkEncoder: InstanceType<typeof OpusEncoder> | undefined;
  #uplinkPcm: Int16Array[] = [];
  #uplinkTs = randomInt(0, 0x100000000);
  #prompts: { "8000": PromptSet; "16000": PromptSet } | undefined;
  #playing: { pcm: Int16Array; rate: number; at: number; done?: () => void } | undefined;
  #upsampler: Resampler | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  #rtcpTimer: ReturnType<typeof setInterval> | undefined;
  #nextTick = 0;
  #closed = false;
  /** The caller is muted (*6, or a host's mute): nothing of its audio reaches the meeting. */
  muted = false;

  private constructor(rtp: Socket, rtcp: Socket, onDigit: (d: DtmfDigit) => void) {
    this.#rtp = rtp;
    this.#rtcp = rtcp;
    this.#dtmf = new DtmfReceiver((d) => {
      this.stats.dtmfEvents += 1;
      onDigit(d);
    });
  }

  /** Binds an even RTP port and RTCP on the next one (RFC 3550 §11). */
  static async open(address: string, onDigit: (d: DtmfDigit) => void, portRange?: { min: number; max: number }): Promise<PhoneMedia> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = portRange ? portRange.min + 2 * randomInt(0, Math.max(1, Math.floor((portRange.max - portRange.min) / 2))) : 0;
      const rtp = createSocket("udp4");
      if (!(await bind(rtp, address, port)) || rtp.address().port % 2 !== 0 || rtp.address().port === 65535) {
        rtp.close();
        continue;
      }
      const rtcp = createSocket("udp4");
      if (!(await bind(rtcp, address, rtp.address().port + 1))) {
        rtp.close();
        rtcp.close();
        continue;
      }
      return new PhoneMedia(rtp, rtcp, onDigit);
    }
    throw new Error("no free RTP port pair");
  }

  get port(): number {
    return this.#rtp.address().port;
  }

  /** The negotiated stream (and after a re-INVITE, the new one). */
  configure(stream: NegotiatedStream<AudioCodecName>): void {
    const codecChanged = this.#stream?.codec !== stream.codec;
    this.#stream = stream;
    this.#remote = { address: stream.remoteAddress, port: stream.remotePort, rtcpPort: stream.remoteRtcpPort, rtcpMux: stream.rtcpMux };
    this.#protection = stream.srtp ? sdesProtection(stream.srtp) : PLAIN_RTP;
    if (codecChanged) {
      this.#codec?.close();
      const codec = createDeviceAudioCodec(stream.codec, {
        onPayload: (payload) => this.#send(payload, codec.rtpTicksPerFrame),
        onPcm: (pcm) => this.#uplink(pcm),
      });
      this.#codec = codec;
    }
  }

  /** Starts receiving and the 20 ms send clock (prompts and silence until a participant is attached). */
  start(prompts: { "8000": PromptSet; "16000": PromptSet }): void {
    this.#prompts = prompts;
    this.#rtp.on("message", (m) => this.#onPacket(m));
    this.#rtcp.on("message", () => undefined);
    this.#nextTick = Date.now();
    this.#tick = setInterval(() => this.#onTick(), 10);
    this.#rtcpTimer = setInterval(() => this.#sendRtcp(encodeEmptyRr(this.#ssrc)), 5000);
  }

  /** Prompt starts and ends (the connector reports them to the gateway). */
  onPrompt: (id: PromptId, phase: "start" | "end") => void = () => {};

  /** Plays a prompt from its start (replacing one that plays); `done` runs when it has played. */
  play(id: PromptId, done?: () => void): void {
    if (!this.#prompts) return;
    this.onPrompt(id, "start");
    // G.722 and Opus phones get the 16 kHz rendering, G.711 phones the 8 kHz one.
    const rate = this.#stream?.codec === "pcmu" || this.#stream?.codec === "pcma" ? 8000 : 16000;
    const prev = this.#playing?.done;
    this.#playing = { pcm: this.#prompts[rate].get(id), rate, at: 0, done: () => {
      this.onPrompt(id, "end");
      done?.();
    } };
    this.#upsampler = new Resampler(rate, 48000);
    prev?.();
  }

  /** Stops the prompt that plays (the caller started typing). */
  stopPrompt(): void {
    const done = this.#playing?.done;
    this.#playing = undefined;
    done?.();
  }

  get playing(): boolean {
    return this.#playing !== undefined;
  }

  /** Connects the meeting: its audio is mixed to the phone, the phone's audio goes to it. */
  attach(participant: NodeParticipant): void {
    this.#participant = participant;
    participant.on("frame", (f) => {
      if (f.kind === "audio") this.#onMemberAudio(f.ownerId, f.frame);
    });
  }

  memberLeft(memberId: string): void {
    this.#mixer.remove(memberId);
    this.#decoders.delete(memberId);
  }

  // ---- phone -> meeting ----------------------------------------------------------------

  #onPacket(packet: Buffer): void {
    if (this.#closed || !this.#stream || isRtcp(packet)) return;
    let plain: Buffer;
    try {
      plain = this.#protection.unprotectRtp(packet);
    } catch {
      this.stats.rejected += 1;
      return;
    }
    const rtp = decodeRtp(plain);
    if (!rtp) return;
    if (this.#stream.dtmfPayloadType !== undefined && rtp.payloadType === this.#stream.dtmfPayloadType) {
      this.#dtmf.push(rtp.timestamp, rtp.payload);
      return;
    }
    if (rtp.payloadType !== this.#stream.payloadType) return;
    this.stats.packetsIn += 1;
    this.#codec?.decode(rtp.payload);
  }

  /** Decoded phone audio (48 kHz) re-encoded to Opus in 20 ms frames for the meeting. */
  #uplink(pcm: Int16Array): void {
    if (!this.#participant || this.muted) {
      this.#uplinkPcm = [];
      return;
    }
    this.#uplinkPcm.push(pcm);
    let total = this.#uplinkPcm.reduce((n, p) => n + p.length, 0);
    while (total >= FRAME_SAMPLES_48K) {
      const frame = new Int16Array(FRAME_SAMPLES_48K);
      let filled = 0;
      while (filled < FRAME_SAMPLES_48K) {
        const head = this.#uplinkPcm[0]!;
        const take = Math.min(head.length, FRAME_SAMPLES_48K - filled);
        frame.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.length) this.#uplinkPcm.shift();
        else this.#uplinkPcm[0] = head.subarray(take);
      }
      total -= FRAME_SAMPLES_48K;
      this.#uplinkEncoder ??= new OpusEncoder({ channels: 1, sample_rate: 48000, application: "voip" });
      const opus = this.#uplinkEncoder.encode(frame);
      this.#uplinkTs = (this.#uplinkTs + FRAME_SAMPLES_48K) >>> 0;
      this.stats.framesToMeeting += 1;
      void this.#participant.sendFrame("audio", opus, this.#uplinkTs);
    }
  }

  // ---- meeting -> phone ----------------------------------------------------------------

  #onMemberAudio(memberId: string, opus: Uint8Array): void {
    let dec = this.#decoders.get(memberId);
    if (!dec) this.#decoders.set(memberId, (dec = new OpusDecoder({ channels: 1, sample_rate: 48000 })));
    try {
      const pcm = decodeOpus(dec, opus);
      const frame = pcm.length === FRAME_SAMPLES_48K ? pcm : fit(pcm);
      this.#mixer.push(memberId, frame);
    } catch {
      // a corrupt frame: skip it
    }
  }

  #onTick(): void {
    if (this.#closed) return;
    // Catch up on missed 20 ms slots (timers run late on a loaded machine), within reason.
    const now = Date.now();
    let slots = 0;
    while (this.#nextTick <= now && slots < 5) {
      this.#nextTick += 20;
      slots += 1;
      this.#sendFrame();
    }
    if (now - this.#nextTick > 200) this.#nextTick = now;
  }

  /** One 20 ms frame to the phone: the prompt that plays, else the meeting's mix (or silence). */
  #sendFrame(): void {
    const codec = this.#codec;
    if (!codec) return;
    const mix = this.#participant ? this.#mixer.mix() : undefined;
    const p = this.#playing;
    if (!p) {
      codec.encode(mix ?? new Int16Array(FRAME_SAMPLES_48K));
      return;
    }
    const n = frameAt(p.rate);
    const chunk = new Int16Array(n);
    chunk.set(p.pcm.subarray(p.at, p.at + n));
    p.at += n;
    if (p.at >= p.pcm.length) {
      this.#playing = undefined;
      p.done?.();
    }
    // G.711 at 8 kHz straight from the 8 kHz rendering; other codecs take 48 kHz frames.
    if ((codec.name === "pcmu" || codec.name === "pcma") && p.rate === 8000) {
      this.#send(encodeG711(chunk, codec.name), codec.rtpTicksPerFrame);
      return;
    }
    codec.encode(this.#upsampler!.process(chunk));
  }

  #send(payload: Uint8Array, ticks: number): void {
    const r = this.#remote;
    const s = this.#stream;
    if (!r || !s || this.#closed) return;
    const header = { payloadType: s.payloadType, marker: false, sequenceNumber: this.#seq, timestamp: this.#ts, ssrc: this.#ssrc };
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ts = (this.#ts + ticks) >>> 0;
    const packet = this.#protection.protectRtp(header, payload, encodeRtp(header, payload));
    this.#rtp.send(packet, r.port, r.address);
    this.stats.packetsOut += 1;
  }

  #sendRtcp(packet: Buffer): void {
    const r = this.#remote;
    if (!r || this.#closed) return;
    const out = this.#protection.protectRtcp(packet);
    if (r.rtcpMux) this.#rtp.send(out, r.port, r.address);
    else this.#rtcp.send(out, r.rtcpPort, r.address);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tick) clearInterval(this.#tick);
    if (this.#rtcpTimer) clearInterval(this.#rtcpTimer);
    this.#codec?.close();
    for (const s of [this.#rtp, this.#rtcp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}

function bind(s: Socket, address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    s.once("error", () => resolve(false));
    s.bind(port, address, () => {
      s.removeAllListeners("error");
      s.on("error", () => undefined);
      resolve(true);
    });
  });
}

function fit(pcm: Int16Array): Int16Array {
  const out = new Int16Array(FRAME_SAMPLES_48K);
  out.set(pcm.subarray(0, FRAME_SAMPLES_48K));
  return out;
}

/**
 * The SRTP of an SDES-keyed phone leg: under the Microsoft profile our RFC 3711 code (werift's
 * SRTP has neither the 32-bit tag nor the MKI), else werift's (which also does GCM).
 */
function sdesProtection(srtp: NonNullable<NegotiatedStream<AudioCodecName>["srtp"]>): MediaProtection {
  const { local, remote } = srtp;
  if (srtp.profile !== "microsoft") return new SrtpProtection(local, remote);
  if (local.suite !== remote.suite || local.suite === "AEAD_AES_128_GCM") throw new ConnectorError("SRTP_BAD_KEY", "the Microsoft profile uses one AES_CM suite both ways");
  return new AesCmSrtp(local.suite, { key: local.key, salt: local.salt, ...(local.mki ? { mki: local.mki } : {}) }, { key: remote.key, salt: remote.salt, ...(remote.mki ? { mki: remote.mki } : {}) });
}
