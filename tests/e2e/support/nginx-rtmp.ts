/**
 * Debian's nginx (nginx-light) with libnginx-mod-rtmp as a real RTMP ingest on loopback for one
 * test file: a temp prefix directory, a free port, one process (daemon off, master_process off),
 * no root needed. Players of a stream without a publisher are dropped (idle_streams off), so
 * "nothing is being published" reads as an ffprobe failure instead of a hang. `startRtmpsFront`
 * puts TLS in front of it, as RTMPS ingests do.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, type AddressInfo, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { freePort } from "./pebble.js";

export const RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

export interface NginxRtmp {
  readonly port: number;
  /** rtmp://127.0.0.1:PORT/live: the application ingest URL (publish to `${url}/${key}`). */
  readonly url: string;
  /** Stops nginx (every publisher and player is cut off). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** nginx's error log so far (for diagnostics). */
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

export async function startNginxRtmp(): Promise<NginxRtmp> {
  const nginx = requireSystemBinary("nginx");
  if (!existsSync(RTMP_MODULE)) throw new Error(`${RTMP_MODULE} is missing: install libnginx-mod-rtmp (scripts/install-system-deps.sh)`);
  const dir = await mkdtemp(join(tmpdir(), "conclave-rtmp-"));
  await mkdir(join(dir, "logs"));
  const port = await freePort();
  await writeFile(
    join(dir, "rtmp.conf"),
    [
      `load_module ${RTMP_MODULE};`,
      "daemon off;",
      "master_process off;",
      "pid nginx.pid;",
      "error_log logs/error.log info;",
      "events { worker_connections 64; }",
      "rtmp {",
      "  server {",
      `    listen 127.0.0.1:${port};`,
      "    application live { live on; record off; idle_streams off; }",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  let proc: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const p = spawn(nginx, ["-e", "logs/error.log", "-p", dir, "-c", "rtmp.conf"], { stdio: ["ignore", "ignore", "pipe"] });
    proc = p;
    let stderr = "";
    p.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 15_000;
    while (!(await accepts(port))) {
      if (p.exitCode !== null) throw new Error(`nginx exited (${p.exitCode}): ${stderr.trim()} ${await readFile(join(dir, "logs/error.log"), "utf8").catch(() => "")}`);
      if (Date.now() > deadline) throw new Error("nginx-rtmp did not listen within 15 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    port,
    url: `rtmp://127.0.0.1:${port}/live`,
    start,
    stop,
    errorLog: () => readFile(join(dir, "logs/error.log"), "utf8").catch(() => ""),
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface RtmpsFront {
  /** rtmps://127.0.0.1:PORT/live: the ingest behind TLS. */
  readonly url: string;
  /** TCP connections accepted so far (a publisher reached the proxy). */
  readonly connections: number;
  /** TLS handshakes that completed, as the proxy saw them (the publisher may still refuse the certificate afterwards). */
  readonly handshakes: number;
  /** Application bytes that came through TLS from publishers so far (RTMP handshake, commands, the key, media). */
  readonly bytesIn: number;
  close(): Promise<void>;
}

/**
 * A TLS-terminating TCP proxy on loopback in front of nginx-rtmp (which speaks only plain RTMP),
 * with the given certificate: an RTMPS ingest as a streaming service runs one.
 */
export async function startRtmpsFront(ingestPort: number, certificate: { cert: string; key: string }): Promise<RtmpsFront> {
  const sockets = new Set<Socket>();
  let bytesIn = 0;
  let connections = 0;
  let handshakes = 0;
  const server = createTlsServer(certificate, (client) => {
    handshakes++;
    const upstream = connect(ingestPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (c: Buffer) => (bytesIn += c.length));
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  // A publisher that refuses the certificate drops the connection: nothing to do here.
  server.on("tlsClientError", () => undefined);
  server.on("connection", () => connections++);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `rtmps://127.0.0.1:${port}/live`,
    get connections() {
      return connections;
    },
    get handshakes() {
      return handshakes;
    },
    get bytesIn() {
      return bytesIn;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
