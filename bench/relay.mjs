#!/usr/bin/env node
// Media relay CPU per forwarded stream, against plain UDP forwarding measured in the same run.
//
//   relay     the MediaRelay (node-datachannel / libdatachannel) in a child process of its own,
//             one publisher sending a ~1.4 Mbit/s VP8-like stream (30 frames/s of random bytes,
//             a larger keyframe every 2 s) and K subscribers receiving it, all real WebRTC
//             (ICE, DTLS-SRTP) on loopback; the participants are werift NodeMediaTransports in
//             this process. What the relay does per packet: SRTP decrypt, RTP header checks,
//             then per subscriber SSRC/PT rewrite and SRTP encrypt, plus RTCP.
//   baseline  a child process that receives the same RTP packets (same packetizer, sizes and
//             rate) on a plain UDP socket and sends each to K ports with its SSRC rewritten:
//             the least a forwarder in Node can do, without encryption or congestion feedback.
//
// Both children are measured with process.cpuUsage() (user + system, all threads) over the same
// window once every subscriber is receiving. The figure is CPU per forwarded stream as a share of
// one core; the ratio says what the WebRTC stack costs over bare forwarding.
//
// Usage: npm run build && node bench/relay.mjs [subscribers=4] [seconds=10]
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { once } from "node:events";
import { fileURLToPath, pathToFileURL } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const FPS = 30;
const BITRATE = 1_400_000;
const FRAME_BYTES = Math.round(BITRATE / 8 / FPS); // ~5.8 kB
const KEYFRAME_EVERY = 2 * FPS;

// ---- children ---------------------------------------------------------------------------------

async function relayChild() {
  const { MediaRelay } = await import("../packages/server/dist/src/relay/index.js");
  const relay = new MediaRelay({ listenAddress: "127.0.0.1" });
  const room = relay.createRoom("bench");
  const peers = new Map();
  const reply = (id, body) => process.send({ id, ...body });
  process.on("message", async (m) => {
    try {
      switch (m.t) {
        case "addPeer": {
          const peer = room.addPeer(m.peer);
          peers.set(m.peer, peer);
          peer.on("subscribeOffer", (o) => process.send({ t: "subscribeOffer", peer: m.peer, sdp: o.sdp, tracks: o.tracks }));
          peer.on("localCandidate", (c) => process.send({ t: "candidate", peer: m.peer, ...c }));
          return reply(m.id, {});
        }
        case "publishOffer":
          return reply(m.id, { sdp: await peers.get(m.peer).handlePublishOffer(m.sdp, m.tracks) });
        case "subscribeAnswer":
          await peers.get(m.peer).handleSubscribeAnswer(m.sdp);
          return reply(m.id, {});
        case "candidate":
          await peers.get(m.peer).addIceCandidate(m.pc, m.candidate, m.mid);
          return reply(m.id, {});
        case "cpu": {
          let packetsOut = 0;
          for (const p of room.publications.values()) packetsOut += p.stats.packetsOut;
          return reply(m.id, { cpu: process.cpuUsage(), packetsOut });
        }
        case "close":
          relay.close();
          reply(m.id, {});
          return process.disconnect();
      }
    } catch (e) {
      reply(m.id, { error: String(e?.message ?? e) });
    }
  });
  process.send({ t: "ready" });
}

function baselineChild() {
  const socket = dgram.createSocket("udp4");
  let targets = [];
  let packetsOut = 0;
  socket.on("message", (packet) => {
    // The payload is shared; each destination gets its own 12-byte header with its SSRC.
    const payload = packet.subarray(12);
    for (const t of targets) {
      const header = Buffer.from(packet.subarray(0, 12));
      header.writeUInt32BE(t.ssrc, 8);
      socket.send([header, payload], t.port, "127.0.0.1");
      packetsOut++;
    }
  });
  socket.bind(0, "127.0.0.1", () => process.send({ t: "ready", port: socket.address().port }));
  process.on("message", (m) => {
    if (m.t === "targets") {
      targets = m.ports.map((port, i) => ({ port, ssrc: 0x10000 + i }));
      process.send({ id: m.id });
    } else if (m.t === "cpu") process.send({ id: m.id, cpu: process.cpuUsage(), packetsOut });
    else if (m.t === "close") {
      socket.close();
      process.send({ id: m.id });
      process.disconnect();
    }
  });
}

