/**
 * Mutation fuzzing of the KMIP decoder (TTLV codec and response reader), shared by the bounded
 * run in the test suite and the long run in bench/kmip-fuzz.mjs. Seeds are genuine KMIP
 * responses; mutations flip bits, rewrite tags, types and lengths, cut, splice and insert.
 * The property: every input either decodes to an item that re-encodes to exactly the same
 * bytes (one encoding per value), or is refused with KMS_KMIP_MALFORMED — never another error,
 * never a hang. Response reading of whatever decodes fails only with KmsError codes.
 */
import { KmsError, decodeTtlv, encodeTtlv, isKmsError, ttlvMessageLength, type TtlvItem } from "../src/index.js";
import { Tag, readResponse, type OperationName } from "../src/kmip/messages.js";

/** mulberry32: small, seeded, reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const s = (tag: number, value: TtlvItem[]): TtlvItem => ({ tag, type: "structure", value });
const i = (tag: number, value: number): TtlvItem => ({ tag, type: "integer", value });
const e = (tag: number, value: number): TtlvItem => ({ tag, type: "enumeration", value });
const t = (tag: number, value: string): TtlvItem => ({ tag, type: "textString", value });
const b = (tag: number, value: Uint8Array): TtlvItem => ({ tag, type: "byteString", value });

function response(op: number, status: number, payload: TtlvItem[], extra: TtlvItem[] = []): TtlvItem {
  return s(Tag.ResponseMessage, [
    s(Tag.ResponseHeader, [s(Tag.ProtocolVersion, [i(Tag.ProtocolVersionMajor, 1), i(Tag.ProtocolVersionMinor, 4)]), { tag: Tag.TimeStamp, type: "dateTime", value: 1_700_000_000n }, i(Tag.BatchCount, 1)]),
    s(Tag.BatchItem, [e(Tag.Operation, op), e(Tag.ResultStatus, status), ...extra, s(Tag.ResponsePayload, payload)]),
  ]);
}

/** Genuine responses of every kind the client reads, plus items of every TTLV type. */
export function seeds(): Buffer[] {
  const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
  return [
    response(0x01, 0, [e(Tag.ObjectType, 2), t(Tag.UniqueIdentifier, "1")]),
    response(0x12, 0, [t(Tag.UniqueIdentifier, "17")]),
    response(0x1f, 0, [t(Tag.UniqueIdentifier, "3"), b(Tag.Data, bytes(32, 7)), b(Tag.AuthenticatedEncryptionTag, bytes(16, 9))]),
    response(0x20, 0, [t(Tag.UniqueIdentifier, "3"), b(Tag.Data, bytes(32, 1))]),
    response(0x20, 1, [], [e(Tag.ResultReason, 0x0a), t(Tag.ResultMessage, "Decryption failed")]),
    s(0x420020, [
      { tag: 0x420021, type: "longInteger", value: -5n },
      { tag: 0x420022, type: "bigInteger", value: bytes(16, 0xff) },
      { tag: 0x420023, type: "boolean", value: true },
      { tag: 0x420024, type: "interval", value: 864000 },
      { tag: 0x540001, type: "textString", value: "é€😀" },
    ]),
  ].map(encodeTtlv);
}

