#!/usr/bin/env node
// Meeting-level timings on a real server (TLS, WSS, MLS delivery service, relay), all on this host:
//
//   join   admitted (join request sent) -> first decrypted frame from a remote sender, for a
//          Node participant joining a meeting of N-1 members, one of which is sending media;
//   rekey  one member leaves -> every remaining member has applied the removal commit.
//
// Every participant runs in this one process, so a commit's processing by all N members is
// serialised on one core: the rekey figure is a pessimistic bound for N devices working in
// parallel. The baseline, measured in the same run, is the MLS work alone: the time for one
// member to create the removal commit plus one member to process it (what a rekey cannot beat).
//
// Usage: npm run build && node bench/meeting.mjs [sizes, e.g. 2,10,50]
import { mkdtemp, rm, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfig, startConclave } from "../packages/server/dist/src/index.js";
import { MeetingSession } from "../packages/client/dist/src/index.js";
import { NodeParticipant, connectNodeSignaling } from "../packages/client/dist/src/node.js";
import { createNodeSFrameCrypto } from "../packages/protocol/dist/src/node.js";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function until(subscribe, check, ms, what) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const wake = () => {
      if (check()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    };
    off = subscribe(wake);
    wake();
  });
}

const agreed = (sessions, count, minEpoch = 0n) => () => {
  const e = sessions[0].epoch;
  return e !== null && e >= minEpoch && sessions.every((s) => s.epoch === e && s.groupMembers.length === count);
};
const onEpochs = (sessions) => (wake) => {
  const offs = sessions.map((s) => s.on("epoch", wake));
  return () => offs.forEach((o) => o());
};

async function measure(server, ca, n) {
  const created = await server.context.meetings.create({ encryption: "e2ee" });
  const meeting = { id: created.meeting.id, passcode: created.passcode };
  const link = `https://127.0.0.1:${server.port}/m/${meeting.id}#pwd=${meeting.passcode}`;
  const wsUrl = `wss://127.0.0.1:${server.port}/ws`;

  // One sender with media, then n-2 signaling-only members (joined together: the delivery
  // service batches waiting joiners into one commit).
  const sender = new NodeParticipant({ link, displayName: "sender", ca });
  await sender.join();
  await until(onEpochs([sender.session]), agreed([sender.session], 1), 30_000, "sender group");
  const members = [];
  await Promise.all(
    Array.from({ length: n - 2 }, async (_, i) => {
      const s = new MeetingSession({ meetingId: meeting.id, passcode: meeting.passcode, displayName: `m${i}`, sframeCrypto: createNodeSFrameCrypto() });
      await s.join(await connectNodeSignaling(wsUrl, { ca }));
      members.push(s);
    }),
  );
  const everyone = [sender.session, ...members];
  await until(onEpochs(everyone), agreed(everyone, n - 1), 300_000, `${n - 1} members`);

  // The sender's audio and video must be flowing through the relay before the joiner starts.
  await until((wake) => {
    const iv = setInterval(wake, 10);
    return () => clearInterval(iv);
  }, () => {
    const pubs = [...(server.relay.getRoom(meeting.id)?.publications.values() ?? [])];
    return pubs.length >= 2 && pubs.every((p) => p.stats.packetsIn > 0);
  }, 30_000, "the sender's media at the relay");

  // join: admitted -> first decrypted remote frame
  const joiner = new NodeParticipant({ link, displayName: "joiner", ca, sendMedia: false });
  const t0 = performance.now();
  const firstFrame = new Promise((resolve) => joiner.once("frame").then(() => resolve(performance.now() - t0)));
  await joiner.join();
  const joinMs = await firstFrame;
  const all = [...everyone, joiner.session];
  await until(onEpochs(all), agreed(all, n), 300_000, `${n} members`);

  // rekey: a member leaves -> every remaining member on the new epoch
  const leaver = members.length > 0 ? members.pop() : joiner.session;
  const remaining = all.filter((s) => s !== leaver);
  const before = remaining[0].epoch;
  const t1 = performance.now();
  leaver.leave();
  await until(onEpochs(remaining), agreed(remaining, n - 1, before + 1n), 300_000, "rekey");
  const rekeyMs = performance.now() - t1;

  // Baseline: MLS alone, one member creating and one processing a removal at this group size.
  const baseline = await mlsRemovalBaseline(n);

  sender.leave();
  joiner.leave();
  members.forEach((m) => m.leave());
  return { n, joinMs, rekeyMs, mlsRemovalMs: baseline, rekeyOverMls: rekeyMs / baseline };
}

async function mlsRemovalBaseline(n) {
  const { MlsSession, createKeyPackage } = await import("../packages/protocol/dist/src/index.js");
  const id = (i) => ({ kind: "person", memberId: `b${i}`, displayName: `b${i}` });
  const a = await MlsSession.create(new TextEncoder().encode("baseline"), id(0));
  const kps = await Promise.all(Array.from({ length: n - 1 }, (_, i) => createKeyPackage(id(i + 1))));
  const out = await a.commit({ add: kps.map((k) => k.keyPackage) });
  await a.applyPendingCommit();
  const b = await MlsSession.joinFromWelcome(out.welcome, kps[0].secret);
  const t = performance.now();
  const rm = await a.commit({ remove: [n - 1] });
  await a.applyPendingCommit();
  await b.processMessage(rm.commit);
  const ms = performance.now() - t;
  await a.close();
  await b.close();
  return ms;
}

export async function run({ sizes = [2, 10, 50] } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "conclave-bench-"));
  const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), {
    relay: { listenAddress: "127.0.0.1" },
    logger: { info() {}, warn() {}, error() {} },
    // Every simulated participant comes from 127.0.0.1: lift the per-address join limit.
    limits: { joinsPerAddress: 100_000 },
  });
  const ca = await readFile(server.certFile, "utf8");
  const rows = [];
  try {
    for (const n of sizes) {
      const samples = [];
      const reps = n <= 10 ? 3 : 1;
      for (let r = 0; r < reps; r++) samples.push(await measure(server, ca, n));
      rows.push({
        n,
        joinMs: median(samples.map((s) => s.joinMs)),
        rekeyMs: median(samples.map((s) => s.rekeyMs)),
        mlsRemovalMs: median(samples.map((s) => s.mlsRemovalMs)),
        rekeyOverMls: median(samples.map((s) => s.rekeyOverMls)),
      });
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sizes = process.argv[2] ? process.argv[2].split(",").map(Number) : undefined;
  const rows = await run(sizes ? { sizes } : {});
  console.log("participants | join: admitted -> first decrypted frame | rekey: leave -> all on new epoch | MLS removal alone (create+process) | rekey / MLS");
  console.log("---|---|---|---|---");
  for (const r of rows) {
    console.log(`${r.n} | ${r.joinMs.toFixed(0)} ms | ${r.rekeyMs.toFixed(0)} ms | ${r.mlsRemovalMs.toFixed(0)} ms | ${r.rekeyOverMls.toFixed(2)}x`);
  }
}
