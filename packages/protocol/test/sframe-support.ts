// Shared by the sframe-*.test.ts files: the two crypto back ends, the official RFC 9605 test
// vectors (read from ../shared/vectors/sframe beside the project root), and small helpers.
// Source of the vectors: the [TestVectors] cited by RFC 9605, sframe-wg/sframe repository,
// test-vectors/test-vectors.json at commit 025d568 (see shared/vectors/README.md).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { createWebCryptoSFrameCrypto, isProtocolError, type ProtocolErrorCode, type SFrameCrypto } from "../src/index.js";
import { createNodeSFrameCrypto } from "../src/node.js";

/** Every back end; each test that touches crypto runs once per entry. */
export const BACKENDS: readonly SFrameCrypto[] = [createNodeSFrameCrypto(), createWebCryptoSFrameCrypto()];

/** The project root is the nearest ancestor whose package.json declares workspaces. */
function findRepoRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && "workspaces" in (JSON.parse(readFileSync(pkg, "utf8")) as object)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const root = findRepoRoot();
export const VECTORS_PATH = join(root ?? ".", "..", "shared", "vectors", "sframe", "rfc9605-test-vectors.json");

const hex = z.string().regex(/^([0-9a-f]{2})*$/);
/** KID and CTR reach 2^64-1, beyond a double: they arrive as quoted digit strings (see below). */
const u64 = z.string().regex(/^\d+$/).transform((s) => BigInt(s));
const suiteId = z.number().int().min(1).max(5);

const VectorsSchema = z.strictObject({
  header: z.array(z.strictObject({ kid: u64, ctr: u64, encoded: hex })).min(1),
  aes_ctr_hmac: z.array(z.strictObject({
    cipher_suite: suiteId, key: hex, enc_key: hex, auth_key: hex, nonce: hex, aad: hex, pt: hex, ct: hex,
  })).min(1),
  sframe: z.array(z.strictObject({
    cipher_suite: suiteId, kid: u64, ctr: u64, base_key: hex,
    sframe_key_label: hex, sframe_salt_label: hex, sframe_secret: hex, sframe_key: hex, sframe_salt: hex,
    metadata: hex, nonce: hex, aad: hex, pt: hex, ct: hex,
  })).min(1),
});

export type SFrameVectors = z.infer<typeof VectorsSchema>;

/**
 * Reads the vectors, or returns the reason they are unavailable (used as the tests' skip
 * message). JSON.parse would round 2^64-1 to a double, so the KID and CTR integers are quoted
 * before parsing and turned into BigInts by the schema.
 */
function loadVectors(): { vectors: SFrameVectors; skip: false } | { vectors: undefined; skip: string } {
  if (root === undefined || !existsSync(VECTORS_PATH)) {
    return { vectors: undefined, skip: `vectors not found at ${VECTORS_PATH}` };
  }
  const text = readFileSync(VECTORS_PATH, "utf8").replace(/("(?:kid|ctr)"\s*:\s*)(\d+)/g, '$1"$2"');
  return { vectors: VectorsSchema.parse(JSON.parse(text)), skip: false };
}

export const { vectors: VECTORS, skip: VECTORS_SKIP } = loadVectors();

/** Asserts that `promise` rejects with a ProtocolError carrying `code`. */
export async function rejectsWithCode(promise: Promise<unknown>, code: ProtocolErrorCode): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Asserts that `fn` throws a ProtocolError carrying `code`. */
export function throwsWithCode(fn: () => unknown, code: ProtocolErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Deterministic bytes for tests (not random: failures must reproduce). */
export function testBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}

/** A small seeded PRNG (mulberry32) for the fuzz tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
