// Official MLS key-schedule vectors (mlswg/mls-implementations, test-vectors/key-schedule.json),
// read from ../shared/vectors/mls beside the project root (see shared/vectors/README.md).
// Each epoch is recomputed through ts-mls's own key schedule (initializeEpoch) and its RFC 9420
// §8.5 exporter (mlsExporter, which MlsSession.exportSecret calls); the epoch_authenticator (§8.7)
// and the exporter output must match. Note on the vector format: `exporter.label` is used as the
// label string exactly as written (its hex text), while `context` is hex-decoded to bytes.
import { test } from "node:test";
import { requires } from "@conclave/test-support";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { initializeEpoch, mlsExporter } from "ts-mls/keySchedule.js";
import { decodeGroupContext } from "ts-mls/groupContext.js";
import { getCiphersuiteFromId, type CiphersuiteId } from "ts-mls/crypto/ciphersuite.js";
import { makeKdf, makeKdfImpl } from "ts-mls/crypto/implementation/default/makeKdfImpl.js";
import { makeHashImpl } from "ts-mls/crypto/implementation/default/makeHashImpl.js";
import type { CiphersuiteImpl } from "ts-mls/crypto/ciphersuite.js";
import { bytesToHex, hexToBytes } from "../src/index.js";

/** The project root is the nearest ancestor whose package.json declares workspaces. */
function findVectorsDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && "workspaces" in (JSON.parse(readFileSync(pkg, "utf8")) as object)) {
      const vectors = join(dir, "..", "shared", "vectors");
      return existsSync(vectors) ? vectors : undefined;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

interface KeyScheduleVector {
  cipher_suite: number;
  group_id: string;
  initial_init_secret: string;
  epochs: {
    commit_secret: string;
    psk_secret: string;
    group_context: string;
    joiner_secret: string;
    welcome_secret: string;
    init_secret: string;
    exporter_secret: string;
    epoch_authenticator: string;
    exporter: { label: string; context: string; length: number; secret: string };
  }[];
}

const vectorsDir = findVectorsDir();
const file = vectorsDir === undefined ? undefined : join(vectorsDir, "mls", "key-schedule.json");
const vectors: KeyScheduleVector[] =
  file !== undefined && existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as KeyScheduleVector[]) : [];
const SKIP = "official MLS vectors not found (expected ../shared/vectors/mls/key-schedule.json beside the project root)";

/**
 * The key schedule needs only the suite's KDF and hash; building just those (rather than the full
 * suite) lets suites whose KEM or signature needs an optional package still be checked.
 */
function primitives(id: number): CiphersuiteImpl {
  const cs = getCiphersuiteFromId(id as CiphersuiteId);
  const partial: Pick<CiphersuiteImpl, "kdf" | "hash"> = {
    kdf: makeKdfImpl(makeKdf(cs.hpke.kdf)),
    hash: makeHashImpl(crypto.subtle, cs.hash),
  };
  return partial as CiphersuiteImpl; // mlsExporter reads only kdf and hash
}

if (vectors.length === 0) {
  test("key-schedule vectors: every epoch's exporter and epoch_authenticator match (RFC 9420 §8.5, §8.7)", ...requires(SKIP, () => {}));
}

for (const v of vectors) {
  test(`key-schedule vectors, cipher suite ${v.cipher_suite}: each of ${v.epochs.length} epochs gives the official exporter output and epoch_authenticator`, async () => {
    const suite = primitives(v.cipher_suite);
    let initSecret = hexToBytes(v.initial_init_secret);
    for (const [i, e] of v.epochs.entries()) {
      const gcBytes = hexToBytes(e.group_context);
      const decoded = decodeGroupContext(gcBytes, 0);
      assert.ok(decoded, `epoch ${i}: group context decodes`);
      const [gc, read] = decoded;
      assert.equal(read, gcBytes.length, `epoch ${i}: group context has no trailing bytes`);
      assert.equal(gc.epoch, BigInt(i));
      assert.equal(bytesToHex(gc.groupId), v.group_id);

      const secrets = await initializeEpoch(initSecret, hexToBytes(e.commit_secret), gc, hexToBytes(e.psk_secret), suite.kdf);
      assert.equal(bytesToHex(secrets.joinerSecret), e.joiner_secret, `epoch ${i}: joiner_secret`);
      assert.equal(bytesToHex(secrets.welcomeSecret), e.welcome_secret, `epoch ${i}: welcome_secret`);
      assert.equal(bytesToHex(secrets.keySchedule.exporterSecret), e.exporter_secret, `epoch ${i}: exporter_secret`);
      assert.equal(bytesToHex(secrets.keySchedule.epochAuthenticator), e.epoch_authenticator, `epoch ${i}: epoch_authenticator`);
      assert.equal(bytesToHex(secrets.keySchedule.initSecret), e.init_secret, `epoch ${i}: init_secret`);

      const exported = await mlsExporter(
        secrets.keySchedule.exporterSecret,
        e.exporter.label,
        hexToBytes(e.exporter.context),
        e.exporter.length,
        suite,
      );
      assert.equal(bytesToHex(exported), e.exporter.secret, `epoch ${i}: MLS-Exporter output`);
      initSecret = secrets.keySchedule.initSecret;
    }
  });
}
