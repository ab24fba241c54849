import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type * as Pkcs11 from "pkcs11js";
import { Pkcs11Backend, isKmsError } from "../src/index.js";
import { backendConformance } from "./conformance.js";
import { createSoftHsm } from "./softhsm.js";

const hsm = createSoftHsm();
const PIN = "pin-4711-test";
hsm.initToken("conclave-test", PIN);
hsm.initToken("conclave-other", PIN);
hsm.initToken("conclave-pin", PIN);
const main = await Pkcs11Backend.open({ module: hsm.module, tokenLabel: "conclave-test", pin: PIN });
const other = await Pkcs11Backend.open({ module: hsm.module, tokenLabel: "conclave-other", pin: PIN });
after(async () => {
  await main.close();
  await other.close();
  hsm.cleanup();
});

backendConformance("PKCS#11 (SoftHSM)", { backend: () => main, otherBackend: () => other });

test("PKCS#11: the master key is generated on the token on first start, sensitive and not extractable", async () => {
  const s = await other.status();
  assert.equal(s.kind, "pkcs11");
  assert.match(s.currentMasterKeyId, /^conclave-master-\d+$/);
  // Reopening finds the same key instead of making a new one.
  const again = await Pkcs11Backend.open({ module: hsm.module, tokenLabel: "conclave-other", pin: PIN });
  assert.equal((await again.status()).currentMasterKeyId, s.currentMasterKeyId);
  const wrapped = await other.wrap(Buffer.alloc(32, 3), Buffer.from("aad"));
  assert.deepEqual(Buffer.from(await again.unwrap(wrapped, Buffer.from("aad"))), Buffer.alloc(32, 3));
  await again.close();
});

test("PKCS#11: the key on the token cannot be read out (CKA_EXTRACTABLE false, CKA_SENSITIVE true)", async () => {
  const P = createRequire(import.meta.url)("pkcs11js") as typeof Pkcs11;
  const p = new P.PKCS11();
  p.load(hsm.module);
  try {
    p.C_Initialize();
  } catch {
    // already initialised in this process
  }
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === "conclave-test")!;
  const session = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION);
  try {
    p.C_Login(session, P.CKU_USER, PIN);
  } catch {
    // already logged in
  }
  p.C_FindObjectsInit(session, [{ type: P.CKA_LABEL, value: (await main.status()).currentMasterKeyId }]);
  const [handle] = p.C_FindObjects(session, 1);
  p.C_FindObjectsFinal(session);
  assert.ok(handle);
  const attrs = p.C_GetAttributeValue(session, handle, [{ type: P.CKA_EXTRACTABLE }, { type: P.CKA_SENSITIVE }]);
  assert.deepEqual(attrs.map((a) => (a.value as Buffer)[0]), [0, 1]);
  assert.throws(() => p.C_GetAttributeValue(session, handle, [{ type: P.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
  p.C_CloseSession(session);
});

test("PKCS#11: a wrong PIN is KMS_CONFIG_INVALID and the message does not contain the PIN", async () => {
  const wrongPin = (e: unknown) => isKmsError(e, "KMS_CONFIG_INVALID") && !e.message.includes("wrong-pin-9876") && /PIN/.test(e.message);
  // A token nobody is logged in to: the token checks the PIN.
  await assert.rejects(Pkcs11Backend.open({ module: hsm.module, tokenLabel: "conclave-pin", pin: "wrong-pin-9876" }), wrongPin);
  // A token this process is already logged in to (login state is per application): still refused.
  await assert.rejects(Pkcs11Backend.open({ module: hsm.module, tokenLabel: "conclave-test", pin: "wrong-pin-9876" }), wrongPin);
});

test("PKCS#11: an unknown token label is KMS_CONFIG_INVALID naming the label", async () => {
  await assert.rejects(Pkcs11Backend.open({ module: hsm.module, tokenLabel: "no-such-token", pin: PIN }), (e) =>
    isKmsError(e, "KMS_CONFIG_INVALID") && /no-such-token/.test(e.message),
  );
});

test("PKCS#11: an unloadable library is KMS_CONFIG_INVALID", async () => {
  await assert.rejects(Pkcs11Backend.open({ module: "/nonexistent/libpkcs11.so", tokenLabel: "x", pin: PIN }), (e) => isKmsError(e, "KMS_CONFIG_INVALID"));
});
