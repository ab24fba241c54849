/**
 * Where a local server keeps the files the CLI reads: its admin token and its self-signed
 * certificate. This mirrors dataPaths() and DEFAULT_DATA_DIR in @conclave/server's config.ts
 * (not yet exported from its entry); the CLI test that runs `serve` then `meeting create`
 * against the same directory fails if the two drift apart.
 */
import { join, resolve } from "node:path";

export const DEFAULT_DATA_DIR = "conclave-data";

export function localServerFiles(cwd: string, dataFlag: string | undefined): { adminToken: string; certFile: string } {
  const dir = resolve(cwd, dataFlag ?? DEFAULT_DATA_DIR);
  return { adminToken: join(dir, "admin-token"), certFile: join(dir, "tls", "cert.pem") };
}
