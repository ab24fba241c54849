#!/usr/bin/env node
// Live streaming CPU, active-speaker and grid layouts, against the relay's forwarding cost in the
// same run.
//
// A real Conclave server runs in this process (TLS signaling, MLS delivery, the media relay);
// N bots (NodeParticipants sending the synthetic VP8 camera and Opus microphone) run in a child
// process; Debian's nginx with libnginx-mod-rtmp is the ingest on loopback. The host streams the
// meeting once in each layout, so the streaming connector joins as a member in its own process
// and pipes the mixed audio and the chosen camera(s) to its ffmpeg. Over each window:
//
//   relay     this process's CPU (process.cpuUsage: the relay forwarding each stream to the N-1
//             other bots and the streamer, SRTP in and out, plus signaling), per forwarded stream;
//   streamer  the streaming connector and its ffmpeg (/proc/<pid>/stat of both): WebRTC receive,
//             SRTP, SFrame decrypt, Opus decode and mixing, then ffmpeg's VP8 decode of the shown
//             camera(s), scaling (and xstack for the grid), libx264 veryfast 640x360 at 25 fps and
//             AAC, to FLV over RTMP.
//
// Usage: npm run build && node bench/streaming.mjs [bots=3] [seconds=20]
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { childrenOf, procCpuSeconds, procName } from "./support/proc.mjs";

const BOTS = fileURLToPath(new URL("./support/synthetic-bots.mjs", import.meta.url));

await main();

/** The streaming connector (a node child of this process other than the bots) and its ffmpeg. */
async function streamerPids(botsPid) {
  const kids = (await childrenOf(process.pid)).filter((p) => p !== botsPid);
  const connector = [];
  for (const k of kids) if ((await procName(k)) === "node") connector.push(k);
  const pids = [...connector];
  for (const c of connector) pids.push(...(await childrenOf(c)));
  return pids;
}

async function measure(server, meetingId, nginx, layout, botsPid, seconds) {
  const streamKey = `bench-${layout}`;
  const s = await server.streams.startStream(meetingId, "bench", { url: nginx.url, streamKey, layout });
  if (s.status !== "live") throw new Error(`the stream did not go live: ${s.status}`);
  await new Promise((r) => setTimeout(r, 4000)); // key frames, every camera chosen, x264 warmed up
  const pids = await streamerPids(botsPid);
  const names = await Promise.all(pids.map(procName));
  if (!names.includes("ffmpeg") || pids.length !== 2) throw new Error(`expected the streaming connector and its ffmpeg, found ${names.join(", ")}`);
  const relay0 = process.cpuUsage();
  const str0 = (await Promise.all(pids.map(procCpuSeconds))).reduce((a, b) => a + b, 0);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  const relayD = process.cpuUsage(relay0);
  const strCpu = (await Promise.all(pids.map(procCpuSeconds))).reduce((a, b) => a + b, 0) - str0;
  await server.streams.stopStream(meetingId);
  return { wall, relayCpu: (relayD.user + relayD.system) / 1e6, strCpu };
}

async function main() {
  const n = Number(process.argv[2] ?? 3);
  const seconds = Number(process.argv[3] ?? 20);
  const { startConclave, loadConfig } = await import("../packages/server/dist/src/index.js");
  const { startNginxRtmp } = await import("../tests/e2e/dist/support/nginx-rtmp.js");
  const nginx = await startNginxRtmp();
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-bench-stream-"));
  let server;
  let child;
  const results = {};
  try {
    const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir }, env: {} });
    server = await startConclave(config, { logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) }, relay: { listenAddress: "127.0.0.1" } });
    server.context.database.settings.writeAccount({ liveStreaming: { value: true } });
    const created = await server.context.meetings.create({ encryption: "enhanced", passcode: true });
    const link = `https://127.0.0.1:${server.port}/m/${created.meeting.id}#pwd=${created.passcode}`;
    const ca = await readFile(server.certFile, "utf8");
    child = fork(BOTS, [JSON.stringify([link, ca, n])], { stdio: "inherit" });
    await once(child, "message");
    for (const layout of ["speaker", "grid"]) results[layout] = await measure(server, created.meeting.id, nginx, layout, child.pid, seconds);
    child.send({ t: "leave" });
    await once(child, "exit");
  } finally {
    // nginx runs detached from this process's fate: stop it whatever happened above.
    if (child && child.exitCode === null) child.kill();
    await server?.close();
    await nginx.close();
    await rm(dataDir, { recursive: true, force: true });
  }

  const published = 2 * n; // each bot: camera + microphone
  const forwarded = published * n; // to the n-1 other bots and the streamer
  console.log(`${n} bots, ${published} streams published, ${forwarded} forwarded by the relay; ${seconds} s per layout`);
  console.log("| layout | relay forwarding (server process) | per forwarded stream | streaming connector + ffmpeg | vs one forwarded stream |");
  console.log("|---|---|---|---|---|");
  for (const [layout, r] of Object.entries(results)) {
    const relayPer = (r.relayCpu / r.wall / forwarded) * 100;
    const str = (r.strCpu / r.wall) * 100;
    console.log(`| ${layout} | ${((r.relayCpu / r.wall) * 100).toFixed(1)}% | ${relayPer.toFixed(2)}% | ${str.toFixed(1)}% | ${(str / relayPer).toFixed(1)}× |`);
  }
  process.exit(0);
}
