import { test } from "node:test";
import assert from "node:assert/strict";
import { MlsSession, createKeyPackage, type MemberIdentity, type MlsSealed } from "../src/mls/index.js";
import { decodeAppMessage, decodeSealedPayload, encodeAppMessage, encodeSealedPayload, type AppMessage } from "../src/app-messages/app-message.js";
import { fromBase64, toBase64 } from "../src/signaling/messages.js";
import { isProtocolError } from "../src/errors.js";

const utf8 = new TextEncoder();
const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });

/** Alice, Bob and Cy in one group at epoch 2 (Alice committed both adds). */
async function threeMembers() {
  const alice = await MlsSession.create(utf8.encode("sealed-test"), person("Alice"));
  const bobKp = await createKeyPackage(person("Bob"));
  const c1 = await alice.commit({ add: [bobKp.keyPackage] });
  await alice.applyPendingCommit();
  const bob = await MlsSession.joinFromWelcome(c1.welcome!, bobKp.secret);
  const cyKp = await createKeyPackage(person("Cy"));
  const c2 = await alice.commit({ add: [cyKp.keyPackage] });
  await alice.applyPendingCommit();
  await bob.processMessage(c2.commit);
  const cy = await MlsSession.joinFromWelcome(c2.welcome!, cyKp.secret);
  const leafOf = (s: MlsSession, name: string) => s.members().find((m) => m.identity.displayName === name)!.leafIndex;
  return { alice, bob, cy, leafOf };
}

/** The envelope a client builds: the sealed fields as a `sealed` application message. */
function envelope(to: string) {
  return (s: MlsSealed): Uint8Array =>
    encodeAppMessage({ v: 1, type: "sealed", to, toLeaf: s.toLeaf, enc: toBase64(s.enc), ct: toBase64(s.ct) });
}

function unwrap(data: Uint8Array, epoch: bigint): MlsSealed {
  const m = decodeAppMessage(data);
  assert.equal(m.type, "sealed");
  if (m.type !== "sealed") throw new Error("not sealed");
  return { epoch, toLeaf: m.toLeaf, enc: fromBase64(m.enc), ct: fromBase64(m.ct) };
}

const secret: AppMessage = { v: 1, type: "privateChat", id: "p-12345678", text: "for Bob's eyes only" };

test("a payload sealed to Bob opens for Bob, attributed to Alice; Cy decrypts the MLS envelope but cannot open it", async () => {
  const { alice, bob, cy, leafOf } = await threeMembers();
  const wire = await alice.sealApplicationMessage(leafOf(alice, "Bob"), encodeSealedPayload(secret), envelope("id-Bob"));

  const atBob = await bob.processMessage(wire);
  assert.ok(atBob.kind === "application");
  const opened = await bob.openSealed(unwrap(atBob.data, atBob.epoch), atBob.sender.leafIndex);
  assert.deepEqual(decodeSealedPayload(opened), secret);
  assert.equal(atBob.sender.identity.memberId, "id-Alice");

  // Cy is a member of the same epoch: MLS lets her read the envelope, HPKE does not let her open it.
  const atCy = await cy.processMessage(wire);
  assert.ok(atCy.kind === "application");
  const envelopeAtCy = unwrap(atCy.data, atCy.epoch);
  assert.ok(!new TextDecoder().decode(atCy.data).includes("Bob's eyes"));
  await assert.rejects(cy.openSealed(envelopeAtCy, atCy.sender.leafIndex), (e) => isProtocolError(e, "MLS_MESSAGE_REJECTED"));
  await assert.rejects(cy.openSealed({ ...envelopeAtCy, toLeaf: leafOf(cy, "Cy") }, atCy.sender.leafIndex), (e) => isProtocolError(e, "MLS_MESSAGE_REJECTED"));
});

test("a sealed payload replayed under another sender's name does not open (the context binds the sender's leaf)", async () => {
  const { alice, bob, leafOf } = await threeMembers();
  const wire = await alice.sealApplicationMessage(leafOf(alice, "Bob"), encodeSealedPayload(secret), envelope("id-Bob"));
  const atBob = await bob.processMessage(wire);
  assert.ok(atBob.kind === "application");
  const sealed = unwrap(atBob.data, atBob.epoch);
  // As if Cy had copied Alice's sealed fields into a message of her own: Bob opens with Cy as sender.
  await assert.rejects(bob.openSealed(sealed, leafOf(bob, "Cy")), (e) => isProtocolError(e, "MLS_MESSAGE_REJECTED"));
  const tampered = { ...sealed, ct: sealed.ct.slice() };
  tampered.ct[5]! ^= 0x40;
  await assert.rejects(bob.openSealed(tampered, leafOf(bob, "Alice")), (e) => isProtocolError(e, "MLS_MESSAGE_REJECTED"));
  assert.deepEqual(decodeSealedPayload(await bob.openSealed(sealed, leafOf(bob, "Alice"))), secret);
});

