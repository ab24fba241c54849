/**
 * Strict framing of MLSMessage (RFC 9420 §6): every byte string that crosses the wire in this
 * layer (commits, Welcomes, KeyPackages, application messages) is one encoded MLSMessage.
 *
 * ts-mls's `decodeMlsMessage` returns how many bytes it read and ignores the rest, returns
 * `undefined` on some errors and throws on others; this wrapper turns all of those into one
 * failure (MLS_BAD_MESSAGE, or the code the caller names) and rejects trailing bytes.
 */
import { decodeMlsMessage, encodeMlsMessage, decodeRatchetTree, MlsError, type MLSMessage, type RatchetTree } from "./library.js";
import { ProtocolError, type ProtocolErrorCode } from "../errors.js";

/** Longest message accepted, a guard against absurd allocations: a Welcome for 1,000 X-Wing members is ~3 MB. */
export const MAX_MLS_MESSAGE_BYTES = 16 * 1024 * 1024;

export function checkBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ProtocolError("INVALID_ARGUMENT", `${name}: expected a Uint8Array`);
  return value;
}

export function decodeMlsMessageStrict(bytes: Uint8Array, name: string, code: ProtocolErrorCode = "MLS_BAD_MESSAGE"): MLSMessage {
  checkBytes(name, bytes);
  if (bytes.length > MAX_MLS_MESSAGE_BYTES) throw new ProtocolError("MESSAGE_TOO_LARGE", name);
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (e) {
    throw new ProtocolError(code, `${name}: ${reason(e)}`);
  }
  if (decoded === undefined) throw new ProtocolError(code, `${name}: not a valid MLSMessage`);
  const [message, read] = decoded;
  if (read !== bytes.length) throw new ProtocolError(code, `${name}: ${bytes.length - read} trailing bytes after the MLSMessage`);
  if (message.version !== "mls10") throw new ProtocolError(code, `${name}: unsupported protocol version`);
  return message;
}

export function encodeMlsMessageBytes(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

/** A ratchet tree as sent in the ratchet_tree extension (RFC 9420 §12.4.3.3), decoded strictly. */
export function decodeRatchetTreeStrict(bytes: Uint8Array): RatchetTree {
  checkBytes("ratchetTree", bytes);
  let decoded: [RatchetTree, number] | undefined;
  try {
    decoded = decodeRatchetTree(bytes, 0);
  } catch (e) {
    throw new ProtocolError("MLS_BAD_MESSAGE", `ratchetTree: ${reason(e)}`);
  }
  if (decoded === undefined || decoded[1] !== bytes.length) {
    throw new ProtocolError("MLS_BAD_MESSAGE", "ratchetTree: not a valid ratchet tree");
  }
  return decoded[0];
}

/**
 * Why ts-mls (or the runtime under it) failed, for an error detail. ts-mls's own messages are fixed
 * strings ("Could not verify confirmation tag") that carry no key material; for anything else
 * only the error's class name is kept.
 */
export function reason(e: unknown): string {
  if (e instanceof MlsError) return e.message;
  if (e instanceof Error) return e.name;
  return "unknown failure";
}

/** Rethrows ProtocolErrors unchanged and wraps anything else in `code`. */
export function asProtocolError(e: unknown, code: ProtocolErrorCode, context: string): ProtocolError {
  if (e instanceof ProtocolError) return e;
  return new ProtocolError(code, `${context}: ${reason(e)}`);
}
