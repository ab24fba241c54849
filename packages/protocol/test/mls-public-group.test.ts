import { test } from "node:test";
import assert from "node:assert/strict";
import { createGroup } from "ts-mls/clientState.js";
import { createCommit, createGroupInfoWithRatchetTree } from "ts-mls/createCommit.js";
import { generateKeyPackage } from "ts-mls/keyPackage.js";
import { decodeMlsMessage, encodeMlsMessage } from "ts-mls/message.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { getCiphersuiteFromName } from "ts-mls/crypto/ciphersuite.js";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import type { Proposal } from "ts-mls/proposal.js";
import {
  DEFAULT_MLS_SUITE,
  MEETING_POLICY_EXTENSION_TYPE,
  MLS_SUITES,
  MlsSession,
  PublicGroup,
  checkKeyPackage,
  createKeyPackage,
  encodeMemberIdentity,
  encodeMeetingPolicy,
  isProtocolError,
  utf8,
  type MemberIdentity,
} from "../src/index.js";

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });
const GROUP = utf8.encode("conclave:123#1");
const expect = { groupId: GROUP, suite: DEFAULT_MLS_SUITE };

async function founder(name = "Ada") {
  const s = await MlsSession.create(GROUP, person(name));
  return { s, group: await PublicGroup.fromGroupInfo(await s.publicGroupInfo(), expect) };
}

test("the public group follows the members' commits: leaves by member id, epoch, and the transcript hash every member reaches", async () => {
  const { s: ada, group: g0 } = await founder();
  assert.equal(g0.epoch, 0n);
  assert.equal(g0.leafOf("id-Ada"), 0);
  const bob = await createKeyPackage(person("Bob"));
  const cy = await createKeyPackage(person("Cy"));
  const c1 = await ada.commit({ add: [bob.keyPackage, cy.keyPackage] });
  const g1 = await g0.checkCommit(c1.commit, { committerLeaf: 0, add: [bob.keyPackage, cy.keyPackage], remove: [], welcome: c1.welcome! });
  await ada.applyPendingCommit();
  const bobS = await MlsSession.joinFromWelcome(c1.welcome!, bob.secret);
  assert.equal(g1.epoch, 1n);
  assert.deepEqual(g1.members().map((m) => m.identity.displayName), ["Ada", "Bob", "Cy"]);
  assert.deepEqual(g1.transcriptHash, bobS.transcriptHash);
  assert.deepEqual(g0.epoch, 0n, "checkCommit leaves the previous state as it was (rollback keeps it)");
  // Bob removes Cy: a path commit from leaf 1.
  const c2 = await bobS.commit({ remove: [2] });
  const g2 = await g1.checkCommit(c2.commit, { committerLeaf: 1, add: [], remove: [2] });
  await bobS.applyPendingCommit();
  await ada.processMessage(c2.commit);
  assert.equal(g2.leafOf("id-Cy"), undefined);
  assert.deepEqual(g2.transcriptHash, ada.transcriptHash);
});