test("sealed in epoch n, opened after Bob's own commit renewed his leaf key (epoch n+1); refused once that epoch is forgotten", async () => {
  const { alice, bob, leafOf } = await threeMembers();
  const wire = await alice.sealApplicationMessage(leafOf(alice, "Bob"), encodeSealedPayload(secret), envelope("id-Bob"));
  const sentAt = alice.epoch;
  // Bob commits an update (new leaf HPKE key) before he reads Alice's message.
  const update = await bob.commit({});
  await bob.applyPendingCommit();
  await alice.processMessage(update.commit);
  assert.equal(bob.epoch, sentAt + 1n);
  const atBob = await bob.processMessage(wire);
  assert.ok(atBob.kind === "application" && atBob.epoch === sentAt);
  assert.deepEqual(decodeSealedPayload(await bob.openSealed(unwrap(atBob.data, atBob.epoch), atBob.sender.leafIndex)), secret);

  // After four more epochs the old leaf key is gone (as are that epoch's MLS receive keys).
  for (let i = 0; i < 4; i++) {
    const c = await bob.commit({});
    await bob.applyPendingCommit();
    await alice.processMessage(c.commit);
  }
  await assert.rejects(bob.openSealed(unwrap(atBob.data, sentAt), atBob.sender.leafIndex), (e) => isProtocolError(e, "MLS_WRONG_EPOCH"));
});

test("sealing refuses oneself and blank leaves; a closed session keeps no leaf keys", async () => {
  const { alice, bob, leafOf } = await threeMembers();
  await assert.rejects(alice.sealApplicationMessage(leafOf(alice, "Alice"), encodeSealedPayload(secret), envelope("id-Alice")), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
  await assert.rejects(alice.sealApplicationMessage(40, encodeSealedPayload(secret), envelope("x")), (e) => isProtocolError(e, "MLS_UNKNOWN_MEMBER"));
  const wire = await alice.sealApplicationMessage(leafOf(alice, "Bob"), encodeSealedPayload(secret), envelope("id-Bob"));
  const atBob = await bob.processMessage(wire);
  assert.ok(atBob.kind === "application");
  await bob.close();
  await assert.rejects(bob.openSealed(unwrap(atBob.data, atBob.epoch), atBob.sender.leafIndex), (e) => isProtocolError(e, "MLS_SESSION_CLOSED"));
});

test("messages addressed to others advance the sender's ratchet: Cy still reads Alice's next group message after 500 routed to Bob alone", async () => {
  const { alice, bob, cy } = await threeMembers();
  for (let i = 0; i < 500; i++) {
    const wire = await alice.encryptApplicationMessage(encodeAppMessage({ v: 1, type: "hand", raised: i % 2 === 0 }));
    if (i === 499) await bob.processMessage(wire);
  }
  const group = await alice.encryptApplicationMessage(encodeAppMessage({ v: 1, type: "chat", id: "c-12345678", text: "hello all" }));
  const atCy = await cy.processMessage(group);
  assert.ok(atCy.kind === "application");
  assert.deepEqual(decodeAppMessage(atCy.data), { v: 1, type: "chat", id: "c-12345678", text: "hello all" });
});

test("the application result carries the sender's signature key, which verifies what it signs with its leaf key", async () => {
  const { alice, bob } = await threeMembers();
  const wire = await alice.encryptApplicationMessage(encodeAppMessage({ v: 1, type: "hand", raised: true }));
  const atBob = await bob.processMessage(wire);
  assert.ok(atBob.kind === "application");
  assert.deepEqual(atBob.senderSignatureKey, alice.signaturePublicKey);
  const sig = await alice.signWithLabel("test label", utf8.encode("content"));
  assert.equal(await MlsSession.verifyWithLabel(alice.suite, atBob.senderSignatureKey, "test label", utf8.encode("content"), sig), true);
  assert.equal(await MlsSession.verifyWithLabel(alice.suite, atBob.senderSignatureKey, "other label", utf8.encode("content"), sig), false);
  assert.equal(await MlsSession.verifyWithLabel(alice.suite, bob.signaturePublicKey, "test label", utf8.encode("content"), sig), false);
});
