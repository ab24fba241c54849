import { test } from "node:test";
import assert from "node:assert/strict";
import { DeliveryService, type DeliveryEvent, type DeliveryOutput } from "../src/meetings/delivery-service.js";
import { createKeyPackage, MlsSession, type CreatedKeyPackage, type MemberIdentity } from "@conclave/protocol";

// The delivery service with real MLS members (ts-mls through MlsSession): every commit it checks
// is one a member really built, or one a test tampered with.

type Out<T extends DeliveryOutput["type"]> = Extract<DeliveryOutput, { type: T }>;

const person = (memberId: string): MemberIdentity => ({ kind: "person", memberId, displayName: memberId.toUpperCase() });

class Peer {
  mls: MlsSession | null = null;
  private constructor(
    readonly id: string,
    public kp: CreatedKeyPackage,
  ) {}
  static async create(id: string): Promise<Peer> {
    return new Peer(id, await createKeyPackage(person(id)));
  }
  async freshKeyPackage(): Promise<Uint8Array> {
    this.kp = await createKeyPackage(person(this.id));
    return this.kp.keyPackage;
  }
  leafOf(memberId: string): number {
    const m = this.mls!.members().find((x) => x.identity.memberId === memberId);
    assert.ok(m, `${this.id} has no leaf for ${memberId}`);
    return m.leafIndex;
  }
}

function setup(opts: { commitTimeoutMs?: number; ackTimeoutMs?: number; joinBatchMs?: number } = {}) {
  const out: DeliveryOutput[] = [];
  const events: DeliveryEvent[] = [];
  const ds = new DeliveryService({
    groupIdBase: new TextEncoder().encode("g"),
    emit: (o) => out.push(o),
    onEvent: (e) => events.push(e),
    commitTimeoutMs: opts.commitTimeoutMs ?? 60_000,
    ackTimeoutMs: opts.ackTimeoutMs ?? 60_000,
    ...(opts.joinBatchMs !== undefined ? { joinBatchMs: opts.joinBatchMs } : {}),
  });
  const peers = new Map<string, Peer>();
  const find = <T extends DeliveryOutput["type"]>(type: T, to?: string): Out<T> | undefined =>
    out.find((o) => o.type === type && (to === undefined || o.to === to)) as Out<T> | undefined;
  const take = <T extends DeliveryOutput["type"]>(type: T, to?: string): Out<T> => {
    const i = out.findIndex((o) => o.type === type && (to === undefined || o.to === to));
    assert.ok(i >= 0, `expected a ${type}${to ? ` to ${to}` : ""}; got ${JSON.stringify(out.map((o) => `${o.type}->${o.to}`))}`);
    return out.splice(i, 1)[0] as Out<T>;
  };
  const join = async (id: string): Promise<Peer> => {
    const p = await Peer.create(id);
    peers.set(id, p);
    ds.join(id, person(id), p.kp.keyPackage);
    return p;
  };
  /** The member asked to commit builds exactly the requested commit (or a tampered one). */
  const commitFor = async (req: Out<"commitRequest">, tamper?: (c: Uint8Array) => Uint8Array) => {
    const committer = peers.get(req.to)!;
    const built = await committer.mls!.commit({ add: req.add.map((a) => a.keyPackage), remove: req.remove.map((id) => committer.leafOf(id)) });
    const commit = tamper ? tamper(built.commit) : built.commit;
    await ds.commit(req.to, {
      epoch: req.epoch,
      commit,
      ...(built.welcome ? { welcome: built.welcome } : {}),
      added: req.add.map((a) => a.memberId),
      removed: req.remove,
    });
    return { commit, welcome: built.welcome };
  };
  /** Commits held back from silent (lagging) members, in order. */
  const held: Out<"commit">[] = [];
  /** Delivers an accepted commit: the author applies it, everyone else processes it and acks. */
  const deliver = async (req: Out<"commitRequest">, fail: string[] = [], silent: string[] = []) => {
    take("commitAccepted", req.to);
    const author = peers.get(req.to)!;
    await author.mls!.applyPendingCommit();
    const drain = <T extends DeliveryOutput["type"]>(type: T): Out<T>[] => {
      const mine = out.filter((o): o is Out<T> => o.type === type);
      for (const m of mine) out.splice(out.indexOf(m), 1);
      return mine;
    };
    for (const c of drain("commit")) {
      const p = peers.get(c.to)!;
      if (silent.includes(c.to)) {
        held.push(c);
        continue;
      }
      if (fail.includes(c.to)) {
        ds.failed(c.to, c.epoch, await p.freshKeyPackage());
        continue;
      }
      await p.mls!.processMessage(c.commit);
      ds.ack(c.to, c.epoch, p.mls!.transcriptHash);
    }
    for (const w of drain("welcome")) {
      const p = peers.get(w.to)!;
      p.mls = await MlsSession.joinFromWelcome(w.welcome, p.kp.secret);
      ds.welcomeProcessed(w.to, p.mls.epoch, p.mls.transcriptHash);
    }
  };
  /** Founds the group with `a` and adds `others` one commit at a time, committed by a. */
  const build = async (a: string, ...others: string[]) => {
    const founder = await join(a);
    const create = take("create", a);
    founder.mls = await MlsSession.create(create.groupId, person(a));
    assert.deepEqual(await ds.groupCreated(a, create.groupId, await founder.mls.publicGroupInfo()), { ok: true });
    for (const o of others) {
      await join(o);
      await waitFor("the commit request", () => find("commitRequest") !== undefined);
      const req = take("commitRequest");
      await commitFor(req);
      await deliver(req);
    }
    out.length = 0;
  };
  const waitFor = (what: string, check: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const iv = setInterval(() => {
        if (check()) {
          clearInterval(iv);
          resolve();
        } else if (Date.now() - started > 10_000) {
          clearInterval(iv);
          reject(new Error(`timed out waiting for ${what}`));
        }
      }, 5);
    });
  return { ds, out, events, peers, held, find, take, join, commitFor, deliver, build, waitFor };
}

