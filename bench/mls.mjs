#!/usr/bin/env node
// MLS benchmark: stock ts-mls 1.6.4 and Conclave's (patched library + fast suite set-up) side by
// side, in the same run, on the same group shape:
//
//   add one member      commit create (+ encode) / process (decode + apply) by another member
//   remove one member   the same for a removal (always with an UpdatePath)
//   late joiner Welcome decode + join from a Welcome carrying the ratchet tree
//
// "stock" is the unmodified package installed under the alias ts-mls-stock (ts-mls@1.6.4 exactly
// as published) with its default WebCrypto provider; "conclave" is node_modules/ts-mls with the
// versioned patches from patches/ applied on install, and the cipher suite Conclave builds in
// packages/protocol/src/mls/suites.ts (synchronous @noble/hashes, HPKE over node:crypto X25519).
// Both run the identical scenario below through the library's own API. The speed-up column is
// stock ÷ conclave for each row. The X-Wing rows (post-quantum suite 83) run Conclave's set-up
// only, beside suite 1 at the same N, with their message sizes.
//
// Group shape: a founder adds N-1 members by add-only commits of up to 100 and then makes one
// empty (path-updating) commit; one added member (the "receiver") processes every commit, the
// others never speak. Their parent nodes stay blank, so a removal encrypts to almost every leaf:
// the worst case for removal cost and size. Each repetition adds one member and removes it again.
//
// Usage: npm run build && node bench/mls.mjs [sizes, default 100,1000]
//        CONCLAVE_BENCH_MLS_VARIANTS=conclave node bench/mls.mjs 1000   (one side only)
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

const BATCH = 100;
const SUITE1 = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
const XWING = "MLS_256_XWING_AES256GCM_SHA512_Ed25519";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

async function loadLibrary(pkg) {
  const m = (name) => import(`${pkg}/${name}.js`);
  const [clientState, createCommit, processMessages, message, keyPackage, caps, cfg, psk, suite, impl] = await Promise.all([
    m("clientState"),
    m("createCommit"),
    m("processMessages"),
    m("message"),
    m("keyPackage"),
    m("defaultCapabilities"),
    m("clientConfig"),
    m("pskIndex"),
    m("crypto/ciphersuite"),
    m("crypto/getCiphersuiteImpl"),
  ]);
  return {
    ...clientState,
    ...createCommit,
    ...processMessages,
    ...message,
    ...keyPackage,
    ...caps,
    ...cfg,
    ...psk,
    ...suite,
    ...impl,
  };
}

/** The two set-ups measured side by side. */
export async function variants(suiteName) {
  const wanted = (process.env.CONCLAVE_BENCH_MLS_VARIANTS ?? "stock,conclave").split(",");
  const out = [];
  if (wanted.includes("stock")) {
    const lib = await loadLibrary("ts-mls-stock");
    out.push({ name: "stock", lib, cs: await lib.getCiphersuiteImpl(lib.getCiphersuiteFromName(suiteName)) });
  }
  if (wanted.includes("conclave")) {
    const lib = await loadLibrary("ts-mls");
    const { fastCiphersuite } = await import(new URL("../packages/protocol/dist/src/mls/suites.js", import.meta.url).href);
    await import(new URL("../packages/protocol/dist/src/node.js", import.meta.url).href); // node:crypto back end, as Node participants
    out.push({ name: "conclave", lib, cs: await fastCiphersuite(await lib.getCiphersuiteImpl(lib.getCiphersuiteFromName(suiteName))) });
  }
  return out;
}

function credential(i) {
  return { credentialType: "basic", identity: new TextEncoder().encode(`bench-member-${i}`) };
}

async function keyPackage({ lib, cs }, i) {
  const now = BigInt(Math.floor(Date.now() / 1000));
  return lib.generateKeyPackage(credential(i), lib.defaultCapabilities(), { notBefore: now - 3600n, notAfter: now + 86400n }, [], cs);
}

const encode = (lib, msg) => lib.encodeMlsMessage(msg);
function decode(lib, bytes) {
  const d = lib.decodeMlsMessage(bytes, 0);
  if (d === undefined) throw new Error("undecodable message");
  return d[0];
}

