/**
 * The MLS exporter (RFC 9420 §8.5) over byte-string labels.
 *
 * ts-mls's `mlsExporter` takes its label as a JS string and UTF-8-encodes it; RFC 9420 defines
 * the label as `opaque label<V>`, and the official key-schedule vectors use random labels that
 * are not valid UTF-8, so they cannot be expressed through it. This module follows the RFC on
 * bytes, using the suite's KDF and hash from ts-mls; for a UTF-8 label both give the same output
 * (a test checks this).
 */
import type { CiphersuiteImpl } from "./library.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, utf8 } from "../bytes.js";

/** RFC 9420 §2.1.2: variable-length integer prefix for `<V>` vectors (1, 2 or 4 bytes). */
function encodeVarintLength(n: number): Uint8Array {
  if (n < 0x40) return Uint8Array.of(n);
  if (n < 0x4000) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  if (n < 0x40000000) return Uint8Array.of(0x80 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  throw new ProtocolError("INVALID_ARGUMENT", "vector longer than 2^30 - 1 bytes");
}

function opaqueV(bytes: Uint8Array): Uint8Array {
  return concatBytes(encodeVarintLength(bytes.length), bytes);
}

const MLS_LABEL_PREFIX = utf8.encode("MLS 1.0 ");

/** RFC 9420 §8: ExpandWithLabel(Secret, Label, Context, Length), with Label as bytes. */
export async function expandWithLabelBytes(
  cs: CiphersuiteImpl,
  secret: Uint8Array,
  label: Uint8Array,
  context: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const kdfLabel = concatBytes(
    Uint8Array.of(length >> 8, length & 0xff), // uint16 length
    opaqueV(concatBytes(MLS_LABEL_PREFIX, label)), // opaque label<V> = "MLS 1.0 " + Label
    opaqueV(context), // opaque context<V>
  );
  return cs.kdf.expand(secret, kdfLabel, length);
}

/**
 * RFC 9420 §8.5:
 *   MLS-Exporter(Label, Context, Length) =
 *     ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length)
 * where DeriveSecret(S, L) = ExpandWithLabel(S, L, "", KDF.Nh).
 */
export async function mlsExporterBytes(
  cs: CiphersuiteImpl,
  exporterSecret: Uint8Array,
  label: Uint8Array,
  context: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  if (!(label instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "label: expected bytes");
  if (!(context instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", "context: expected bytes");
  // KDFLabel.length is a uint16, and HKDF-Expand yields at most 255 * Nh bytes.
  const max = Math.min(0xffff, 255 * cs.kdf.size);
  if (!Number.isInteger(length) || length < 1 || length > max) {
    throw new ProtocolError("INVALID_ARGUMENT", `length: expected an integer in 1..${max}`);
  }
  const derived = await expandWithLabelBytes(cs, exporterSecret, label, new Uint8Array(0), cs.kdf.size);
  const contextHash = await cs.hash.digest(context);
  const out = await expandWithLabelBytes(cs, derived, utf8.encode("exported"), contextHash, length);
  derived.fill(0);
  return out;
}
