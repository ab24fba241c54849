/**
 * SFrame KID layout for MLS-derived keys (RFC 9605 §5.2):
 *
 *     KID = (context << (S + E)) + (sender_index << E) + (epoch % (1 << E))
 *
 * Conclave uses context = 0, S = 16 index bits (up to 65,536 leaves: far above the 1,000-member
 * target) and E = 8 epoch bits. E bounds how many epochs can be told apart at once; Conclave keeps
 * at most two (the current one and, for a short grace period, the previous one), so 8 bits is ample
 * and keeps the KID in at most 3 bytes on the wire.
 */
import { ProtocolError } from "../errors.js";

export const KID_EPOCH_BITS = 8;
export const KID_INDEX_BITS = 16;
const EPOCH_MASK = (1n << BigInt(KID_EPOCH_BITS)) - 1n;
const INDEX_MASK = (1n << BigInt(KID_INDEX_BITS)) - 1n;

export interface KidParts {
  /** The low KID_EPOCH_BITS bits of the MLS epoch. */
  epochBits: number;
  /** The sender's MLS leaf index. */
  senderIndex: number;
  /** The application context (always 0 in Conclave today). */
  context: bigint;
}

export function encodeMediaKid(epoch: bigint, senderIndex: number, context = 0n): bigint {
  if (!Number.isInteger(senderIndex) || senderIndex < 0 || BigInt(senderIndex) > INDEX_MASK) {
    throw new ProtocolError("INVALID_ARGUMENT", `senderIndex: must be an integer in [0, ${INDEX_MASK}]`);
  }
  if (epoch < 0n) throw new ProtocolError("INVALID_ARGUMENT", "epoch: must be non-negative");
  if (context < 0n || context >= 1n << BigInt(64 - KID_EPOCH_BITS - KID_INDEX_BITS)) {
    throw new ProtocolError("INVALID_ARGUMENT", "context: out of range");
  }
  // RFC 9605 §5.2
  return (context << BigInt(KID_INDEX_BITS + KID_EPOCH_BITS)) | (BigInt(senderIndex) << BigInt(KID_EPOCH_BITS)) | (epoch & EPOCH_MASK);
}

export function decodeMediaKid(kid: bigint): KidParts {
  if (kid < 0n || kid >= 1n << 64n) throw new ProtocolError("SFRAME_VALUE_TOO_LARGE", "kid");
  return {
    epochBits: Number(kid & EPOCH_MASK),
    senderIndex: Number((kid >> BigInt(KID_EPOCH_BITS)) & INDEX_MASK),
    context: kid >> BigInt(KID_INDEX_BITS + KID_EPOCH_BITS),
  };
}