async function commit(v, state, options) {
  const { lib, cs } = v;
  const r = await lib.createCommit({ state, cipherSuite: cs }, { wireAsPublicMessage: true, ratchetTreeExtension: true, ...options });
  const bytes = encode(lib, r.commit);
  const welcome = r.welcome === undefined ? undefined : encode(lib, { version: "mls10", wireformat: "mls_welcome", welcome: r.welcome });
  return { state: r.newState, bytes, welcome };
}

async function process_(v, state, bytes) {
  const { lib, cs } = v;
  const r = await lib.processMessage(decode(lib, bytes), state, lib.emptyPskIndex, () => "accept", cs);
  return r.newState;
}

async function join(v, welcomeBytes, kp) {
  const { lib, cs } = v;
  const msg = decode(lib, welcomeBytes);
  return lib.joinGroup(msg.welcome, kp.publicPackage, kp.privatePackage, lib.emptyPskIndex, cs);
}

export async function buildGroup(v, n) {
  const { lib, cs } = v;
  const founderKp = await keyPackage(v, 0);
  let founder = await lib.createGroup(new TextEncoder().encode(`bench-${n}`), founderKp.publicPackage, founderKp.privatePackage, [], cs);
  const firstKp = await keyPackage(v, 1);
  const c1 = await commit(v, founder, { extraProposals: [{ proposalType: "add", add: { keyPackage: firstKp.publicPackage } }] });
  founder = c1.state;
  let receiver = await join(v, c1.welcome, firstKp);
  let next = 2;
  while (next < n) {
    const count = Math.min(BATCH, n - next);
    const kps = [];
    for (let i = 0; i < count; i++) kps.push(await keyPackage(v, next + i));
    next += count;
    const c = await commit(v, founder, { extraProposals: kps.map((k) => ({ proposalType: "add", add: { keyPackage: k.publicPackage } })) });
    founder = c.state;
    receiver = await process_(v, receiver, c.bytes);
  }
  const u = await commit(v, founder, {});
  founder = u.state;
  receiver = await process_(v, receiver, u.bytes);
  return { founder, receiver };
}

function leafIndexOf(state, kp) {
  const key = kp.publicPackage.leafNode.signaturePublicKey;
  for (let node = 0; node < state.ratchetTree.length; node += 2) {
    const n = state.ratchetTree[node];
    if (n?.nodeType === "leaf" && n.leaf.signaturePublicKey.every((b, i) => b === key[i])) return node / 2;
  }
  throw new Error("joiner not found in the tree");
}

export async function measure(v, n, reps, prebuilt) {
  let { founder, receiver } = prebuilt ?? (await buildGroup(v, n));
  const s = { addCreate: [], addProcess: [], join: [], removeCreate: [], removeProcess: [] };
  const bytes = {};
  // A full collection before each timed step (the bench runs with --expose-gc), so no step pays
  // for the garbage of the one before.
  const settle = () => globalThis.gc?.();
  for (let r = 0; r < reps; r++) {
    const kp = await keyPackage(v, `late-${r}`);
    settle();
    const [addCreate, add] = await timed(() => commit(v, founder, { extraProposals: [{ proposalType: "add", add: { keyPackage: kp.publicPackage } }] }));
    founder = add.state;
    settle();
    const [addProcess, rState] = await timed(() => process_(v, receiver, add.bytes));
    receiver = rState;
    settle();
    const [joinMs, joiner] = await timed(() => join(v, add.welcome, kp));
    const leaf = leafIndexOf(joiner, kp);
    settle();
    const [removeCreate, removal] = await timed(() => commit(v, founder, { extraProposals: [{ proposalType: "remove", remove: { removed: leaf } }] }));
    founder = removal.state;
    settle();
    const [removeProcess, rState2] = await timed(() => process_(v, receiver, removal.bytes));
    receiver = rState2;
    s.addCreate.push(addCreate);
    s.addProcess.push(addProcess);
    s.join.push(joinMs);
    s.removeCreate.push(removeCreate);
    s.removeProcess.push(removeProcess);
    bytes.add = add.bytes.length;
    bytes.welcome = add.welcome.length;
    bytes.remove = removal.bytes.length;
  }
  return [
    { operation: "add one member (commit)", createMs: median(s.addCreate), processMs: median(s.addProcess), bytes: bytes.add },
    { operation: "remove one member (commit)", createMs: median(s.removeCreate), processMs: median(s.removeProcess), bytes: bytes.remove },
    { operation: "late joiner Welcome (with tree)", createMs: undefined, processMs: median(s.join), bytes: bytes.welcome },
  ];
}

