// The live meeting fans a commit out once-encoded: the serialised signaling frame is built once
// and the very same bytes go to every member (no per-member base64 or JSON of a commit that, at
// 1,000 members, is large). Real MLS members (MlsSession) drive a LiveMeeting through fake
// connections that record what they are sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyPackage, fromBase64, MlsSession, parseServerMessage, toBase64, type MemberIdentity, type ServerMessage } from "@conclave/protocol";
import { LiveMeeting, type ParticipantConnection } from "../src/meetings/live-meeting.js";

const person = (memberId: string): MemberIdentity => ({ kind: "person", memberId, displayName: memberId.toUpperCase() });

class FakeConnection implements ParticipantConnection {
  readonly messages: ServerMessage[] = [];
  readonly frames: Uint8Array[] = [];
  send(msg: ServerMessage): void {
    this.messages.push(msg);
  }
  sendFrame(frame: Uint8Array): void {
    this.frames.push(frame);
    this.messages.push(parseServerMessage(new TextDecoder().decode(frame)));
  }
  close(): void {}
  async next<T extends ServerMessage["type"]>(type: T): Promise<Extract<ServerMessage, { type: T }>> {
    for (let i = 0; i < 2000; i++) {
      const at = this.messages.findIndex((m) => m.type === type);
      if (at >= 0) return this.messages.splice(at, 1)[0] as Extract<ServerMessage, { type: T }>;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no ${type} message`);
  }
}

test("a commit is serialised once and the same bytes go to every member; so is a Welcome to its joiners", async (t) => {
  // A 300 ms batching window: joins made together are added by one commit.
  const live = new LiveMeeting({ meeting: { id: "12345678901", encryption: "e2ee", passcodeRequired: false, postQuantum: false, createdAt: Date.now() }, joinBatchMs: 300 });
  t.after(() => live.close());
  const conns = new Map<string, FakeConnection>();
  const mls = new Map<string, MlsSession>();
  const kps = new Map(await Promise.all(["a", "b", "c", "d", "e"].map(async (id) => [id, await createKeyPackage(person(id))] as const)));
  const join = (id: string) => {
    const c = new FakeConnection();
    conns.set(id, c);
    assert.deepEqual(live.join({ identity: person(id), keyPackage: kps.get(id)!.keyPackage, connection: c, role: "participant", banKey: id }), { ok: true, state: "joined" });
    return c;
  };
  const a = join("a");
  const create = await a.next("createGroup");
  const founder = await MlsSession.create(fromBase64(create.groupId), person("a"));
  mls.set("a", founder);
  await live.handle("a", { type: "groupCreated", groupId: create.groupId, groupInfo: toBase64(await founder.publicGroupInfo()) });
  /** The founder commits what it is asked; every other member applies it; joiners process the Welcome. */
  const round = async (joiners: string[]) => {
    const req = await a.next("commitRequest");
    assert.deepEqual(req.add.map((x) => x.memberId).sort(), [...joiners].sort(), "the joins were batched into one commit");
    const built = await founder.commit({ add: req.add.map((x) => fromBase64(x.keyPackage)) });
    const others = [...mls.keys()].filter((id) => id !== "a");
    await live.handle("a", { type: "commit", epoch: req.epoch, commit: toBase64(built.commit), welcome: toBase64(built.welcome!), added: req.add.map((x) => x.memberId), removed: [] });
    await a.next("commitAccepted");
    await founder.applyPendingCommit();
    const commitFrames = others.map((id) => conns.get(id)!.frames.at(-1)!);
    const welcomeFrames = joiners.map((id) => conns.get(id)!.frames.at(-1)!);
    for (const id of others) {
      const m = await conns.get(id)!.next("commit");
      assert.equal(m.commit, toBase64(built.commit));
      await mls.get(id)!.processMessage(built.commit);
      await live.handle(id, { type: "commitAck", epoch: req.epoch, transcriptHash: toBase64(mls.get(id)!.transcriptHash) });
    }
    for (const id of joiners) {
      const w = await conns.get(id)!.next("welcome");
      const s = await MlsSession.joinFromWelcome(fromBase64(w.welcome), kps.get(id)!.secret);
      mls.set(id, s);
      await live.handle(id, { type: "welcomeProcessed", epoch: s.epoch.toString(), transcriptHash: toBase64(s.transcriptHash) });
    }
    return { commitFrames, welcomeFrames };
  };
  join("b");
  await round(["b"]);
  join("c");
  join("d");
  const second = await round(["c", "d"]);
  assert.equal(second.welcomeFrames[0], second.welcomeFrames[1], "c and d were sent the same Welcome frame object");
  join("e");
  const third = await round(["e"]);
  assert.equal(third.commitFrames.length, 3);
  assert.ok(third.commitFrames.every((f) => f === third.commitFrames[0]), "b, c and d were sent the same commit frame object");
});
