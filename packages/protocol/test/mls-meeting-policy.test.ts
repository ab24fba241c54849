// The meeting's encryption type is bound into the MLS group (a GroupContext extension) and every
// member enforces it, whatever a server or a rogue member asks for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createGroup } from "ts-mls/clientState.js";
import { createCommit } from "ts-mls/createCommit.js";
import { generateKeyPackage } from "ts-mls/keyPackage.js";
import { decodeMlsMessage, encodeMlsMessage } from "ts-mls/message.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { getCiphersuiteFromName } from "ts-mls/crypto/ciphersuite.js";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import {
  MEETING_POLICY_EXTENSION_TYPE,
  MLS_SUITES,
  MlsSession,
  createKeyPackage,
  decodeMeetingPolicy,
  encodeMeetingPolicy,
  encodeMemberIdentity,
  isProtocolError,
  utf8,
  type MemberIdentity,
  type ProtocolErrorCode,
} from "../src/index.js";

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });
const room: MemberIdentity = {
  kind: "connector",
  memberId: "room-1",
  displayName: "Room 4",
  connector: "sip",
  farLeg: { protocol: "SIP", signaling: "tls", media: "srtp", suite: "AES_CM_128_HMAC_SHA1_80" },
};
const GROUP = utf8.encode("conclave:42#1");

async function rejectsWith(p: Promise<unknown>, code: ProtocolErrorCode, why?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (why) assert.match(e.message, why);
    return true;
  });
}

test("the policy extension is two strict bytes: version 1, then 0 e2ee or 1 enhanced", () => {
  assert.deepEqual(encodeMeetingPolicy({ encryption: "e2ee" }), Uint8Array.of(1, 0));
  assert.deepEqual(encodeMeetingPolicy({ encryption: "enhanced" }), Uint8Array.of(1, 1));
  assert.deepEqual(decodeMeetingPolicy(Uint8Array.of(1, 1)), { encryption: "enhanced" });
  for (const bad of [[], [1], [1, 0, 0], [2, 0], [1, 2]]) {
    assert.throws(() => decodeMeetingPolicy(Uint8Array.from(bad)), (e: unknown) => isProtocolError(e, "MLS_BAD_MESSAGE"));
  }
});

test("every member reads the group's encryption from the group itself, and an e2ee group refuses to add a connector", async () => {
  const host = await MlsSession.create(GROUP, person("Host"), { encryption: "e2ee" });
  assert.equal(host.encryption, "e2ee");
  const guest = await createKeyPackage(person("Guest"));
  const out = await host.commit({ add: [guest.keyPackage] });
  await host.applyPendingCommit();
  const g = await MlsSession.joinFromWelcome(out.welcome!, guest.secret, { expectedEncryption: "e2ee" });
  assert.equal(g.encryption, "e2ee");
  const connectorKp = await createKeyPackage(room);
  await rejectsWith(host.commit({ add: [connectorKp.keyPackage] }), "MLS_BAD_CREDENTIAL", /end-to-end encrypted group admits no connectors/);
  await rejectsWith(MlsSession.create(GROUP, room, { encryption: "e2ee" }), "MLS_BAD_CREDENTIAL");
  assert.equal(host.epoch, 1n, "nothing was committed");
});

test("an enhanced group admits a connector, and every member sees its far leg in the member list", async () => {
  const host = await MlsSession.create(GROUP, person("Host"), { encryption: "enhanced" });
  const kp = await createKeyPackage(room);
  const out = await host.commit({ add: [kp.keyPackage] });
  await host.applyPendingCommit();
  const c = await MlsSession.joinFromWelcome(out.welcome!, kp.secret, { expectedEncryption: "enhanced" });
  for (const s of [host, c]) assert.deepEqual(s.members().map((m) => m.identity), [person("Host"), room]);
});

