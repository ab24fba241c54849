/**
 * The KMIP 1.4 messages this client speaks: Create, Activate, Encrypt, Decrypt (and
 * DiscoverVersions as a health check), one batch item per request. Tags and enumerations are
 * from the KMIP 1.4 specification §9.1.3; each response is checked against what was asked
 * before any field is used.
 */
import { KmsError } from "../errors.js";
import type { TtlvItem } from "./ttlv.js";

/** KMIP 1.4 §9.1.3.1 tags (the ones used here). */
export const Tag = {
  Attribute: 0x420008,
  AttributeName: 0x42000a,
  AttributeValue: 0x42000b,
  BatchCount: 0x42000d,
  BatchItem: 0x42000f,
  BlockCipherMode: 0x420011,
  CryptographicAlgorithm: 0x420028,
  CryptographicLength: 0x42002a,
  CryptographicParameters: 0x42002b,
  CryptographicUsageMask: 0x42002c,
  IvCounterNonce: 0x42003d,
  Name: 0x420053,
  NameType: 0x420054,
  NameValue: 0x420055,
  ObjectType: 0x420057,
  Operation: 0x42005c,
  PaddingMethod: 0x42005f,
  ProtocolVersion: 0x420069,
  ProtocolVersionMajor: 0x42006a,
  ProtocolVersionMinor: 0x42006b,
  RequestHeader: 0x420077,
  RequestMessage: 0x420078,
  RequestPayload: 0x420079,
  ResponseHeader: 0x42007a,
  ResponseMessage: 0x42007b,
  ResponsePayload: 0x42007c,
  ResultMessage: 0x42007d,
  ResultReason: 0x42007e,
  ResultStatus: 0x42007f,
  TemplateAttribute: 0x420091,
  TimeStamp: 0x420092,
  UniqueIdentifier: 0x420094,
  Data: 0x4200c2,
  TagLength: 0x4200ce,
  AuthenticatedEncryptionAdditionalData: 0x4200fe,
  AuthenticatedEncryptionTag: 0x4200ff,
} as const;

/** KMIP 1.4 §9.1.3.2.27 Operation. */
export const Operation = {
  Create: 0x01,
  Activate: 0x12,
  DiscoverVersions: 0x1e,
  Encrypt: 0x1f,
  Decrypt: 0x20,
} as const;
export type OperationName = keyof typeof Operation;

export const ObjectType = { SymmetricKey: 0x02 } as const;
export const CryptographicAlgorithm = { AES: 0x03 } as const;
export const BlockCipherMode = { GCM: 0x09 } as const;
export const PaddingMethod = { None: 0x01 } as const;
export const NameType = { UninterpretedTextString: 0x01 } as const;
/** KMIP 1.4 §9.1.3.3.1 Cryptographic Usage Mask bits. */
export const UsageMask = { Encrypt: 0x04, Decrypt: 0x08 } as const;
/** KMIP 1.4 §9.1.3.2.28 Result Status. */
export const ResultStatus = { Success: 0, OperationFailed: 1, OperationPending: 2, OperationUndone: 3 } as const;

/** GCM with AAD needs KMIP 1.4 (Authenticated Encryption Additional Data/Tag are 1.4 fields). */
export const PROTOCOL_VERSION = { major: 1, minor: 4 } as const;

// ---- building ----

const struct = (tag: number, value: TtlvItem[]): TtlvItem => ({ tag, type: "structure", value });
const int = (tag: number, value: number): TtlvItem => ({ tag, type: "integer", value });
const enumeration = (tag: number, value: number): TtlvItem => ({ tag, type: "enumeration", value });
const text = (tag: number, value: string): TtlvItem => ({ tag, type: "textString", value });
const bytes = (tag: number, value: Uint8Array): TtlvItem => ({ tag, type: "byteString", value });

function attribute(name: string, value: TtlvItem): TtlvItem {
  return struct(Tag.Attribute, [text(Tag.AttributeName, name), { ...value, tag: Tag.AttributeValue }]);
}

export function requestMessage(operation: OperationName, payload: TtlvItem[]): TtlvItem {
  return struct(Tag.RequestMessage, [
    struct(Tag.RequestHeader, [
      struct(Tag.ProtocolVersion, [int(Tag.ProtocolVersionMajor, PROTOCOL_VERSION.major), int(Tag.ProtocolVersionMinor, PROTOCOL_VERSION.minor)]),
      int(Tag.BatchCount, 1),
    ]),
    struct(Tag.BatchItem, [enumeration(Tag.Operation, Operation[operation]), struct(Tag.RequestPayload, payload)]),
  ]);
}

/** Create an AES-256 key for encrypt and decrypt, named `name`. */
export function createAesKeyPayload(name: string): TtlvItem[] {
  return [
    enumeration(Tag.ObjectType, ObjectType.SymmetricKey),
    struct(Tag.TemplateAttribute, [
      attribute("Cryptographic Algorithm", enumeration(0, CryptographicAlgorithm.AES)),
      attribute("Cryptographic Length", int(0, 256)),
      attribute("Cryptographic Usage Mask", int(0, UsageMask.Encrypt | UsageMask.Decrypt)),
      attribute("Name", struct(0, [text(Tag.NameValue, name), enumeration(Tag.NameType, NameType.UninterpretedTextString)])),
    ]),
  ];
}

