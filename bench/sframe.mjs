#!/usr/bin/env node
// SFrame (RFC 9605) throughput against raw AES-GCM on the same frames, measured in the same run.
//
// Baselines use the same crypto API as the back end under test:
//   node      raw node:crypto: createCipheriv + update + final + getAuthTag (a reused KeyObject),
//             createDecipheriv + setAuthTag + update + final for decryption;
//   webcrypto raw awaited crypto.subtle.encrypt / decrypt with a CryptoKey.
// Rows measure "encrypt" (new buffer per frame), "encryptInto" (caller-reused output buffer,
// node only) and "decrypt". Why both encrypt rows: node:crypto cannot write into a caller's
// buffer, so a contiguous header || ciphertext || tag costs one copy of the ciphertext into
// fresh memory beyond what raw AES-GCM does; encryptInto makes that copy into warm memory. Each round times a batch of SFrame frames and a batch of raw
// frames back to back, alternating which goes first; the ratio is the median over rounds of
// the per-round ratios, so load from other processes hits both sides alike, and a garbage
// collection runs before every batch.
//
// Usage: npm run build && node bench/sframe.mjs [node|webcrypto|encrypt|encryptInto|decrypt]…   (all rows: about 35 s)
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { SFrameDecryptor, SFrameEncryptor, createWebCryptoSFrameCrypto } from "../packages/protocol/dist/src/index.js";
import { createNodeSFrameCrypto } from "../packages/protocol/dist/src/node.js";

const SUITES = { 4: { name: "AES_128_GCM_SHA256_128", keyBytes: 16 }, 5: { name: "AES_256_GCM_SHA512_128", keyBytes: 32 } };
const ROUND_MS = 25; // target duration of one timed batch
const ROUNDS = 24;
const DISTINCT_PLAINTEXTS = 16;

/** Rows to run: [backend, suite, frame size, operation]. Suite 0x0005 only briefly. */
const PLAN = [
  ...["node", "webcrypto"].flatMap((backend) => [
    ...[1200, 30000].flatMap((size) => [
      [backend, 4, size, "encrypt"],
      ...(backend === "node" ? [[backend, 4, size, "encryptInto"]] : []),
      [backend, 4, size, "decrypt"],
    ]),
    [backend, 5, 30000, "encrypt"],
    [backend, 5, 30000, "decrypt"],
  ]),
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A batch runner: prepare() (untimed) then run() (timed) processing `count` frames. */
async function makeSFrame(backend, suite, size, op, count, plaintexts) {
  const crypto = backend === "node" ? createNodeSFrameCrypto() : createWebCryptoSFrameCrypto();
  const baseKey = randomBytes(32);
  const kid = 7n;
  const encryptor = await SFrameEncryptor.create({ suite, kid, baseKey, crypto });
  if (op === "encrypt") {
    return { prepare: async () => {}, run: async () => { for (let i = 0; i < count; i++) await encryptor.encrypt(plaintexts[i % plaintexts.length]); } };
  }
  if (op === "encryptInto") {
    const out = new Uint8Array(encryptor.maxFrameLength(size));
    return { prepare: async () => {}, run: async () => { for (let i = 0; i < count; i++) await encryptor.encryptInto(plaintexts[i % plaintexts.length], out); } };
  }
  // decrypt: a batch of distinct frames (distinct CTRs), a fresh key before each batch so the
  // replay window accepts them again; key setup is outside the timed part.
  const frames = [];
  for (let i = 0; i < count; i++) frames.push(await encryptor.encrypt(plaintexts[i % plaintexts.length]));
  const decryptor = new SFrameDecryptor({ suite, crypto });
  return {
    prepare: () => decryptor.setKey(kid, baseKey),
    run: async () => { for (let i = 0; i < count; i++) await decryptor.decrypt(frames[i]); },
  };
}

async function makeRaw(backend, suite, size, op, count, plaintexts) {
  const keyBytes = randomBytes(SUITES[suite].keyBytes);
  const ivs = Array.from({ length: count }, () => randomBytes(12));
  if (backend === "node") {
    const alg = suite === 4 ? "aes-128-gcm" : "aes-256-gcm";
    const key = createSecretKey(keyBytes);
    const encryptOne = (i) => {
      const c = createCipheriv(alg, key, ivs[i]);
      const ct = c.update(plaintexts[i % plaintexts.length]);
      c.final();
      return { ct, tag: c.getAuthTag() };
    };
    if (op !== "decrypt") return { prepare: async () => {}, run: async () => { for (let i = 0; i < count; i++) encryptOne(i); } };
    const sealed = Array.from({ length: count }, (_, i) => encryptOne(i));
    return {
      prepare: async () => {},
      run: async () => {
        for (let i = 0; i < count; i++) {
          const d = createDecipheriv(alg, key, ivs[i]);
          d.setAuthTag(sealed[i].tag);
          d.update(sealed[i].ct);
          d.final();
        }
      },
    };
  }
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt", "decrypt"]);
  if (op !== "decrypt") {
    return { prepare: async () => {}, run: async () => { for (let i = 0; i < count; i++) await subtle.encrypt({ name: "AES-GCM", iv: ivs[i] }, key, plaintexts[i % plaintexts.length]); } };
  }
  const sealed = [];
  for (let i = 0; i < count; i++) sealed.push(await subtle.encrypt({ name: "AES-GCM", iv: ivs[i] }, key, plaintexts[i % plaintexts.length]));
  return { prepare: async () => {}, run: async () => { for (let i = 0; i < count; i++) await subtle.decrypt({ name: "AES-GCM", iv: ivs[i] }, key, sealed[i]); } };
}

// A full collection before each timed batch, so each side pays for its own garbage instead of
// the other's (allocating 30 KB frames triggers collections that would otherwise land anywhere).
let gc;
function collectGarbage() {
  if (!gc) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc");
  }
  gc();
}

