/**
 * A room-system call's media, between the device's RTP/SRTP and the meeting (through the
 * connector's Node participant, which SFrame-encrypts what it publishes and decrypts what it
 * receives):
 *
 *   device audio ──(SRTP)──► decode (or pass Opus through) ─► Opus ─► participant ─► meeting
 *   meeting audio ─► participant (decrypted Opus per member) ─► decode ─► mixer ─► device codec ─► device
 *   device video (VP8) ─► depacketize ─► participant ─► meeting
 *   meeting video ─► active speaker's camera (VP8, passed through) ─► packetize ─► device
 *
 * The device's own audio never comes back to it: the relay sends a member only the others'
 * media. Every packet from the device is authenticated (SRTP) before it is read; packets from
 * other addresses are ignored until the device's own address is known, then only those count.
 */
import { createSocket, type Socket } from "node:dgram";
import { randomInt } from "node:crypto";
import { Decoder as OpusDecoder, Encoder as OpusEncoder } from "@evan/opus";
import { Vp8Depacketizer, packetizeVp8, type NodeParticipant } from "@conclave/client/node";
import { createDeviceAudioCodec, decodeOpus, FRAME_SAMPLES_48K, type DeviceAudioCodec } from "../../media/audio-codec.js";
import { ActiveSpeaker, AudioMixer } from "../../media/mixer.js";
import { decodeRtp, encodeEmptyRr, encodePli, encodeRtp, isRtcp, rtcpRequestsKeyframe } from "../../media/rtp.js";
import { PLAIN_RTP, SrtpProtection, type MediaProtection } from "../../media/srtp.js";
import { H264Depacketizer, packetizeH264 } from "../../media/h264.js";
import { DtlsSrtpAssociation, isDtls, type DtlsIdentity } from "../../media/dtls.js";
import { SrtpKeyMaterial } from "../../media/sdes.js";
import { H264ToVp8, Vp8ToH264 } from "../../media/transcoder.js";
import type { AudioCodecName, NegotiatedStream, VideoCodecName } from "./negotiate.js";

export interface CallMediaStats {
  audioPacketsIn: number;
  audioPacketsOut: number;
  videoPacketsIn: number;
  videoPacketsOut: number;
  videoFramesIn: number;
  videoFramesOut: number;
  rejected: number;
}

const MAX_VIDEO_PAYLOAD = 1100;

/** One m-section's sockets (RTP, and RTCP unless muxed) and its protection. */
/** DTLS-SRTP before its handshake: nothing is sent, nothing is accepted. */
const NOT_YET: MediaProtection = {
  encrypted: true,
  protectRtp: () => {
    throw new Error("DTLS-SRTP keys are not ready");
  },
  unprotectRtp: () => {
    throw new Error("DTLS-SRTP keys are not ready");
  },
  protectRtcp: () => {
    throw new Error("DTLS-SRTP keys are not ready");
  },
  unprotectRtcp: () => {
    throw new Error("DTLS-SRTP keys are not ready");
  },
};

class RtpLeg {
  readonly rtp: Socket;
  readonly rtcp: Socket | undefined;
  protection: MediaProtection = PLAIN_RTP;
  /** SRTCP when RTCP has a DTLS association of its own (no rtcp-mux); else `protection`. */
  rtcpProtection: MediaProtection | undefined;
  dtlsRtp: DtlsSrtpAssociation | undefined;
  dtlsRtcp: DtlsSrtpAssociation | undefined;
  remote: { address: string; port: number; rtcpPort: number; rtcpMux: boolean } | undefined;
  readonly ssrc = randomInt(1, 0xffffffff);
  seq = randomInt(0, 0x10000);
  ts = randomInt(0, 0x100000000);

  private constructor(rtp: Socket, rtcp: Socket | undefined) {
    this.rtp = rtp;
    this.rtcp = rtcp;
  }

