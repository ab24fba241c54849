import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeTtlv, encodeTtlv, isKmsError, ttlvMessageLength, type TtlvItem } from "../src/index.js";
import { Tag, readResponse } from "../src/kmip/messages.js";
import { fuzzTtlv, seeds } from "./ttlv-fuzz-core.js";

interface Vector {
  name: string;
  type: TtlvItem["type"];
  value: unknown;
  hex: string;
}
const { vectors } = JSON.parse(readFileSync(new URL("../../test/vectors/kmip-1.4-ttlv-examples.json", import.meta.url), "utf8")) as { vectors: Vector[] };

function itemOf(v: Vector): TtlvItem {
  const tag = 0x420020;
  switch (v.type) {
    case "integer":
    case "enumeration":
    case "interval":
      return { tag, type: v.type, value: v.value as number };
    case "longInteger":
    case "dateTime":
      return { tag, type: v.type, value: BigInt(v.value as string) };
    case "bigInteger":
      return { tag, type: v.type, value: Buffer.from(BigInt(v.value as string).toString(16).padStart(32, "0"), "hex") };
    case "boolean":
      return { tag, type: v.type, value: v.value as boolean };
    case "textString":
      return { tag, type: v.type, value: v.value as string };
    case "byteString":
      return { tag, type: v.type, value: Buffer.from(v.value as string, "hex") };
    case "structure":
      return { tag, type: "structure", value: [{ tag: 0x420004, type: "enumeration", value: 254 }, { tag: 0x420005, type: "integer", value: 255 }] };
  }
}

for (const v of vectors) {
  test(`TTLV matches the KMIP 1.4 §9.1.2 example: ${v.name}`, () => {
    const bytes = Buffer.from(v.hex, "hex");
    assert.equal(encodeTtlv(itemOf(v)).toString("hex"), bytes.toString("hex"));
    assert.deepEqual(decodeTtlv(bytes), itemOf(v));
  });
}

const malformed: [string, string][] = [
  ["an integer of length 8", "42002002000000080000000800000000"],
  ["non-zero padding", "42002002000000040000000800000001"],
  ["a boolean of 2", "42002006000000080000000000000002"],
  ["an unknown type 0x0B", "4200200B000000040000000800000000"],
  ["a tag outside the KMIP ranges", "43002002000000040000000800000000"],
  ["text that is not UTF-8", "42002007000000020000000000000000".replace("0000000000000000", "C328000000000000")],
  ["a byte string longer than its container", "42002008000000100102030000000000"],
  ["a structure whose length is not a multiple of 8", "42002001000000040000000000000000"],
  ["a structure with a half item", "420020010000000842000402000000"],
  ["a big integer of 4 bytes", "42002004000000040000000100000000"],
  ["trailing bytes", "420020020000000400000008000000000000000000000000"],
  ["a truncated header", "4200200200"],
];
for (const [what, hex] of malformed) {
  test(`TTLV refuses ${what} with KMS_KMIP_MALFORMED`, () => {
    assert.throws(() => decodeTtlv(Buffer.from(hex, "hex")), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
  });
}

test("TTLV refuses nesting deeper than 16 structures and messages over the size limit", () => {
  const nested = (levels: number): Buffer => {
    let inner = Buffer.alloc(0);
    for (let d = 0; d < levels; d++) {
      const header = Buffer.from("4200200100000000", "hex");
      header.writeUInt32BE(inner.length, 4);
      inner = Buffer.concat([header, inner]);
    }
    return inner;
  };
  assert.equal(decodeTtlv(nested(16)).type, "structure");
  assert.throws(() => decodeTtlv(nested(17)), (e) => isKmsError(e, "KMS_KMIP_MALFORMED") && /deeply/.test(e.message));
  let item: TtlvItem = { tag: 0x420020, type: "structure", value: [] };
  for (let d = 0; d < 16; d++) item = { tag: 0x420020, type: "structure", value: [item] };
  assert.throws(() => encodeTtlv(item), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
  const big = encodeTtlv({ tag: 0x420020, type: "byteString", value: Buffer.alloc(2 * 1024 * 1024) });
  assert.throws(() => decodeTtlv(big), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
  assert.throws(() => ttlvMessageLength(Buffer.from("4200780100200000", "hex")), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
});

test("a KMIP response is only accepted for the operation that was asked, with one batch item", () => {
  const [create, activate] = seeds();
  assert.equal(readResponse(decodeTtlv(create!), "Create").ok, true);
  assert.throws(() => readResponse(decodeTtlv(create!), "Encrypt"), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
  assert.throws(() => readResponse(decodeTtlv(activate!), "Create"), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
  const twoItems = decodeTtlv(create!) as Extract<TtlvItem, { type: "structure" }>;
  const doubled: TtlvItem = { ...twoItems, value: [...twoItems.value, twoItems.value[1]!] };
  assert.throws(() => readResponse(doubled, "Create"), (e) => isKmsError(e, "KMS_KMIP_MALFORMED"));
  const failed = readResponse(decodeTtlv(seeds()[4]!), "Decrypt");
  assert.deepEqual(failed, { ok: false, failure: { status: 1, reason: 0x0a, message: "Decryption failed" } });
  assert.equal(Tag.TagLength, 0x4200ce);
});

test("fuzz (bounded, 30,000 mutated KMIP responses): the decoder decodes canonically or refuses with KMS_KMIP_MALFORMED, nothing else", (t) => {
  const stats = fuzzTtlv({ seed: 1404, executions: 30_000 });
  t.diagnostic(`decoded ${stats.decoded}, refused ${stats.refused}, ${stats.reasons.size} distinct refusals`);
  assert.equal(stats.executions, 30_000);
  // The mutations must reach both sides of the decoder, and many of its refusals.
  assert.ok(stats.decoded > 1000, `decoded ${stats.decoded}`);
  assert.ok(stats.refused > 10_000, `refused ${stats.refused}`);
  assert.ok(stats.reasons.size >= 12, `only ${stats.reasons.size} distinct refusals: ${[...stats.reasons].join("; ")}`);
  assert.ok(stats.responsesRead > 0);
});
