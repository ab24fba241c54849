import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { loadConfig, startConclave } from "@conclave/server";
import { NodeParticipant } from "@conclave/client/node";

const BIN = fileURLToPath(new URL("../../bin/conclave.js", import.meta.url));

interface BotRun {
  events: Record<string, unknown>[];
  code: Promise<number | null>;
  /** Asks the bot to leave (SIGINT, as Ctrl-C would); `code` resolves when it has exited. */
  stop(): void;
  /** Resolves when an event matching `pred` has been printed. */
  until(pred: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
}

function bot(args: string[]): BotRun {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CONCLAVE_")) env[k] = v;
  const child = spawn(process.execPath, [BIN, "bot", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  const events: Record<string, unknown>[] = [];
  const waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    const e = JSON.parse(line) as Record<string, unknown>; // every line must be JSON
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(e);
    }
  });
  child.stderr.resume();
  const code = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  return {
    events,
    code,
    stop: () => void (child.exitCode === null && child.signalCode === null && child.kill("SIGINT")),
    until(pred, ms = 30_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event in ${ms} ms; got ${JSON.stringify(events.slice(-5))}`)), ms);
        waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
}

test("two `conclave bot --json` processes join, agree on the security code, decrypt each other, leave and exit 0", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bot-"));
  const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), {
    relay: { listenAddress: "127.0.0.1" },
    logger: { info() {}, warn() {}, error() {} },
  });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const created = await server.context.meetings.create({ encryption: "e2ee" });
  const url = `https://127.0.0.1:${server.port}/m/${created.meeting.id}#pwd=${created.passcode}`;
  const common = ["--url", url, "--json", "--ca", server.certFile, "--duration", "6"];
  const a = bot([...common, "--name", "Ada"]);
  const b = bot([...common, "--name", "Bob"]);

  await a.until((e) => e.event === "joined" && typeof e.memberId === "string");
  const twoMembers = (e: Record<string, unknown>) => e.event === "stats" && e.remoteMembers === 1 && (e.framesDecrypted as number) > 10;
  await Promise.all([a.until(twoMembers), b.until(twoMembers)]);
  assert.deepEqual(await Promise.all([a.code, b.code]), [0, 0]);

  for (const run of [a, b]) {
    const stats = run.events.filter((e) => e.event === "stats");
    assert.ok(stats.length >= 2);
    for (const s of stats) {
      for (const k of ["framesSent", "framesDecrypted", "decryptFailures", "remoteMembers"]) assert.equal(typeof s[k], "number", k);
      assert.equal(s.decryptFailures, 0);
    }
    assert.deepEqual(run.events.at(-1), { event: "left" });
  }
  // Both saw the two-member epoch with the same code.
  const lastEpoch = (run: BotRun) => run.events.filter((e) => e.event === "epoch").map((e) => [e.epoch, e.securityCode]);
  const shared = lastEpoch(a).filter(([ep, code]) => lastEpoch(b).some(([ep2, code2]) => ep2 === ep && code2 === code));
  assert.ok(shared.length >= 1, "no epoch with matching codes");
  assert.match(String(shared[0]![1]), /^(\d{5} ){6}\d{5}$/);

  // Every epoch event carries the group's own member list, shield and exceptions; stats carry
  // frames decrypted per sender and kind.
  const joinedA = a.events.find((e) => e.event === "joined")!.memberId as string;
  const joinedB = b.events.find((e) => e.event === "joined")!.memberId as string;
  const twoMemberEpoch = a.events.find((e) => e.event === "epoch" && (e.members as unknown[]).length === 2)!;
  assert.deepEqual(
    (twoMemberEpoch.members as { memberId: string; name: string; kind: string }[]).map((m) => [m.memberId, m.name, m.kind]).sort(),
    [[joinedA, "Ada", "person"], [joinedB, "Bob", "person"]].sort(),
  );
  assert.equal(twoMemberEpoch.shield, "e2ee");
  assert.deepEqual(twoMemberEpoch.exceptions, []);
  const lastStats = a.events.filter((e) => e.event === "stats").at(-1)!;
  const fromBob = (lastStats.bySender as Record<string, { audio: number; video: number }>)[joinedB]!;
  assert.ok(fromBob.audio > 0 && fromBob.video > 0, JSON.stringify(lastStats.bySender));
});

test("`conclave bot --no-media` members take part in MLS only: same epochs and security code as a member with media, no relay peer, nothing sent or received", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bot-"));
  const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), {
    relay: { listenAddress: "127.0.0.1" },
    logger: { info() {}, warn() {}, error() {} },
  });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const created = await server.context.meetings.create({ encryption: "e2ee" });
  const url = `https://127.0.0.1:${server.port}/m/${created.meeting.id}#pwd=${created.passcode}`;
  const common = ["--url", url, "--json", "--ca", server.certFile, "--duration", "8"];
  const media = bot([...common, "--name", "With media"]);
  const quiet = [bot([...common, "--name", "Quiet 1", "--no-media"]), bot([...common, "--name", "Quiet 2", "--no-media"])];
  const everyone = [media, ...quiet];
  const threeMembers = (e: Record<string, unknown>) => e.event === "stats" && e.remoteMembers === 2;
  await Promise.all(everyone.map((r) => r.until(threeMembers)));
  // The media member publishes; the relay holds a peer for it alone.
  await media.until((e) => e.event === "stats" && (e.framesSent as number) > 10);
  const room = server.relay?.getRoom(created.meeting.id);
  assert.ok(room, "the meeting has a relay room");
  assert.equal(room.peers.size, 1, "only the member with media has a relay peer");
  assert.deepEqual(await Promise.all(everyone.map((r) => r.code)), [0, 0, 0]);

  for (const run of quiet) {
    for (const s of run.events.filter((e) => e.event === "stats")) {
      assert.equal(s.framesSent, 0);
      assert.equal(s.framesDecrypted, 0);
      assert.equal(s.decryptFailures, 0);
    }
  }
  // All three reached a three-member epoch with one security code.
  const codes = (run: BotRun) => new Map(run.events.filter((e) => e.event === "epoch").map((e) => [String(e.epoch), String(e.securityCode)]));
  const [m, q1, q2] = everyone.map(codes);
  const sharedEpochs = [...m!.keys()].filter((ep) => q1!.get(ep) === m!.get(ep) && q2!.get(ep) === m!.get(ep));
  assert.ok(sharedEpochs.length >= 1, "an epoch all three share, with the same code");
});