export function activatePayload(uid: string): TtlvItem[] {
  return [text(Tag.UniqueIdentifier, uid)];
}

function gcmParameters(): TtlvItem {
  return struct(Tag.CryptographicParameters, [
    enumeration(Tag.BlockCipherMode, BlockCipherMode.GCM),
    enumeration(Tag.PaddingMethod, PaddingMethod.None),
    enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
    int(Tag.TagLength, 16),
  ]);
}

export function encryptPayload(uid: string, data: Uint8Array, iv: Uint8Array, aad: Uint8Array): TtlvItem[] {
  return [
    text(Tag.UniqueIdentifier, uid),
    gcmParameters(),
    bytes(Tag.Data, data),
    bytes(Tag.IvCounterNonce, iv),
    bytes(Tag.AuthenticatedEncryptionAdditionalData, aad),
  ];
}

export function decryptPayload(uid: string, data: Uint8Array, iv: Uint8Array, aad: Uint8Array, tag: Uint8Array): TtlvItem[] {
  return [
    text(Tag.UniqueIdentifier, uid),
    gcmParameters(),
    bytes(Tag.Data, data),
    bytes(Tag.IvCounterNonce, iv),
    bytes(Tag.AuthenticatedEncryptionAdditionalData, aad),
    bytes(Tag.AuthenticatedEncryptionTag, tag),
  ];
}

// ---- reading responses ----

/** A failed operation as the server reported it. */
export interface KmipFailure {
  readonly status: number;
  readonly reason: number | undefined;
  readonly message: string | undefined;
}

export type KmipResult = { ok: true; payload: readonly TtlvItem[] } | { ok: false; failure: KmipFailure };

function bad(what: string): KmsError {
  return new KmsError("KMS_KMIP_MALFORMED", what);
}

function children(item: TtlvItem, what: string): readonly TtlvItem[] {
  if (item.type !== "structure") throw bad(`${what} is not a structure`);
  return item.value;
}

/** The single child with `tag`; undefined if absent; malformed if repeated. */
export function field(items: readonly TtlvItem[], tag: number): TtlvItem | undefined {
  let found: TtlvItem | undefined;
  for (const i of items) {
    if (i.tag !== tag) continue;
    if (found !== undefined) throw bad(`field 0x${tag.toString(16)} appears twice`);
    found = i;
  }
  return found;
}

function required<T extends TtlvItem["type"]>(items: readonly TtlvItem[], tag: number, type: T): Extract<TtlvItem, { type: T }> {
  const f = field(items, tag);
  if (f === undefined) throw bad(`field 0x${tag.toString(16)} is missing`);
  if (f.type !== type) throw bad(`field 0x${tag.toString(16)} is a ${f.type}, expected ${type}`);
  return f as Extract<TtlvItem, { type: T }>;
}

function optional<T extends TtlvItem["type"]>(items: readonly TtlvItem[], tag: number, type: T): Extract<TtlvItem, { type: T }> | undefined {
  const f = field(items, tag);
  if (f === undefined) return undefined;
  if (f.type !== type) throw bad(`field 0x${tag.toString(16)} is a ${f.type}, expected ${type}`);
  return f as Extract<TtlvItem, { type: T }>;
}

/** Check a response message for one batch item of `operation` and return its result. */
export function readResponse(message: TtlvItem, operation: OperationName): KmipResult {
  if (message.tag !== Tag.ResponseMessage) throw bad("not a KMIP response message");
  const top = children(message, "the response");
  const header = children(required(top, Tag.ResponseHeader, "structure"), "the response header");
  const version = children(required(header, Tag.ProtocolVersion, "structure"), "the protocol version");
  const major = required(version, Tag.ProtocolVersionMajor, "integer").value;
  if (major !== 1) throw bad(`protocol version ${major}.x is not KMIP 1`);
  const count = required(header, Tag.BatchCount, "integer").value;
  const items = top.filter((i) => i.tag === Tag.BatchItem);
  if (count !== 1 || items.length !== 1) throw bad(`expected one batch item, got ${items.length} (batch count ${count})`);
  const item = children(items[0]!, "the batch item");
  const op = optional(item, Tag.Operation, "enumeration");
  const status = required(item, Tag.ResultStatus, "enumeration").value;
  if (status !== ResultStatus.Success) {
    return {
      ok: false,
      failure: {
        status,
        reason: optional(item, Tag.ResultReason, "enumeration")?.value,
        message: optional(item, Tag.ResultMessage, "textString")?.value,
      },
    };
  }
  if (op === undefined || op.value !== Operation[operation]) throw bad(`the response is not for ${operation}`);
  const payload = optional(item, Tag.ResponsePayload, "structure");
  return { ok: true, payload: payload === undefined ? [] : payload.value };
}

export function uniqueIdentifierOf(payload: readonly TtlvItem[]): string {
  const uid = required(payload, Tag.UniqueIdentifier, "textString").value;
  if (uid.length === 0 || uid.length > 256) throw bad("unique identifier length");
  return uid;
}

export function bytesOf(payload: readonly TtlvItem[], tag: number): Uint8Array {
  return required(payload, tag, "byteString").value;
}
