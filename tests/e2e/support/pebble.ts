/**
 * Debian's pebble (the ACME test server) on loopback for one test file: its own TLS certificate
 * from a throwaway CA made with openssl, free ports, no artificial sleeps, no nonce rejections.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { requireSystemBinary } from "@conclave/test-support";

const run = promisify(execFile);

export interface Pebble {
  /** The ACME directory URL (https://localhost:PORT/dir). */
  readonly directoryUrl: string;
  /** PEM of the CA that signed pebble's own TLS certificate (for --acme-ca). */
  readonly caFile: string;
  /** The port pebble's HTTP-01 validation connects to (--acme-http-port). */
  readonly httpPort: number;
  /** PEM of pebble's current issuing root (certificates it issues chain to it). */
  root(): Promise<string>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPebble(): Promise<Pebble> {
  const pebble = requireSystemBinary("pebble");
  const openssl = requireSystemBinary("openssl");
  const dir = await mkdtemp(join(tmpdir(), "conclave-pebble-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(openssl, ["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=pebble test CA", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem")]);
  await run(openssl, ["req", ...ec, "-subj", "/CN=localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "req.csr")]);
  await writeFile(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  await run(openssl, ["x509", "-req", "-in", join(dir, "req.csr"), "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", join(dir, "ext.cnf"), "-out", join(dir, "cert.pem")]);
  const [acmePort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, "cert.pem"),
        privateKey: join(dir, "key.pem"),
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn(pebble, ["-config", join(dir, "pebble.json")], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      output += c.toString();
      if (output.includes("ACME directory available")) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`pebble exited (${code}) before listening:\n${output}`)));
  });
  const caFile = join(dir, "ca.pem");
  const ca = await readFile(caFile);
  let closed: Promise<void> | undefined;
  return {
    directoryUrl: `https://localhost:${acmePort}/dir`,
    caFile,
    httpPort,
    root: () =>
      new Promise((resolve, reject) => {
        request({ host: "127.0.0.1", port: managementPort, path: "/roots/0", ca, servername: "localhost" }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve(body));
        })
          .on("error", reject)
          .end();
      }),
    close: () =>
      (closed ??= (async () => {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}