test("`conclave bot --no-media --receive-only` is a usage error (exit 2)", async () => {
  const run = bot(["--url", "https://127.0.0.1:1/m/123456", "--no-media", "--receive-only", "--json"]);
  assert.equal(await run.code, 2);
});

test("`conclave bot` with a wrong passcode prints an error event and exits non-zero", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bot-"));
  const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), {
    relay: false,
    logger: { info() {}, warn() {}, error() {} },
  });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const created = await server.context.meetings.create({ encryption: "e2ee" });
  const run = bot(["--url", `https://127.0.0.1:${server.port}/m/${created.meeting.id}`, "--passcode", "nope", "--json", "--ca", server.certFile]);
  const err = await run.until((e) => e.event === "error");
  assert.equal(err.code, "WRONG_PASSCODE");
  assert.equal(await run.code, 1);
});

test("`conclave bot` without --url is a usage error (exit 2)", async () => {
  const run = bot(["--json"]);
  assert.equal(await run.code, 2);
});

test("`conclave bot` rejoins after a server restart with a new security code that matches the others', and reports MEETING_ENDED only when the host ends the meeting", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bot-"));
  const start = (port: number) =>
    startConclave(loadConfig({ flags: { port, host: "127.0.0.1", data: dir }, env: {} }), {
      relay: { listenAddress: "127.0.0.1" },
      logger: { info() {}, warn() {}, error() {} },
    });
  let server = await start(0);
  const port = server.port;
  const created = await server.context.meetings.create({ encryption: "e2ee" });
  const url = `https://127.0.0.1:${port}/m/${created.meeting.id}#pwd=${created.passcode}`;
  const ca = readFileSync(server.certFile, "utf8");
  // The host: an in-process Node participant holding the admin token (it reconnects too).
  const host = new NodeParticipant({ link: url, displayName: "Host", ca, headers: { authorization: `Bearer ${server.adminToken}` }, sendMedia: false });
  const run = bot(["--url", url, "--json", "--ca", server.certFile, "--name", "Ada", "--no-media"]);
  t.after(async () => {
    host.leave();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await host.join();
  const agreed = async (what: string, notCode?: string): Promise<string> => {
    const deadline = Date.now() + 45_000;
    for (;;) {
      const code = host.session.securityCode;
      if (code && code !== notCode && host.session.groupMembers.length === 2 && run.events.some((e) => e.event === "epoch" && e.securityCode === code)) return code;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; bot said ${JSON.stringify(run.events.slice(-4))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const before = await agreed("the bot and the host to share a code");

  await server.close();
  await run.until((e) => e.event === "reconnecting");
  server = await start(port);
  const after = await agreed("a new shared code after the restart", before);
  assert.notEqual(after, before);
  const joins = run.events.filter((e) => e.event === "joined");
  assert.equal(joins.length, 2, "the bot joined again, as a new member");
  assert.notEqual(joins[0]!.memberId, joins[1]!.memberId);
  assert.ok(!run.events.some((e) => e.event === "error"), `no error while the server restarted: ${JSON.stringify(run.events.filter((e) => e.event === "error"))}`);

  host.session.endMeeting();
  const ended = await run.until((e) => e.event === "error");
  assert.equal(ended.code, "MEETING_ENDED");
  assert.equal(await run.code, 1);
});

test("`conclave bot --chat TEXT` says it once in the group; received chat, private chat, reactions, hands, polls and breakout rooms come out as JSON lines; --vote votes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bot-"));
  const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), {
    relay: false,
    logger: { info() {}, warn() {}, error() {} },
  });
  const created = await server.context.meetings.create({ encryption: "e2ee" });
  const url = `https://127.0.0.1:${server.port}/m/${created.meeting.id}#pwd=${created.passcode}`;
  const ca = readFileSync(server.certFile, "utf8");
  const host = new NodeParticipant({ link: url, displayName: "Host", ca, headers: { authorization: `Bearer ${server.adminToken}` }, sendMedia: false });
  const run = bot(["--url", url, "--json", "--ca", server.certFile, "--name", "Ada", "--no-media", "--chat", "Hello from the bot", "--vote", "1"]);
  t.after(async () => {
    run.stop();
    await run.code;
    host.leave();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await host.join();
  const heard = await new Promise<{ text: string | null; fromName: string }>((resolve) => host.on("chat", (m) => resolve(m)));
  assert.deepEqual([heard.text, heard.fromName], ["Hello from the bot", "Ada"]);
  const ada = await run.until((e) => e.event === "joined");

  const c = host.collaboration;
  await c.chat.send("Hi Ada, from the host");
  assert.deepEqual(await run.until((e) => e.event === "chat" && e.private === false), {
    event: "chat", id: (run.events.find((e) => e.event === "chat") as { id: string }).id, from: host.memberId, fromName: "Host", private: false, room: null, text: "Hi Ada, from the host",
  });
  await c.chat.sendPrivate(String(ada.memberId), "just between us");
  const priv = await run.until((e) => e.event === "chat" && e.private === true);
  assert.equal(priv.text, "just between us");
  await c.reactions.react("🎉");
  assert.deepEqual(await run.until((e) => e.event === "reaction"), { event: "reaction", from: host.memberId, fromName: "Host", emoji: "🎉" });
  await c.reactions.raiseHand();
  const hands = await run.until((e) => e.event === "hands" && (e.raised as unknown[]).length === 1);
  assert.deepEqual(hands.raised, [{ memberId: host.memberId, displayName: "Host" }]);

  const poll = await c.polls.launch({ question: "Tea or coffee?", options: ["Tea", "Coffee"] });
  const printed = await run.until((e) => e.event === "poll" && e.pollId === poll.pollId);
  assert.deepEqual([printed.question, printed.options, printed.open], ["Tea or coffee?", ["Tea", "Coffee"], true]);
  // --vote 1: the bot votes Coffee; the host counts it.
  await new Promise<void>((resolve) => {
    const check = () => c.polls.poll(poll.pollId)?.results?.voters === 1 && resolve();
    c.polls.on("poll", check);
    check();
  });
  assert.deepEqual(c.polls.poll(poll.pollId)!.results, { counts: [0, 1], voters: 1 });
  await c.polls.end(poll.pollId);
  await c.polls.share(poll.pollId);
  const results = await run.until((e) => e.event === "poll" && e.pollId === poll.pollId && e.results !== null);
  assert.deepEqual(results.results, { counts: [0, 1], voters: 1 });

  await c.breakout.openRooms([{ name: "Corner", members: [String(ada.memberId)] }]);
  assert.deepEqual(await run.until((e) => e.event === "room"), { event: "room", roomId: "room1" });
  const state = await run.until((e) => e.event === "breakout" && e.open === true && (e.rooms as { name: string }[])[0]?.name === "Corner");
  assert.ok(state);
  await c.breakout.broadcast("Time to come back soon");
  assert.equal((await run.until((e) => e.event === "broadcast")).text, "Time to come back soon");
  c.breakout.closeRooms();
  await run.until((e) => e.event === "room" && e.roomId === null);
  assert.ok(!run.events.some((e) => e.event === "error"), JSON.stringify(run.events.filter((e) => e.event === "error")));
  // Asked to leave, it says so and exits 0.
  run.stop();
  assert.equal(await run.code, 0);
  assert.equal(run.events.at(-1)?.event, "left");
});
