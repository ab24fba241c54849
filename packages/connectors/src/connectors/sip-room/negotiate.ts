/**
 * Offer/answer (RFC 3264) between a SIP device and the room-system connector: which codecs, which
 * media protection, and what Conclave can say about the far leg.
 *
 * - Audio: Opus (passed through both ways when the device offers it), else G.722, else G.711
 *   (PCMU, PCMA). telephone-event is accepted (DTMF, for later connectors) and ignored here.
 * - Video: VP8 passed through (active speaker out, the device's camera in), else H.264
 *   (packetization-mode 1) through an ffmpeg transcoder; else no video.
 * - Protection: SDES-SRTP (RFC 4568; AEAD_AES_128_GCM preferred, else AES_CM_128_HMAC_SHA1_80),
 *   with a fresh key of ours per m-section; DTLS-SRTP (RFC 5763) when the device offers
 *   UDP/TLS/RTP/SAVP(F) with a fingerprint and no SDES (we are passive to actpass); plain RTP when
 *   the device offers no usable crypto.
 * - "Require encryption for 3rd-party endpoints": the call needs SIP over TLS AND SRTP; otherwise
 *   the answer is 488 with an explanation for the device's screen.
 */
import { parseSdp, writeSdp, payloadTypes, type MediaDescription, type SessionDescription } from "@conclave/protocol/sdp";
import type { FarLeg } from "@conclave/protocol";
import { ConnectorError } from "../../errors.js";
import { SrtpKeyMaterial, cryptoKeyParams, parseCryptoAttribute, srtpSuitePreference, type SrtpProfile } from "../../media/sdes.js";
import { DTLS_SRTP_PROFILE_NAME } from "../../media/dtls.js";

export type AudioCodecName = "opus" | "g722" | "pcmu" | "pcma";
export type VideoCodecName = "vp8" | "h264";

export interface NegotiatedStream<C extends string> {
  codec: C;
  payloadType: number;
  clockRate: number;
  channels: number;
  /** The device's address and ports for this stream. */
  remoteAddress: string;
  remotePort: number;
  remoteRtcpPort: number;
  rtcpMux: boolean;
  /** The telephone-event payload type the device offered (audio only). */
  dtmfPayloadType?: number;
  /** H.264 only: RFC 6184 packetization mode (0: single NAL units, 1: also FU-A and STAP-A). */
  h264Mode?: 0 | 1;
  /**
   * SRTP keys (ours, theirs) from SDES; absent for plain RTP and DTLS-SRTP. `profile` "microsoft":
   * the media leg protects with microsoft/srtp-aes-cm.ts (32-bit tag, MKI) instead of werift's.
   */
  srtp?: { local: SrtpKeyMaterial; remote: SrtpKeyMaterial; tag: number; profile?: SrtpProfile };
  /** DTLS-SRTP (RFC 5763): the device's certificate fingerprint and our DTLS role. */
  dtls?: { remoteFingerprint: { algorithm: string; value: string }; role: "server" | "client" };
  /** Index of the m-section in the offer. */
  index: number;
  direction: "sendrecv" | "sendonly" | "recvonly" | "inactive";
}

export interface Negotiation {
  audio: NegotiatedStream<AudioCodecName>;
  video: NegotiatedStream<VideoCodecName> | undefined;
  farLeg: FarLeg;
  offer: SessionDescription;
}

export type NegotiationResult =
  | { ok: true; negotiation: Negotiation }
  | { ok: false; status: 488 | 400; reason: string; explanation: string };

export interface NegotiateOptions {
  /** SIP signaling transport of the call. */
  signaling: "udp" | "tcp" | "tls";
  /** The meeting host's "Require encryption for 3rd-party endpoints (SIP/H.323)". */
  requireEncryption: boolean;
  /** Whether an H.264-only device may get video through the transcoder. */
  allowH264?: boolean;
  /** Whether DTLS-SRTP offers (without SDES) are accepted (default true). */
  allowDtls?: boolean;
  /**
   * The SDES dialect (default "standard"): "microsoft" (a phone trunk's SBC) answers
   * AES_CM_128_HMAC_SHA1_80 or _32, with or without an MKI, and never GCM.
   */
  srtpProfile?: SrtpProfile;
}

export const ENCRYPTION_REQUIRED_TEXT =
  "Media encryption is required for this meeting: enable SIP over TLS and SRTP (media encryption) on the device, then call again";

