/**
 * A connection flood against a real `conclave serve` process (its own process, so its resident
 * memory can be read from /proc): stalled frames and idle connections from many loopback
 * addresses, while legitimate participants join and talk. Used by tests/e2e/flood.test.ts (a
 * lighter flood) and bench/flood.mjs (the full one: 300 stalled frames, 2,000 idle connections).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeParticipant } from "@conclave/client/node";
import { openIdleTcp, openRawWs, type RawWs } from "./raw-ws.js";

export interface FloodOptions {
  /** Connections that start a frame and stall: half announce 4 MiB, half the most allowed before a join. */
  stalled: number;
  /** Plain TCP connections that never send a byte. */
  idle: number;
  /** Of the idle ones, how many come from one single address (beyond its cap: refused). */
  idleFromOneAddress: number;
  /** How long to wait for memory to come back (ms). */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface FloodResult {
  /** Resident memory before the warm-up flood (a process that has not seen a flood yet). */
  coldRssMb: number;
  baselineRssMb: number;
  peakRssMb: number;
  /** Resident memory when it was first back within 20% of the baseline (or at the deadline). */
  afterRssMb: number;
  /** ms from the end of the flood to memory within 20% of the baseline; null if it never was. */
  recoveredAfterMs: number | null;
  /** Flood connections the server closed or refused. */
  floodClosed: number;
  floodOpened: number;
  /** ms for a participant that joined during the flood to agree with the others. */
  joinDuringFloodMs: number;
  /** The server's log lines during the flood (stderr). */
  log: string[];
  /** Security-log lines during the flood, counted by event. */
  securityEvents: Record<string, number>;
}

const root = fileURLToPath(new URL("../../../../", import.meta.url));

export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

interface Served {
  child: ChildProcess;
  /** The process that serves (with its own resident memory). */
  pid: number;
  port: number;
  ca: string;
  token: string;
  stderr: string[];
  stop(): Promise<void>;
}

/** Starts `conclave serve` on 127.0.0.1 and a free port, with a fresh data directory. */
export async function serve(): Promise<Served> {
  const data = await mkdtemp(join(tmpdir(), "conclave-flood-"));
  // The flood needs thousands of descriptors in the server: raise its soft limit to the hard one.
  const child = spawn("bash", ["-c", 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, join(root, "packages/cli/bin/conclave.js"), "serve", "--host", "127.0.0.1", "--port", "0", "--data", data], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (d: string) => stderr.push(...d.split("\n").filter(Boolean)));
  let out = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const { port, token } = await new Promise<{ port: number; token: string }>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`conclave serve exited (${code}): ${stderr.join("\n")}`)));
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const p = /running at https:\/\/[^:]+:(\d+)/.exec(out);
      const t = /Admin API token: (\S+)/.exec(out);
      if (p && t) resolve({ port: Number(p[1]), token: t[1]! });
    });
  });
  const ca = await readFile(join(data, "tls", "cert.pem"), "utf8");
  // bin/conclave.js runs the server in a child process of its own (see there): measure that one.
  const kids = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")).trim().split(/\s+/).filter(Boolean);
  const pid = kids.length === 1 ? Number(kids[0]) : child.pid!;
  return {
    child,
    pid,
    port,
    ca,
    token,
    stderr,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      await rm(data, { recursive: true, force: true });
    },
  };
}

function createMeeting(s: Served): Promise<{ id: string; passcode: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ encryption: "e2ee" });
    const req = request(
      { host: "127.0.0.1", port: s.port, path: "/api/meetings", method: "POST", ca: s.ca, servername: "localhost", headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve(JSON.parse(text) as { id: string; passcode: string }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The server's V8 heap as its /metrics report it: the young generation's size, the old space in use, memory outside the heap. */
function memoryMetrics(s: Served): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: s.port, path: "/metrics", ca: s.ca, servername: "localhost", headers: { authorization: `Bearer ${s.token}` } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => {
        const mb = (re: RegExp) => (Number(re.exec(text)?.[1] ?? NaN) / 1e6).toFixed(1);
        resolve(
          `V8 young generation ${mb(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\S+)/m)} MB, ` +
            `old space used ${mb(/^nodejs_heap_space_size_used_bytes\{space="old"\} (\S+)/m)} MB, ` +
            `external ${mb(/^nodejs_external_memory_bytes (\S+)/m)} MB`,
        );
      });
    });
    req.on("error", reject);
    req.end();
  });
}

