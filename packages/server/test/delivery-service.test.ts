import { test } from "node:test";
import assert from "node:assert/strict";
import { DeliveryService, type DeliveryOutput } from "../src/meetings/delivery-service.js";
import type { MemberIdentity } from "@conclave/protocol";

/** A fake MLS framing: byte 0 = 0xC0 for a commit, bytes 1..8 = epoch, rest = group id. */
function fakeCommit(groupId: Uint8Array, epoch: bigint): Uint8Array {
  const out = new Uint8Array(9 + groupId.length);
  out[0] = 0xc0;
  new DataView(out.buffer).setBigUint64(1, epoch);
  out.set(groupId, 9);
  return out;
}
const inspect = {
  peekCommit(bytes: Uint8Array) {
    if (bytes.length < 9) throw new Error("garbage");
    return { isCommit: bytes[0] === 0xc0, epoch: new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(1), groupId: bytes.subarray(9) };
  },
};
const person = (memberId: string): MemberIdentity => ({ kind: "person", memberId, displayName: memberId });
const kp = (id: string) => new TextEncoder().encode(`kp-${id}`);

function setup(commitTimeoutMs = 60_000) {
  const out: DeliveryOutput[] = [];
  const ds = new DeliveryService({ groupIdBase: new TextEncoder().encode("g"), inspect, emit: (o) => out.push(o), commitTimeoutMs });
  const take = (type: DeliveryOutput["type"], to?: string) => {
    const i = out.findIndex((o) => o.type === type && (to === undefined || o.to === to));
    assert.ok(i >= 0, `expected a ${type}${to ? ` to ${to}` : ""}; got ${JSON.stringify(out.map((o) => `${o.type}->${o.to}`))}`);
    return out.splice(i, 1)[0]!;
  };
  /** Founds the group with `a` and adds `others` one commit at a time, committed by a. */
  const build = (a: string, ...others: string[]) => {
    ds.join(a, person(a), kp(a));
    const create = take("create", a) as Extract<DeliveryOutput, { type: "create" }>;
    assert.deepEqual(ds.groupCreated(a, create.groupId), { ok: true });
    for (const o of others) {
      ds.join(o, person(o), kp(o));
      const req = take("commitRequest") as Extract<DeliveryOutput, { type: "commitRequest" }>;
      ds.commit(req.to, { epoch: ds.epoch, commit: fakeCommit(create.groupId, ds.epoch), welcome: new Uint8Array([1]), added: [o], removed: [] });
      take("commitAccepted", req.to);
      take("welcome", o);
      assert.ok(ds.welcomeProcessed(o));
    }
    out.length = 0;
    return create.groupId;
  };
  return { ds, out, take, build };
}

test("the first participant is asked to create the group; the next is added by a commit and gets the Welcome", () => {
  const { ds, take, out } = setup();
  ds.join("a", person("a"), kp("a"));
  const create = take("create", "a") as Extract<DeliveryOutput, { type: "create" }>;
  ds.groupCreated("a", create.groupId);
  ds.join("b", person("b"), kp("b"));
  const req = take("commitRequest", "a") as Extract<DeliveryOutput, { type: "commitRequest" }>;
  assert.deepEqual(req.add.map((x) => x.memberId), ["b"]);
  ds.commit("a", { epoch: 0n, commit: fakeCommit(create.groupId, 0n), welcome: new Uint8Array([7]), added: ["b"], removed: [] });
  take("commitAccepted", "a");
  const w = take("welcome", "b") as Extract<DeliveryOutput, { type: "welcome" }>;
  assert.equal(w.epoch, 1n);
  assert.equal(ds.epoch, 1n);
  assert.equal(out.filter((o) => o.to === "b" && o.type === "commit").length, 0, "the joiner gets the Welcome, not the commit");
});

test("the first commit for an epoch wins; a second one for the same epoch is rejected and the group continues", () => {
  const { ds, take, build } = setup();
  const g = build("a", "b", "c");
  const epoch = ds.epoch;
  ds.leave("c");
  take("commitRequest", "a");
  ds.commit("b", { epoch, commit: fakeCommit(g, epoch), added: [], removed: ["c"] });
  take("commitAccepted", "b");
  take("commit", "a");
  ds.commit("a", { epoch, commit: fakeCommit(g, epoch), added: [], removed: ["c"] });
  const r = take("commitRejected", "a") as Extract<DeliveryOutput, { type: "commitRejected" }>;
  assert.match(r.reason, /stale epoch/);
  assert.equal(ds.epoch, epoch + 1n);
  assert.deepEqual(ds.members, ["a", "b"]);
});