test("the founder's public GroupInfo opens the group; a joiner is added by the designated committer's checked commit and gets the Welcome", async () => {
  const { ds, take, out, join, commitFor, peers } = setup();
  const a = await join("a");
  const create = take("create", "a");
  a.mls = await MlsSession.create(create.groupId, person("a"));
  assert.deepEqual(await ds.groupCreated("a", create.groupId, await a.mls.publicGroupInfo()), { ok: true });
  take("inGroup", "a");
  await join("b");
  const req = take("commitRequest", "a");
  assert.deepEqual(req.add.map((x) => x.memberId), ["b"]);
  await commitFor(req);
  take("commitAccepted", "a");
  const w = take("welcome", "b");
  assert.equal(w.epoch, 1n);
  assert.equal(ds.epoch, 1n);
  assert.equal(out.filter((o) => o.to === "b" && o.type === "commit").length, 0, "the joiner gets the Welcome, not the commit");
  // Nobody else holds epoch 0, so the commit is confirmed at once.
  take("epochConfirmed", "a");
  const bob = peers.get("b")!;
  bob.mls = await MlsSession.joinFromWelcome(w.welcome, bob.kp.secret);
  assert.equal(ds.welcomeProcessed("b", bob.mls.epoch, bob.mls.transcriptHash), true);
  assert.deepEqual(ds.members, ["a", "b"]);
});

test("a GroupInfo that does not verify, or whose member is not the founder, is refused and the founder expelled; the next participant founds the group", async () => {
  const { ds, take, events, join } = setup();
  await join("a");
  const create = take("create", "a");
  const impostor = await MlsSession.create(create.groupId, person("someone-else"));
  const r = await ds.groupCreated("a", create.groupId, await impostor.publicGroupInfo());
  assert.equal(r.ok, false);
  assert.equal(take("expel", "a").code, "BAD_COMMIT");
  assert.ok(events.some((e) => e.event === "groupInfoRefused" && e.memberId === "a"));
  await join("b");
  const again = take("create", "b");
  const bob = await MlsSession.create(again.groupId, person("b"));
  const tampered = await bob.publicGroupInfo();
  tampered[tampered.length - 1]! ^= 1; // the signature
  assert.equal((await ds.groupCreated("b", again.groupId, tampered)).ok, false);
  take("expel", "b");
});

