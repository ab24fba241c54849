#!/usr/bin/env node
// Chat and files, end to end encrypted, against baselines measured in the same run:
//
//   files     encryptFile / decryptFile (STREAM: 64 KiB chunks of AES-256-GCM, WebCrypto) on a
//             20 MB file, against one raw WebCrypto AES-256-GCM call over the same 20 MB;
//   messages  a private chat message (sealed to the recipient's leaf key with HPKE, inside an MLS
//             PrivateMessage) against a group chat message (the MLS PrivateMessage alone), per
//             message, both for the sender (encrypt) and the receiver (decrypt, and open).
//
// Each round times both sides back to back, alternating which goes first; the ratio is the
// median of the per-round ratios.
//
// Usage: npm run build && node bench/collaboration.mjs        (about 40 s)
import { randomBytes } from "node:crypto";
import {
  FileKey,
  MlsSession,
  createKeyPackage,
  decodeAppMessage,
  decodeSealedPayload,
  decryptFile,
  encodeAppMessage,
  encodeSealedPayload,
  encryptFile,
  fromBase64,
  toBase64,
} from "../packages/protocol/dist/src/index.js";
// The node:crypto MLS back end, as Node participants use it (the import installs it).
import "../packages/protocol/dist/src/node.js";

const ROUNDS = 9;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const now = () => performance.now();

async function timeIt(fn) {
  const t = now();
  await fn();
  return now() - t;
}

async function files() {
  const size = 20 * 1024 * 1024;
  const data = new Uint8Array(randomBytes(size));
  const subtle = globalThis.crypto.subtle;
  const rawKey = await subtle.importKey("raw", randomBytes(32), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  const iv = randomBytes(12);
  const rows = [];
  for (const op of ["encrypt", "decrypt"]) {
    const ratios = [];
    let streamMs = 0;
    let rawMs = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const key = FileKey.generate();
      const raw = key.exportBytes();
      const sealed = op === "decrypt" ? await encryptFile(key, data) : null;
      const rawSealed = op === "decrypt" ? new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv }, rawKey, data)) : null;
      const stream = () => (op === "encrypt" ? encryptFile(FileKey.generate(), data) : decryptFile(FileKey.fromBytes(raw), sealed, size));
      const baseline = () => (op === "encrypt" ? subtle.encrypt({ name: "AES-GCM", iv }, rawKey, data) : subtle.decrypt({ name: "AES-GCM", iv }, rawKey, rawSealed));
      let a, b;
      if (r % 2 === 0) {
        a = await timeIt(stream);
        b = await timeIt(baseline);
      } else {
        b = await timeIt(baseline);
        a = await timeIt(stream);
      }
      streamMs += a;
      rawMs += b;
      ratios.push(b / a);
    }
    const mbps = (ms) => ((size / (1024 * 1024)) / ((ms / ROUNDS) / 1000)).toFixed(0);
    rows.push(`| file ${op} (20 MB) | ${mbps(streamMs)} MB/s | ${mbps(rawMs)} MB/s | ${median(ratios).toFixed(2)}× |`);
  }
  return rows;
}

async function messages() {
  const person = (n) => ({ kind: "person", memberId: `m-${n}`, displayName: n });
  const alice = await MlsSession.create(new TextEncoder().encode("bench"), person("Alice"));
  const bobKp = await createKeyPackage(person("Bob"));
  const add = await alice.commit({ add: [bobKp.keyPackage] });
  await alice.applyPendingCommit();
  const bob = await MlsSession.joinFromWelcome(add.welcome, bobKp.secret);
  const bobLeaf = alice.members().find((m) => m.identity.displayName === "Bob").leafIndex;
  const text = "Could you send me the figures for the third quarter before the call? Thanks!";
  const group = encodeAppMessage({ v: 1, type: "chat", id: "c-12345678", text });
  const priv = encodeSealedPayload({ v: 1, type: "privateChat", id: "p-12345678", text });
  const wrap = (s) => encodeAppMessage({ v: 1, type: "sealed", to: "m-Bob", toLeaf: s.toLeaf, enc: toBase64(s.enc), ct: toBase64(s.ct) });
  const N = 150;
  const rows = [];
  const send = { sealed: [], plain: [] };
  const recv = { sealed: [], plain: [] };
  const sendRatios = [];
  const recvRatios = [];
  for (let r = 0; r < ROUNDS; r++) {
    const sealedOut = [];
    const plainOut = [];
    const a = await timeIt(async () => {
      for (let i = 0; i < N; i++) sealedOut.push(await alice.sealApplicationMessage(bobLeaf, priv, wrap));
    });
    const b = await timeIt(async () => {
      for (let i = 0; i < N; i++) plainOut.push(await alice.encryptApplicationMessage(group));
    });
    send.sealed.push(a);
    send.plain.push(b);
    sendRatios.push(b / a);
    // The receiver takes them in the order sent (sealed ones first, as they were sent first).
    const c = await timeIt(async () => {
      for (const m of sealedOut) {
        const res = await bob.processMessage(m);
        const env = decodeAppMessage(res.data);
        decodeSealedPayload(await bob.openSealed({ epoch: res.epoch, toLeaf: env.toLeaf, enc: fromBase64(env.enc), ct: fromBase64(env.ct) }, res.sender.leafIndex));
      }
    });
    const d = await timeIt(async () => {
      for (const m of plainOut) decodeAppMessage((await bob.processMessage(m)).data);
    });
    recv.sealed.push(c);
    recv.plain.push(d);
    recvRatios.push(d / c);
  }
  const perSec = (xs) => Math.round(N / (median(xs) / 1000)).toLocaleString("en");
  rows.push(`| private message, send (seal + MLS) | ${perSec(send.sealed)} /s | ${perSec(send.plain)} /s | ${median(sendRatios).toFixed(2)}× |`);
  rows.push(`| private message, receive (MLS + open) | ${perSec(recv.sealed)} /s | ${perSec(recv.plain)} /s | ${median(recvRatios).toFixed(2)}× |`);
  return rows;
}

console.log("| what | Conclave | baseline | Conclave / baseline |");
console.log("|---|---|---|---|");
for (const row of await files()) console.log(row);
for (const row of await messages()) console.log(row);
