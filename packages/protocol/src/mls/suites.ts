/**
 * The MLS cipher suites Conclave offers (RFC 9420 §17.1), and loading their implementations.
 *
 * - `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519` (suite 1) is the default: the suite every
 *   MLS implementation must support, small messages, WebCrypto-backed in Node and browsers.
 * - `MLS_256_XWING_AES256GCM_SHA512_Ed25519` (ts-mls suite 83, X-Wing hybrid KEM: ML-KEM-768 +
 *   X25519) is the opt-in post-quantum choice: group secrets stay confidential against a future
 *   quantum attacker who records today's handshakes. Authentication is still Ed25519 (not
 *   post-quantum), and handshake messages are 8-10 times larger. It needs the optional peer
 *   dependency `@hpke/hybridkem-x-wing@0.7.0`; without it, choosing the suite fails with
 *   MLS_UNSUPPORTED_SUITE instead of crashing later.
 *
 * Speed without touching the library: the stock ts-mls provider awaits one WebCrypto call per
 * hash, HMAC and HKDF step and runs HPKE through a chain of them. Each suite here keeps the stock
 * signature scheme and random source but swaps in
 * - synchronous SHA-2 / HMAC / HKDF from @noble/hashes (./crypto/hash.ts), for both suites;
 * - for suite 1, HPKE (RFC 9180) with the synchronous key schedule over node:crypto's X25519 and
 *   AES-GCM in Node (installed by the `@conclave/protocol/node` entry), WebCrypto's in browsers
 *   (./crypto/hpke.ts, ./crypto/backend.ts, ./crypto/backend-node.ts).
 * Every swapped primitive gives the stock outputs byte for byte (test/mls-suite-crypto.test.ts).
 */
import { getCiphersuiteFromName, getCiphersuiteImpl, isPatchedLibrary, type CiphersuiteImpl } from "./library.js";
import { syncHash, syncKdf } from "./crypto/hash.js";
import { x25519Hpke } from "./crypto/hpke.js";
import { mlsCryptoBackend, type MlsCryptoBackend } from "./crypto/backend.js";
import { ProtocolError } from "../errors.js";

export const MLS_SUITES = {
  /** Suite 1, the default. */
  default: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
  /** X-Wing hybrid post-quantum KEM (opt-in). */
  postQuantum: "MLS_256_XWING_AES256GCM_SHA512_Ed25519",
} as const;

export type MlsSuiteName = (typeof MLS_SUITES)[keyof typeof MLS_SUITES];

export const DEFAULT_MLS_SUITE: MlsSuiteName = MLS_SUITES.default;

const SUITE_NAMES: readonly string[] = Object.values(MLS_SUITES);

/** Which optional packages each suite needs beyond ts-mls's own dependencies. */
const OPTIONAL_PACKAGES: Record<MlsSuiteName, string | undefined> = {
  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: undefined,
  MLS_256_XWING_AES256GCM_SHA512_Ed25519: "@hpke/hybridkem-x-wing@0.7.0",
};

export function isMlsSuiteName(name: unknown): name is MlsSuiteName {
  return typeof name === "string" && SUITE_NAMES.includes(name);
}

export function checkSuiteName(name: unknown): MlsSuiteName {
  if (!isMlsSuiteName(name)) {
    throw new ProtocolError("MLS_UNSUPPORTED_SUITE", `suite: expected one of ${SUITE_NAMES.join(", ")}`);
  }
  return name;
}

// One implementation per suite per process: building one imports modules and checks WebCrypto.
const impls = new Map<MlsSuiteName, Promise<CiphersuiteImpl>>();

/**
 * The ts-mls implementation of a suite. Rejects with MLS_UNSUPPORTED_SUITE when the suite is not
 * one of ours or its optional package is missing (the error names the package to install).
 */
export function suiteImpl(name: MlsSuiteName): Promise<CiphersuiteImpl> {
  const suite = checkSuiteName(name);
  let p = impls.get(suite);
  if (p === undefined) {
    p = load(suite);
    impls.set(suite, p);
    // A failed load (missing package) is not cached, so installing the package and retrying works
    // without a restart.
    p.catch(() => impls.delete(suite));
  }
  return p;
}

/**
 * The stock ts-mls implementation of a suite with the faster, byte-identical primitives swapped
 * in (see the module comment). Exported for the benchmark and the tests that compare the two.
 */
export async function fastCiphersuite(stock: CiphersuiteImpl): Promise<CiphersuiteImpl> {
  const spec = getCiphersuiteFromName(stock.name);
  const fast: CiphersuiteImpl = { ...stock, hash: syncHash(spec.hash), kdf: syncKdf(spec.hash) };
  const { kem, kdf, aead } = spec.hpke;
  if (kem === "DHKEM-X25519-HKDF-SHA256" && kdf === "HKDF-SHA256" && (aead === "AES128GCM" || aead === "AES256GCM")) {
    const backend = mlsCryptoBackend();
    // A browser without WebCrypto X25519 keeps the stock HPKE (which brings its own fallback).
    if (await supportsX25519(backend)) fast.hpke = x25519Hpke(backend, { aeadKeyLength: aead === "AES128GCM" ? 16 : 32 });
  }
  return fast;
}

async function supportsX25519(backend: MlsCryptoBackend): Promise<boolean> {
  try {
    const a = await backend.x25519Generate();
    const b = await backend.x25519Generate();
    await backend.x25519(a, b.publicKey);
    return true;
  } catch {
    return false;
  }
}

async function load(suite: MlsSuiteName): Promise<CiphersuiteImpl> {
  // Without patches/ the library rejects valid trees (and takes minutes for large Welcomes):
  // refuse to run MLS on it rather than fail later in a meeting.
  if (!isPatchedLibrary()) throw new ProtocolError("MLS_LIBRARY_UNPATCHED");
  try {
    const cs = await fastCiphersuite(await getCiphersuiteImpl(getCiphersuiteFromName(suite)));
    // ts-mls loads KEMs lazily inside HPKE; force a key generation so a missing optional package
    // shows up here, at suite selection, rather than in the middle of a commit.
    await cs.hpke.generateKeyPair();
    return cs;
  } catch (e) {
    const pkg = OPTIONAL_PACKAGES[suite];
    throw new ProtocolError(
      "MLS_UNSUPPORTED_SUITE",
      pkg === undefined
        ? `${suite} could not be loaded in this runtime (${describe(e)})`
        : `${suite} needs the optional package ${pkg}; install it to use this suite`,
    );
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.name : "unknown error";
}