async function timeBatch(runner) {
  await runner.prepare();
  collectGarbage();
  const t0 = performance.now();
  await runner.run();
  return performance.now() - t0;
}

async function measureRow([backend, suite, size, op]) {
  const plaintexts = Array.from({ length: DISTINCT_PLAINTEXTS }, () => new Uint8Array(randomBytes(size)));
  // Calibrate the batch size on raw encryption so one batch takes about ROUND_MS.
  const probe = await makeRaw(backend, suite, size, "encrypt", 64, plaintexts);
  await timeBatch(probe);
  const probeMs = await timeBatch(probe);
  const count = Math.max(32, Math.min(4000, Math.round((64 * ROUND_MS) / Math.max(probeMs, 0.01))));
  const sframe = await makeSFrame(backend, suite, size, op, count, plaintexts);
  const raw = await makeRaw(backend, suite, size, op, count, plaintexts);
  await timeBatch(sframe); // warm-up
  await timeBatch(raw);
  const sframeMs = [];
  const rawMs = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      sframeMs.push(await timeBatch(sframe));
      rawMs.push(await timeBatch(raw));
    } else {
      rawMs.push(await timeBatch(raw));
      sframeMs.push(await timeBatch(sframe));
    }
  }
  const sframeFps = (count * 1000) / median(sframeMs);
  const rawFps = (count * 1000) / median(rawMs);
  const ratio = median(sframeMs.map((t, i) => rawMs[i] / t));
  return { backend, suite: `0x000${suite}`, suiteName: SUITES[suite].name, frameBytes: size, op, sframeFps, rawFps, ratio };
}

/**
 * Runs the rows and returns them; prints nothing. `only` keeps the rows whose back end or
 * operation is listed (e.g. ["node"] or ["decrypt"]); by default every row runs.
 */
export async function run({ only = [] } = {}) {
  const rows = [];
  for (const row of PLAN) {
    if (only.length === 0 || only.includes(row[0]) || only.includes(row[3])) rows.push(await measureRow(row));
  }
  return rows;
}

export function formatTable(rows) {
  const header = ["back end", "suite", "frame", "operation", "sframe frames/s", "raw frames/s", "sframe/raw"];
  const lines = rows.map((r) => [
    r.backend, r.suite, `${r.frameBytes} B`, r.op,
    Math.round(r.sframeFps).toLocaleString("en-US"), Math.round(r.rawFps).toLocaleString("en-US"), `${r.ratio.toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const t0 = performance.now();
  const rows = await run({ only: process.argv.slice(2) });
  console.log(`SFrame vs raw AES-GCM, Node ${process.version} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  console.log(formatTable(rows));
}
