/**
 * HPKE (RFC 9180) in base mode for DHKEM(X25519, HKDF-SHA256) with HKDF-SHA256 and AES-GCM: the
 * HPKE of MLS suite 1 (RFC 9420 §17.1), behind ts-mls's `Hpke` interface.
 *
 * Why not the stock `@hpke/core`: each of its operations is a chain of about 20 awaited WebCrypto
 * calls (key imports, HMACs, X25519, AES-GCM), and a removal commit at N=1000 seals to about 1,000
 * members. Here the key schedule is synchronous (@noble/hashes) and X25519/AES-GCM run on
 * node:crypto in Node or on WebCrypto in browsers (./backend.ts). Only single-shot Seal/Open
 * (sequence number 0) and the secret export are needed by MLS (RFC 9420 §5.1.3, §12.4.3.1 and
 * external commits), so the context API is not exposed.
 *
 * Byte compatibility with the stock implementation is tested: the same ephemeral key gives the
 * same `enc` and ciphertext, and each side opens what the other sealed.
 */
import type { Hpke, PublicKey, PrivateKey } from "../library.js";
import { CryptoError } from "../library.js";
import { hkdfSync } from "./hash.js";
import type { MlsCryptoBackend, X25519KeyPair } from "./backend.js";
import { concatBytes, utf8 } from "../../bytes.js";
import { ProtocolError } from "../../errors.js";

const KEM_ID_X25519 = 0x0020; // RFC 9180 §7.1
const KDF_ID_HKDF_SHA256 = 0x0001; // RFC 9180 §7.2
const AEAD_IDS = { 16: 0x0001, 32: 0x0002 } as const; // AES-128-GCM, AES-256-GCM (RFC 9180 §7.3)
const MODE_BASE = 0x00;
const N_SECRET = 32;
const N_NONCE = 12;

const HPKE_V1 = utf8.encode("HPKE-v1");
const hkdf = hkdfSync("SHA-256");

function i2osp(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

// RFC 9180 §4: LabeledExtract / LabeledExpand, with the suite_id of the KEM or of the whole suite.
function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return hkdf.extract(salt, concatBytes(HPKE_V1, suiteId, utf8.encode(label), ikm));
}

function labeledExpand(suiteId: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  return hkdf.expand(prk, concatBytes(i2osp(length, 2), HPKE_V1, suiteId, utf8.encode(label), info), length);
}

const KEM_SUITE_ID = concatBytes(utf8.encode("KEM"), i2osp(KEM_ID_X25519, 2));
const EMPTY = new Uint8Array(0);

/** Our key objects, handed to ts-mls as its opaque `PublicKey` / `PrivateKey`. */
class X25519Public {
  readonly type = "public";
  constructor(readonly bytes: Uint8Array) {}
}

class X25519Private {
  readonly type = "private";
  constructor(readonly pair: X25519KeyPair) {}
}

function asPublic(k: PublicKey): X25519Public {
  if (!(k instanceof X25519Public)) throw new CryptoError("HPKE: not a public key of this implementation");
  return k;
}

function asPrivate(k: PrivateKey): X25519Private {
  if (!(k instanceof X25519Private)) throw new CryptoError("HPKE: not a private key of this implementation");
  return k;
}

const toPublic = (bytes: Uint8Array): PublicKey => new X25519Public(bytes) as unknown as PublicKey;
const toPrivate = (pair: X25519KeyPair): PrivateKey => new X25519Private(pair) as unknown as PrivateKey;

interface KeySchedule {
  key: Uint8Array;
  baseNonce: Uint8Array;
  exporterSecret: Uint8Array;
}

export interface X25519HpkeOptions {
  /** AEAD key length: 16 for AES-128-GCM (suite 1), 32 for AES-256-GCM. */
  aeadKeyLength: 16 | 32;
  /** For tests only: the sender's ephemeral key pair instead of a fresh one (RFC 9180 test vectors). */
  ephemeral?: () => Promise<X25519KeyPair>;
}