// ---- parent -----------------------------------------------------------------------------------

/** A child process with request/response messaging. */
async function spawnChild(role) {
  const child = fork(SELF, [role], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const pending = new Map();
  let next = 0;
  let onEvent = () => {};
  child.on("message", (m) => {
    if (m.id !== undefined && pending.has(m.id)) {
      const { resolve, reject } = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    } else onEvent(m);
  });
  const [ready] = await once(child, "message");
  return {
    ready,
    onEvent: (fn) => (onEvent = fn),
    call: (t, body = {}) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        child.send({ id, t, ...body });
      }),
    exited: once(child, "exit"),
  };
}

function until(check, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = setInterval(() => {
      if (check()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(tick);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

/** The frames both phases send: same sizes, same order. */
function makeFrames(count) {
  const frames = [];
  for (let i = 0; i < count; i++) {
    const keyframe = i % KEYFRAME_EVERY === 0;
    // Keyframes ~4x a delta frame; deltas sized so the average is FRAME_BYTES.
    const size = keyframe ? FRAME_BYTES * 4 : Math.round((FRAME_BYTES * KEYFRAME_EVERY - FRAME_BYTES * 4) / (KEYFRAME_EVERY - 1));
    const f = randomBytes(size);
    f[0] = keyframe ? f[0] & 0xfe : f[0] | 1;
    frames.push(f);
  }
  return frames;
}

async function cpuWindow(child, seconds) {
  const a = await child.call("cpu");
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await child.call("cpu");
  const wall = (performance.now() - t0) / 1000;
  const cpu = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1e6;
  return { cpuSeconds: cpu, wallSeconds: wall, packetsOut: b.packetsOut - a.packetsOut };
}

async function measureRelay(subscribers, seconds, frames) {
  const { NodeMediaTransport } = await import("../packages/client/dist/src/media/index.js");
  const child = await spawnChild("--relay-child");
  const transports = new Map();
  child.onEvent((m) => {
    const t = transports.get(m.peer);
    if (!t) return;
    if (m.t === "candidate") void t.addRemoteCandidate(m.pc, m.candidate, m.mid);
    if (m.t === "subscribeOffer") {
      void (async () => {
        const answer = await t.handleSubscribeOffer(m.sdp, m.tracks);
        await child.call("subscribeAnswer", { peer: m.peer, sdp: answer });
      })();
    }
  });
  const join = async (peer) => {
    const t = new NodeMediaTransport();
    transports.set(peer, t);
    t.on("localCandidate", (c) => void child.call("candidate", { peer, ...c }));
    await child.call("addPeer", { peer });
    return t;
  };
  const received = new Array(subscribers).fill(0);
  const publisher = await join("publisher");
  const track = publisher.publish("video", "camera");
  const offer = await publisher.createPublishOffer();
  const { sdp } = await child.call("publishOffer", { peer: "publisher", sdp: offer, tracks: publisher.publishTracks });
  await publisher.applyPublishAnswer(sdp);
  for (let i = 0; i < subscribers; i++) {
    const t = await join(`sub${i}`);
    t.on("frame", () => received[i]++);
  }
  let n = 0;
  const sender = setInterval(() => {
    const frame = frames[n++ % frames.length];
    track.sendFrame(frame, { keyframe: (frame[0] & 1) === 0, timestampIncrement: 3000 });
  }, 1000 / FPS);
  await until(() => received.every((r) => r >= FPS), 60_000, "every subscriber receiving");
  const before = [...received];
  const window = await cpuWindow(child, seconds);
  const framesPerSubscriber = received.map((r, i) => r - before[i]);
  clearInterval(sender);
  await child.call("close");
  await child.exited;
  await Promise.all([...transports.values()].map((t) => t.close()));
  return { ...window, framesPerSubscriber };
}

async function measureBaseline(subscribers, seconds, frames) {
  const { packetizeVp8 } = await import("../packages/client/dist/src/media/index.js");
  const child = await spawnChild("--baseline-child");
  const sinks = [];
  const received = new Array(subscribers).fill(0);
  for (let i = 0; i < subscribers; i++) {
    const s = dgram.createSocket("udp4");
    s.on("message", () => received[i]++);
    await new Promise((r) => s.bind(0, "127.0.0.1", r));
    sinks.push(s);
  }
  await child.call("targets", { ports: sinks.map((s) => s.address().port) });
  const out = dgram.createSocket("udp4");
  let seq = 0;
  let ts = 0;
  let n = 0;
  let pictureId = 0;
  const sender = setInterval(() => {
    const frame = frames[n++ % frames.length];
    ts = (ts + 3000) >>> 0;
    pictureId = (pictureId + 1) & 0x7fff;
    const payloads = packetizeVp8(frame, pictureId, 1100);
    payloads.forEach((p, i) => {
      const header = Buffer.alloc(12);
      header[0] = 0x80;
      header[1] = (i === payloads.length - 1 ? 0x80 : 0) | 96;
      header.writeUInt16BE(seq, 2);
      seq = (seq + 1) & 0xffff;
      header.writeUInt32BE(ts, 4);
      header.writeUInt32BE(0xabcdef, 8);
      out.send([header, p], child.ready.port, "127.0.0.1");
    });
  }, 1000 / FPS);
  await until(() => received.every((r) => r > 100), 30_000, "every sink receiving");
  const window = await cpuWindow(child, seconds);
  clearInterval(sender);
  await child.call("close");
  await child.exited;
  out.close();
  for (const s of sinks) s.close();
  return window;
}

export async function run({ subscribers = 4, seconds = 10 } = {}) {
  const frames = makeFrames(KEYFRAME_EVERY * 2);
  const relay = await measureRelay(subscribers, seconds, frames);
  const baseline = await measureBaseline(subscribers, seconds, frames);
  const perStream = (w) => (100 * w.cpuSeconds) / w.wallSeconds / subscribers;
  return {
    subscribers,
    seconds,
    streamKbps: BITRATE / 1000,
    relay: { ...relay, percentCorePerStream: perStream(relay), packetsPerSecond: relay.packetsOut / relay.wallSeconds },
    baseline: { ...baseline, percentCorePerStream: perStream(baseline), packetsPerSecond: baseline.packetsOut / baseline.wallSeconds },
    ratio: relay.cpuSeconds / relay.wallSeconds / (baseline.cpuSeconds / baseline.wallSeconds),
  };
}

const role = process.argv[2];
if (role === "--relay-child") await relayChild();
else if (role === "--baseline-child") baselineChild();
else if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const subscribers = Number(process.argv[2] ?? 4);
  const seconds = Number(process.argv[3] ?? 10);
  const r = await run({ subscribers, seconds });
  console.log(`Media relay vs plain UDP forwarding, Node ${process.version}: 1 publisher at ~${r.streamKbps} kbit/s, ${r.subscribers} subscribers, ${r.seconds} s window\n`);
  console.log("forwarder | CPU per forwarded stream (% of one core) | packets out/s | frames per subscriber in window");
  console.log("---|---|---|---");
  console.log(`relay (node-datachannel, SRTP) | ${r.relay.percentCorePerStream.toFixed(2)} % | ${r.relay.packetsPerSecond.toFixed(0)} | ${r.relay.framesPerSubscriber.join(", ")}`);
  console.log(`baseline (UDP, SSRC rewrite) | ${r.baseline.percentCorePerStream.toFixed(2)} % | ${r.baseline.packetsPerSecond.toFixed(0)} | -`);
  console.log(`\nrelay / baseline CPU: ${r.ratio.toFixed(2)}x`);
}