test("a joiner refuses a group whose encryption differs from what it was told, or that has no policy", async () => {
  const host = await MlsSession.create(GROUP, person("Host"), { encryption: "enhanced" });
  const kp = await createKeyPackage(person("Guest"));
  const out = await host.commit({ add: [kp.keyPackage] });
  await rejectsWith(MlsSession.joinFromWelcome(out.welcome!, kp.secret, { expectedEncryption: "e2ee" }), "MLS_WELCOME_REJECTED", /group is enhanced/);

  // A group made without the extension (not by a Conclave founder).
  const raw = await rawGroup([]);
  const kp2 = await createKeyPackage(person("Guest"));
  const welcome = await rawAdd(raw, kp2.keyPackage);
  await rejectsWith(MlsSession.joinFromWelcome(welcome.welcome, kp2.secret), "MLS_WELCOME_REJECTED", /meeting policy/);
});

test("a rogue member's commit adding a connector to an e2ee group is refused by every honest member", async () => {
  // The rogue founder runs raw ts-mls, so no Conclave check stops it; the honest member does.
  const raw = await rawGroup([{ extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption: "e2ee" }) }]);
  const honestKp = await createKeyPackage(person("Honest"));
  const first = await rawAdd(raw, honestKp.keyPackage);
  const honest = await MlsSession.joinFromWelcome(first.welcome, honestKp.secret, { expectedEncryption: "e2ee" });
  assert.equal(honest.epoch, 1n);
  const connectorKp = await createKeyPackage(room);
  const second = await rawAdd(raw, connectorKp.keyPackage);
  await rejectsWith(honest.processMessage(second.commit), "MLS_COMMIT_REJECTED", /adds a connector/);
  assert.equal(honest.epoch, 1n, "the commit was not applied");
  assert.deepEqual(honest.members().map((m) => m.identity.kind), ["person", "person"]);
  // The connector itself, told the meeting is e2ee or not, cannot join that group either.
  await rejectsWith(MlsSession.joinFromWelcome(second.welcome, connectorKp.secret), "MLS_WELCOME_REJECTED", /holds a connector/);
});

test("a commit that changes the group's encryption policy is refused", async () => {
  const raw = await rawGroup([{ extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption: "e2ee" }) }]);
  const honestKp = await createKeyPackage(person("Honest"));
  const first = await rawAdd(raw, honestKp.keyPackage);
  const honest = await MlsSession.joinFromWelcome(first.welcome, honestKp.secret);
  const cs = await suite();
  const result = await createCommit(
    { state: raw.state, cipherSuite: cs },
    {
      wireAsPublicMessage: true,
      extraProposals: [
        {
          proposalType: "group_context_extensions",
          groupContextExtensions: { extensions: [{ extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption: "enhanced" }) }] },
        },
      ],
    },
  );
  await rejectsWith(honest.processMessage(encodeMlsMessage(result.commit)), "MLS_COMMIT_REJECTED", /encryption policy/);
  assert.equal(honest.encryption, "e2ee");
});

// ---- raw ts-mls: a rogue member that skips every Conclave check ------------------------------

type RawState = Awaited<ReturnType<typeof createGroup>>;

function suite() {
  return getCiphersuiteImpl(getCiphersuiteFromName(MLS_SUITES.default));
}

async function rawGroup(extensions: Parameters<typeof createGroup>[3]): Promise<{ state: RawState }> {
  const cs = await suite();
  const caps = defaultCapabilities();
  caps.extensions = [...caps.extensions, MEETING_POLICY_EXTENSION_TYPE];
  const { publicPackage, privatePackage } = await generateKeyPackage(
    { credentialType: "basic", identity: encodeMemberIdentity(person("Rogue")) },
    caps,
    { notBefore: 0n, notAfter: 2n ** 62n },
    [],
    cs,
  );
  return { state: await createGroup(GROUP, publicPackage, privatePackage, extensions, cs) };
}

async function rawAdd(raw: { state: RawState }, keyPackage: Uint8Array): Promise<{ commit: Uint8Array; welcome: Uint8Array }> {
  const cs = await suite();
  const decoded = decodeMlsMessage(keyPackage, 0)![0];
  if (decoded.wireformat !== "mls_key_package") throw new Error("not a key package");
  const result = await createCommit(
    { state: raw.state, cipherSuite: cs },
    { wireAsPublicMessage: true, ratchetTreeExtension: true, extraProposals: [{ proposalType: "add", add: { keyPackage: decoded.keyPackage } }] },
  );
  raw.state = result.newState;
  return {
    commit: encodeMlsMessage(result.commit),
    welcome: encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: result.welcome! }),
  };
}