const AUDIO_PREFERENCE: readonly { name: AudioCodecName; encoding: string; rate: number }[] = [
  { name: "opus", encoding: "opus", rate: 48000 },
  { name: "g722", encoding: "g722", rate: 8000 },
  { name: "pcmu", encoding: "pcmu", rate: 8000 },
  { name: "pcma", encoding: "pcma", rate: 8000 },
];
const STATIC_PT: Record<number, { encoding: string; rate: number; channels?: number }> = {
  0: { encoding: "pcmu", rate: 8000 },
  8: { encoding: "pcma", rate: 8000 },
  9: { encoding: "g722", rate: 8000 },
};

/** Negotiates a device's offer. Never throws for a bad offer: it answers 400 or 488. */
export function negotiateOffer(offerText: string, opts: NegotiateOptions): NegotiationResult {
  let offer: SessionDescription;
  try {
    offer = parseSdp(offerText);
  } catch (e) {
    return { ok: false, status: 400, reason: "Bad Request", explanation: `The session description is malformed (${(e as Error).message})` };
  }
  const sessionAddress = offer.connection?.ip;
  let audio: NegotiatedStream<AudioCodecName> | undefined;
  let video: NegotiatedStream<VideoCodecName> | undefined;
  let sawDtlsOnly = false;
  let plainAudio = false;
  for (const [index, m] of offer.media.entries()) {
    if (m.port === 0) continue;
    const proto = m.protocol.toUpperCase();
    if (!proto.startsWith("RTP/") && !proto.startsWith("UDP/TLS/RTP/")) continue;
    const address = m.connection?.ip ?? sessionAddress;
    if (address === undefined) continue;
    const cryptoLines = (m.crypto ?? []).map((c) => `${c.id} ${c.suite} ${c.config}${c.sessionConfig ? ` ${c.sessionConfig}` : ""}`);
    let srtp: NegotiatedStream<string>["srtp"];
    try {
      srtp = chooseCrypto(cryptoLines, opts.srtpProfile ?? "standard");
    } catch {
      return { ok: false, status: 488, reason: "Not Acceptable Here", explanation: "The device's SRTP key parameters are malformed" };
    }
    let dtls: NegotiatedStream<string>["dtls"];
    if (proto.startsWith("UDP/TLS/") && srtp === undefined) {
      const fp = m.fingerprint ?? offer.fingerprint;
      const setup = String(m.setup ?? offer.setup ?? "actpass");
      if (opts.allowDtls === false || fp === undefined || !["actpass", "active", "passive"].includes(setup)) {
        sawDtlsOnly = true;
        continue;
      }
      // RFC 5763 §5: the answerer to actpass (or active) is passive, i.e. the DTLS server.
      dtls = { remoteFingerprint: { algorithm: String(fp.type), value: String(fp.hash) }, role: setup === "passive" ? "client" : "server" };
    }
    const secureProfile = proto.includes("SAVP");
    if (secureProfile && srtp === undefined && dtls === undefined) continue; // RTP/SAVP without usable keys: cannot answer it
    const common = {
      remoteAddress: address,
      remotePort: m.port,
      remoteRtcpPort: m.rtcp?.port ?? m.port + 1,
      rtcpMux: m.rtcpMux !== undefined,
      index,
      direction: (m.direction ?? "sendrecv") as NegotiatedStream<string>["direction"],
      ...(srtp ? { srtp } : {}),
      ...(dtls ? { dtls } : {}),
    };
    if (m.type === "audio" && audio === undefined) {
      const choice = chooseAudio(m);
      if (!choice) continue;
      audio = { ...common, ...choice };
      if (!srtp && !dtls) plainAudio = true;
    } else if (m.type === "video" && video === undefined) {
      const choice = chooseVideo(m, opts.allowH264 !== false);
      if (!choice) continue;
      // Video is protected like audio or not at all: a mix would make the far-leg claim wrong.
      video = { ...common, ...choice };
    }
  }
  if (audio === undefined) {
    if (sawDtlsOnly) {
      return { ok: false, status: 488, reason: "Not Acceptable Here", explanation: "DTLS-SRTP without SDES keys is not supported: offer SDES-SRTP (a=crypto) on the device" };
    }
    return { ok: false, status: 488, reason: "Not Acceptable Here", explanation: "No common audio codec: offer Opus, G.722 or G.711 (PCMU/PCMA)" };
  }
  if (video !== undefined && (video.srtp === undefined && video.dtls === undefined) !== plainAudio) video = undefined;
  if (video !== undefined && (video.dtls === undefined) !== (audio.dtls === undefined)) video = undefined;
  const encryptedMedia = audio.srtp !== undefined || audio.dtls !== undefined;
  const farLeg: FarLeg = audio.dtls
    ? { protocol: "SIP", signaling: opts.signaling, media: "dtls-srtp", suite: DTLS_SRTP_PROFILE_NAME }
    : { protocol: "SIP", signaling: opts.signaling, media: encryptedMedia ? "srtp" : "rtp", ...(encryptedMedia ? { suite: audio.srtp!.local.suite } : {}) };
  if (opts.requireEncryption && !(opts.signaling === "tls" && encryptedMedia)) {
    return { ok: false, status: 488, reason: "Not Acceptable Here", explanation: ENCRYPTION_REQUIRED_TEXT };
  }
  return { ok: true, negotiation: { audio, video, farLeg, offer } };
}

