/**
 * SFrame crypto on node:crypto (OpenSSL). Node-only: exported from the package's "./node"
 * entry, never from the isomorphic one.
 *
 * Built for throughput on the server and in Node clients: keys are KeyObjects created once,
 * header and metadata go to OpenSSL as separate AAD chunks, and the output frame is one
 * preallocated buffer.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { ProtocolError } from "../errors.js";
import { constantTimeEqual } from "../bytes.js";
import { checkAeadKeyLength, writeSFrame } from "./crypto.js";
import type { SFrameAead, SFrameCrypto } from "./crypto.js";
import type { SFrameCipherSuite, SFrameHash } from "./suites.js";
import { ctrHmacAuthPrefix, ctrInitialCounter, splitCtrHmacKey } from "./aes-ctr-hmac.js";

type GcmAlgorithm = "aes-128-gcm" | "aes-256-gcm";

const DIGEST: Record<SFrameHash, string> = { "SHA-256": "sha256", "SHA-512": "sha512" };

/** Builds the node:crypto back end. */
export function createNodeSFrameCrypto(): SFrameCrypto {
  return new NodeSFrameCrypto();
}

class NodeSFrameCrypto implements SFrameCrypto {
  readonly name = "node";

  // async (though synchronous inside) so that failures reject rather than throw.
  async hkdf(hash: SFrameHash, ikm: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
    // hkdfSync with a zero-length salt is RFC 5869 with salt = HashLen zero bytes, as §4.4.2 wants.
    return new Uint8Array(hkdfSync(DIGEST[hash], ikm, new Uint8Array(0), info, length));
  }

  async importAeadKey(suite: SFrameCipherSuite, key: Uint8Array): Promise<SFrameAead> {
    checkAeadKeyLength(suite, key);
    if (suite.aead === "AES-GCM") {
      // The default 16-byte tag, so no authTagLength option is needed per frame (see NodeGcm).
      if (suite.Nt !== 16) throw new ProtocolError("SFRAME_UNKNOWN_SUITE", "GCM with a non-default tag length");
      const alg: GcmAlgorithm = suite.Nk === 16 ? "aes-128-gcm" : "aes-256-gcm";
      return new NodeGcm(suite, alg, createSecretKey(key));
    }
    const { encKey, authKey } = splitCtrHmacKey(suite, key);
    return new NodeCtrHmac(suite, createSecretKey(encKey), createSecretKey(authKey));
  }
}

/** A Uint8Array over a Buffer's memory, so both back ends return the same type. */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Unpooled and uninitialised (every byte is written): a pooled Buffer's ArrayBuffer would expose other allocations. */
function allocate(length: number): Uint8Array {
  return view(Buffer.allocUnsafeSlow(length));
}

class NodeGcm implements SFrameAead {
  readonly #suite: SFrameCipherSuite;
  readonly #alg: GcmAlgorithm;
  readonly #key: KeyObject;

  constructor(suite: SFrameCipherSuite, alg: GcmAlgorithm, key: KeyObject) {
    this.#suite = suite;
    this.#alg = alg;
    this.#key = key;
  }

  seal(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<Uint8Array> {
    // No authTagLength option: both GCM suites use the default 16-byte tag, and passing the
    // option costs about a microsecond per frame.
    const cipher = createCipheriv(this.#alg, this.#key, nonce);
    // RFC 9605 §4.4.3: aad = header || metadata, fed as two chunks.
    cipher.setAAD(header);
    if (metadata.length > 0) cipher.setAAD(metadata);
    const ct = cipher.update(plaintext);
    cipher.final();
    return Promise.resolve(writeSFrame(output, allocate, header, ct, cipher.getAuthTag()));
  }

  open(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array> {
    const nt = this.#suite.Nt;
    if (ciphertextAndTag.length < nt) return Promise.reject(new ProtocolError("SFRAME_CIPHERTEXT_TOO_SHORT"));
    const ctLength = ciphertextAndTag.length - nt;
    const decipher = createDecipheriv(this.#alg, this.#key, nonce);
    decipher.setAAD(header);
    if (metadata.length > 0) decipher.setAAD(metadata);
    // Always exactly Nt (16) bytes, so a truncated tag can never be accepted.
    decipher.setAuthTag(ciphertextAndTag.subarray(ctLength));
    const plain = decipher.update(ciphertextAndTag.subarray(0, ctLength));
    try {
      decipher.final();
    } catch {
      // OpenSSL refuses the tag; the plaintext computed so far is dropped, never returned.
      plain.fill(0);
      return Promise.reject(new ProtocolError("SFRAME_BAD_TAG"));
    }
    return Promise.resolve(view(plain));
  }
}

class NodeCtrHmac implements SFrameAead {
  readonly #suite: SFrameCipherSuite;
  readonly #alg: string;
  readonly #digest: string;
  readonly #enc: KeyObject;
  readonly #auth: KeyObject;

  constructor(suite: SFrameCipherSuite, enc: KeyObject, auth: KeyObject) {
    this.#suite = suite;
    this.#alg = `aes-${suite.Nka * 8}-ctr`;
    this.#digest = DIGEST[suite.hash];
    this.#enc = enc;
    this.#auth = auth;
  }

  // RFC 9605 §4.5.1 compute_tag: HMAC(auth_key, lengths || nonce || aad || ct), truncated to Nt.
  #tag(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ct: Uint8Array): Buffer {
    const aadLength = header.length + metadata.length;
    const hmac = createHmac(this.#digest, this.#auth);
    hmac.update(ctrHmacAuthPrefix(this.#suite, aadLength, ct.length, nonce));
    hmac.update(header);
    hmac.update(metadata);
    hmac.update(ct);
    return hmac.digest().subarray(0, this.#suite.Nt);
  }

  // RFC 9605 §4.5.1: AES-CTR from initial_counter = nonce || 0x00000000.
  #ctr(nonce: Uint8Array, data: Uint8Array): Buffer {
    const cipher = createCipheriv(this.#alg, this.#enc, ctrInitialCounter(nonce));
    const out = cipher.update(data);
    cipher.final();
    return out;
  }

  seal(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, plaintext: Uint8Array, output?: Uint8Array): Promise<Uint8Array> {
    const ct = this.#ctr(nonce, plaintext);
    return Promise.resolve(writeSFrame(output, allocate, header, ct, this.#tag(nonce, header, metadata, ct)));
  }

  open(nonce: Uint8Array, header: Uint8Array, metadata: Uint8Array, ciphertextAndTag: Uint8Array): Promise<Uint8Array> {
    const nt = this.#suite.Nt;
    if (ciphertextAndTag.length < nt) return Promise.reject(new ProtocolError("SFRAME_CIPHERTEXT_TOO_SHORT"));
    const ct = ciphertextAndTag.subarray(0, ciphertextAndTag.length - nt);
    const tag = ciphertextAndTag.subarray(ciphertextAndTag.length - nt);
    // Verify before decrypting: unauthenticated plaintext is never computed.
    if (!constantTimeEqual(this.#tag(nonce, header, metadata, ct), tag)) {
      return Promise.reject(new ProtocolError("SFRAME_BAD_TAG"));
    }
    return Promise.resolve(view(this.#ctr(nonce, ct)));
  }
}
