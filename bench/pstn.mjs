#!/usr/bin/env node
// A phone leg's audio work (phone dial-in), against decoding alone measured in the same run.
//
// 1. Offline, CPU time per 10 s of audio: decoding N members' Opus (the least any mixer must
//    do) vs the phone leg's downlink (decode, mix, resample to 8 kHz, G.711 µ-law or A-law) and
//    uplink (G.711 decode, resample to 48 kHz, Opus encode for the meeting).
// 2. Real time, the phone connector's own PhoneMedia (pstn/phone-media.js) running its 20 ms clock
//    for a G.711 phone on a local UDP socket, fed N members' frames every 20 ms, vs the same
//    clock decoding the frames only. The difference is what mixing costs per phone leg.
//
// Usage: npm run build && node bench/pstn.mjs [members=10] [seconds=10]
import { createSocket } from "node:dgram";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decoder, Encoder } from "@evan/opus";
import { AudioMixer, decodeG711, encodeG711, Resampler } from "../packages/connectors/dist/src/index.js";
import { PhoneMedia } from "../packages/connectors/dist/src/pstn/phone-media.js";
import { PromptSet, renderPrompts } from "../packages/connectors/dist/src/pstn/prompts.js";

const members = Number(process.argv[2] ?? 10);
const seconds = Number(process.argv[3] ?? 10);
const frames = seconds * 50;

// Each member's audio: a tone of its own, Opus-encoded once up front (what the connector receives).
const streams = Array.from({ length: members }, (_, m) => {
  const enc = new Encoder({ channels: 1, sample_rate: 48000, application: "voip" });
  return Array.from({ length: frames }, (_, f) => {
    const pcm = new Int16Array(960);
    for (let i = 0; i < 960; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * (300 + 40 * m) * (f * 960 + i)) / 48000));
    return enc.encode(pcm);
  });
});

function cpu(fn) {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1e6;
}

const decodeOnly = cpu(() => {
  const decs = streams.map(() => new Decoder({ channels: 1, sample_rate: 48000 }));
  for (let f = 0; f < frames; f++) for (let m = 0; m < members; m++) decs[m].decode(streams[m][f]);
});

function downlink(law) {
  return cpu(() => {
    const decs = streams.map(() => new Decoder({ channels: 1, sample_rate: 48000 }));
    const mixer = new AudioMixer();
    const down = new Resampler(48000, 8000);
    for (let f = 0; f < frames; f++) {
      for (let m = 0; m < members; m++) {
        const b = decs[m].decode(streams[m][f]);
        mixer.push(String(m), new Int16Array(b.buffer, b.byteOffset, b.byteLength >> 1).slice());
      }
      encodeG711(down.process(mixer.mix()), law);
    }
  });
}
const pcmu = downlink("pcmu");
const pcma = downlink("pcma");

// The phone's voice to the meeting: 160 G.711 bytes per 20 ms -> 48 kHz -> Opus.
const phoneVoice = Array.from({ length: frames }, (_, f) => {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * 1000 * (f * 160 + i)) / 8000));
  return encodeG711(pcm, "pcmu");
});
const uplink = cpu(() => {
  const up = new Resampler(8000, 48000);
  const enc = new Encoder({ channels: 1, sample_rate: 48000, application: "voip" });
  for (let f = 0; f < frames; f++) enc.encode(up.process(decodeG711(phoneVoice[f], "pcmu")));
});

// Real time: PhoneMedia's clock, fed every 20 ms, for `seconds`.
async function realTime(withPhoneMedia) {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-prompts-"));
  await renderPrompts(dir);
  const prompts = { 8000: await PromptSet.load(dir, 8000), 16000: await PromptSet.load(dir, 16000) };
  const sink = createSocket("udp4");
  await new Promise((r) => sink.bind(0, "127.0.0.1", r));
  let received = 0;
  sink.on("message", () => received++);
  const participant = new EventEmitter();
  let media;
  const decs = streams.map(() => new Decoder({ channels: 1, sample_rate: 48000 }));
  if (withPhoneMedia) {
    media = await PhoneMedia.open("127.0.0.1", () => undefined);
    const port = sink.address().port;
    media.configure({ codec: "pcmu", payloadType: 0, clockRate: 8000, channels: 1, remoteAddress: "127.0.0.1", remotePort: port, remoteRtcpPort: port + 1, rtcpMux: false, index: 0, direction: "sendrecv" });
    media.start(prompts);
    media.attach(participant);
  }
  let f = 0;
  const t0 = process.cpuUsage();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      for (let m = 0; m < members; m++) {
        if (withPhoneMedia) participant.emit("frame", { kind: "audio", ownerId: String(m), frame: streams[m][f % frames] });
        else decs[m].decode(streams[m][f % frames]);
      }
      if (++f >= frames) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
  const d = process.cpuUsage(t0);
  media?.close();
  sink.close();
  rmSync(dir, { recursive: true, force: true });
  return { cpu: (d.user + d.system) / 1e6, wall: f / 50, packets: received };
}
const rtDecode = await realTime(false);
const rtPhone = await realTime(true);

const pct = (s, secs = seconds) => `${((100 * s) / secs).toFixed(1)}%`;
console.log(`members: ${members}, audio: ${seconds} s (${frames} frames of 20 ms each)`);
console.log("| phone leg work | CPU for real time (one core) | vs decoding only |");
console.log("|---|---|---|");
console.log(`| decode ${members} Opus streams (baseline) | ${pct(decodeOnly)} | 1.00× |`);
console.log(`| decode + mix + resample + G.711 µ-law (downlink) | ${pct(pcmu)} | ${(pcmu / decodeOnly).toFixed(2)}× |`);
console.log(`| decode + mix + resample + G.711 A-law (downlink) | ${pct(pcma)} | ${(pcma / decodeOnly).toFixed(2)}× |`);
console.log(`| G.711 decode + resample + Opus encode (uplink) | ${pct(uplink)} | ${(uplink / decodeOnly).toFixed(2)}× |`);
console.log(`| mixing alone (downlink µ-law − decoding) | ${pct(pcmu - decodeOnly)} | |`);
console.log("");
console.log(`Real time, ${rtPhone.wall} s of 20 ms ticks (includes timers and UDP sends; ${rtPhone.packets} packets reached the phone's socket):`);
console.log("| real-time loop | CPU (one core) | vs decoding only |");
console.log("|---|---|---|");
console.log(`| decode ${members} Opus streams every 20 ms (baseline) | ${pct(rtDecode.cpu, rtDecode.wall)} | 1.00× |`);
console.log(`| PhoneMedia: decode + mix + G.711 + RTP to the phone | ${pct(rtPhone.cpu, rtPhone.wall)} | ${(rtPhone.cpu / rtDecode.cpu).toFixed(2)}× |`);
console.log(`| mixing per phone leg (PhoneMedia − decoding) | ${pct(rtPhone.cpu - rtDecode.cpu, rtPhone.wall)} | target < 5.0% |`);
