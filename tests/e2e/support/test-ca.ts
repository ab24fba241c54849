/**
 * A throwaway certificate authority made with openssl for one test file: its PEM file to trust,
 * and leaf certificates it issues for the names a test wants (a TLS ingest on loopback).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { execFileAsync } from "./recording.js";

export interface TestCa {
  /** The CA's certificate (PEM file), to trust. */
  readonly caFile: string;
  /** The CA's temporary directory (removed by close), where its files are. */
  readonly dir: string;
  /** A certificate and key for `subjectAltName` (openssl syntax, e.g. "IP:127.0.0.1,DNS:localhost"), valid for a day. */
  issue(name: string, subjectAltName: string): Promise<{ cert: string; key: string }>;
  close(): Promise<void>;
}

export async function makeTestCa(label: string): Promise<TestCa> {
  const openssl = requireSystemBinary("openssl");
  const dir = await mkdtemp(join(tmpdir(), "conclave-test-ca-"));
  const caFile = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await execFileAsync(openssl, ["req", "-x509", ...ec, "-days", "1", "-subj", `/CN=${label}`, "-keyout", caKey, "-out", caFile]);
  return {
    caFile,
    dir,
    async issue(name, subjectAltName) {
      const base = join(dir, name);
      await execFileAsync(openssl, ["req", ...ec, "-subj", `/CN=${name}`, "-keyout", `${base}-key.pem`, "-out", `${base}.csr`]);
      await writeFile(`${base}.ext`, `subjectAltName=${subjectAltName}\n`);
      await execFileAsync(openssl, ["x509", "-req", "-in", `${base}.csr`, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-days", "1", "-extfile", `${base}.ext`, "-out", `${base}.pem`]);
      return { cert: await readFile(`${base}.pem`, "utf8"), key: await readFile(`${base}-key.pem`, "utf8") };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