test("only the member asked may commit, only for the epoch it was asked; others are rejected without effect", async () => {
  const { ds, take, build, join, peers, commitFor } = setup();
  await build("a", "b");
  await join("c");
  const req = take("commitRequest", "a");
  const bob = peers.get("b")!;
  const built = await bob.mls!.commit({ add: req.add.map((x) => x.keyPackage) });
  await ds.commit("b", { epoch: req.epoch, commit: built.commit, welcome: built.welcome!, added: ["c"], removed: [] });
  assert.match(take("commitRejected", "b").reason, /not asked/);
  await bob.mls!.discardPendingCommit();
  assert.equal(ds.epoch, req.epoch);
  await commitFor(req);
  take("commitAccepted", "a");
  assert.equal(ds.epoch, req.epoch + 1n);
});

test("a commit that removes a member nobody asked to remove is refused, counts against its author, and the next member is asked", async () => {
  const { ds, take, build, join, peers, events } = setup();
  await build("a", "b", "c");
  await join("d");
  const req = take("commitRequest", "a");
  const alice = peers.get("a")!;
  // Mallory-style: the signaling lists say "removed: []" but the commit removes Cy.
  const built = await alice.mls!.commit({ add: req.add.map((x) => x.keyPackage), remove: [alice.leafOf("c")] });
  await ds.commit("a", { epoch: req.epoch, commit: built.commit, welcome: built.welcome!, added: ["d"], removed: [] });
  assert.match(take("commitRejected", "a").reason, /removes leaf .* did not ask for/);
  assert.equal(ds.epoch, req.epoch, "nothing forwarded");
  const next = take("commitRequest");
  assert.equal(next.to, "b", "the author is demoted; the next member is asked");
  assert.ok(events.some((e) => e.event === "commitRefused" && e.memberId === "a"));
});

test("a tampered signature is refused before anyone sees it and demotes its author; a second refusal expels it", async () => {
  const { ds, take, out, build, join, peers, commitFor, events } = setup();
  await build("a", "b");
  await join("d");
  const req = take("commitRequest", "a");
  // PublicMessage ends: signature (64 B), confirmation tag (32 B), membership tag (32 B), each
  // after a length byte. Byte -70 is in the signature.
  const flipSignature = (c: Uint8Array) => {
    const x = c.slice();
    x[x.length - 70]! ^= 0x01;
    return x;
  };
  await commitFor(req, flipSignature);
  assert.match(take("commitRejected", "a").reason, /signature/);
  await peers.get("a")!.mls!.discardPendingCommit();
  assert.equal(out.filter((o) => o.type === "commit").length, 0, "nothing forwarded");
  const req2 = take("commitRequest", "b");
  await ds.commit("b", { epoch: req2.epoch, commit: new Uint8Array([0, 1, 2]), added: ["d"], removed: [] });
  take("commitRejected", "b");
  // Both are demoted now: the senior one is asked again, and its second refusal expels it.
  const req3 = take("commitRequest", "a");
  await ds.commit("a", { epoch: req3.epoch, commit: new Uint8Array([9]), added: ["d"], removed: [] });
  take("commitRejected", "a");
  assert.equal(take("expel", "a").code, "BAD_COMMIT");
  assert.equal(events.filter((e) => e.event === "commitRefused").length, 3);
  assert.equal(ds.epoch, req.epoch);
});

test("a commit members cannot apply is voided when most of them report it: the group rolls back, the author is expelled, another member commits the same epoch", async () => {
  const { ds, take, out, build, join, peers, commitFor, events } = setup();
  await build("a", "b", "c", "d");
  await join("e");
  const req = take("commitRequest", "a");
  const epoch = req.epoch;
  await commitFor(req);
  take("commitAccepted", "a");
  assert.equal(ds.awaitingVerdict, true);
  // b and c report failure (as if the path or tags were corrupt); d had applied it.
  const d = peers.get("d")!;
  await d.mls!.processMessage(take("commit", "d").commit);
  ds.ack("d", epoch, d.mls!.transcriptHash);
  ds.failed("b", epoch, await peers.get("b")!.freshKeyPackage());
  assert.equal(ds.awaitingVerdict, true, "one failure against one ack decides nothing yet");
  ds.failed("c", epoch, await peers.get("c")!.freshKeyPackage());
  assert.equal(ds.awaitingVerdict, false);
  assert.equal(ds.epoch, epoch, "back at the epoch before the voided commit");
  for (const id of ["b", "c", "d"]) assert.equal(take("rollback", id).epoch, epoch);
  assert.equal(take("expel", "a").code, "BAD_COMMIT");
  assert.ok(events.some((e) => e.event === "commitVoided" && e.memberId === "a"));
  // d returns to the epoch; b takes over and commits the same epoch: the joiner and a's removal.
  await d.mls!.revertEpoch();
  const again = take("commitRequest", "b");
  assert.equal(again.epoch, epoch);
  assert.deepEqual(again.remove, ["a"]);
  take("welcome", "e"); // the voided Welcome
  assert.equal(again.add.length, 0, "the joiner of the voided commit waits for a fresh key package");
  await commitFor(again);
  take("commitAccepted", "b");
  for (const id of ["c", "d"]) assert.equal(take("commit", id).epoch, epoch);
  assert.ok(!out.some((o) => o.type === "expel" && o.to !== "a"));
});

