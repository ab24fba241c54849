/**
 * KMIP's TTLV encoding (KMIP 1.4 specification §9.1): every item is Tag (3 bytes), Type (1),
 * Length (4, big-endian) and Value, padded with zeros to a multiple of 8 bytes.
 *
 * The decoder reads bytes from the network (a KMIP server, which may be hostile or broken),
 * so it is strict and fails one way (KMS_KMIP_MALFORMED, with the offset): fixed-size types
 * must have their exact length, padding must be zero, booleans must be 0 or 1, text must be
 * UTF-8, a structure's children must fill it exactly, tags must be in the KMIP ranges
 * (0x42xxxx standard, 0x54xxxx extensions), nesting and total size are bounded, and nothing may
 * follow the top-level item.
 */
import { KmsError } from "../errors.js";

export type TtlvType =
  | "structure"
  | "integer"
  | "longInteger"
  | "bigInteger"
  | "enumeration"
  | "boolean"
  | "textString"
  | "byteString"
  | "dateTime"
  | "interval";

export type TtlvItem =
  | { readonly tag: number; readonly type: "structure"; readonly value: readonly TtlvItem[] }
  | { readonly tag: number; readonly type: "integer"; readonly value: number }
  | { readonly tag: number; readonly type: "longInteger"; readonly value: bigint }
  | { readonly tag: number; readonly type: "bigInteger"; readonly value: Uint8Array }
  | { readonly tag: number; readonly type: "enumeration"; readonly value: number }
  | { readonly tag: number; readonly type: "boolean"; readonly value: boolean }
  | { readonly tag: number; readonly type: "textString"; readonly value: string }
  | { readonly tag: number; readonly type: "byteString"; readonly value: Uint8Array }
  | { readonly tag: number; readonly type: "dateTime"; readonly value: bigint }
  | { readonly tag: number; readonly type: "interval"; readonly value: number };

/** KMIP 1.4 §9.1.1.2 item type codes. */
const TYPE_CODES: Record<TtlvType, number> = {
  structure: 0x01,
  integer: 0x02,
  longInteger: 0x03,
  bigInteger: 0x04,
  enumeration: 0x05,
  boolean: 0x06,
  textString: 0x07,
  byteString: 0x08,
  dateTime: 0x09,
  interval: 0x0a,
};
const TYPE_NAMES = new Map<number, TtlvType>(Object.entries(TYPE_CODES).map(([k, v]) => [v, k as TtlvType]));

export const TTLV_HEADER_BYTES = 8;
/** Responses larger than this are refused (ours are a few hundred bytes). */
export const DEFAULT_MAX_TTLV_BYTES = 1024 * 1024;
export const MAX_TTLV_DEPTH = 16;

export interface DecodeOptions {
  readonly maxBytes?: number;
  readonly maxDepth?: number;
}

function malformed(offset: number, what: string): KmsError {
  return new KmsError("KMS_KMIP_MALFORMED", `${what} at byte ${offset}`);
}

function checkTag(tag: number): void {
  const prefix = tag >>> 16;
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffff || (prefix !== 0x42 && prefix !== 0x54)) {
    throw new KmsError("KMS_KMIP_MALFORMED", `tag 0x${tag.toString(16)} is outside the KMIP ranges`);
  }
}

const padded = (n: number): number => Math.ceil(n / 8) * 8;

// ---- encoding ----

export function encodeTtlv(item: TtlvItem): Buffer {
  const parts: Buffer[] = [];
  encodeInto(item, parts, 0);
  return Buffer.concat(parts);
}

function encodeInto(item: TtlvItem, out: Buffer[], depth: number): number {
  checkTag(item.tag);
  if (item.type === "structure" && depth >= MAX_TTLV_DEPTH) throw new KmsError("KMS_KMIP_MALFORMED", "structure nested too deeply");
  const header = Buffer.alloc(TTLV_HEADER_BYTES);
  header.writeUIntBE(item.tag, 0, 3);
  header[3] = TYPE_CODES[item.type];
  out.push(header);
  let value: Buffer;
  switch (item.type) {
    case "structure": {
      let length = 0;
      for (const child of item.value) length += encodeInto(child, out, depth + 1);
      header.writeUInt32BE(length, 4);
      return TTLV_HEADER_BYTES + length;
    }
    case "integer":
    case "interval":
    case "enumeration": {
      value = Buffer.alloc(4);
      const v = item.value;
      if (item.type === "integer") {
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new KmsError("KMS_KMIP_MALFORMED", "integer out of range");
        value.writeInt32BE(v);
      } else {
        if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new KmsError("KMS_KMIP_MALFORMED", `${item.type} out of range`);
        value.writeUInt32BE(v);
      }
      break;
    }
    case "longInteger":
      value = Buffer.alloc(8);
      value.writeBigInt64BE(item.value);
      break;
    case "dateTime":
      value = Buffer.alloc(8);
      value.writeBigInt64BE(item.value);
      break;
    case "boolean":
      value = Buffer.alloc(8);
      value[7] = item.value ? 1 : 0;
      break;
    case "bigInteger":
      if (item.value.length === 0 || item.value.length % 8 !== 0) throw new KmsError("KMS_KMIP_MALFORMED", "big integer length must be a positive multiple of 8");
      value = Buffer.from(item.value);
      break;
    case "textString":
      value = Buffer.from(item.value, "utf8");
      break;
    case "byteString":
      value = Buffer.from(item.value);
      break;
  }
  header.writeUInt32BE(value.length, 4);
  out.push(value);
  const pad = padded(value.length) - value.length;
  if (pad > 0) out.push(Buffer.alloc(pad));
  return TTLV_HEADER_BYTES + padded(value.length);
}

