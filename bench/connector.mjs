#!/usr/bin/env node
// The room-system connector's per-call audio work, against baselines measured in the same run:
// decoding N members' Opus frames (the least any mixer must do) vs decoding + mixing + encoding
// for the device (Opus, or resampling + G.711), and SRTP protection vs raw AES-128-CTR+HMAC.
// Prints the CPU share of one core each needs for real-time audio (50 frames per second).
//
// Usage: npm run build && node bench/connector.mjs [members=10] [seconds=10]
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import { Decoder, Encoder } from "@evan/opus";
import { AudioMixer, encodeG711, Resampler, SrtpKeyMaterial, SrtpProtection, encodeRtp } from "../packages/connectors/dist/src/index.js";

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

function mixTo(codec) {
  return cpu(() => {
    const decs = streams.map(() => new Decoder({ channels: 1, sample_rate: 48000 }));
    const mixer = new AudioMixer();
    const out = codec === "opus" ? new Encoder({ channels: 1, sample_rate: 48000, application: "voip" }) : undefined;
    const down = codec === "pcmu" ? new Resampler(48000, 8000) : undefined;
    for (let f = 0; f < frames; f++) {
      for (let m = 0; m < members; m++) {
        const b = decs[m].decode(streams[m][f]);
        mixer.push(String(m), new Int16Array(b.buffer, b.byteOffset, b.byteLength >> 1).slice());
      }
      const mix = mixer.mix();
      if (out) out.encode(mix);
      else encodeG711(down.process(mix), "pcmu");
    }
  });
}
const mixOpus = mixTo("opus");
const mixPcmu = mixTo("pcmu");

// SRTP on 160-byte payloads (G.711 20 ms) vs raw AES-128-CTR + HMAC-SHA1 over the same bytes.
const payload = randomBytes(160);
const n = 50_000;
const a = new SrtpProtection(SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80"), SrtpKeyMaterial.generate("AES_CM_128_HMAC_SHA1_80"));
const srtp = cpu(() => {
  for (let i = 0; i < n; i++) {
    const h = { payloadType: 0, marker: false, sequenceNumber: i & 0xffff, timestamp: i * 160, ssrc: 1 };
    a.protectRtp(h, payload, encodeRtp(h, payload));
  }
});
const key = randomBytes(16);
const mac = randomBytes(20);
const raw = cpu(() => {
  for (let i = 0; i < n; i++) {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(i, 12);
    const c = createCipheriv("aes-128-ctr", key, iv);
    const ct = Buffer.concat([c.update(payload), c.final()]);
    createHmac("sha1", mac).update(ct).digest().subarray(0, 10);
  }
});

const pct = (s) => `${((100 * s) / seconds).toFixed(1)}%`;
console.log(`members: ${members}, audio: ${seconds} s (${frames} frames of 20 ms each)`);
console.log("| work per call | CPU for real time (one core) | vs decoding only |");
console.log("|---|---|---|");
console.log(`| decode ${members} Opus streams (baseline) | ${pct(decodeOnly)} | 1.00× |`);
console.log(`| decode + mix + encode Opus for the device | ${pct(mixOpus)} | ${(mixOpus / decodeOnly).toFixed(2)}× |`);
console.log(`| decode + mix + resample + encode G.711 | ${pct(mixPcmu)} | ${(mixPcmu / decodeOnly).toFixed(2)}× |`);
console.log("");
console.log("| SRTP protect, 160-byte payloads | packets/s | vs raw AES-CTR + HMAC-SHA1 |");
console.log("|---|---|---|");
console.log(`| werift SrtpSession (AES_CM_128_HMAC_SHA1_80) | ${Math.round(n / srtp).toLocaleString("en")} | ${(raw / srtp).toFixed(2)}× |`);
