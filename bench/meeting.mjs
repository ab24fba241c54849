#!/usr/bin/env node
// Meeting-level timings at scale on a real server (TLS, WSS, the MLS delivery service, the relay),
// all on this host:
//
//   - 200 media-less members (signaling and MLS only, as `conclave bot --no-media`), spread over
//     4 worker processes of 50;
//   - 2 members with media in this process: a sender that stays, and a joiner that comes and goes.
//
//   join     the joiner's join request -> its first decrypted frame from the sender
//   removal  the joiner leaves -> every remaining member (all 201) is on the new epoch
//
// Each join and each leave is one sample; the table gives p50 and p95 over the repetitions. The
// baseline, measured in the same run, is MLS alone at the same group size: for a join, the add
// commit's creation and the joiner's Welcome; for a removal, the removal commit's creation and
// one member processing it (what the meeting cannot beat on separate devices).
//
// Every member shares this machine's 2 cores, so each commit is processed 201 times by 5
// processes competing for them: the removal figure is a pessimistic bound for 201 devices working
// in parallel.
//
// Usage: npm run build && node bench/meeting.mjs [members, default 200] [repetitions, default 10]
import { fork } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const WORKERS = 4;
const now = () => performance.timeOrigin + performance.now(); // comparable across processes

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function until(subscribe, check, ms, what) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const wake = () => {
      const v = check();
      if (v) {
        clearTimeout(timer);
        off();
        resolve(v);
      }
    };
    off = subscribe(wake);
    wake();
  });
}

const onEpochs = (sessions) => (wake) => {
  const offs = sessions.map((s) => s.on("epoch", wake));
  return () => offs.forEach((o) => o());
};
const atLeast = (sessions, minEpoch, count) => () =>
  sessions.every((s) => s.epoch !== null && s.epoch >= minEpoch && s.groupMembers.length === count);

// ---- worker process: 50 media-less members -----------------------------------------------------

async function worker() {
  const { MeetingSession } = await import("../packages/client/dist/src/index.js");
  const { connectNodeSignaling } = await import("../packages/client/dist/src/node.js");
  const { createNodeSFrameCrypto } = await import("../packages/protocol/dist/src/node.js");
  const sessions = [];
  const reply = (msg) => process.send(msg);
  process.on("message", async (msg) => {
    try {
      if (msg.type === "join") {
        // One after the other (each connection sends its join right after it opens): the server
        // closes a connection that has not sent its join within 15 s, and this process is busy
        // processing commits for its members that are already in.
        for (let i = 0; i < msg.count; i++) {
          const s = new MeetingSession({
            meetingId: msg.meetingId,
            passcode: msg.passcode,
            displayName: `${msg.prefix}-${i}`,
            sframeCrypto: createNodeSFrameCrypto(),
            media: false,
          });
          s.on("error", (e) => {
            if (e.fatal) reply({ type: "fatal", code: e.code });
          });
          sessions.push(s);
          await s.join(await connectNodeSignaling(msg.wsUrl, { ca: msg.ca }));
        }
        reply({ type: "joined", id: msg.id });
      } else if (msg.type === "wait") {
        const minEpoch = BigInt(msg.minEpoch);
        await until(onEpochs(sessions), atLeast(sessions, minEpoch, msg.count), msg.timeoutMs, `${msg.count} members at epoch ${minEpoch}`).catch((e) => {
          const seen = new Map();
          for (const s of sessions) {
            const k = `epoch ${s.epoch} with ${s.groupMembers.length} members (${s.state})`;
            seen.set(k, (seen.get(k) ?? 0) + 1);
          }
          throw new Error(`${e.message}; this worker's members: ${[...seen].map(([k, v]) => `${v} at ${k}`).join(", ")}`);
        });
        reply({ type: "reached", id: msg.id, at: now(), epoch: sessions[0].epoch.toString(), code: sessions[0].securityCode });
      } else if (msg.type === "close") {
        for (const s of sessions) s.leave();
        setTimeout(() => process.exit(0), 200);
      }
    } catch (e) {
      reply({ type: "failed", id: msg.id, message: e instanceof Error ? e.message : String(e) });
    }
  });
  reply({ type: "ready" });
}

// ---- main process --------------------------------------------------------------------------------

class Worker {
  #child;
  #pending = new Map();
  #next = 0;
  constructor() {
    this.#child = fork(fileURLToPath(import.meta.url), ["--worker"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.ready = new Promise((resolve) => this.#child.once("message", resolve));
    this.#child.on("message", (m) => {
      if (m.type === "fatal") console.error(`worker member failed: ${m.code}`);
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.type === "failed") p.reject(new Error(m.message));
      else p.resolve(m);
    });
  }
  request(msg) {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.send({ ...msg, id });
    });
  }
  close() {
    this.#child.send({ type: "close" });
    return new Promise((resolve) => this.#child.once("exit", resolve));
  }
}

/** MLS alone at `n` members, with the fast suite Conclave uses (see bench/mls.mjs for the shape). */
async function mlsBaseline(n) {
  const { MlsSession, createKeyPackage } = await import("../packages/protocol/dist/src/index.js");
  const id = (i) => ({ kind: "person", memberId: `b${i}`, displayName: `b${i}` });
  const a = await MlsSession.create(new TextEncoder().encode("baseline"), id(0));
  const kps = await Promise.all(Array.from({ length: n - 1 }, (_, i) => createKeyPackage(id(i + 1))));
  const out = await a.commit({ add: kps.map((k) => k.keyPackage) });
  await a.applyPendingCommit();
  const b = await MlsSession.joinFromWelcome(out.welcome, kps[0].secret);
  const late = await createKeyPackage(id("late"));
  let t = performance.now();
  const add = await a.commit({ add: [late.keyPackage] });
  await a.applyPendingCommit();
  const joiner = await MlsSession.joinFromWelcome(add.welcome, late.secret);
  const joinMs = performance.now() - t;
  await b.processMessage(add.commit);
  t = performance.now();
  const rm = await a.commit({ remove: [joiner.ownLeafIndex] });
  await a.applyPendingCommit();
  await b.processMessage(rm.commit);
  const removalMs = performance.now() - t;
  for (const s of [a, b, joiner]) await s.close();
  return { joinMs, removalMs };
}