// ---- decoding ----

/** Decode exactly one item that spans all of `bytes`. */
export function decodeTtlv(bytes: Uint8Array, options: DecodeOptions = {}): TtlvItem {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_TTLV_BYTES;
  const maxDepth = options.maxDepth ?? MAX_TTLV_DEPTH;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length > maxBytes) throw malformed(0, `message of ${b.length} bytes exceeds the limit of ${maxBytes}`);
  const { item, end } = decodeAt(b, 0, b.length, 0, maxDepth);
  if (end !== b.length) throw malformed(end, "trailing bytes after the message");
  return item;
}

/**
 * The total length of the message whose 8-byte header starts `bytes` (for framing a stream),
 * or undefined when fewer than 8 bytes are available. Throws on a header no message can have.
 */
export function ttlvMessageLength(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_TTLV_BYTES): number | undefined {
  if (bytes.length < TTLV_HEADER_BYTES) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkTagAt(b, 0);
  if (b[3] !== TYPE_CODES.structure) throw malformed(3, "a KMIP message must be a structure");
  const length = b.readUInt32BE(4);
  if (length % 8 !== 0) throw malformed(4, "structure length is not a multiple of 8");
  const total = TTLV_HEADER_BYTES + length;
  if (total > maxBytes) throw malformed(4, `message of ${total} bytes exceeds the limit of ${maxBytes}`);
  return total;
}

function checkTagAt(b: Buffer, offset: number): number {
  const tag = b.readUIntBE(offset, 3);
  const prefix = tag >>> 16;
  if (prefix !== 0x42 && prefix !== 0x54) throw malformed(offset, `tag 0x${tag.toString(16).padStart(6, "0")} is outside the KMIP ranges`);
  return tag;
}

const FIXED_LENGTH: Partial<Record<TtlvType, number>> = {
  integer: 4,
  longInteger: 8,
  enumeration: 4,
  boolean: 8,
  dateTime: 8,
  interval: 4,
};

function decodeAt(b: Buffer, offset: number, limit: number, depth: number, maxDepth: number): { item: TtlvItem; end: number } {
  if (limit - offset < TTLV_HEADER_BYTES) throw malformed(offset, "truncated item header");
  const tag = checkTagAt(b, offset);
  const typeCode = b[offset + 3]!;
  const type = TYPE_NAMES.get(typeCode);
  if (type === undefined) throw malformed(offset + 3, `unknown item type 0x${typeCode.toString(16)}`);
  const length = b.readUInt32BE(offset + 4);
  const start = offset + TTLV_HEADER_BYTES;
  const fixed = FIXED_LENGTH[type];
  if (fixed !== undefined && length !== fixed) throw malformed(offset + 4, `${type} must have length ${fixed}, not ${length}`);
  if (type === "structure" && length % 8 !== 0) throw malformed(offset + 4, "structure length is not a multiple of 8");
  if (type === "bigInteger" && (length === 0 || length % 8 !== 0)) throw malformed(offset + 4, "big integer length must be a positive multiple of 8");
  const end = start + padded(length);
  if (end > limit) throw malformed(offset + 4, `item of ${length} bytes overruns its container`);
  for (let i = start + length; i < end; i++) {
    if (b[i] !== 0) throw malformed(i, "non-zero padding");
  }
  const v = b.subarray(start, start + length);
  switch (type) {
    case "structure": {
      if (depth >= maxDepth) throw malformed(offset, "structure nested too deeply");
      const children: TtlvItem[] = [];
      let at = start;
      while (at < end) {
        const child = decodeAt(b, at, end, depth + 1, maxDepth);
        children.push(child.item);
        at = child.end;
      }
      return { item: { tag, type, value: children }, end };
    }
    case "integer":
      return { item: { tag, type, value: v.readInt32BE(0) }, end };
    case "enumeration":
      return { item: { tag, type, value: v.readUInt32BE(0) }, end };
    case "interval":
      return { item: { tag, type, value: v.readUInt32BE(0) }, end };
    case "longInteger":
      return { item: { tag, type, value: v.readBigInt64BE(0) }, end };
    case "dateTime":
      return { item: { tag, type, value: v.readBigInt64BE(0) }, end };
    case "boolean": {
      const n = v.readBigUInt64BE(0);
      if (n !== 0n && n !== 1n) throw malformed(start, "boolean must be 0 or 1");
      return { item: { tag, type, value: n === 1n }, end };
    }
    case "bigInteger":
      return { item: { tag, type, value: Buffer.from(v) }, end };
    case "byteString":
      return { item: { tag, type, value: Buffer.from(v) }, end };
    case "textString": {
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(v);
      } catch {
        throw malformed(start, "text string is not UTF-8");
      }
      return { item: { tag, type, value: text }, end };
    }
  }
}