function agreed(bots: NodeParticipant[], count: number): boolean {
  const epochs = bots.map((b) => b.session.epoch);
  const codes = bots.map((b) => b.session.securityCode);
  return epochs[0] !== null && epochs.every((e) => e === epochs[0]) && codes.every((c) => c === codes[0]) && bots.every((b) => b.session.groupMembers.length === count);
}

async function until(what: string, ms: number, check: () => boolean | Promise<boolean>, everyMs = 100): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface FloodConnection {
  socket: Socket | RawWs["socket"];
  closed: boolean;
}

/**
 * Opens a flood: `stalled` WebSocket connections that start a frame and stall (from 127.0.<octet>.x),
 * idle TCP connections from 127.0.<octet + 1>.x, 100 per address, and `idleFromOneAddress` more
 * from 127.0.<octet + 2>.1 (those over its cap are refused at once and not returned).
 */
async function openFlood(s: Served, o: { stalled: number; idle: number; idleFromOneAddress: number; octet: number }): Promise<FloodConnection[]> {
  const out: FloodConnection[] = [];
  const track = (socket: Socket | RawWs["socket"], closed: Promise<void>) => {
    const entry = { socket, closed: false };
    void closed.then(() => (entry.closed = true));
    out.push(entry);
  };
  for (let i = 0; i < o.stalled; i++) {
    const ws = await openRawWs(s.port, s.ca, `127.0.${o.octet}.${1 + (i % 100)}`);
    if (i % 2 === 0) {
      ws.frameHeader(4 * 1024 * 1024);
      ws.payload(Buffer.alloc(256 * 1024, 0x61));
    } else {
      ws.frameHeader(16 * 1024 - 1);
      ws.payload(Buffer.alloc(16_000, 0x61));
    }
    track(ws.socket, ws.closed);
  }
  const spread = o.idle - o.idleFromOneAddress;
  for (let i = 0; i < spread; i++) {
    const sock = await openIdleTcp(s.port, `127.0.${o.octet + 1}.${1 + Math.floor(i / 100)}`);
    track(sock, new Promise((r) => sock.once("close", () => r())));
  }
  for (let i = 0; i < o.idleFromOneAddress; i++) {
    const sock = await openIdleTcp(s.port, `127.0.${o.octet + 2}.1`).catch(() => null);
    if (sock) track(sock, new Promise((r) => sock.once("close", () => r())));
  }
  return out;
}

/**
 * The server's resident memory once it has settled: samples every 500 ms until the last six
 * (3 s) are within 2% of each other (at most `maxMs`), then their median.
 */