function chooseCrypto(lines: string[], profile: SrtpProfile): NegotiatedStream<string>["srtp"] {
  const usable = lines.map((l) => parseCryptoAttribute(l, profile)).filter((c) => c !== null);
  for (const suite of srtpSuitePreference(profile)) {
    const c = usable.find((u) => u.suite === suite);
    // An offer with an MKI gets one of the same length back: SBCs that send one expect one.
    if (c) return { local: SrtpKeyMaterial.generate(suite, c.keys.mki?.length), remote: c.keys, tag: c.tag, ...(profile === "microsoft" ? { profile } : {}) };
  }
  return undefined;
}

function rtpmapOf(m: MediaDescription, pt: number): { encoding: string; rate: number; channels: number } | undefined {
  const r = m.rtp.find((x) => x.payload === pt);
  if (r) return { encoding: r.codec.toLowerCase(), rate: r.rate ?? 0, channels: r.encoding === undefined ? 1 : Number(r.encoding) };
  const s = STATIC_PT[pt];
  return s ? { encoding: s.encoding, rate: s.rate, channels: s.channels ?? 1 } : undefined;
}

function chooseAudio(m: MediaDescription): Pick<NegotiatedStream<AudioCodecName>, "codec" | "payloadType" | "clockRate" | "channels" | "dtmfPayloadType"> | undefined {
  const pts = payloadTypes(m);
  const dtmf = pts.find((pt) => rtpmapOf(m, pt)?.encoding === "telephone-event" && rtpmapOf(m, pt)?.rate === 8000);
  for (const want of AUDIO_PREFERENCE) {
    const pt = pts.find((p) => {
      const r = rtpmapOf(m, p);
      return r !== undefined && r.encoding === want.encoding && r.rate === want.rate;
    });
    if (pt !== undefined) {
      const r = rtpmapOf(m, pt)!;
      return { codec: want.name, payloadType: pt, clockRate: r.rate, channels: want.name === "opus" ? 2 : 1, ...(dtmf !== undefined ? { dtmfPayloadType: dtmf } : {}) };
    }
  }
  return undefined;
}

function chooseVideo(m: MediaDescription, allowH264: boolean): Pick<NegotiatedStream<VideoCodecName>, "codec" | "payloadType" | "clockRate" | "channels" | "h264Mode"> | undefined {
  const pts = payloadTypes(m);
  const vp8 = pts.find((p) => rtpmapOf(m, p)?.encoding === "vp8" && rtpmapOf(m, p)?.rate === 90000);
  if (vp8 !== undefined) return { codec: "vp8", payloadType: vp8, clockRate: 90000, channels: 1 };
  if (!allowH264) return undefined;
  // RFC 6184 §8.1: packetization-mode absent means 0. Mode 1 is preferred; mode 2 is not done.
  const modeOf = (p: number): number => Number(/packetization-mode=(\d)/.exec(m.fmtp.find((f) => f.payload === p)?.config ?? "")?.[1] ?? 0);
  const h264 = pts.filter((p) => rtpmapOf(m, p)?.encoding === "h264" && rtpmapOf(m, p)?.rate === 90000);
  const pick = h264.find((p) => modeOf(p) === 1) ?? h264.find((p) => modeOf(p) === 0);
  return pick !== undefined ? { codec: "h264", payloadType: pick, clockRate: 90000, channels: 1, h264Mode: modeOf(pick) as 0 | 1 } : undefined;
}