  /** Binds an even RTP port and RTCP on the next one (RFC 3550 §11), on `address`. */
  static async bind(address: string, portRange?: { min: number; max: number }): Promise<RtpLeg> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = portRange ? portRange.min + 2 * randomInt(0, Math.max(1, Math.floor((portRange.max - portRange.min) / 2))) : 0;
      const rtp = createSocket("udp4");
      try {
        await bindSocket(rtp, address, port);
      } catch {
        rtp.close();
        continue;
      }
      const bound = rtp.address().port;
      if (bound % 2 !== 0 || bound + 1 > 65535) {
        rtp.close();
        continue;
      }
      const rtcp = createSocket("udp4");
      try {
        await bindSocket(rtcp, address, bound + 1);
      } catch {
        rtp.close();
        rtcp.close();
        continue;
      }
      return new RtpLeg(rtp, rtcp);
    }
    throw new Error("no free RTP port pair");
  }

  get port(): number {
    return this.rtp.address().port;
  }

  sendRtp(payloadType: number, marker: boolean, timestamp: number, payload: Uint8Array): void {
    const r = this.remote;
    if (!r) return;
    if (this.protection === NOT_YET) return;
    const header = { payloadType, marker, sequenceNumber: this.seq, timestamp, ssrc: this.ssrc };
    this.seq = (this.seq + 1) & 0xffff;
    const packet = this.protection.protectRtp(header, payload, encodeRtp(header, payload));
    this.rtp.send(packet, r.port, r.address);
  }

  sendRtcp(packet: Buffer): void {
    const r = this.remote;
    const protection = this.rtcpProtection ?? this.protection;
    if (!r || protection === NOT_YET) return;
    const out = protection.protectRtcp(packet);
    if (r.rtcpMux || !this.rtcp) this.rtp.send(out, r.port, r.address);
    else this.rtcp.send(out, r.rtcpPort, r.address);
  }

  close(): void {
    this.dtlsRtp?.close();
    this.dtlsRtcp?.close();
    for (const s of [this.rtp, this.rtcp]) {
      try {
        s?.close();
      } catch {
        // already closed
      }
    }
  }
}

function bindSocket(s: Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, address, () => {
      s.off("error", reject);
      s.on("error", () => undefined);
      resolve();
    });
  });
}

export interface CallMediaOptions {
  /** Local address to bind and announce. */
  address: string;
  portRange?: { min: number; max: number };
  video: boolean;
}

export class CallMedia {
  readonly stats: CallMediaStats = { audioPacketsIn: 0, audioPacketsOut: 0, videoPacketsIn: 0, videoPacketsOut: 0, videoFramesIn: 0, videoFramesOut: 0, rejected: 0 };
  readonly audioLeg: RtpLeg;
  readonly videoLeg: RtpLeg | undefined;
  #audio: NegotiatedStream<AudioCodecName> | undefined;
  #video: NegotiatedStream<VideoCodecName> | undefined;
  #codec: DeviceAudioCodec | undefined;
  #participant: NodeParticipant | undefined;
  readonly #mixer = new AudioMixer();
  readonly #speaker = new ActiveSpeaker();
  readonly #decoders = new Map<string, InstanceType<typeof OpusDecoder>>();
  readonly #withVideo = new Set<string>();
  #uplinkEncoder: InstanceType<typeof OpusEncoder> | undefined;
  #uplinkPcm: Int16Array[] = [];
  #uplinkTs = randomInt(0, 0x100000000);
  #depacketizer = new Vp8Depacketizer();
  #h264In = new H264Depacketizer();
  /** H.264 devices: ffmpeg transcoders, device -> meeting and meeting -> device. */
  #toMeeting: H264ToVp8 | undefined;
  #toDevice: Vp8ToH264 | undefined;
  #pictureId = randomInt(0, 0x8000);
  #forwarding: { memberId: string; awaitingKeyframe: boolean; lastSourceTs: number | undefined } | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  #rtcpTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #nextTick = 0;
  /** The SSRC the device sends its video on (the media source a PLI names). */
  #deviceVideoSsrc: number | undefined;
  /** The call cannot go on (a DTLS fingerprint mismatch): the connector ends it. */
  onFatal: (code: string, detail: string) => void = () => {};

  private constructor(audioLeg: RtpLeg, videoLeg: RtpLeg | undefined) {
    this.audioLeg = audioLeg;
    this.videoLeg = videoLeg;
  }

  /** Binds the ports (before the answer is sent: the answer names them). */
  static async open(opts: CallMediaOptions): Promise<CallMedia> {
    const audio = await RtpLeg.bind(opts.address, opts.portRange);
    let video: RtpLeg | undefined;
    try {
      video = opts.video ? await RtpLeg.bind(opts.address, opts.portRange) : undefined;
    } catch (e) {
      audio.close();
      throw e;
    }
    return new CallMedia(audio, video);
  }

