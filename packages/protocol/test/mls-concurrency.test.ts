// Concurrency: competing commits at one epoch (resolved by the delivery service), and
// operations started together on one session (serialised by the session).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MlsSession,
  bytesToHex,
  createKeyPackage,
  isProtocolError,
  peekMessage,
  utf8,
  type MemberIdentity,
} from "../src/index.js";

const person = (name: string): MemberIdentity => ({ kind: "person", memberId: `id-${name}`, displayName: name });

/** The delivery service's rule (RFC 9420 §14): the first commit received for an epoch wins. */
class ToyDeliveryService {
  #epoch: bigint;
  readonly log: Uint8Array[] = [];
  constructor(epoch: bigint) {
    this.#epoch = epoch;
  }
  submit(commit: Uint8Array): boolean {
    const m = peekMessage(commit);
    if (m.contentType !== "commit" || m.epoch !== this.#epoch) return false;
    this.#epoch++;
    this.log.push(commit);
    return true;
  }
}

async function formGroup(names: string[]): Promise<MlsSession[]> {
  const [first, ...rest] = names;
  const founder = await MlsSession.create(utf8.encode("g"), person(first!));
  const kps = await Promise.all(rest.map((n) => createKeyPackage(person(n))));
  const out = await founder.commit({ add: kps.map((k) => k.keyPackage) });
  await founder.applyPendingCommit();
  return [founder, ...(await Promise.all(kps.map((k) => MlsSession.joinFromWelcome(out.welcome!, k.secret))))];
}

test("two members commit at the same epoch: the DS takes the first, the loser drops its commit, follows the winner and commits again", async () => {
  const [a, b, c] = await formGroup(["A", "B", "C"]);
  const ds = new ToyDeliveryService(a!.epoch);
  const newcomer = await createKeyPackage(person("D"));

  // Both build a commit for epoch 1 before seeing the other's.
  const [fromA, fromB] = await Promise.all([a!.commit({ add: [newcomer.keyPackage] }), b!.commit({ remove: [2] })]);
  assert.equal(fromA.epoch, 1n);
  assert.equal(fromB.epoch, 1n);
  assert.equal(ds.submit(fromA.commit), true);
  assert.equal(ds.submit(fromB.commit), false, "the second commit for epoch 1 is refused");

  await a!.applyPendingCommit();
  const seenByB = await b!.processMessage(fromA.commit);
  assert.equal(seenByB.kind, "commit");
  if (seenByB.kind === "commit") {
    assert.equal(seenByB.discardedPendingCommit, true);
    assert.deepEqual(seenByB.added, [3]);
  }
  assert.equal(b!.hasPendingCommit, false);
  await c!.processMessage(fromA.commit);
  const d = await MlsSession.joinFromWelcome(fromA.welcome!, newcomer.secret);

  // The loser's stale commit can never be applied by anyone now.
  for (const s of [a!, c!, d]) {
    await assert.rejects(s.processMessage(fromB.commit), (e: unknown) => isProtocolError(e, "MLS_WRONG_EPOCH"));
  }

  // B retries at the new epoch and wins this time.
  const retry = await b!.commit({ remove: [2] });
  assert.equal(retry.epoch, 2n);
  assert.equal(ds.submit(retry.commit), true);
  await b!.processMessage(retry.commit); // the DS echo applies B's own commit
  await a!.processMessage(retry.commit);
  await d.processMessage(retry.commit);
  assert.equal((await c!.processMessage(retry.commit)).kind, "removed");

  const auth = bytesToHex(a!.epochAuthenticator);
  for (const s of [b!, d]) {
    assert.equal(s.epoch, 3n);
    assert.equal(bytesToHex(s.epochAuthenticator), auth);
  }
  assert.equal(ds.log.length, 2);
});

test("a commit and an incoming message started together on one session run one after the other", async () => {
  const [a, b] = await formGroup(["A", "B"]);
  const fromA = await a!.commit({});
  await a!.applyPendingCommit();
  // Not awaited in between: the session queues them, so B's commit builds on epoch 2.
  const [processed, own] = await Promise.all([b!.processMessage(fromA.commit), b!.commit({})]);
  assert.equal(processed.kind, "commit");
  assert.equal(own.epoch, 2n);
  await b!.applyPendingCommit();
  await a!.processMessage(own.commit);
  assert.equal(bytesToHex(a!.epochAuthenticator), bytesToHex(b!.epochAuthenticator));
});