export interface LocalMediaPorts {
  address: string;
  audioPort: number;
  videoPort: number | undefined;
}

/**
 * The SDP answer: one m-section per offered one (RFC 3264 §6), the chosen codec (and
 * telephone-event) in the used ones, port 0 in the rest.
 */
export function buildAnswer(n: Negotiation, ports: LocalMediaPorts, sessionId: number, version = 1, dtlsFingerprint?: string): string {
  const media: MediaDescription[] = n.offer.media.map((m, index) => {
    const stream = index === n.audio.index ? n.audio : n.video && index === n.video.index ? n.video : undefined;
    if (!stream || (stream === n.video && ports.videoPort === undefined)) {
      return { type: m.type, port: 0, protocol: m.protocol, payloads: String(payloadTypes(m)[0] ?? 0), rtp: [], fmtp: [] };
    }
    const port = stream === n.audio ? ports.audioPort : ports.videoPort!;
    const rtp: MediaDescription["rtp"] = [];
    const fmtp: MediaDescription["fmtp"] = [];
    const pts = [stream.payloadType];
    if (stream.codec === "opus") {
      rtp.push({ payload: stream.payloadType, codec: "opus", rate: 48000, encoding: 2 });
      fmtp.push({ payload: stream.payloadType, config: "stereo=0;sprop-stereo=0;useinbandfec=1;maxaveragebitrate=64000" });
    } else if (stream.codec === "g722") {
      rtp.push({ payload: stream.payloadType, codec: "G722", rate: 8000 });
    } else if (stream.codec === "pcmu") {
      rtp.push({ payload: stream.payloadType, codec: "PCMU", rate: 8000 });
    } else if (stream.codec === "pcma") {
      rtp.push({ payload: stream.payloadType, codec: "PCMA", rate: 8000 });
    } else if (stream.codec === "vp8") {
      rtp.push({ payload: stream.payloadType, codec: "VP8", rate: 90000 });
    } else {
      rtp.push({ payload: stream.payloadType, codec: "H264", rate: 90000 });
      fmtp.push({ payload: stream.payloadType, config: `packetization-mode=${(stream as NegotiatedStream<VideoCodecName>).h264Mode ?? 1};profile-level-id=42e01f` });
    }
    const dtmf = (stream as NegotiatedStream<AudioCodecName>).dtmfPayloadType;
    if (dtmf !== undefined) {
      pts.push(dtmf);
      rtp.push({ payload: dtmf, codec: "telephone-event", rate: 8000 });
      fmtp.push({ payload: dtmf, config: "0-15" });
    }
    const answerDirection = ({ sendrecv: "sendrecv", sendonly: "recvonly", recvonly: "sendonly", inactive: "inactive" } as const)[stream.direction];
    const dtlsAttributes =
      stream.dtls && dtlsFingerprint
        ? {
            fingerprint: { type: dtlsFingerprint.split(" ")[0]!, hash: dtlsFingerprint.split(" ")[1]! },
            setup: stream.dtls.role === "server" ? "passive" : "active",
          }
        : {};
    const out: MediaDescription = {
      type: m.type,
      port,
      protocol: stream.dtls ? m.protocol : m.protocol.toUpperCase().startsWith("UDP/TLS/") ? "RTP/SAVP" : m.protocol,
      ...dtlsAttributes,
      payloads: pts.join(" "),
      rtp,
      fmtp,
      direction: answerDirection,
      ...(stream.rtcpMux ? { rtcpMux: "rtcp-mux" } : {}),
      ...(stream.srtp ? { crypto: [{ id: stream.srtp.tag, suite: stream.srtp.local.suite, config: cryptoKeyParams(stream.srtp.local) }] } : {}),
      ...(m.type === "video" ? { rtcpFb: [{ payload: stream.payloadType, type: "nack", subtype: "pli" }, { payload: stream.payloadType, type: "ccm", subtype: "fir" }] } : { ptime: 20 }),
    };
    return out;
  });
  const answer: SessionDescription = {
    version: 0,
    origin: { username: "conclave", sessionId, sessionVersion: version, netType: "IN", ipVer: ports.address.includes(":") ? 6 : 4, address: ports.address },
    name: "Conclave",
    connection: { version: ports.address.includes(":") ? 6 : 4, ip: ports.address },
    timing: { start: 0, stop: 0 },
    media,
  };
  return writeSdp(answer);
}