function mutate(rnd: () => number, input: Buffer, pool: Buffer[]): Buffer {
  const out = Buffer.from(input);
  const pick = (n: number) => Math.floor(rnd() * n);
  // Item headers sit at multiples of 8 in well-formed input: aim there half the time.
  const aligned = () => (out.length >= 8 ? pick(out.length >> 3) << 3 : 0);
  switch (pick(9)) {
    case 0: // bit flip
      if (out.length > 0) out[pick(out.length)]! ^= 1 << pick(8);
      return out;
    case 1: // a type byte
      if (out.length >= 8) out[aligned() + 3] = pick(16);
      return out;
    case 2: { // a length field, nudged or random
      if (out.length < 8) return out;
      const at = aligned() + 4;
      const old = out.readUInt32BE(at);
      out.writeUInt32BE(rnd() < 0.5 ? (old + pick(17) - 8) >>> 0 : pick(2 ** 32), at);
      return out;
    }
    case 3: // a tag outside or inside the ranges
      if (out.length >= 8) out.writeUIntBE(rnd() < 0.5 ? pick(2 ** 24) : 0x420000 + pick(0x200), aligned(), 3);
      return out;
    case 4: // cut
      return out.subarray(0, pick(out.length + 1));
    case 5: { // insert random bytes
      const at = pick(out.length + 1);
      const extra = Buffer.alloc(pick(16) + 1);
      for (let k = 0; k < extra.length; k++) extra[k] = pick(256);
      return Buffer.concat([out.subarray(0, at), extra, out.subarray(at)]);
    }
    case 6: { // splice an aligned piece of another seed
      const other = pool[pick(pool.length)]!;
      const from = other.length >= 8 ? pick(other.length >> 3) << 3 : 0;
      const piece = other.subarray(from, from + (pick(4) + 1) * 8);
      const at = aligned();
      return Buffer.concat([out.subarray(0, at), piece, out.subarray(at)]);
    }
    case 7: // non-zero padding / boolean / UTF-8 damage in a value word
      if (out.length >= 16) out[aligned() + 8 + pick(8)] = 0x80 | pick(128);
      return out;
    default: // random bytes
      return Buffer.from(Array.from({ length: pick(64) }, () => pick(256)));
  }
}

export interface FuzzStats {
  executions: number;
  decoded: number;
  refused: number;
  /** Distinct refusal reasons (message without offsets): how much of the decoder was reached. */
  reasons: Set<string>;
  responsesRead: number;
}

const OPS: OperationName[] = ["Create", "Activate", "Encrypt", "Decrypt", "DiscoverVersions"];

/** Run until `executions` inputs were tried or `deadline` (ms since epoch) passed. Throws on a property violation. */
export function fuzzTtlv(options: { seed: number; executions: number; deadline?: number; stats?: FuzzStats }): FuzzStats {
  const rnd = prng(options.seed);
  const pool = seeds();
  const stats: FuzzStats = options.stats ?? { executions: 0, decoded: 0, refused: 0, reasons: new Set(), responsesRead: 0 };
  const corpus = [...pool];
  for (let n = 0; n < options.executions; n++) {
    if (options.deadline !== undefined && (n & 1023) === 0 && Date.now() > options.deadline) break;
    let input = corpus[Math.floor(rnd() * corpus.length)]!;
    const rounds = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < rounds; r++) input = mutate(rnd, input, pool);
    stats.executions++;
    let item: TtlvItem;
    try {
      try {
        ttlvMessageLength(input);
      } catch (e) {
        if (!isKmsError(e, "KMS_KMIP_MALFORMED")) throw e;
      }
      item = decodeTtlv(input);
    } catch (e) {
      if (!isKmsError(e, "KMS_KMIP_MALFORMED")) {
        throw new Error(`decodeTtlv threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} for ${input.toString("hex")}`);
      }
      stats.refused++;
      stats.reasons.add(e.message.replace(/ at byte \d+/, "").replace(/0x[0-9a-f]+/g, "0xN").replace(/\d+/g, "N"));
      continue;
    }
    stats.decoded++;
    const again = encodeTtlv(item);
    if (!again.equals(input)) throw new Error(`not canonical: ${input.toString("hex")} re-encodes as ${again.toString("hex")}`);
    // Decoded inputs that survived mutation join the corpus (bounded), so mutations compound.
    if (corpus.length < 512) corpus.push(input);
    for (const op of OPS) {
      try {
        readResponse(item, op);
        stats.responsesRead++;
      } catch (e) {
        if (!(e instanceof KmsError)) throw new Error(`readResponse threw ${String(e)} for ${input.toString("hex")}`);
      }
    }
  }
  return stats;
}