/**
 * Measures one (variant, suite, N) in a child process of its own, so that neither side inherits
 * the other's heap (the stock library leaves hundreds of MB of garbage at N=1000) and each starts
 * from the same state. Returns that child's rows.
 */
function measureInChild(variant, suite, n, reps) {
  const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--child", variant, suite, String(n), String(reps)], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`bench child ${variant} ${suite} N=${n} failed (${r.status ?? r.signal})`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1));
}

async function child([variant, suite, n, reps]) {
  process.env.CONCLAVE_BENCH_MLS_VARIANTS = variant;
  const [v] = await variants(suite);
  const rows = await measure(v, Number(n), Number(reps));
  console.log(JSON.stringify(rows));
}

/**
 * One row per (suite, N, operation, variant); times are medians in ms, sizes in bytes. Each row of
 * the conclave variant carries `speedup` = stock time ÷ conclave time for create and process.
 * Repetitions: 3 at N=100; at N=1000, 5 for Conclave and 1 for stock (its Welcome alone takes
 * about a minute).
 */
export async function run({ sizes = [100, 1000], xwingSizes = sizes } = {}) {
  const wanted = (process.env.CONCLAVE_BENCH_MLS_VARIANTS ?? "stock,conclave").split(",");
  const rows = [];
  for (const n of sizes) {
    const measured = {};
    for (const variant of ["stock", "conclave"].filter((x) => wanted.includes(x))) {
      measured[variant] = measureInChild(variant, SUITE1, n, n >= 1000 && variant === "stock" ? 1 : n >= 1000 ? 5 : 3);
    }
    for (const [name, ops] of Object.entries(measured)) {
      for (const [i, op] of ops.entries()) {
        const base = measured.stock?.[i];
        const speedup =
          name === "stock" || base === undefined
            ? undefined
            : { create: op.createMs === undefined ? undefined : base.createMs / op.createMs, process: base.processMs / op.processMs };
        rows.push({ suite: 1, n, variant: name, ...op, speedup });
      }
    }
  }
  if (process.env.CONCLAVE_BENCH_MLS_XWING !== "0" && wanted.includes("conclave")) {
    for (const n of xwingSizes) {
      for (const op of measureInChild("conclave", XWING, n, 3)) rows.push({ suite: 83, n, variant: "conclave", ...op, speedup: undefined });
    }
  }
  return rows;
}

const fmt = (v, digits = 1) => (v === undefined ? "-" : v.toFixed(digits));

export function printTable(rows) {
  const header = ["suite", "N", "operation", "variant", "create ms", "process ms", "speed-up (create / process)", "bytes"];
  const body = rows.map((r) => [
    r.suite === 1 ? "1" : "83 X-Wing",
    String(r.n),
    r.operation,
    r.variant,
    fmt(r.createMs),
    fmt(r.processMs),
    r.speedup === undefined ? "-" : `${r.speedup.create === undefined ? "-" : fmt(r.speedup.create) + "×"} / ${fmt(r.speedup.process)}×`,
    String(r.bytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 2 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === "--child") {
    await child(process.argv.slice(3));
  } else {
    const t0 = performance.now();
    const arg = process.argv[2];
    const sizes = arg === undefined ? undefined : arg.split(",").map(Number);
    const rows = await run(sizes === undefined ? {} : { sizes });
    printTable(rows);
    console.log(`\nts-mls 1.6.4 stock vs Conclave (patched + fast suite), medians, each side in its own process; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}