/** An SDP offer of ours (outbound calls): Opus, G.722, PCMU, PCMA; VP8 and H.264; SDES when asked. */
export function buildOffer(ports: LocalMediaPorts, opts: { srtp: boolean; sessionId: number }): { sdp: string; audioKeys?: SrtpKeyMaterial; videoKeys?: SrtpKeyMaterial } {
  const audioKeys = opts.srtp ? SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80") : undefined;
  const videoKeys = opts.srtp && ports.videoPort !== undefined ? SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80") : undefined;
  const proto = opts.srtp ? "RTP/SAVP" : "RTP/AVP";
  const media: MediaDescription[] = [
    {
      type: "audio",
      port: ports.audioPort,
      protocol: proto,
      payloads: "111 9 0 8 101",
      rtp: [
        { payload: 111, codec: "opus", rate: 48000, encoding: 2 },
        { payload: 9, codec: "G722", rate: 8000 },
        { payload: 0, codec: "PCMU", rate: 8000 },
        { payload: 8, codec: "PCMA", rate: 8000 },
        { payload: 101, codec: "telephone-event", rate: 8000 },
      ],
      fmtp: [
        { payload: 111, config: "stereo=0;sprop-stereo=0;useinbandfec=1" },
        { payload: 101, config: "0-15" },
      ],
      direction: "sendrecv",
      ptime: 20,
      ...(audioKeys ? { crypto: [{ id: 1, suite: audioKeys.suite, config: `inline:${audioKeys.inline()}` }] } : {}),
    },
  ];
  if (ports.videoPort !== undefined) {
    media.push({
      type: "video",
      port: ports.videoPort,
      protocol: proto,
      payloads: "96 97",
      rtp: [
        { payload: 96, codec: "VP8", rate: 90000 },
        { payload: 97, codec: "H264", rate: 90000 },
      ],
      fmtp: [{ payload: 97, config: "packetization-mode=1;profile-level-id=42e01f" }],
      rtcpFb: [
        { payload: "*" as unknown as number, type: "nack", subtype: "pli" },
        { payload: "*" as unknown as number, type: "ccm", subtype: "fir" },
      ],
      direction: "sendrecv",
      ...(videoKeys ? { crypto: [{ id: 1, suite: videoKeys.suite, config: `inline:${videoKeys.inline()}` }] } : {}),
    });
  }
  const offer: SessionDescription = {
    version: 0,
    origin: { username: "conclave", sessionId: opts.sessionId, sessionVersion: 1, netType: "IN", ipVer: ports.address.includes(":") ? 6 : 4, address: ports.address },
    name: "Conclave",
    connection: { version: ports.address.includes(":") ? 6 : 4, ip: ports.address },
    timing: { start: 0, stop: 0 },
    media,
  };
  return { sdp: writeSdp(offer), ...(audioKeys ? { audioKeys } : {}), ...(videoKeys ? { videoKeys } : {}) };
}

/**
 * The device's answer to our offer: which codecs it picked, its ports and its keys.
 * Throws SDP_BAD when the answer is unusable.
 */
export function readAnswer(answerText: string, ours: { audioKeys?: SrtpKeyMaterial; videoKeys?: SrtpKeyMaterial }, signaling: "udp" | "tcp" | "tls"): Negotiation {
  let answer: SessionDescription;
  try {
    answer = parseSdp(answerText);
  } catch (e) {
    throw new ConnectorError("SDP_BAD", (e as Error).message);
  }
  const result = negotiateOffer(answerText, { signaling, requireEncryption: false });
  if (!result.ok) throw new ConnectorError("SDP_NO_COMMON_MEDIA", result.explanation);
  const n = result.negotiation;
  // In an answer the keys we must use to send are ours from the offer, not fresh ones.
  const fix = <C extends string>(s: NegotiatedStream<C> | undefined, keys: SrtpKeyMaterial | undefined): NegotiatedStream<C> | undefined => {
    if (!s) return undefined;
    if (!s.srtp) return s;
    if (!keys || keys.suite !== s.srtp.remote.suite) throw new ConnectorError("SDP_BAD", "the answer's SRTP suite is not the one offered");
    return { ...s, srtp: { ...s.srtp, local: keys } };
  };
  return { ...n, audio: fix(n.audio, ours.audioKeys)!, video: fix(n.video, ours.videoKeys), offer: answer };
}
