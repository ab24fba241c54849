#!/usr/bin/env node
// Data at rest (@conclave/kms), measured in one run:
//   1. wrap and unwrap of data keys per second, for each back end: the local key file, a
//      SoftHSM token (PKCS#11) and a PyKMIP server (KMIP 1.4 over mutual TLS), both made here;
//   2. chunked stream encryption and decryption throughput against raw AES-256-GCM on the same
//      1 MiB chunks (node:crypto createCipheriv + update + final + getAuthTag), goal >= 0.9x.
// Throughput rounds alternate which side goes first and report the median of per-round ratios,
// so load from other processes hits both sides alike.
//
// Usage: npm run build && node bench/kms.mjs   (about 40 s; needs softhsm2 and python3-pykmip)
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataKey, KmipBackend, LocalKeyFileBackend, Pkcs11Backend, StreamCipher } from "../packages/kms/dist/src/index.js";
import { createSoftHsm, startPyKmip } from "../packages/kms/dist/test/testing.js";

const WRAP_MS = 1500;
const CHUNK = 1024 * 1024;
const ROUNDS = 15;
const CHUNKS_PER_ROUND = 24;

async function opsPerSecond(fn, ms) {
  // Warm up, then count completed operations in `ms`.
  for (let i = 0; i < 20; i++) await fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    await fn();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

async function wrapRow(name, backend) {
  const key = randomBytes(32);
  const aad = Buffer.from("meeting/12345678901");
  const wrapped = await backend.wrap(key, aad);
  const wrap = await opsPerSecond(() => backend.wrap(key, aad), WRAP_MS);
  const unwrap = await opsPerSecond(() => backend.unwrap(wrapped, aad), WRAP_MS);
  return { name, wrap, unwrap };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function throughput() {
  const data = Array.from({ length: 4 }, () => randomBytes(CHUNK));
  const rawKey = createSecretKey(randomBytes(32));
  const dataKey = DataKey.generate({ kind: "recording", id: "bench" });
  const stream = StreamCipher.create(dataKey, "media", CHUNK);
  const timeRaw = () => {
    const t = performance.now();
    for (let i = 0; i < CHUNKS_PER_ROUND; i++) {
      const c = createCipheriv("aes-256-gcm", rawKey, randomBytes(12));
      c.update(data[i & 3]);
      c.final();
      c.getAuthTag();
    }
    return performance.now() - t;
  };
  const timeStream = () => {
    const t = performance.now();
    for (let i = 0; i < CHUNKS_PER_ROUND; i++) stream.encryptChunk(i, data[i & 3], false);
    return performance.now() - t;
  };
  const rawCt = data.map((d) => {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", rawKey, iv);
    const body = Buffer.concat([c.update(d), c.final()]);
    return { iv, body, tag: c.getAuthTag() };
  });
  const streamCt = Array.from({ length: CHUNKS_PER_ROUND }, (_, i) => Buffer.concat(stream.encryptChunk(i, data[i & 3], false)));
  const timeRawDecrypt = () => {
    const t = performance.now();
    for (let i = 0; i < CHUNKS_PER_ROUND; i++) {
      const { iv, body, tag } = rawCt[i & 3];
      const d = createDecipheriv("aes-256-gcm", rawKey, iv);
      d.setAuthTag(tag);
      Buffer.concat([d.update(body), d.final()]);
    }
    return performance.now() - t;
  };
  const timeStreamDecrypt = () => {
    const t = performance.now();
    for (let i = 0; i < CHUNKS_PER_ROUND; i++) stream.decryptChunk(i, streamCt[i], false);
    return performance.now() - t;
  };
  const rows = [];
  for (const [op, raw, ours] of [["encrypt", timeRaw, timeStream], ["decrypt", timeRawDecrypt, timeStreamDecrypt]]) {
    raw();
    ours();
    const ratios = [];
    let rawMs = 0;
    let oursMs = 0;
    for (let r = 0; r < ROUNDS; r++) {
      globalThis.gc?.();
      const [a, b] = r % 2 === 0 ? [raw(), ours()] : [ours(), raw()].reverse();
      rawMs += a;
      oursMs += b;
      ratios.push(a / b);
    }
    const mib = (ROUNDS * CHUNKS_PER_ROUND * CHUNK) / (1024 * 1024);
    rows.push({ op, rawMiBs: mib / (rawMs / 1000), oursMiBs: mib / (oursMs / 1000), ratio: median(ratios) });
  }
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), "conclave-bench-kms-"));
const cleanup = [];
try {
  console.log("chunked stream (1 MiB chunks) against raw AES-256-GCM on the same chunks:");
  console.log("op       raw MiB/s   stream MiB/s   stream/raw (median of rounds)");
  for (const r of throughput()) {
    console.log(`${r.op.padEnd(8)} ${r.rawMiBs.toFixed(0).padStart(9)}   ${r.oursMiBs.toFixed(0).padStart(12)}   ${r.ratio.toFixed(3)}x`);
  }

  const rows = [];
  const local = await LocalKeyFileBackend.open({ file: join(dir, "master-keys.json") });
  cleanup.push(() => local.close());
  rows.push(await wrapRow("local key file", local));

  const hsm = createSoftHsm();
  cleanup.push(() => hsm.cleanup());
  hsm.initToken("bench", "bench-pin-1234");
  const pkcs11 = await Pkcs11Backend.open({ module: hsm.module, tokenLabel: "bench", pin: "bench-pin-1234" });
  cleanup.push(() => pkcs11.close());
  rows.push(await wrapRow("PKCS#11 (SoftHSM)", pkcs11));

  const kmip = await startPyKmip();
  cleanup.push(() => kmip.cleanup());
  const kmipBackend = await KmipBackend.open({ host: kmip.host, port: kmip.port, ...kmip.clientTls(), stateFile: join(dir, "kmip.json") });
  cleanup.push(() => kmipBackend.close());
  rows.push(await wrapRow("KMIP 1.4 (PyKMIP, TLS)", kmipBackend));

  console.log("\ndata key wrap/unwrap per second (one at a time):");
  console.log("back end                   wrap/s    unwrap/s");
  for (const r of rows) console.log(`${r.name.padEnd(24)} ${r.wrap.toFixed(0).padStart(8)}  ${r.unwrap.toFixed(0).padStart(10)}`);
} finally {
  for (const c of cleanup.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
}