export async function run({ members = 200, reps = 10 } = {}) {
  const { loadConfig, startConclave } = await import("../packages/server/dist/src/index.js");
  const { NodeParticipant } = await import("../packages/client/dist/src/node.js");
  const dir = await mkdtemp(join(tmpdir(), "conclave-bench-"));
  const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), {
    relay: { listenAddress: "127.0.0.1" },
    logger: { info() {}, warn() {}, error() {} },
    // Every simulated participant comes from 127.0.0.1: lift the per-address join limit.
    limits: { joinsPerAddress: 100_000 },
  });
  const workers = Array.from({ length: WORKERS }, () => new Worker());
  const media = [];
  try {
    const ca = await readFile(server.certFile, "utf8");
    const created = await server.context.meetings.create({ encryption: "e2ee" });
    const meeting = { id: created.meeting.id, passcode: created.passcode };
    const link = `https://127.0.0.1:${server.port}/m/${meeting.id}#pwd=${meeting.passcode}`;
    const wsUrl = `wss://127.0.0.1:${server.port}/ws`;
    await Promise.all(workers.map((w) => w.ready));

    // The sender with media founds the group; then the media-less members join together.
    const sender = new NodeParticipant({ link, displayName: "sender", ca, suite: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519" });
    media.push(sender);
    await sender.join();
    await until(onEpochs([sender.session]), atLeast([sender.session], 0n, 1), 60_000, "the group");
    const perWorker = Math.ceil(members / WORKERS);
    const t0 = now();
    await Promise.all(
      workers.map((w, i) => w.request({ type: "join", count: Math.min(perWorker, members - i * perWorker), prefix: `w${i}`, meetingId: meeting.id, passcode: meeting.passcode, wsUrl, ca })),
    );
    const total = members + 1;
    const waitAll = (minEpoch, count) =>
      Promise.all([
        ...workers.map((w) => w.request({ type: "wait", minEpoch: minEpoch.toString(), count, timeoutMs: 600_000 })),
        until(onEpochs([sender.session]), atLeast([sender.session], minEpoch, count), 600_000, "the sender").then(() => ({ at: now(), code: sender.session.securityCode })),
      ]);
    const formed = await waitAll(0n, total);
    const formMs = Math.max(...formed.map((r) => r.at)) - t0;
    if (new Set(formed.map((r) => r.code)).size !== 1) throw new Error("the members disagree on the security code");

    // The sender's audio and video must reach the relay before the first joiner starts.
    await until((wake) => {
      const iv = setInterval(wake, 20);
      return () => clearInterval(iv);
    }, () => {
      const pubs = [...(server.relay.getRoom(meeting.id)?.publications.values() ?? [])];
      return pubs.length >= 2 && pubs.every((p) => p.stats.packetsIn > 0);
    }, 60_000, "the sender's media at the relay");

    const joins = [];
    const removals = [];
    for (let r = 0; r < reps; r++) {
      const joiner = new NodeParticipant({ link, displayName: `joiner-${r}`, ca, sendMedia: false, suite: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519" });
      media.push(joiner);
      const tj = performance.now();
      const firstFrame = new Promise((resolve) => joiner.once("frame").then(() => resolve(performance.now() - tj)));
      await joiner.join();
      joins.push(await firstFrame);
      await until(onEpochs([joiner.session]), atLeast([joiner.session], 0n, total + 1), 600_000, "the joiner in the group");
      const before = joiner.session.epoch;
      // removal: the joiner leaves; every remaining member must reach the next epoch without it.
      const reached = waitAll(before + 1n, total);
      const tl = now();
      joiner.leave();
      media.pop();
      const at = await reached;
      removals.push(Math.max(...at.map((x) => x.at)) - tl);
      if (new Set(at.map((x) => x.code)).size !== 1) throw new Error("after the removal the members disagree on the security code");
    }
    const baseline = await mlsBaseline(total + 1);
    return { members: total + 1, reps, formMs, joins, removals, baseline };
  } finally {
    for (const m of media) m.leave();
    await Promise.all(workers.map((w) => w.close()));
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function printTable(r) {
  const ms = (v) => `${v.toFixed(0)} ms`;
  const quiet = r.members - 2;
  console.log(`${r.members} members (${quiet} media-less over ${WORKERS} processes + 2 with media); ${r.reps} joins and ${r.reps} removals`);
  console.log(`forming the group: ${quiet} media-less members joining at once, all on one epoch and one code after ${ms(r.formMs)}\n`);
  console.log("operation | p50 | p95 | MLS alone (baseline) | p50 / baseline");
  console.log("---|---|---|---|---");
  const row = (name, xs, base) => console.log(`${name} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 95))} | ${ms(base)} | ${(percentile(xs, 50) / base).toFixed(1)}x`);
  row("join: request -> first decrypted frame", r.joins, r.baseline.joinMs);
  row("removal: leave -> every member on the new epoch", r.removals, r.baseline.removalMs);
}

if (process.argv[2] === "--worker") {
  await worker();
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const members = process.argv[2] ? Number(process.argv[2]) : undefined;
  const reps = process.argv[3] ? Number(process.argv[3]) : undefined;
  const r = await run({ ...(members ? { members } : {}), ...(reps ? { reps } : {}) });
  printTable(r);
  process.exit(0);
}