  /** Applies (or re-applies, after a re-INVITE) the negotiated streams. */
  configure(audio: NegotiatedStream<AudioCodecName>, video: NegotiatedStream<VideoCodecName> | undefined, dtlsIdentity?: DtlsIdentity): void {
    this.#dtlsIdentity = dtlsIdentity ?? this.#dtlsIdentity;
    const audioChanged = this.#audio?.codec !== audio.codec;
    this.#audio = audio;
    this.#video = video;
    if (video?.codec === "h264" && !this.#toMeeting) {
      this.#toMeeting = new H264ToVp8((vp8) => {
        this.stats.videoFramesIn += 1;
        void this.#participant?.sendFrame("video", vp8, (Date.now() * 90) >>> 0, (vp8[0]! & 1) === 0);
      });
      this.#toDevice = new Vp8ToH264((nals) => this.#sendH264(nals), video.h264Mode === 0 ? { sliceMaxSize: MAX_VIDEO_PAYLOAD } : {});
    }
    this.#apply(this.audioLeg, audio);
    if (this.videoLeg && this.#video) this.#apply(this.videoLeg, this.#video);
    if (audioChanged) {
      this.#codec?.close();
      this.#codec = createDeviceAudioCodec(audio.codec, {
        onPayload: (payload) => {
          this.audioLeg.sendRtp(audio.payloadType, false, this.audioLeg.ts, payload);
          this.audioLeg.ts = (this.audioLeg.ts + this.#codec!.rtpTicksPerFrame) >>> 0;
          this.stats.audioPacketsOut += 1;
        },
        onPcm: (pcm) => this.#uplink(pcm),
      });
    }
  }

  #dtlsIdentity: DtlsIdentity | undefined;

  #apply(leg: RtpLeg, s: NegotiatedStream<string>): void {
    leg.remote = { address: s.remoteAddress, port: s.remotePort, rtcpPort: s.remoteRtcpPort, rtcpMux: s.rtcpMux };
    if (s.dtls) {
      if (leg.dtlsRtp) return; // a re-INVITE keeps the association (RFC 5763 §6.7.1 would need a new one only on a new fingerprint)
      const identity = this.#dtlsIdentity;
      if (!identity) {
        this.onFatal("SRTP_BAD_KEY", "no DTLS certificate");
        return;
      }
      leg.protection = NOT_YET;
      const associate = (socket: Socket, port: number, assign: (p: MediaProtection) => void): DtlsSrtpAssociation => {
        const a = new DtlsSrtpAssociation({ socket, remote: { address: s.remoteAddress, port }, role: s.dtls!.role, identity, remoteFingerprint: s.dtls!.remoteFingerprint });
        a.keys.then(
          (k) =>
            assign(
              new SrtpProtection(
                SrtpKeyMaterial.fromRaw("AES_CM_128_HMAC_SHA1_80", k.localKey, k.localSalt),
                SrtpKeyMaterial.fromRaw("AES_CM_128_HMAC_SHA1_80", k.remoteKey, k.remoteSalt),
              ),
            ),
          (e: unknown) => this.onFatal("SRTP_BAD_KEY", (e as Error).message),
        );
        return a;
      };
      leg.dtlsRtp = associate(leg.rtp, s.remotePort, (p) => (leg.protection = p));
      if (!s.rtcpMux && leg.rtcp) {
        leg.rtcpProtection = NOT_YET;
        leg.dtlsRtcp = associate(leg.rtcp, s.remoteRtcpPort, (p) => (leg.rtcpProtection = p));
      }
      return;
    }
    leg.protection = s.srtp ? new SrtpProtection(s.srtp.local, s.srtp.remote) : PLAIN_RTP;
  }

  /** Connects the media to the meeting's participant and starts the 20 ms clock. */
  start(participant: NodeParticipant): void {
    this.#participant = participant;
    this.audioLeg.rtp.on("message", (m) => (isDtls(m) ? this.audioLeg.dtlsRtp?.feed(m) : this.#onAudioPacket(m)));
    this.audioLeg.rtcp?.on("message", (m) => isDtls(m) && this.audioLeg.dtlsRtcp?.feed(m));
    if (this.videoLeg) {
      const leg = this.videoLeg;
      leg.rtp.on("message", (m) => (isDtls(m) ? leg.dtlsRtp?.feed(m) : this.#onVideoPacket(m)));
      leg.rtcp?.on("message", (m) => (isDtls(m) ? leg.dtlsRtcp?.feed(m) : this.#onVideoRtcp(m)));
    }
    participant.on("frame", (f) => {
      if (f.kind === "audio") this.#onMemberAudio(f.ownerId, f.frame);
      else if (f.source === "camera") this.#onMemberVideo(f.ownerId, f.frame, f.keyframe);
    });
    participant.on("keyframeRequest", () => this.#askDeviceForKeyframe());
    this.#nextTick = Date.now();
    this.#tick = setInterval(() => this.#onTick(), 10);
    this.#rtcpTimer = setInterval(() => {
      this.audioLeg.sendRtcp(encodeEmptyRr(this.audioLeg.ssrc));
      if (this.videoLeg && this.#video) this.videoLeg.sendRtcp(encodeEmptyRr(this.videoLeg.ssrc));
    }, 5000);
  }

  /** A member left: its audio and video stop. */
  memberLeft(memberId: string): void {
    this.#mixer.remove(memberId);
    this.#decoders.delete(memberId);
    this.#withVideo.delete(memberId);
  }

  // ---- device -> meeting ---------------------------------------------------------------

  #unprotect(leg: RtpLeg, packet: Buffer): Buffer | null {
    try {
      return leg.protection.unprotectRtp(packet);
    } catch {
      this.stats.rejected += 1;
      return null;
    }
  }

  #onAudioPacket(packet: Buffer): void {
    if (this.#closed || !this.#audio) return;
    if (isRtcp(packet)) return;
    const plain = this.#unprotect(this.audioLeg, packet);
    if (!plain) return;
    const rtp = decodeRtp(plain);
    if (!rtp || rtp.payloadType !== this.#audio.payloadType) return;
    this.stats.audioPacketsIn += 1;
    if (this.#audio.codec === "opus") {
      // Opus from the device goes to the meeting as it is (only SFrame is added).
      void this.#participant?.sendFrame("audio", rtp.payload, rtp.timestamp);
      return;
    }
    this.#codec?.decode(rtp.payload);
  }

  /** Decoded device audio (G.711/G.722) re-encoded to Opus in 20 ms frames. */
  #uplink(pcm: Int16Array): void {
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
      void this.#participant?.sendFrame("audio", opus, this.#uplinkTs);
    }
  }

  #onVideoPacket(packet: Buffer): void {
    if (this.#closed || !this.#video || !this.videoLeg) return;
    if (isRtcp(packet)) {
      this.#onVideoRtcp(packet);
      return;
    }
    const plain = this.#unprotect(this.videoLeg, packet);
    if (!plain) return;
    const rtp = decodeRtp(plain);
    if (!rtp || rtp.payloadType !== this.#video.payloadType) return;
    this.stats.videoPacketsIn += 1;
    this.#deviceVideoSsrc = rtp.ssrc;
    if (this.#video.codec === "h264") {
      const { unit, lost } = this.#h264In.push(rtp);
      if (lost) this.#askDeviceForKeyframe();
      if (unit) this.#toMeeting?.push(unit.data);
      return;
    }
    const { frames, lost } = this.#depacketizer.push(rtp);
    if (lost > 0) this.#askDeviceForKeyframe();
    for (const f of frames) {
      this.stats.videoFramesIn += 1;
      void this.#participant?.sendFrame("video", f.data, f.timestamp, f.keyframe);
    }
  }

  #onVideoRtcp(packet: Buffer): void {
    if (!this.videoLeg) return;
    let plain: Buffer;
    try {
      plain = (this.videoLeg.rtcpProtection ?? this.videoLeg.protection).unprotectRtcp(packet);
    } catch {
      this.stats.rejected += 1;
      return;
    }
    // The device lost the picture: ask the speaker we forward for a key frame.
    if (rtcpRequestsKeyframe(plain) && this.#forwarding) {
      this.#participant?.requestKeyframe(this.#forwarding.memberId);
    }
  }

  #askDeviceForKeyframe(): void {
    const leg = this.videoLeg;
    if (!leg || !this.#video || this.#deviceVideoSsrc === undefined) return;
    leg.sendRtcp(encodePli(leg.ssrc, this.#deviceVideoSsrc));
    // PLI only: baresip (libre) logs FIR (RFC 5104) as an unknown feedback type.
  }

  // ---- meeting -> device ---------------------------------------------------------------

  #onMemberAudio(memberId: string, opus: Uint8Array): void {
    let dec = this.#decoders.get(memberId);
    if (!dec) this.#decoders.set(memberId, (dec = new OpusDecoder({ channels: 1, sample_rate: 48000 })));
    try {
      const pcm = decodeOpus(dec, opus);
      // Opus frames of other durations are cut or padded to 20 ms (browsers and bots send 20 ms).
      const frame = pcm.length === FRAME_SAMPLES_48K ? pcm : fit(pcm);
      this.#mixer.push(memberId, frame);
    } catch {
      // a corrupt frame: skip it
    }
  }

  #onMemberVideo(memberId: string, frame: Uint8Array, keyframe: boolean): void {
    this.#withVideo.add(memberId);
    const leg = this.videoLeg;
    if (!leg || !this.#video) return;
    const speaker = this.#speaker.current ?? memberId;
    let fwd = this.#forwarding;
    if (!fwd || fwd.memberId !== speaker) {
      fwd = this.#forwarding = { memberId: speaker, awaitingKeyframe: true, lastSourceTs: undefined };
      this.#participant?.requestKeyframe(speaker);
    }
    if (memberId !== fwd.memberId) return;
    if (fwd.awaitingKeyframe) {
      if (!keyframe) return;
      fwd.awaitingKeyframe = false;
    }
    if (this.#video.codec === "h264") {
      this.#toDevice?.push(frame, (Date.now() * 90) >>> 0);
      return;
    }
    // One outgoing RTP clock across speaker switches: advance by the source's own frame gaps.
    leg.ts = (leg.ts + 6000) >>> 0; // ~15 fps spacing; devices render on arrival
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
    const payloads = packetizeVp8(frame, this.#pictureId, MAX_VIDEO_PAYLOAD);
    for (let i = 0; i < payloads.length; i++) {
      leg.sendRtp(this.#video.payloadType, i === payloads.length - 1, leg.ts, payloads[i]!);
      this.stats.videoPacketsOut += 1;
    }
    this.stats.videoFramesOut += 1;
  }

  /** One H.264 access unit from the transcoder to the device (RFC 6184, marker on the last packet). */
  #sendH264(nals: Uint8Array[]): void {
    const leg = this.videoLeg;
    if (!leg || !this.#video || this.#closed) return;
    leg.ts = ((Date.now() * 90) >>> 0);
    const payloads = packetizeH264(nals, MAX_VIDEO_PAYLOAD, this.#video.h264Mode ?? 1);
    for (let i = 0; i < payloads.length; i++) {
      leg.sendRtp(this.#video.payloadType, i === payloads.length - 1, leg.ts, payloads[i]!);
      this.stats.videoPacketsOut += 1;
    }
    this.stats.videoFramesOut += 1;
  }

  #onTick(): void {
    if (this.#closed) return;
    // Catch up on missed 20 ms slots (timers run late on a loaded machine), within reason.
    const now = Date.now();
    let slots = 0;
    while (this.#nextTick <= now && slots < 5) {
      this.#nextTick += 20;
      slots += 1;
      const mix = this.#mixer.mix();
      this.#codec?.encode(mix);
    }
    if (now - this.#nextTick > 200) this.#nextTick = now;
    const speaker = this.#speaker.update(this.#mixer.levels(), this.#withVideo);
    if (speaker !== undefined && this.#forwarding && this.#forwarding.memberId !== speaker) {
      this.#forwarding = { memberId: speaker, awaitingKeyframe: true, lastSourceTs: undefined };
      this.#participant?.requestKeyframe(speaker);
    }
  }

  get ports(): { audio: number; video: number | undefined } {
    return { audio: this.audioLeg.port, video: this.videoLeg?.port };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tick) clearInterval(this.#tick);
    if (this.#rtcpTimer) clearInterval(this.#rtcpTimer);
    this.#codec?.close();
    this.#toMeeting?.close();
    this.#toDevice?.close();
    this.audioLeg.close();
    this.videoLeg?.close();
  }
}

function fit(pcm: Int16Array): Int16Array {
  const out = new Int16Array(FRAME_SAMPLES_48K);
  out.set(pcm.subarray(0, FRAME_SAMPLES_48K));
  return out;
}