test("commits that do anything but exactly what was asked are refused, with the reason", async () => {
  const { s: ada, group } = await founder();
  const bob = await createKeyPackage(person("Bob"));
  const eve = await createKeyPackage(person("Eve"));
  const refused = async (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (e: unknown) => isProtocolError(e, "MLS_COMMIT_REJECTED") && re.test(e.message));
  const c = await ada.commit({ add: [bob.keyPackage, eve.keyPackage] });
  await refused(group.checkCommit(c.commit, { committerLeaf: 0, add: [bob.keyPackage], remove: [], welcome: c.welcome! }), /did not ask for/);
  await refused(group.checkCommit(c.commit, { committerLeaf: 1, add: [bob.keyPackage, eve.keyPackage], remove: [], welcome: c.welcome! }), /not by the member asked/);
  await refused(group.checkCommit(c.commit, { committerLeaf: 0, add: [bob.keyPackage, eve.keyPackage], remove: [] }), /no Welcome/);
  await ada.discardPendingCommit();
  const only = await ada.commit({ add: [bob.keyPackage] });
  await refused(group.checkCommit(only.commit, { committerLeaf: 0, add: [bob.keyPackage, eve.keyPackage], remove: [], welcome: only.welcome! }), /does not add every/);
  // A Welcome addressed to someone else (built for Eve) does not go with Bob's add.
  await ada.discardPendingCommit();
  const forEve = await ada.commit({ add: [eve.keyPackage] });
  await ada.discardPendingCommit();
  const forBob = await ada.commit({ add: [bob.keyPackage] });
  await refused(group.checkCommit(forBob.commit, { committerLeaf: 0, add: [bob.keyPackage], remove: [], welcome: forEve.welcome! }), /Welcome is not addressed/);
  // Any bit of the signed content changed: the signature fails.
  const tampered = forBob.commit.slice();
  tampered[tampered.length - 70]! ^= 1;
  await refused(group.checkCommit(tampered, { committerLeaf: 0, add: [bob.keyPackage], remove: [], welcome: forBob.welcome! }), /signature/);
  await assert.rejects(group.checkCommit(new Uint8Array([1, 2, 3]), { committerLeaf: 0, add: [], remove: [] }), (e: unknown) => isProtocolError(e, "MLS_BAD_MESSAGE"));
});

test("a founder that lies about its epoch-0 confirmation tag cannot make the server refuse honest commits: members' reported transcript hashes are tried too", async () => {
  const cs = await getCiphersuiteImpl(getCiphersuiteFromName(DEFAULT_MLS_SUITE));
  const now = BigInt(Math.floor(Date.now() / 1000));
  const credential = { credentialType: "basic" as const, identity: encodeMemberIdentity(person("Liar")) };
  // A Conclave group as MlsSession.create makes it: the meeting policy extension in its context.
  const capabilities = defaultCapabilities();
  capabilities.extensions = [...capabilities.extensions, MEETING_POLICY_EXTENSION_TYPE];
  const kp = await generateKeyPackage(credential, capabilities, { notBefore: now - 60n, notAfter: now + 3600n }, [], cs);
  const policy = { extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption: "e2ee" }) };
  const state0 = await createGroup(GROUP, kp.publicPackage, kp.privatePackage, [policy], cs);
  // Signed with her real key, but with a confirmation tag that is not the group's.
  const wrongTag = state0.confirmationTag.map((b) => b ^ 0xff);
  const lie = await createGroupInfoWithRatchetTree(state0.groupContext, wrongTag, state0, state0.ratchetTree, [], cs);
  const g0 = await PublicGroup.fromGroupInfo(encodeMlsMessage({ version: "mls10", wireformat: "mls_group_info", groupInfo: lie }), expect);

  const bob = await createKeyPackage(person("Bob"));
  const decoded = decodeMlsMessage(bob.keyPackage, 0)![0];
  assert.equal(decoded.wireformat, "mls_key_package");
  const addBob: Proposal = { proposalType: "add", add: { keyPackage: decoded.wireformat === "mls_key_package" ? decoded.keyPackage : assert.fail() } };
  const r1 = await createCommit({ state: state0, cipherSuite: cs }, { wireAsPublicMessage: true, extraProposals: [addBob], ratchetTreeExtension: true });
  const welcome = encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r1.welcome! });
  const g1 = await g0.checkCommit(encodeMlsMessage(r1.commit), { committerLeaf: 0, add: [bob.keyPackage], remove: [], welcome });
  const bobS = await MlsSession.joinFromWelcome(welcome, bob.secret);
  assert.notDeepEqual(g1.transcriptHash, bobS.transcriptHash, "the lie poisoned the computed transcript hash");

  // Bob's honest commit signs the GroupContext the members hold.
  const c2 = await bobS.commit({});
  await assert.rejects(g1.checkCommit(c2.commit, { committerLeaf: 1, add: [], remove: [] }), /signature/);
  const g2 = await g1.checkCommit(c2.commit, { committerLeaf: 1, add: [], remove: [] }, [bobS.transcriptHash]);
  await bobS.applyPendingCommit();
  assert.deepEqual(g2.transcriptHash, bobS.transcriptHash, "and from then on the server follows the members");
});

