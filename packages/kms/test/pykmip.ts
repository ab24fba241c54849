/**
 * A PyKMIP server (Debian python3-pykmip) started by the test, with its own CA, server
 * certificate and client certificate made by the test with openssl. Mutual TLS 1.2, as KMIP
 * 1.4 §10 asks. PyKMIP ignores SIGTERM: it is stopped with SIGINT (then SIGKILL if it hangs).
 * It starts helper processes (a multiprocessing manager and a policy monitor), so it runs in a
 * process group of its own and the whole group is signalled: none outlives the test.
 * Fails with a clear message when pykmip-server or openssl is missing.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";

export interface Pki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface PyKmip {
  readonly host: string;
  port: number;
  readonly pki: Pki;
  /** What a KmipClient needs. */
  clientTls(): { ca: Buffer; cert: Buffer; key: Buffer };
  /** SIGINT (it ignores SIGTERM); `crash`: SIGKILL, as a server that dies. */
  stop(options?: { crash?: boolean }): Promise<void>;
  /** Start again on the same port, with the same keys (its database is kept). */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export function requirePyKmip(): void {
  requireSystemBinary("pykmip-server");
  requireSystemBinary("openssl");
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate (EKU clientAuth, as PyKMIP demands). */
export function makePki(dir: string, clientName = "conclave-test"): Pki {
  mkdirSync(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"];
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Conclave test KMIP CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const leaf = (name: string, cn: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  };
  leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("client", clientName, "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    ca: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export async function startPyKmip(): Promise<PyKmip> {
  requirePyKmip();
  const dir = mkdtempSync(join(tmpdir(), "conclave-pykmip-"));
  const pki = makePki(join(dir, "pki"));
  mkdirSync(join(dir, "policies"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const kmip: PyKmip = {
    host: "127.0.0.1",
    port: 0,
    pki,
    clientTls: () => ({ ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) }),
    async start() {
      if (kmip.port === 0) kmip.port = await freePort();
      const conf = join(dir, "server.conf");
      writeFileSync(
        conf,
        [
          "[server]",
          "hostname=127.0.0.1",
          `port=${kmip.port}`,
          `certificate_path=${pki.serverCert}`,
          `key_path=${pki.serverKey}`,
          `ca_path=${pki.ca}`,
          "auth_suite=TLS1.2",
          "enable_tls_client_auth=True",
          `policy_path=${join(dir, "policies")}`,
          "logging_level=WARNING",
          `database_path=${join(dir, "pykmip.db")}`,
          "",
        ].join("\n"),
      );
      let output = "";
      child = spawn("pykmip-server", ["-f", conf, "-l", join(dir, "server.log")], { stdio: ["ignore", "pipe", "pipe"], detached: true });
      child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
      const proc = child;
      let dead = false;
      proc.once("exit", () => (dead = true));
      // "close": the process exited and every pipe it shared (with its helpers) is closed.
      exited = new Promise((resolve) => proc.once("close", () => resolve()));
      // Python takes a second or two to start: poll the port until it accepts, or the process dies.
      const deadline = Date.now() + 60_000;
      while (!(await canConnect(kmip.port))) {
        if (dead) throw new Error(`pykmip-server exited during start-up: ${output.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`pykmip-server did not listen on ${kmip.port} within 60 s: ${output.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(options = {}) {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.exitCode !== null) return;
      const signalGroup = (signal: NodeJS.Signals): void => {
        try {
          process.kill(-proc.pid!, signal);
        } catch {
          // the group is gone already
        }
      };
      signalGroup(options.crash ? "SIGKILL" : "SIGINT"); // it ignores SIGTERM
      const timer = setTimeout(() => signalGroup("SIGKILL"), 10_000);
      await new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once("exit", () => resolve())));
      signalGroup("SIGKILL"); // helpers that outlived the main process
      await exited;
      clearTimeout(timer);
    },
    async cleanup() {
      await kmip.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await kmip.start();
  return kmip;
}