test("one member falsely reporting a good commit cannot void it: the epoch is confirmed and the reporter is added again", async () => {
  const { ds, take, build, join, peers, commitFor, deliver, events } = setup();
  await build("a", "b", "c", "d");
  await join("e");
  const req = take("commitRequest", "a");
  await commitFor(req);
  await deliver(req, ["b"]);
  assert.equal(ds.awaitingVerdict, false);
  assert.equal(take("epochConfirmed", "b").epoch, req.epoch + 1n);
  take("leftGroup", "b");
  assert.ok(!events.some((e) => e.event === "memberExpelled"), "the honest committer stays");
  assert.ok(events.some((e) => e.event === "commitFailuresOutvoted"));
  // The reporter's old leaf is removed and its fresh key package added by the next commit.
  const next = take("commitRequest");
  assert.deepEqual(next.remove, ["b"]);
  assert.deepEqual(next.add.map((x) => x.memberId), ["b"]);
  assert.notEqual(next.to, "a", "the author whose commit was reported goes to the back");
  void peers;
});

test("no next commit is asked for until the last one is confirmed; a silent majority is decided at the deadline", async () => {
  const { ds, take, find, build, join, commitFor, waitFor } = setup({ ackTimeoutMs: 100 });
  await build("a", "b", "c");
  await join("d");
  const req = take("commitRequest", "a");
  await commitFor(req);
  take("commitAccepted", "a");
  await join("e");
  assert.equal(find("commitRequest"), undefined, "e waits for the verdict on d's commit");
  await waitFor("the deadline", () => !ds.awaitingVerdict);
  assert.equal(ds.epoch, req.epoch + 1n, "nobody reported a failure: confirmed");
  take("epochConfirmed", "b");
  take("commitRequest");
  ds.close();
});

test("a committer that never answers is skipped after the deadline; a sole candidate that keeps missing it is expelled", async () => {
  const { ds, take, find, build, join, waitFor, events } = setup({ commitTimeoutMs: 40 });
  await build("a", "b");
  await join("c");
  take("commitRequest", "a"); // a vanishes without answering
  await waitFor("b to be asked", () => find("commitRequest", "b") !== undefined);
  take("commitRequest", "b");
  ds.leave("b");
  // Only a is left to commit, and it never does.
  await waitFor("a to be expelled", () => find("expel", "a") !== undefined);
  assert.equal(find("expel", "a")!.code, "COMMIT_TIMEOUT");
  assert.ok(events.some((e) => e.event === "memberExpelled" && e.code === "COMMIT_TIMEOUT"));
  // The tree is empty: c founds a new group.
  assert.ok(find("create", "c"));
  ds.close();
});

test("when the designated committer leaves mid-commit, the request goes to the next member at once", async () => {
  const { ds, take, build, join } = setup();
  await build("a", "b", "c");
  await join("d");
  take("commitRequest", "a");
  ds.leave("a");
  const req = take("commitRequest", "b");
  assert.deepEqual(req.remove, ["a"]);
  assert.deepEqual(req.add.map((x) => x.memberId), ["d"]);
});

test("when everyone leaves, the next participant founds a new group with a new id", async () => {
  const { ds, take, build, join } = setup();
  await build("a", "b");
  const g1 = ds.groupId;
  ds.leave("a");
  ds.leave("b");
  await join("c");
  const create = take("create", "c");
  assert.notDeepEqual(create.groupId, g1);
  assert.equal(ds.epoch, 0n);
});