test("the server checks key packages' signatures before anyone is asked to add them", async () => {
  const good = await createKeyPackage(person("Bob"));
  assert.deepEqual((await checkKeyPackage(good.keyPackage)).identity, person("Bob"));
  const forged = good.keyPackage.slice();
  forged[forged.length - 1]! ^= 0xff;
  await assert.rejects(checkKeyPackage(forged), (e: unknown) => isProtocolError(e, "MLS_BAD_MESSAGE"));
  await assert.rejects(checkKeyPackage(new Uint8Array(10)), (e: unknown) => isProtocolError(e));
});

test("a member reverts the last commit it applied until the epoch is confirmed, then can no longer", async () => {
  const a = await MlsSession.create(GROUP, person("Ada"));
  const bobKp = await createKeyPackage(person("Bob"));
  const c1 = await a.commit({ add: [bobKp.keyPackage] });
  await a.applyPendingCommit();
  const b = await MlsSession.joinFromWelcome(c1.welcome!, bobKp.secret);
  await a.confirmEpoch();
  const codeBefore = a.epochAuthenticator;
  // b commits; a applies it; the DS voids it; a returns to epoch 1 and follows another commit.
  const voided = await b.commit({});
  await a.processMessage(voided.commit);
  assert.equal(a.epoch, 2n);
  assert.equal(a.canRevert, true);
  assert.equal(await a.revertEpoch(), 1n);
  assert.deepEqual(a.epochAuthenticator, codeBefore);
  await b.discardPendingCommit();
  const replacement = await a.commit({});
  await a.applyPendingCommit();
  await b.processMessage(replacement.commit);
  assert.deepEqual(a.epochAuthenticator, b.epochAuthenticator);
  await a.confirmEpoch();
  await assert.rejects(a.revertEpoch(), (e: unknown) => isProtocolError(e, "MLS_CANNOT_REVERT"));
});

test("post-quantum (X-Wing) groups: the public group follows their commits and refuses an unasked removal or a mismatched suite", async () => {
  const suite = MLS_SUITES.postQuantum;
  const ada = await MlsSession.create(GROUP, person("Ada"), { suite });
  await assert.rejects(PublicGroup.fromGroupInfo(await ada.publicGroupInfo(), expect), (e: unknown) => isProtocolError(e, "MLS_UNSUPPORTED_SUITE"));
  const g0 = await PublicGroup.fromGroupInfo(await ada.publicGroupInfo(), { groupId: GROUP, suite });
  const bob = await createKeyPackage(person("Bob"), { suite });
  const cy = await createKeyPackage(person("Cy"), { suite });
  assert.equal((await checkKeyPackage(bob.keyPackage)).suite, suite);
  const c1 = await ada.commit({ add: [bob.keyPackage, cy.keyPackage] });
  const g1 = await g0.checkCommit(c1.commit, { committerLeaf: 0, add: [bob.keyPackage, cy.keyPackage], remove: [], welcome: c1.welcome! });
  await ada.applyPendingCommit();
  const bobS = await MlsSession.joinFromWelcome(c1.welcome!, bob.secret);
  assert.deepEqual(g1.transcriptHash, bobS.transcriptHash);
  // Bob was asked for an empty update; his commit removes Cy: refused.
  const evil = await bobS.commit({ remove: [2] });
  await assert.rejects(g1.checkCommit(evil.commit, { committerLeaf: 1, add: [], remove: [] }), (e: unknown) => isProtocolError(e, "MLS_COMMIT_REJECTED"));
  await bobS.discardPendingCommit();
  // The removal he was asked for: accepted.
  const ok = await bobS.commit({ remove: [2] });
  const g2 = await g1.checkCommit(ok.commit, { committerLeaf: 1, add: [], remove: [2] });
  assert.equal(g2.leafOf("id-Cy"), undefined);
});
