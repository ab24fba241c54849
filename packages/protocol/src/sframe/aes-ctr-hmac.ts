/**
 * The parts of the AES-CTR + HMAC AEAD (RFC 9605 §4.5.1) that do not depend on the crypto
 * back end: splitting the key, the initial counter block and the authenticated-data prefix.
 */
import { encodeBigEndian } from "../bytes.js";
import type { SFrameCipherSuite } from "./suites.js";

/** RFC 9605 §4.5.1 derive_subkeys: enc_key = key[..Nka], auth_key = key[Nka..]. */
export function splitCtrHmacKey(suite: SFrameCipherSuite, key: Uint8Array): { encKey: Uint8Array; authKey: Uint8Array } {
  return { encKey: key.subarray(0, suite.Nka), authKey: key.subarray(suite.Nka) };
}

/** RFC 9605 §4.5.1: initial_counter = nonce || 0x00000000 (a full AES block). */
export function ctrInitialCounter(nonce: Uint8Array): Uint8Array {
  const block = new Uint8Array(16);
  block.set(nonce);
  return block;
}

/**
 * RFC 9605 §4.5.1 compute_tag: auth_data = aad_len || ct_len || tag_len || nonce || aad || ct,
 * each length an 8-byte big-endian integer. Returns everything before `aad`; the back end
 * feeds aad and ct after it.
 */
export function ctrHmacAuthPrefix(suite: SFrameCipherSuite, aadLength: number, ctLength: number, nonce: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(24 + nonce.length);
  prefix.set(encodeBigEndian(aadLength, 8), 0);
  prefix.set(encodeBigEndian(ctLength, 8), 8);
  prefix.set(encodeBigEndian(suite.Nt, 8), 16);
  prefix.set(nonce, 24);
  return prefix;
}