test("a member that fails to follow the group is removed and added again with its new key package", async () => {
  const { ds, take, build, peers, commitFor } = setup();
  await build("a", "b", "c");
  ds.rejoin("c", await peers.get("c")!.freshKeyPackage());
  take("leftGroup", "c");
  const req = take("commitRequest", "a");
  assert.deepEqual(req.remove, ["c"]);
  assert.deepEqual(req.add.map((x) => x.memberId), ["c"]);
  await commitFor(req);
  take("commitAccepted", "a");
  take("welcome", "c");
});

test("only the designated committer can report bad key packages, only of joiners in its request; the rest are asked for again", async () => {
  const { ds, take, build, join } = setup();
  await build("a", "b");
  await join("x");
  await join("y");
  take("commitRequest", "a");
  assert.deepEqual(ds.rejectKeyPackages("b", ["x"]), [], "not the committer");
  assert.deepEqual(ds.rejectKeyPackages("a", ["x", "zed"]), ["x"]);
  const again = take("commitRequest", "a");
  assert.deepEqual(again.add.map((m) => m.memberId), ["y"]);
});

test("a pending participant (waiting room) receives nothing but its own create/welcome", async () => {
  const { ds, out, build } = setup();
  await build("a", "b");
  ds.join("w", person("w"), (await createKeyPackage(person("w"))).keyPackage);
  assert.equal(out.filter((o) => o.to === "w").length, 0);
  ds.close();
});

test("joins within the batching window are asked for in one commit, once the earliest has waited the window", async () => {
  const { ds, out, find, take, build, waitFor } = setup({ joinBatchMs: 300 });
  await build("a");
  const kps = await Promise.all(["b", "c", "d"].map((id) => createKeyPackage(person(id))));
  const started = performance.now();
  ["b", "c", "d"].forEach((id, i) => ds.join(id, person(id), kps[i]!.keyPackage));
  assert.equal(find("commitRequest"), undefined, "no request before the window closes");
  await waitFor("the commit request", () => find("commitRequest") !== undefined);
  assert.ok(performance.now() - started >= 290, "the request waited for the window");
  const req = take("commitRequest", "a");
  assert.deepEqual(req.add.map((x) => x.memberId), ["b", "c", "d"]);
  assert.equal(out.filter((o) => o.type === "commitRequest").length, 0);
});

test("a leave is asked for at once, with no window, and takes the joins waiting in theirs along", async () => {
  const { ds, find, take, build } = setup({ joinBatchMs: 1500 });
  await build("a", "b", "c");
  const kp = await createKeyPackage(person("d"));
  ds.join("d", person("d"), kp.keyPackage);
  assert.equal(find("commitRequest"), undefined, "the join waits in its window");
  ds.leave("c");
  const req = take("commitRequest", "a");
  assert.deepEqual(req.remove, ["c"]);
  assert.deepEqual(req.add.map((x) => x.memberId), ["d"]);
});

test("a member that has not acknowledged the current epoch is not asked to commit while an up-to-date one can; it catches up from its queued commits", async () => {
  const { ds, peers, held, take, join, commitFor, deliver, build } = setup();
  await build("a", "b", "c");
  // b stops processing (a frozen tab, a slow link): d's add is confirmed without it.
  await join("d");
  const add = take("commitRequest", "a");
  await commitFor(add);
  await deliver(add, [], ["b"]);
  assert.equal(ds.awaitingVerdict, false, "one silent member does not hold the verdict");
  // a leaves: b is the most senior, but behind; c is asked.
  ds.leave("a");
  const removal = take("commitRequest");
  assert.equal(removal.to, "c", "the up-to-date member commits, not the lagging senior one");
  await commitFor(removal);
  await deliver(removal, [], ["b"]);
  // b wakes up and processes what was queued for it, in order: it reaches everyone's epoch.
  const b = peers.get("b")!;
  for (const c of held.splice(0)) {
    await b.mls!.processMessage(c.commit);
    ds.ack("b", c.epoch, b.mls!.transcriptHash);
  }
  assert.equal(b.mls!.epoch, ds.epoch);
  assert.deepEqual(b.mls!.epochAuthenticator, peers.get("c")!.mls!.epochAuthenticator);
  // Up to date again: as the most senior member it is asked first.
  await join("e");
  assert.equal(take("commitRequest").to, "b");
});
