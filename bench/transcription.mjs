#!/usr/bin/env node
// Live transcription CPU per speaker, against the relay's forwarding cost in the same run.
//
// A real Conclave server runs in this process (TLS signaling, MLS delivery, the media relay);
// N speaker bots in a child process each read the LibriVox clips of Debian's
// pocketsphinx-testdata in a loop as their Opus microphone (all talking at once: the worst case);
// the host starts live transcription, so the transcription connector joins in its own process and
// runs one built-in pocketsphinx engine process per speaker. Over the same window, once every
// speaker has been captioned:
//
//   relay      this process's CPU (process.cpuUsage), per forwarded stream (a stream sent to one
//              subscriber: each speaker's audio to the N-1 others and the connector);
//   connector  the transcription connector's own CPU (/proc/<pid>/stat): WebRTC receive, SRTP,
//              SFrame decrypt, Opus decode, 48->16 kHz resampling, caption messages; per speaker;
//   engines    the CPU of every process the connector started (the pocketsphinx adapters, their
//              sh/cat pipes and pocketsphinx_continuous), per speaker.
//
// Needs the Debian packages pocketsphinx, pocketsphinx-en-us and pocketsphinx-testdata.
// Usage: npm run build && node bench/transcription.mjs [speakers=2] [seconds=20]
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { descendants, procCpuSeconds } from "./support/proc.mjs";

const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === "--bots") {
  // The speakers' child: join, read the clips in a loop (Opus, real time), leave when told.
  const { NodeParticipant } = await import("../packages/client/dist/src/node.js");
  const { programme } = await import("../tests/e2e/dist/support/transcription.js");
  const { Encoder } = await import("@evan/opus");
  const [link, ca, n] = JSON.parse(process.argv[3]);
  const pcm = programme();
  const bots = [];
  for (let i = 0; i < n; i++) {
    const p = new NodeParticipant({ link, displayName: `Speaker ${i + 1}`, ca, externalMedia: { audio: true, video: false } });
    await p.join();
    bots.push({ p, encoder: new Encoder({ channels: 1, sample_rate: 48000, application: "voip" }), offset: Math.floor((i * pcm.length) / (2 * n)) });
  }
  const start = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - start) / 20) + 1;
    for (; sent < due; sent++) {
      for (const b of bots) {
        const at = ((b.offset + sent * 960) % (pcm.length - 960)) | 0;
        void b.p.sendFrame("audio", b.encoder.encode(pcm.slice(at, at + 960)), (sent + 1) * 960);
      }
    }
  }, 20);
  process.send({ t: "joined" });
  process.on("message", (m) => {
    if (m.t === "leave") {
      clearInterval(timer);
      for (const b of bots) b.p.leave();
      setTimeout(() => process.exit(0), 300);
    }
  });
} else {
  await main();
}

async function treeCpu(pids) {
  let s = 0;
  for (const p of pids) s += await procCpuSeconds(p);
  return s;
}

async function main() {
  const n = Number(process.argv[2] ?? 2);
  const seconds = Number(process.argv[3] ?? 20);
  const { startConclave, loadConfig } = await import("../packages/server/dist/src/index.js");
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-bench-asr-"));
  const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir }, env: {} });
  const server = await startConclave(config, { logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) }, relay: { listenAddress: "127.0.0.1" } });
  server.context.database.settings.writeAccount({ liveTranscription: { value: true } });
  const created = await server.context.meetings.create({ encryption: "enhanced", passcode: true });
  const link = `https://127.0.0.1:${server.port}/m/${created.meeting.id}#pwd=${created.passcode}`;
  const ca = await readFile(server.certFile, "utf8");
  const child = fork(SELF, ["--bots", JSON.stringify([link, ca, n])], { stdio: "inherit" });
  await once(child, "message");
  const meetingId = created.meeting.id;
  server.transcriptions.start(meetingId);
  // Wait until every speaker has an engine and captions flow.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const a = server.transcriptions.active(meetingId);
    if (a && a.speakers >= n && a.captions >= n) break;
    if (Date.now() > deadline) throw new Error(`the connector did not caption every speaker (${JSON.stringify(a)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const pid = server.transcriptions.active(meetingId).pid;
  const engines0 = await descendants(pid);
  const relay0 = process.cpuUsage();
  const conn0 = await procCpuSeconds(pid);
  const eng0 = await treeCpu(engines0);
  const captions0 = server.transcriptions.active(meetingId).captions;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  const relayD = process.cpuUsage(relay0);
  const relayCpu = (relayD.user + relayD.system) / 1e6;
  const connCpu = (await procCpuSeconds(pid)) - conn0;
  const engCpu = (await treeCpu(engines0)) - eng0;
  const captions = server.transcriptions.active(meetingId).captions - captions0;
  const engines = (await descendants(pid)).length;
  await server.transcriptions.stop(meetingId);
  child.send({ t: "leave" });
  await once(child, "exit");
  await server.close();
  await rm(dataDir, { recursive: true, force: true });

  const forwarded = n * n; // each speaker to the n-1 others and the connector
  const relayPer = (relayCpu / wall / forwarded) * 100;
  const connPer = (connCpu / wall / n) * 100;
  const engPer = (engCpu / wall / n) * 100;
  console.log(`${n} speakers talking at once, ${forwarded} audio streams forwarded by the relay, ${engines0.length} engine processes (${engines} at the end); ${captions} captions in a ${wall.toFixed(1)} s window`);
  console.log("| work | CPU (one core) | per speaker / stream | vs relay forwarding |");
  console.log("|---|---|---|---|");
  console.log(`| relay forwarding (server process), ${forwarded} audio streams out | ${((relayCpu / wall) * 100).toFixed(1)}% | ${relayPer.toFixed(2)}% | 1.00× |`);
  console.log(`| transcription connector (receive, decrypt, decode, resample), ${n} speakers | ${((connCpu / wall) * 100).toFixed(1)}% | ${connPer.toFixed(2)}% | ${(connPer / relayPer).toFixed(2)}× |`);
  console.log(`| pocketsphinx engines, ${n} speakers | ${((engCpu / wall) * 100).toFixed(1)}% | ${engPer.toFixed(2)}% | ${(engPer / relayPer).toFixed(2)}× |`);
  process.exit(0);
}
