/**
 * Debian's coturn (`turnserver`) on loopback for a test file: TURN over UDP with the REST-API
 * shared secret (use-auth-secret), relaying to loopback peers (the test's relay is on 127.0.0.1),
 * logging to memory so tests can check what it allocated and refused.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "./index.js";

export interface Coturn {
  /** turn:127.0.0.1:PORT?transport=udp */
  readonly url: string;
  readonly port: number;
  /** The static-auth-secret (give it to conclave as --turn-secret). */
  readonly secret: string;
  readonly realm: string;
  /** Everything coturn logged so far. */
  log(): string;
  /** Resolves when a log line matches (rejects after `ms`). */
  waitForLog(pattern: RegExp, ms?: number): Promise<string>;
  close(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

export async function startCoturn(): Promise<Coturn> {
  const turnserver = requireSystemBinary("turnserver");
  const dir = await mkdtemp(join(tmpdir(), "conclave-coturn-"));
  const port = await freeUdpPort();
  const secret = randomBytes(24).toString("base64url");
  const realm = "conclave.test";
  // A relay port range of its own near the listening port keeps parallel test files apart.
  const relayMin = 20000 + Math.floor(Math.random() * 20000);
  const args = [
    "-n", // no config file: everything is on this command line
    `--listening-ip=127.0.0.1`,
    `--listening-port=${port}`,
    `--relay-ip=127.0.0.1`,
    `--min-port=${relayMin}`,
    `--max-port=${relayMin + 200}`,
    "--use-auth-secret",
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    // The relay under test listens on loopback; never do this in production.
    "--allow-loopback-peers",
    "--no-tls",
    "--no-dtls",
    "--no-tcp-relay",
    "--no-cli",
    "--no-software-attribute",
    "--log-file=stdout",
    "--simple-log",
    "--verbose",
    `--pidfile=${join(dir, "turnserver.pid")}`,
    `--db=${join(dir, "turndb")}`,
  ];
  const child: ChildProcess = spawn(turnserver, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const watchers = new Set<() => void>();
  const onData = (c: Buffer): void => {
    output += c.toString();
    for (const w of [...watchers]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const waitForLog = (pattern: RegExp, ms = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const line = output.split("\n").find((l) => pattern.test(l));
        if (line === undefined) return;
        watchers.delete(check);
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`coturn logged nothing matching ${pattern} within ${ms} ms:\n${output.slice(-4000)}`));
      }, ms);
      watchers.add(check);
      check();
    });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await Promise.race([
    waitForLog(/Total General servers|IO method|listener opened on/i),
    exited.then(() => Promise.reject(new Error(`turnserver exited at start:\n${output}`))),
  ]);
  let closed: Promise<void> | undefined;
  return {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    port,
    secret,
    realm,
    log: () => output,
    waitForLog,
    close: () =>
      (closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}
