#!/usr/bin/env node
// Cloud recording CPU per recorded stream, against the relay's forwarding cost in the same run.
//
// A real Conclave server runs in this process (TLS signaling, MLS delivery, the media relay);
// N bots (NodeParticipants sending the synthetic VP8 camera and Opus microphone, about 0.2 Mbit/s
// each) run in a child process; the host starts cloud recording, so the recording connector
// joins as a member in its own process and records every bot's two streams. Over the same
// window, once every track is being written:
//
//   relay     this process's CPU (process.cpuUsage: the relay forwarding each stream to the
//             N-1 other bots and the recorder, SRTP in and out, plus signaling, idle here),
//             per forwarded stream (a stream sent to one subscriber);
//   recorder  the recording connector's CPU (/proc/<pid>/stat), per recorded stream: WebRTC
//             receive, SRTP, SFrame decrypt, WebM muxing (mediabunny, no transcoding) and the
//             KMS chunked AES-256-GCM encryption of what it writes.
//
// Usage: npm run build && node bench/recording.mjs [bots=3] [seconds=20]
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { procCpuSeconds } from "./support/proc.mjs";

const BOTS = fileURLToPath(new URL("./support/synthetic-bots.mjs", import.meta.url));

await main();

async function main() {
  const n = Number(process.argv[2] ?? 3);
  const seconds = Number(process.argv[3] ?? 20);
  const { startConclave, loadConfig } = await import("../packages/server/dist/src/index.js");
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-bench-rec-"));
  const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir }, env: {} });
  const server = await startConclave(config, { logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) }, relay: { listenAddress: "127.0.0.1" } });
  server.context.database.settings.writeAccount({ cloudRecording: { value: true } });
  const created = await server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const link = `https://127.0.0.1:${server.port}/m/${created.meeting.id}#pwd=${created.passcode}`;
  const ca = await readFile(server.certFile, "utf8");
  const child = fork(BOTS, [JSON.stringify([link, ca, n])], { stdio: "inherit" });
  await once(child, "message");
  const meetingId = created.meeting.id;
  await server.recordings.startRecording(meetingId, "bench");
  // Wait until every bot's camera and microphone are being written.
  const dir = join(dataDir, "recordings");
  const deadline = Date.now() + 60_000;
  for (;;) {
    const a = server.recordings.active(meetingId);
    const { readdir } = await import("node:fs/promises");
    const files = a ? (await readdir(join(dir, a.id))).filter((f) => f.startsWith("live-")) : [];
    if (files.length >= 2 * n) break;
    if (Date.now() > deadline) throw new Error("the recorder did not start writing every track");
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 2000)); // let keyframes and congestion control settle
  const pid = server.recordings.active(meetingId).pid;
  const relay0 = process.cpuUsage();
  const rec0 = await procCpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  const relayD = process.cpuUsage(relay0);
  const relayCpu = (relayD.user + relayD.system) / 1e6;
  const recCpu = (await procCpuSeconds(pid)) - rec0;
  const meta = await server.recordings.stopRecording(meetingId);
  child.send({ t: "leave" });
  await once(child, "exit");
  await server.close();
  await rm(dataDir, { recursive: true, force: true });

  const published = 2 * n; // each bot: camera + microphone
  const forwarded = published * n; // to the n-1 other bots and the recorder
  const relayPer = (relayCpu / wall / forwarded) * 100;
  const recPer = (recCpu / wall / published) * 100;
  console.log(`${n} bots, ${published} streams published, ${forwarded} forwarded by the relay, ${published} recorded; ${wall.toFixed(1)} s window`);
  console.log("| work | CPU (one core) | per stream | vs relay forwarding |");
  console.log("|---|---|---|---|");
  console.log(`| relay forwarding (server process), ${forwarded} streams out | ${((relayCpu / wall) * 100).toFixed(1)}% | ${relayPer.toFixed(2)}% | 1.00× |`);
  console.log(`| recording connector, ${published} streams recorded | ${((recCpu / wall) * 100).toFixed(1)}% | ${recPer.toFixed(2)}% | ${(recPer / relayPer).toFixed(2)}× |`);
  console.log(`finalized: ${meta.status}, ${meta.durationMs} ms, ${meta.files.map((f) => `${f.name} ${f.bytes} B`).join(", ")}`);
  process.exit(0);
}
