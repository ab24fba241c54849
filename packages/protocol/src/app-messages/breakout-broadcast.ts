/**
 * A host's message to every breakout room at once (docs/protocol.md §6.5).
 *
 * Each room is its own MLS group, and the host is in at most one of them, so a broadcast cannot
 * be an MLS application message. Instead the breakout plan — sent to the main group as an MLS
 * application message (so encrypted, and authenticated as the host's) before the rooms open —
 * carries a random 256-bit broadcast key and the public half of a signing key the host made for
 * this plan (its MLS signature key changes with each group it joins: each key package has its
 * own). The host encrypts each broadcast with the broadcast key and signs it with the plan's
 * signing key. The server relays the bytes to everyone in every room, unread.
 *
 *   broadcast  = uint8 version (1) || nonce[12] || uint16 sig_len || signature[sig_len] || ciphertext
 *   ciphertext = AES-256-GCM(broadcast_key, nonce, aad = "conclave breakout broadcast v1" || plan_id, UTF-8 text)
 *   signature  = SignWithLabel(host signature key, BROADCAST_LABEL, plan_id || 0x00 || nonce || ciphertext)   RFC 9420 §5.1.2
 *
 * Every member of the plan holds the key, so the key alone proves nothing about the author: the
 * signature does. Decoding is strict (version, lengths, no trailing bytes).
 */
import { ProtocolError } from "../errors.js";
import { concatBytes, webCryptoBytes } from "../bytes.js";
import { DEFAULT_MLS_SUITE, MlsSession, type MlsSuiteName } from "../mls/index.js";
import { signWithLabel } from "../mls/library.js";
import { suiteImpl } from "../mls/suites.js";
import { MAX_CHAT_TEXT } from "./app-message.js";

export const BROADCAST_VERSION = 1;
export const BROADCAST_LABEL = "conclave breakout broadcast";
/** Largest encoded broadcast (2,000 characters of text at most 3 bytes each, plus framing). */
export const MAX_BROADCAST_BYTES = 8 * 1024;

const utf8 = new TextEncoder();
const CONSTRUCT = Symbol("BroadcastSigner");

/** The signing key of one breakout plan (the suite's signature scheme, Ed25519 by default). Opaque. */
export class BroadcastSigner {
  readonly suite: MlsSuiteName;
  readonly #signKey: Uint8Array;
  readonly #publicKey: Uint8Array;
  #destroyed = false;

  /** @internal Use BroadcastSigner.generate. */
  constructor(token: symbol, suite: MlsSuiteName, keys: { signKey: Uint8Array; publicKey: Uint8Array }) {
    if (token !== CONSTRUCT) throw new ProtocolError("INVALID_ARGUMENT", "BroadcastSigner: use generate()");
    this.suite = suite;
    this.#signKey = keys.signKey;
    this.#publicKey = keys.publicKey;
  }

  static async generate(suite: MlsSuiteName = DEFAULT_MLS_SUITE): Promise<BroadcastSigner> {
    const cs = await suiteImpl(suite);
    return new BroadcastSigner(CONSTRUCT, suite, await cs.signature.keygen());
  }

  /** The key members check this plan's broadcasts with (sent in the plan). */
  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  /** RFC 9420 §5.1.2 SignWithLabel. */
  async signWithLabel(label: string, content: Uint8Array): Promise<Uint8Array> {
    if (this.#destroyed) throw new ProtocolError("INVALID_ARGUMENT", "this broadcast signer was destroyed");
    const cs = await suiteImpl(this.suite);
    return signWithLabel(this.#signKey, label, content, cs.signature);
  }

  /** Zeroes the private key. */
  destroy(): void {
    this.#destroyed = true;
    this.#signKey.fill(0);
  }
}

function aad(planId: string): Uint8Array {
  return concatBytes(utf8.encode("conclave breakout broadcast v1"), utf8.encode(planId));
}

function signed(planId: string, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return concatBytes(utf8.encode(planId), new Uint8Array([0]), nonce, ciphertext);
}

async function importKey(key: Uint8Array): Promise<CryptoKey> {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new ProtocolError("INVALID_ARGUMENT", "broadcast key: expected 32 bytes");
  return globalThis.crypto.subtle.importKey("raw", webCryptoBytes(key), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** The host encrypts and signs `text` for every room of plan `planId`. */
export async function sealBreakoutBroadcast(signer: Pick<BroadcastSigner, "signWithLabel">, planId: string, key: Uint8Array, text: string): Promise<Uint8Array> {
  if (typeof text !== "string" || text.trim().length === 0 || text.length > MAX_CHAT_TEXT) {
    throw new ProtocolError("INVALID_ARGUMENT", `text: 1..${MAX_CHAT_TEXT} characters`);
  }
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = new Uint8Array(
    await globalThis.crypto.subtle.encrypt({ name: "AES-GCM", iv: webCryptoBytes(nonce), additionalData: webCryptoBytes(aad(planId)), tagLength: 128 }, await importKey(key), webCryptoBytes(utf8.encode(text))),
  );
  const signature = await signer.signWithLabel(BROADCAST_LABEL, signed(planId, nonce, ciphertext));
  const head = new Uint8Array(1 + 12 + 2);
  head[0] = BROADCAST_VERSION;
  head.set(nonce, 1);
  new DataView(head.buffer).setUint16(13, signature.length);
  const out = concatBytes(head, signature, ciphertext);
  if (out.length > MAX_BROADCAST_BYTES) throw new ProtocolError("INVALID_ARGUMENT", "text: too long for a broadcast");
  return out;
}

/**
 * A member checks a broadcast against the plan's signing key (from the plan, which MLS
 * authenticated as the host's) and decrypts it.
 * BREAKOUT_BROADCAST_REJECTED when it is malformed, signed by anyone else, or does not decrypt.
 */
export async function openBreakoutBroadcast(
  plan: { planId: string; key: Uint8Array; authorSignatureKey: Uint8Array; suite: MlsSuiteName },
  bytes: Uint8Array,
): Promise<string> {
  const reject = (detail: string) => new ProtocolError("BREAKOUT_BROADCAST_REJECTED", detail);
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "bytes: expected a Uint8Array");
  if (bytes.length > MAX_BROADCAST_BYTES) throw reject("too large");
  if (bytes.length < 15) throw reject("truncated");
  if (bytes[0] !== BROADCAST_VERSION) throw reject(`version ${bytes[0]}`);
  const nonce = bytes.subarray(1, 13);
  const sigLen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(13);
  if (sigLen === 0 || 15 + sigLen + 16 > bytes.length) throw reject("truncated");
  const signature = bytes.subarray(15, 15 + sigLen);
  const ciphertext = bytes.subarray(15 + sigLen);
  const ok = await MlsSession.verifyWithLabel(plan.suite, plan.authorSignatureKey, BROADCAST_LABEL, signed(plan.planId, nonce, ciphertext), signature);
  if (!ok) throw reject("not signed by the plan's author");
  let plain: ArrayBuffer;
  try {
    plain = await globalThis.crypto.subtle.decrypt({ name: "AES-GCM", iv: webCryptoBytes(nonce), additionalData: webCryptoBytes(aad(plan.planId)), tagLength: 128 }, await importKey(plan.key), webCryptoBytes(ciphertext));
  } catch {
    throw reject("does not decrypt with the plan's key");
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(plain);
    if (text.length === 0 || text.length > MAX_CHAT_TEXT) throw new Error("length");
    return text;
  } catch {
    throw reject("not UTF-8 text of 1..2000 characters");
  }
}