async function steadyRss(pid: number, label: string, log: (line: string) => void, maxMs = 30_000): Promise<number> {
  const xs: number[] = [];
  const deadline = Date.now() + maxMs;
  for (;;) {
    xs.push(await rssMb(pid));
    const last = xs.slice(-6);
    if (last.length === 6 && (Math.max(...last) - Math.min(...last) <= 0.02 * Math.min(...last) || Date.now() > deadline)) {
      log(`resident memory ${label}: ${xs.map((x) => x.toFixed(0)).join(" ")} MB`);
      return [...last].sort((a, b) => a - b)[3]!;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function runFlood(opts: FloodOptions): Promise<FloodResult> {
  const log = opts.log ?? (() => {});
  const s = await serve();
  const bots: NodeParticipant[] = [];
  const flood: FloodConnection[] = [];
  const warm: FloodConnection[] = [];
  try {
    const pid = s.pid;
    const meeting = await createMeeting(s);
    const link = `https://127.0.0.1:${s.port}/m/${meeting.id}#pwd=${meeting.passcode}`;
    for (const name of ["Ada", "Bob"]) {
      const b = new NodeParticipant({ link, displayName: name, ca: s.ca });
      await b.join();
      bots.push(b);
    }
    await until("Ada and Bob to agree", 30_000, () => agreed(bots, 2));
    await until("media to flow between Ada and Bob", 30_000, () => bots.every((b) => b.stats().framesDecrypted >= 250));
    log(`resident memory once media flows: ${(await rssMb(pid)).toFixed(1)} MB`);

    // The baseline is the memory of a server that has been at work, not of a cold process: media
    // has flowed, and a first flood of the same shape and size (from other addresses) has come and
    // been cut by the server. What grows once in a process's life is then in the baseline: V8's
    // young generation reaching its working size (2 × 32 MB on Node 24), the JIT's code for the TLS
    // and WebSocket paths, and the allocator's high-water mark for that many connections at once
    // (about 35 kB each, bounded by the connection caps and reused by every later flood). What the
    // test measures is what a flood leaves behind: the original fault, memory pinned by every
    // flood, would show here. The first flood's growth is reported (coldRssMb) and not asserted:
    // a cold baseline read on a loaded machine has been 141 MB against the 172 MB at which the
    // same idle meeting settles, so it measures warm-up, not retention.
    const coldRssMb = await steadyRss(pid, "before the warm-up flood", log);
    warm.push(...(await openFlood(s, { ...opts, octet: 7 })));
    await until("the server to close the warm-up flood", 60_000, () => warm.every((f) => f.closed), 250);
    const baselineRssMb = await steadyRss(pid, "before the flood", log);
    log(`before the flood: ${await memoryMetrics(s)}`);
    log(`baseline RSS ${baselineRssMb.toFixed(1)} MB`);
    const logFrom = s.stderr.length;

    // The flood. Addresses 127.0.4.x / 127.0.5.x hold at most 100 connections each; one address,
    // 127.0.6.1, opens `idleFromOneAddress` (over its cap of 256, the rest are refused).
    let peak = baselineRssMb;
    const sampler = setInterval(() => void rssMb(pid).then((m) => (peak = Math.max(peak, m))).catch(() => {}), 100);
    flood.push(...(await openFlood(s, { ...opts, octet: 4 })));
    log(`flood open: ${flood.length} connections, RSS ${(await rssMb(pid)).toFixed(1)} MB`);

    // A participant joins in the middle of it.
    const joinStart = Date.now();
    const cy = new NodeParticipant({ link, displayName: "Cy", ca: s.ca });
    await cy.join();
    bots.push(cy);
    await until("Cy to join during the flood", 60_000, () => agreed(bots, 3));
    const joinDuringFloodMs = Date.now() - joinStart;
    log(`Cy joined during the flood in ${joinDuringFloodMs} ms`);

    // The server cuts every flood connection by itself (message deadline, refused frames,
    // handshake timeout); the flood ends when the last one is closed.
    await until("the server to close every flood connection", 60_000, () => flood.every((f) => f.closed), 250);
    clearInterval(sampler);
    const floodEnd = Date.now();
    log(`flood over: peak RSS ${peak.toFixed(1)} MB`);

    let recoveredAfterMs: number | null = null;
    let afterRssMb = await rssMb(pid);
    const deadline = floodEnd + (opts.settleMs ?? 60_000);
    while (Date.now() < deadline) {
      afterRssMb = await rssMb(pid);
      if (afterRssMb <= baselineRssMb * 1.2) {
        recoveredAfterMs = Date.now() - floodEnd;
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    log(`after the flood: ${await memoryMetrics(s)}`);
    log(`RSS after: ${afterRssMb.toFixed(1)} MB (${recoveredAfterMs === null ? "not back" : `back after ${recoveredAfterMs} ms`})`);
    return {
      coldRssMb,
      baselineRssMb,
      peakRssMb: peak,
      afterRssMb,
      recoveredAfterMs,
      floodClosed: flood.filter((f) => f.closed).length,
      floodOpened: opts.stalled + opts.idle,
      joinDuringFloodMs,
      log: s.stderr.slice(logFrom),
      securityEvents: countSecurityEvents(s.stderr.slice(logFrom)),
    };
  } finally {
    for (const f of [...warm, ...flood]) f.socket.destroy();
    for (const b of bots) b.leave();
    await s.stop();
  }
}

function countSecurityEvents(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) {
    let entry: { log?: string; event?: string };
    try {
      entry = JSON.parse(line) as { log?: string; event?: string };
    } catch {
      continue;
    }
    if (entry.log === "security" && typeof entry.event === "string") out[entry.event] = (out[entry.event] ?? 0) + 1;
  }
  return out;
}