test("a commit for a wrong epoch, a non-commit, another group's commit and garbage are rejected without changing the epoch", () => {
  const { ds, take, build } = setup();
  const g = build("a", "b");
  ds.join("c", person("c"), kp("c"));
  take("commitRequest", "a");
  const epoch = ds.epoch;
  const bad: Uint8Array[] = [fakeCommit(g, epoch + 5n), fakeCommit(new TextEncoder().encode("other"), epoch), new Uint8Array([1, 2]), (() => {
    const p = fakeCommit(g, epoch);
    p[0] = 0x01;
    return p;
  })()];
  for (const commit of bad) {
    ds.commit("b", { epoch, commit, welcome: new Uint8Array([1]), added: ["c"], removed: [] });
    take("commitRejected", "b");
  }
  assert.equal(ds.epoch, epoch);
  ds.commit("a", { epoch, commit: fakeCommit(g, epoch), welcome: new Uint8Array([1]), added: ["c"], removed: [] });
  take("commitAccepted", "a");
  assert.equal(ds.epoch, epoch + 1n);
});

test("commits that add someone not waiting, remove someone still present, or add without a Welcome are rejected", () => {
  const { ds, take, build } = setup();
  const g = build("a", "b");
  const epoch = ds.epoch;
  ds.commit("a", { epoch, commit: fakeCommit(g, epoch), welcome: new Uint8Array([1]), added: ["zed"], removed: [] });
  assert.match((take("commitRejected", "a") as Extract<DeliveryOutput, { type: "commitRejected" }>).reason, /cannot add/);
  ds.commit("a", { epoch, commit: fakeCommit(g, epoch), added: [], removed: ["b"] });
  assert.match((take("commitRejected", "a") as Extract<DeliveryOutput, { type: "commitRejected" }>).reason, /cannot remove/);
  ds.join("c", person("c"), kp("c"));
  take("commitRequest", "a");
  ds.commit("a", { epoch, commit: fakeCommit(g, epoch), added: ["c"], removed: [] });
  assert.match((take("commitRejected", "a") as Extract<DeliveryOutput, { type: "commitRejected" }>).reason, /Welcome/);
  assert.equal(ds.epoch, epoch);
});

test("a pending participant (waiting room) receives nothing but its own create/welcome", () => {
  const { ds, out, build } = setup();
  build("a", "b");
  ds.join("w", person("w"), kp("w"));
  assert.equal(out.filter((o) => o.to === "w").length, 0);
});

test("a committer that never answers is skipped after the deadline and the next member commits", async () => {
  const { ds, take, out, build } = setup(50);
  const g = build("a", "b");
  ds.join("c", person("c"), kp("c"));
  take("commitRequest", "a"); // a vanishes without answering
  await new Promise<void>((resolve) => {
    const iv = setInterval(() => {
      if (out.some((o) => o.type === "commitRequest" && o.to === "b")) {
        clearInterval(iv);
        resolve();
      }
    }, 5);
  });
  take("commitRequest", "b");
  ds.commit("b", { epoch: ds.epoch, commit: fakeCommit(g, ds.epoch), welcome: new Uint8Array([1]), added: ["c"], removed: [] });
  take("commitAccepted", "b");
  ds.close();
});

test("when the designated committer leaves mid-commit, the request goes to the next member at once", () => {
  const { ds, take, build } = setup();
  build("a", "b", "c");
  ds.join("d", person("d"), kp("d"));
  take("commitRequest", "a");
  ds.leave("a");
  const req = take("commitRequest", "b") as Extract<DeliveryOutput, { type: "commitRequest" }>;
  assert.deepEqual(req.remove, ["a"]);
  assert.deepEqual(req.add.map((x) => x.memberId), ["d"]);
});

test("when everyone leaves, the next participant founds a new group with a new id", () => {
  const { ds, take, build } = setup();
  const g1 = build("a", "b");
  ds.leave("a");
  ds.leave("b");
  ds.join("c", person("c"), kp("c"));
  const create = take("create", "c") as Extract<DeliveryOutput, { type: "create" }>;
  assert.notDeepEqual(create.groupId, g1);
  assert.equal(ds.epoch, 0n);
});

test("a member that fails to follow the group is removed and added again with its new key package", () => {
  const { ds, take, build } = setup();
  const g = build("a", "b", "c");
  ds.rejoin("c", kp("c2"));
  take("leftGroup", "c");
  const req = take("commitRequest", "a") as Extract<DeliveryOutput, { type: "commitRequest" }>;
  assert.deepEqual(req.remove, ["c"]);
  assert.deepEqual(req.add.map((x) => x.memberId), ["c"]);
  ds.commit("a", { epoch: ds.epoch, commit: fakeCommit(g, ds.epoch), welcome: new Uint8Array([1]), added: ["c"], removed: ["c"] });
  take("commitAccepted", "a");
  take("welcome", "c");
});

test("only the designated committer can report bad key packages, only of joiners in its request; the rest are asked for again", () => {
  const { ds, take, build } = setup();
  build("a", "b");
  ds.join("x", person("x"), kp("x"));
  ds.join("y", person("y"), kp("y"));
  take("commitRequest", "a");
  assert.deepEqual(ds.rejectKeyPackages("b", ["x"]), [], "not the committer");
  assert.deepEqual(ds.rejectKeyPackages("a", ["x", "zed"]), ["x"]);
  const again = take("commitRequest", "a") as Extract<DeliveryOutput, { type: "commitRequest" }>;
  assert.deepEqual(again.add.map((m) => m.memberId), ["y"]);
});
