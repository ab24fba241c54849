// MLS session benchmark: commit create/process (add one member, remove one member) and Welcome
// processing for a late joiner, at group sizes N = 10 and 100 (and 1000 when
// CONCLAVE_BENCH_MLS_1000=1: it takes several minutes, the Welcome alone ~45 s in ts-mls 1.6.4).
//
// Run after building: npx tsc -b packages/protocol && node bench/mls.mjs
//
// Group shape: a founder adds N-1 members by batched add-only commits and then makes one empty
// (path-updating) commit; one added member (the "receiver") is a real session that processes every
// commit, the others are KeyPackages that never speak. Their parent nodes stay blank, so a removal
// must encrypt to almost every leaf: the worst case for removal cost and size, and what a meeting
// looks like when joiners never commit. Baseline: one Ed25519 sign + verify (WebCrypto) in the
// same run, so figures can be compared across machines.
import { pathToFileURL } from "node:url";

const protocolUrl = new URL("../packages/protocol/dist/src/index.js", import.meta.url);

const person = (i) => ({ kind: "person", memberId: `bench-${i}`, displayName: `Member ${i}` });
const BATCH = 100;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

async function baselineMs() {
  const key = await crypto.subtle.generateKey("Ed25519", false, ["sign", "verify"]);
  const msg = new Uint8Array(256);
  const runs = 200;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const sig = await crypto.subtle.sign("Ed25519", key.privateKey, msg);
    await crypto.subtle.verify("Ed25519", key.publicKey, sig, msg);
  }
  return (performance.now() - t0) / runs;
}

async function buildGroup(P, n) {
  const founder = await P.MlsSession.create(new TextEncoder().encode(`bench-${n}`), person(0));
  const first = await P.createKeyPackage(person(1));
  const c1 = await founder.commit({ add: [first.keyPackage] });
  await founder.applyPendingCommit();
  const receiver = await P.MlsSession.joinFromWelcome(c1.welcome, first.secret);
  let next = 2;
  while (next < n) {
    const count = Math.min(BATCH, n - next);
    const kps = await Promise.all(Array.from({ length: count }, (_, i) => P.createKeyPackage(person(next + i))));
    next += count;
    const c = await founder.commit({ add: kps.map((k) => k.keyPackage) });
    await founder.applyPendingCommit();
    await receiver.processMessage(c.commit);
  }
  const u = await founder.commit({});
  await founder.applyPendingCommit();
  await receiver.processMessage(u.commit);
  return { founder, receiver };
}

async function measure(P, n, reps) {
  const { founder, receiver } = await buildGroup(P, n);
  const s = { addCreate: [], addProcess: [], addBytes: 0, welcomeBytes: 0, join: [], removeCreate: [], removeProcess: [], removeBytes: 0 };
  for (let r = 0; r < reps; r++) {
    // Add one member (the group grows to n + 1) ...
    const kp = await P.createKeyPackage(person(`late-${r}`));
    const [addCreate, add] = await timed(() => founder.commit({ add: [kp.keyPackage] }));
    await founder.applyPendingCommit();
    const [addProcess] = await timed(() => receiver.processMessage(add.commit));
    const [join, joiner] = await timed(() => P.MlsSession.joinFromWelcome(add.welcome, kp.secret));
    // ... then remove it again (back to n), so every repetition sees the same size.
    const [removeCreate, removal] = await timed(() => founder.commit({ remove: [joiner.ownLeafIndex] }));
    await founder.applyPendingCommit();
    const [removeProcess] = await timed(() => receiver.processMessage(removal.commit));
    s.addCreate.push(addCreate);
    s.addProcess.push(addProcess);
    s.join.push(join);
    s.removeCreate.push(removeCreate);
    s.removeProcess.push(removeProcess);
    s.addBytes = add.commit.length;
    s.welcomeBytes = add.welcome.length;
    s.removeBytes = removal.commit.length;
  }
  return [
    { n, operation: "add one member (commit)", createMs: median(s.addCreate), processMs: median(s.addProcess), bytes: s.addBytes },
    { n, operation: "remove one member (commit)", createMs: median(s.removeCreate), processMs: median(s.removeProcess), bytes: s.removeBytes },
    { n, operation: "late joiner Welcome (with tree)", createMs: undefined, processMs: median(s.join), bytes: s.welcomeBytes },
  ];
}

/** Returns one row per (N, operation); times in ms (medians), sizes in bytes. */
export async function run({ sizes } = {}) {
  const P = await import(protocolUrl.href);
  const ns = sizes ?? (process.env.CONCLAVE_BENCH_MLS_1000 === "1" ? [10, 100, 1000] : [10, 100]);
  const base = await baselineMs();
  const rows = [{ n: 0, operation: "baseline: Ed25519 sign+verify", createMs: undefined, processMs: base, bytes: undefined }];
  for (const n of ns) rows.push(...(await measure(P, n, n >= 1000 ? 1 : 3)));
  return rows.map((r) => ({ ...r, processVsBaseline: r.processMs / base }));
}

function fmt(v, digits = 1) {
  return v === undefined ? "-" : v.toFixed(digits);
}

export function printTable(rows) {
  const header = ["N", "operation", "create ms", "process ms", "process ÷ baseline", "bytes"];
  const body = rows.map((r) => [
    r.n === 0 ? "-" : String(r.n),
    r.operation,
    fmt(r.createMs),
    fmt(r.processMs, 2),
    fmt(r.processVsBaseline, 0) + "×",
    r.bytes === undefined ? "-" : String(r.bytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  const rows = await run();
  printTable(rows);
  console.log(`\nts-mls 1.6.4, suite MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, medians; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
