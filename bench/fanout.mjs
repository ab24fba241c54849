#!/usr/bin/env node
// The cost of fanning one commit out to every member of a meeting: serialising the signaling
// frame for each member (base64 of the commit, JSON, UTF-8 bytes — what the server did before)
// against serialising it once and writing the same bytes to every connection (what
// LiveMeeting does now, `encodeFrame`). Commit sizes from docs/performance.md (N=1000): an add
// commit, a suite-1 removal and an X-Wing removal in the worst-case tree. Prints milliseconds per
// fan-out and the ratio, both measured in this run.
//
// Usage: npm run build && node --expose-gc bench/fanout.mjs [members=1000] [--x-wing]
// (--x-wing adds the 1.2 MB X-Wing removal: its per-member side takes minutes.)
import { randomBytes } from "node:crypto";
import { toBase64 } from "../packages/protocol/dist/src/index.js";
import { encodeFrame } from "../packages/server/dist/src/meetings/live-meeting.js";

const members = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 1000);
const sizes = [
  ["add commit (suite 1, N=1000)", 507],
  ["removal (suite 1, N=1000)", 82_696],
  ...(process.argv.includes("--x-wing") ? [["removal (X-Wing, N=1000)", 1_216_714]] : []),
];
/** Stands in for a socket's write (the last frame only: 1,000 retained 1.6 MB frames would not fit). */
let sink = null;

function perMember(commit) {
  for (let i = 0; i < members; i++) sink = encodeFrame({ type: "commit", epoch: "42", commit: toBase64(commit), from: "member-1" });
}
function once(commit) {
  const frame = encodeFrame({ type: "commit", epoch: "42", commit: toBase64(commit), from: "member-1" });
  for (let i = 0; i < members; i++) sink = frame;
}
function time(fn, commit) {
  const reps = commit.length > 500_000 ? 2 : commit.length > 50_000 ? 5 : 50;
  fn(commit); // warm-up
  const t = [];
  for (let r = 0; r < reps; r++) {
    globalThis.gc?.();
    const s = performance.now();
    fn(commit);
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

process.on("exit", () => void sink);
console.log(`| commit | bytes | serialised per member (${members}) | once-encoded | ratio |`);
console.log("|---|---|---|---|---|");
for (const [name, size] of sizes) {
  const commit = new Uint8Array(randomBytes(size));
  const a = time(perMember, commit);
  const b = time(once, commit);
  console.log(`| ${name} | ${size.toLocaleString("en")} | ${a.toFixed(1)} ms | ${b.toFixed(2)} ms | ${(a / b).toFixed(0)}× |`);
}
