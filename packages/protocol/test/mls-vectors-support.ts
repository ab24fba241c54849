// Shared by the MLS vector tests: where the official vectors are, and the cipher suites to run them
// with. The vectors are the mlswg/mls-implementations interop files in ../shared/vectors/mls
// beside the project root (see shared/vectors/README.md); where that folder is absent (a fresh
// clone without it) the tests say so by name and are skipped (under CI=true they fail).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getCiphersuiteFromId, type CiphersuiteId, type CiphersuiteImpl } from "ts-mls/crypto/ciphersuite.js";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import { fastCiphersuite } from "../src/mls/suites.js";
import "../src/node.js"; // node:crypto X25519/AES-GCM, as Node participants use

function findVectorsDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && "workspaces" in (JSON.parse(readFileSync(pkg, "utf8")) as object)) {
      const vectors = join(dir, "..", "shared", "vectors", "mls");
      return existsSync(vectors) ? vectors : undefined;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const dir = findVectorsDir();

/** The parsed vector file, or [] when the vectors folder is absent. */
export function loadVectors<T>(file: string): T[] {
  if (dir === undefined) return [];
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as T[];
}

export const VECTORS_MISSING =
  dir === undefined ? "official MLS vectors not found (expected ../shared/vectors/mls beside the project root)" : undefined;

export interface Provider {
  /** "stock crypto" (ts-mls's default WebCrypto provider) or "Conclave crypto" (suites.ts). */
  name: string;
  cs: CiphersuiteImpl;
}

/**
 * The suite with ts-mls's own provider; for suite 1, the one Conclave meetings use, also with
 * Conclave's faster primitives swapped in (the set-up MlsSession uses). Each must reproduce every
 * vector on the patched library. (The other suites' primitives are the stock ones but for
 * SHA-2/HKDF, which mls-suite-crypto.test.ts compares byte for byte; running their slow curves
 * twice would only lengthen the suite.)
 */
export async function providers(suite: number): Promise<Provider[]> {
  const stock = await getCiphersuiteImpl(getCiphersuiteFromId(suite as CiphersuiteId));
  const out: Provider[] = [{ name: "stock crypto", cs: stock }];
  if (suite === 1) out.push({ name: "Conclave crypto", cs: await fastCiphersuite(stock) });
  return out;
}

export function hex(h: string): Uint8Array {
  if (h.length % 2 !== 0) throw new Error("odd hex");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Groups vectors by cipher suite, keeping each one's index in the file. */
export function bySuite<T extends { cipher_suite: number }>(vectors: T[]): Map<number, [number, T][]> {
  const m = new Map<number, [number, T][]>();
  for (const [i, v] of vectors.entries()) {
    const list = m.get(v.cipher_suite) ?? [];
    list.push([i, v]);
    m.set(v.cipher_suite, list);
  }
  return m;
}
