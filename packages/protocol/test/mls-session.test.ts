import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeMlsMessage } from "ts-mls/message.js";
import {
  MLS_SUITES,
  MlsSession,
  bytesToHex,
  createKeyPackage,
  isProtocolError,
  peekKeyPackage,
  peekMessage,
  utf8,
  type MemberIdentity,
  type MlsSuiteName,
  type ProtocolErrorCode,
} from "../src/index.js";

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });
const connector = (name: string, kind: "recording" | "sip" | "pstn" | "streaming" | "transcription"): MemberIdentity => ({
  kind: "connector",
  memberId: `conn-${name}`,
  displayName: name,
  connector: kind,
});
const GROUP = utf8.encode("meeting-123");
const EMPTY = new Uint8Array(0);

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: ProtocolErrorCode): Promise<void> {
  await assert.rejects(
    async () => (typeof p === "function" ? p() : p),
    (e: unknown) => {
      assert.ok(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      return true;
    },
  );
}

/** Founder + one commit adding everyone else; all members at epoch 1. */
async function formGroup(identities: MemberIdentity[], suite?: MlsSuiteName, encryption: "e2ee" | "enhanced" = "enhanced"): Promise<MlsSession[]> {
  const [first, ...rest] = identities;
  const founder = await MlsSession.create(GROUP, first!, { suite, encryption });
  const kps = await Promise.all(rest.map((id) => createKeyPackage(id, { suite })));
  const out = await founder.commit({ add: kps.map((k) => k.keyPackage) });
  await founder.applyPendingCommit();
  const joined = await Promise.all(kps.map((k) => MlsSession.joinFromWelcome(out.welcome!, k.secret)));
  return [founder, ...joined];
}

/** One member commits; the DS accepts it; everyone else in `others` processes it. */
async function commitAndDeliver(
  committer: MlsSession,
  others: MlsSession[],
  request: Parameters<MlsSession["commit"]>[0] = {},
): Promise<Awaited<ReturnType<MlsSession["commit"]>>> {
  const out = await committer.commit(request);
  await committer.applyPendingCommit();
  for (const o of others) await o.processMessage(out.commit);
  return out;
}

async function exported(s: MlsSession, label = "SFrame 1.0 Base Key", length = 16): Promise<string> {
  return bytesToHex(await s.exportSecret(label, EMPTY, length));
}

async function assertAgree(sessions: MlsSession[]): Promise<void> {
  const [a, ...rest] = sessions;
  for (const s of rest) {
    assert.equal(s.epoch, a!.epoch);
    assert.equal(bytesToHex(s.epochAuthenticator), bytesToHex(a!.epochAuthenticator));
    assert.equal(await exported(s), await exported(a!));
    assert.deepEqual(s.groupId, a!.groupId);
  }
}

function updatePathNodes(commit: Uint8Array): number {
  const decoded = decodeMlsMessage(commit, 0);
  assert.ok(decoded && decoded[0].wireformat === "mls_public_message");
  const content = decoded[0].publicMessage.content;
  assert.equal(content.contentType, "commit");
  return content.contentType === "commit" ? (content.commit.path?.nodes.length ?? 0) : 0;
}

test("three members formed by add + Welcome agree on epoch, epoch authenticator and exporter output", async () => {
  const [a, b, c] = await formGroup([person("Alice"), person("Bob"), person("Carol")]);
  assert.equal(a!.epoch, 1n);
  await assertAgree([a!, b!, c!]);
  assert.deepEqual([a!.ownLeafIndex, b!.ownLeafIndex, c!.ownLeafIndex], [0, 1, 2]);
  assert.equal(a!.epochAuthenticator.length, 32);
  // Different labels, contexts and lengths give different, correctly sized secrets.
  const x = await a!.exportSecret("label one", EMPTY, 32);
  assert.notEqual(bytesToHex(x), bytesToHex(await a!.exportSecret("label two", EMPTY, 32)));
  assert.notEqual(bytesToHex(x), bytesToHex(await a!.exportSecret("label one", utf8.encode("ctx"), 32)));
  assert.equal((await a!.exportSecret("label one", EMPTY, 100)).length, 100);
});

test("every member reads every member's identity, including connector kinds, from the tree", async () => {
  const ids = [person("Host"), connector("Cloud recording", "recording"), connector("Room 4 (SIP)", "sip"), person("Guest")];
  const sessions = await formGroup(ids);
  for (const s of sessions) {
    assert.deepEqual(
      s.members(),
      ids.map((identity, leafIndex) => ({ leafIndex, identity })),
    );
  }
});

test("the delivery service reads a KeyPackage's identity and a commit's epoch, sender and effect without secrets", async () => {
  const kp = await createKeyPackage(connector("Dial-in", "pstn"));
  assert.deepEqual(peekKeyPackage(kp.keyPackage), { suite: MLS_SUITES.default, identity: connector("Dial-in", "pstn") });

  const [a, b] = await formGroup([person("A"), person("B")]);
  const out = await a!.commit({ add: [kp.keyPackage], remove: [1] });
  assert.equal(out.epoch, 1n);
  const peeked = peekMessage(out.commit);
  assert.equal(peeked.wireFormat, "public");
  assert.equal(peeked.epoch, 1n);
  assert.equal(peeked.contentType, "commit");
  assert.deepEqual(peeked.groupId, GROUP);
  if (peeked.wireFormat === "public") {
    assert.deepEqual(peeked.sender, { type: "member", leafIndex: 0 });
    assert.deepEqual(peeked.commit, { hasUpdatePath: true, removed: [1], added: [connector("Dial-in", "pstn")], proposalRefs: 0 });
  }
  await a!.discardPendingCommit();

  // Application data is a PrivateMessage: the DS sees only group, epoch and content type.
  const app = await b!.encryptApplicationMessage(utf8.encode("hello"));
  assert.deepEqual(peekMessage(app), { wireFormat: "private", groupId: GROUP, epoch: 1n, contentType: "application" });
  // The receiver learns who sent it (the leaf the message's signature belongs to), and a replay
  // of the same message is refused by name.
  assert.deepEqual(await a!.processMessage(app), {
    kind: "application",
    epoch: 1n,
    data: utf8.encode("hello"),
    sender: { leafIndex: 1, identity: person("B") },
    senderSignatureKey: b!.signaturePublicKey,
  });
  await assert.rejects(a!.processMessage(app), (e) => isProtocolError(e, "MLS_REPLAY"));
});

test("removing a member starts an epoch whose exporter differs and which the removed member cannot follow", async () => {
  const [a, b, c, d] = await formGroup([person("A"), person("B"), person("C"), person("D")]);
  const before = await exported(a!);
  const beforeAuth = bytesToHex(a!.epochAuthenticator);

  const removal = await b!.commit({ remove: [2, 3] });
  // RFC 9420 §12.4.2: a commit with Remove proposals carries a (non-empty) UpdatePath.
  assert.equal(removal.hasUpdatePath, true);
  assert.ok(updatePathNodes(removal.commit) > 0, "the removal commit has UpdatePath nodes");
  assert.equal(removal.welcome, undefined);
  await b!.applyPendingCommit();
  const r = await a!.processMessage(removal.commit);
  assert.equal(r.kind, "commit");
  if (r.kind === "commit") assert.deepEqual([r.epoch, r.removed, r.added], [2n, [2, 3], []]);
  await assertAgree([a!, b!]);
  assert.notEqual(await exported(a!), before);
  assert.notEqual(bytesToHex(a!.epochAuthenticator), beforeAuth);
  assert.deepEqual(a!.members().map((m) => m.identity.displayName), ["A", "B"]);

  // C processes its removal: it learns it is out and derives nothing of epoch 2.
  const rc = await c!.processMessage(removal.commit);
  assert.equal(rc.kind, "removed");
  assert.equal(c!.status, "removed");
  assert.equal(c!.epoch, 1n, "the removed member stays at the epoch it was removed from");
  await rejectsWith(c!.exportSecret("SFrame 1.0 Base Key", EMPTY, 16), "MLS_REMOVED");
  // D ignores its removal and keeps its epoch-1 state.
  const next = await commitAndDeliver(a!, [b!]);
  await rejectsWith(c!.processMessage(next.commit), "MLS_REMOVED");
  await rejectsWith(d!.processMessage(next.commit), "MLS_WRONG_EPOCH");
  const app = await a!.encryptApplicationMessage(utf8.encode("after removal"));
  await rejectsWith(d!.processMessage(app), "MLS_WRONG_EPOCH");
  await rejectsWith(c!.processMessage(app), "MLS_REMOVED");
  assert.equal((await d!.processMessage(removal.commit)).kind, "removed");
});

test("an add-only commit has no UpdatePath, while an empty commit is a path update that changes the epoch's keys", async () => {
  const [a, b] = await formGroup([person("A"), person("B")]);
  const kp = await createKeyPackage(person("C"));
  const add = await a!.commit({ add: [kp.keyPackage] });
  assert.equal(add.hasUpdatePath, false);
  assert.equal(updatePathNodes(add.commit), 0);
  await a!.discardPendingCommit();

  const before = await exported(b!);
  const update = await commitAndDeliver(b!, [a!]);
  assert.equal(update.hasUpdatePath, true);
  assert.ok(updatePathNodes(update.commit) > 0);
  await assertAgree([a!, b!]);
  assert.notEqual(await exported(a!), before);
});

test("remove + add in one commit carries an UpdatePath and the joiner and the rest agree", async () => {
  const [a, b, c] = await formGroup([person("A"), person("B"), person("C")]);
  const kp = await createKeyPackage(person("D"));
  const out = await a!.commit({ remove: [1], add: [kp.keyPackage] });
  assert.ok(updatePathNodes(out.commit) > 0);
  await a!.applyPendingCommit();
  await c!.processMessage(out.commit);
  const d = await MlsSession.joinFromWelcome(out.welcome!, kp.secret);
  assert.equal((await b!.processMessage(out.commit)).kind, "removed");
  await assertAgree([a!, c!, d]);
  assert.equal(d.ownLeafIndex, 1, "the joiner takes the leaf the removal freed");
});

test("a commit for a wrong epoch is rejected with MLS_WRONG_EPOCH and the group continues", async () => {
  const [a, b, c] = await formGroup([person("A"), person("B"), person("C")]);
  const first = await commitAndDeliver(a!, [b!]); // C misses it and stays at epoch 1
  const second = await commitAndDeliver(b!, [a!]); // epoch 2 -> 3

  // A replayed (old-epoch) commit and a commit from the future are both refused.
  await rejectsWith(a!.processMessage(first.commit), "MLS_WRONG_EPOCH");
  await rejectsWith(c!.processMessage(second.commit), "MLS_WRONG_EPOCH");
  assert.equal(a!.epoch, 3n);
  assert.equal(c!.epoch, 1n);

  // Both sessions stay usable: C catches up in order, then everyone continues.
  await c!.processMessage(first.commit);
  await c!.processMessage(second.commit);
  await commitAndDeliver(c!, [a!, b!]);
  await assertAgree([a!, b!, c!]);
  assert.equal(a!.epoch, 4n);
});

test("a tampered commit is rejected with MLS_COMMIT_REJECTED and the member stays at its epoch", async () => {
  const [a, b] = await formGroup([person("A"), person("B")]);
  const out = await a!.commit({});
  const tampered = out.commit.slice();
  tampered[tampered.length - 1]! ^= 0x01; // inside the membership tag
  await rejectsWith(b!.processMessage(tampered), "MLS_COMMIT_REJECTED");
  assert.equal(b!.epoch, 1n);
  await a!.applyPendingCommit();
  await b!.processMessage(out.commit);
  await assertAgree([a!, b!]);
});

test("the DS echoing a member's own pending commit applies it; a message for another group is refused", async () => {
  const [a, b] = await formGroup([person("A"), person("B")]);
  const out = await a!.commit({});
  assert.equal(a!.hasPendingCommit, true);
  assert.equal(a!.epoch, 1n, "a pending commit does not change the epoch");
  const r = await a!.processMessage(out.commit);
  assert.equal(r.kind, "commit");
  if (r.kind === "commit") assert.equal(r.ownCommit, true);
  assert.equal(a!.hasPendingCommit, false);
  await b!.processMessage(out.commit);
  await assertAgree([a!, b!]);

  const other = await MlsSession.create(utf8.encode("another meeting"), person("X"));
  const foreign = await other.commit({});
  await rejectsWith(a!.processMessage(foreign.commit), "MLS_BAD_MESSAGE");
});

test("pending-commit misuse fails with clear codes", async () => {
  const [a, b] = await formGroup([person("A"), person("B")]);
  await rejectsWith(a!.applyPendingCommit(), "MLS_NO_PENDING_COMMIT");
  await a!.commit({});
  await rejectsWith(a!.commit({}), "MLS_COMMIT_PENDING");
  await a!.discardPendingCommit();
  await a!.discardPendingCommit(); // idempotent
  await rejectsWith(a!.commit({ remove: [7] }), "MLS_UNKNOWN_MEMBER");
  await rejectsWith(a!.commit({ remove: [0] }), "INVALID_ARGUMENT");
  await rejectsWith(a!.commit({ remove: [1, 1] }), "INVALID_ARGUMENT");
  await rejectsWith(a!.commit({ remove: [-1] }), "INVALID_ARGUMENT");
  await rejectsWith(a!.commit({ add: [utf8.encode("not a key package")] }), "MLS_BAD_MESSAGE");
  const app = await b!.encryptApplicationMessage(utf8.encode("x"));
  await rejectsWith(a!.commit({ add: [app] }), "MLS_BAD_MESSAGE");
  await rejectsWith(a!.exportSecret("x", EMPTY, 0), "INVALID_ARGUMENT");
  await rejectsWith(a!.exportSecret("x", EMPTY, 255 * 32 + 1), "INVALID_ARGUMENT");
  assert.equal(a!.hasPendingCommit, false);
  await commitAndDeliver(a!, [b!]);
  await assertAgree([a!, b!]);
});

test("a key package secret joins once; a Welcome for someone else is rejected", async () => {
  const a = await MlsSession.create(GROUP, person("A"));
  const kb = await createKeyPackage(person("B"));
  const kc = await createKeyPackage(person("C"));
  const out = await a.commit({ add: [kb.keyPackage] });
  await a.applyPendingCommit();
  await rejectsWith(MlsSession.joinFromWelcome(out.welcome!, kc.secret), "MLS_WELCOME_REJECTED");
  assert.equal(kc.secret.used, false, "a failed join does not consume the secret");
  const b = await MlsSession.joinFromWelcome(out.welcome!, kb.secret, { ratchetTree: a.exportRatchetTree() });
  assert.equal(kb.secret.used, true);
  await assertAgree([a, b]);
  await rejectsWith(MlsSession.joinFromWelcome(out.welcome!, kb.secret), "MLS_WELCOME_REJECTED");
  assert.equal(JSON.stringify({ s: kb.secret }), '{"s":"[MlsKeyPackageSecret]"}', "secrets do not serialise their keys");
});

test("a caller's membership policy refuses connectors when adding, joining and processing", async () => {
  const personsOnly = (id: MemberIdentity): boolean => id.kind === "person";
  const host = await MlsSession.create(GROUP, person("Host"), { acceptMember: personsOnly, encryption: "enhanced" });
  const rec = await createKeyPackage(connector("Recorder", "recording"));
  await rejectsWith(host.commit({ add: [rec.keyPackage] }), "MLS_BAD_CREDENTIAL");
  await rejectsWith(MlsSession.create(GROUP, connector("Bot", "streaming"), { acceptMember: personsOnly, encryption: "enhanced" }), "MLS_BAD_CREDENTIAL");

  // A member without the policy adds a connector: a member with the policy refuses the commit,
  // and a joiner with the policy refuses the Welcome.
  const [a, b] = await formGroup([person("A"), person("B")]);
  const strict = await createKeyPackage(person("Strict"));
  const added = await a!.commit({ add: [strict.keyPackage] });
  await a!.applyPendingCommit();
  await b!.processMessage(added.commit);
  const strictSession = await MlsSession.joinFromWelcome(added.welcome!, strict.secret, { acceptMember: personsOnly });
  const withConnector = await a!.commit({ add: [rec.keyPackage] });
  await rejectsWith(strictSession.processMessage(withConnector.commit), "MLS_COMMIT_REJECTED");
  assert.equal(strictSession.epoch, 2n);
  await a!.applyPendingCommit();
  const late = await createKeyPackage(person("Late"));
  const welcome = await a!.commit({ add: [late.keyPackage] });
  await rejectsWith(MlsSession.joinFromWelcome(welcome.welcome!, late.secret, { acceptMember: personsOnly }), "MLS_WELCOME_REJECTED");
});

test("close() erases the session's keys, is idempotent, and later calls fail with MLS_SESSION_CLOSED", async () => {
  const [a, b] = await formGroup([person("A"), person("B")]);
  await b!.close();
  await b!.close();
  assert.equal(b!.status, "closed");
  await rejectsWith(b!.exportSecret("x", EMPTY, 16), "MLS_SESSION_CLOSED");
  await rejectsWith(async () => b!.epochAuthenticator, "MLS_SESSION_CLOSED");
  await rejectsWith(b!.commit({}), "MLS_SESSION_CLOSED");
  const out = await a!.commit({});
  await rejectsWith(b!.processMessage(out.commit), "MLS_SESSION_CLOSED");
});

test("unknown suites fail with MLS_UNSUPPORTED_SUITE; a key package of another suite cannot be added", async () => {
  await rejectsWith(MlsSession.create(GROUP, person("A"), { suite: "MLS_128_DHKEMP256_AES128GCM_SHA256_P256" as MlsSuiteName }), "MLS_UNSUPPORTED_SUITE");
  await rejectsWith(createKeyPackage(person("A"), { suite: "nope" as MlsSuiteName }), "MLS_UNSUPPORTED_SUITE");
});

let xwingInstalled = true;
try {
  await import("@hpke/hybridkem-x-wing" as string);
} catch {
  xwingInstalled = false;
}

test(
  "the X-Wing post-quantum suite without its optional package fails with MLS_UNSUPPORTED_SUITE naming the package",
  { skip: xwingInstalled ? "@hpke/hybridkem-x-wing is installed; the X-Wing group test runs instead" : false },
  async () => {
    for (const attempt of [
      () => MlsSession.create(GROUP, person("A"), { suite: MLS_SUITES.postQuantum }),
      () => createKeyPackage(person("A"), { suite: MLS_SUITES.postQuantum }),
    ]) {
      await assert.rejects(attempt, (e: unknown) => isProtocolError(e, "MLS_UNSUPPORTED_SUITE") && /@hpke\/hybridkem-x-wing/.test(e.message));
    }
  },
);

test(
  "an X-Wing group of three agrees on epoch, authenticator and exporter, and survives a removal",
  { skip: xwingInstalled ? false : "optional package @hpke/hybridkem-x-wing@0.7.0 is not installed" },
  async () => {
    const [a, b, c] = await formGroup([person("A"), person("B"), person("C")], MLS_SUITES.postQuantum);
    await assertAgree([a!, b!, c!]);
    const kp = await createKeyPackage(person("D"));
    await rejectsWith(a!.commit({ add: [kp.keyPackage] }), "MLS_UNSUPPORTED_SUITE");
    await commitAndDeliver(a!, [b!], { remove: [2] });
    await assertAgree([a!, b!]);
  },
);