/** ts-mls `Hpke` for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128/256-GCM. */
export function x25519Hpke(backend: MlsCryptoBackend, options: X25519HpkeOptions): Hpke {
  const nk = options.aeadKeyLength;
  const suiteId = concatBytes(utf8.encode("HPKE"), i2osp(KEM_ID_X25519, 2), i2osp(KDF_ID_HKDF_SHA256, 2), i2osp(AEAD_IDS[nk], 2));
  const ephemeral = options.ephemeral ?? (() => backend.x25519Generate());

  // RFC 9180 §4.1 ExtractAndExpand.
  const extractAndExpand = (dh: Uint8Array, kemContext: Uint8Array): Uint8Array => {
    const eaePrk = labeledExtract(KEM_SUITE_ID, EMPTY, "eae_prk", dh);
    return labeledExpand(KEM_SUITE_ID, eaePrk, "shared_secret", kemContext, N_SECRET);
  };

  // RFC 9180 §4.1 Encap / Decap.
  const encap = async (pkR: Uint8Array): Promise<{ sharedSecret: Uint8Array; enc: Uint8Array }> => {
    const e = await ephemeral();
    const dh = await backend.x25519(e, pkR);
    const enc = e.publicKey;
    return { sharedSecret: extractAndExpand(dh, concatBytes(enc, pkR)), enc };
  };
  const decap = async (enc: Uint8Array, skR: X25519KeyPair): Promise<Uint8Array> => {
    if (enc.length !== 32) throw new CryptoError("HPKE: enc must be 32 bytes");
    const dh = await backend.x25519(skR, enc);
    return extractAndExpand(dh, concatBytes(enc, skR.publicKey));
  };

  // RFC 9180 §5.1 KeySchedule, mode_base (no PSK).
  const keySchedule = (sharedSecret: Uint8Array, info: Uint8Array): KeySchedule => {
    const pskIdHash = labeledExtract(suiteId, EMPTY, "psk_id_hash", EMPTY);
    const infoHash = labeledExtract(suiteId, EMPTY, "info_hash", info);
    const context = concatBytes(Uint8Array.of(MODE_BASE), pskIdHash, infoHash);
    const secret = labeledExtract(suiteId, sharedSecret, "secret", EMPTY);
    return {
      key: labeledExpand(suiteId, secret, "key", context, nk),
      baseNonce: labeledExpand(suiteId, secret, "base_nonce", context, N_NONCE),
      exporterSecret: labeledExpand(suiteId, secret, "exp", context, hkdf.size),
    };
  };

  // Either a ProtocolError from the back end or anything else becomes ts-mls's CryptoError, as
  // the stock implementation reports failures.
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CryptoError) throw e;
      throw new CryptoError(`HPKE ${what} failed${e instanceof ProtocolError ? `: ${e.message}` : ""}`);
    }
  };

  return {
    // RFC 9180 §6.1 single-shot Seal/Open: the first message of a context uses base_nonce itself.
    async seal(publicKey, plaintext, info, aad) {
      const { sharedSecret, enc } = await encap(asPublic(publicKey).bytes);
      const ks = keySchedule(sharedSecret, info);
      const ct = await backend.aesGcmSeal(ks.key, ks.baseNonce, aad ?? EMPTY, plaintext);
      return { ct, enc };
    },
    open(privateKey, kemOutput, ciphertext, info, aad) {
      return guard("open", async () => {
        const ks = keySchedule(await decap(kemOutput, asPrivate(privateKey).pair), info);
        return backend.aesGcmOpen(ks.key, ks.baseNonce, aad ?? EMPTY, ciphertext);
      });
    },
    // RFC 9180 §6.2 single-shot secret export.
    async exportSecret(publicKey, exporterContext, length, info) {
      const { sharedSecret, enc } = await encap(asPublic(publicKey).bytes);
      const ks = keySchedule(sharedSecret, info);
      return { enc, secret: labeledExpand(suiteId, ks.exporterSecret, "sec", exporterContext, length) };
    },
    importSecret(privateKey, exporterContext, kemOutput, length, info) {
      return guard("secret import", async () => {
        const ks = keySchedule(await decap(kemOutput, asPrivate(privateKey).pair), info);
        return labeledExpand(suiteId, ks.exporterSecret, "sec", exporterContext, length);
      });
    },
    importPrivateKey(k) {
      return guard("private key import", async () => toPrivate(await backend.x25519FromPrivate(k)));
    },
    async importPublicKey(k) {
      if (!(k instanceof Uint8Array) || k.length !== 32) throw new CryptoError("HPKE: an X25519 public key is 32 bytes");
      return toPublic(k.slice());
    },
    async exportPublicKey(k) {
      return asPublic(k).bytes.slice();
    },
    async exportPrivateKey(k) {
      return asPrivate(k).pair.privateKey.slice();
    },
    encryptAead(key, nonce, aad, plaintext) {
      return backend.aesGcmSeal(key, nonce, aad ?? EMPTY, plaintext);
    },
    decryptAead(key, nonce, aad, ciphertext) {
      return guard("AEAD open", () => backend.aesGcmOpen(key, nonce, aad ?? EMPTY, ciphertext));
    },
    // RFC 9180 §7.1.3 DeriveKeyPair for X25519: the expanded bytes are the private key as is.
    deriveKeyPair(ikm) {
      return guard("key derivation", async () => {
        const dkpPrk = labeledExtract(KEM_SUITE_ID, EMPTY, "dkp_prk", ikm);
        const sk = labeledExpand(KEM_SUITE_ID, dkpPrk, "sk", EMPTY, 32);
        const pair = await backend.x25519FromPrivate(sk);
        return { privateKey: toPrivate(pair), publicKey: toPublic(pair.publicKey) };
      });
    },
    async generateKeyPair() {
      const pair = await backend.x25519Generate();
      return { privateKey: toPrivate(pair), publicKey: toPublic(pair.publicKey) };
    },
    keyLength: nk,
    nonceLength: N_NONCE,
  };
}
