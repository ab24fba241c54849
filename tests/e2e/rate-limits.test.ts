/**
 * Guessing limits that cannot be turned against legitimate users (docs/operations.md, "Rate
 * limits"): many addresses guessing a meeting's passcode do not stop a newcomer with the right
 * link, and meeting lookups over HTTP spend the same per-address budget as joins.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "node:https";
import { WebSocket } from "ws";
import { createKeyPackage, toBase64 } from "@conclave/protocol";
import { joinSession, startTestServer, waitForAgreement, type TestServer } from "./support/harness.js";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

/** One join attempt from `localAddress`; resolves with the first message's type or error code. */
async function tryJoin(meeting: { id: string }, passcode: string, localAddress: string): Promise<string> {
  const memberId = `g${Math.random().toString(36).slice(2, 12)}`;
  const kp = await createKeyPackage({ kind: "person", memberId, displayName: "Guess" });
  const ws = new WebSocket(server.wsUrl, { ca: server.ca, localAddress });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const first = new Promise<string>((resolve) => ws.once("message", (d) => {
      const m = JSON.parse(d.toString()) as { type: string; code?: string };
      resolve(m.code ?? m.type);
    }));
    ws.send(JSON.stringify({ type: "join", version: 1, meetingId: meeting.id, memberId, displayName: "Guess", keyPackage: toBase64(kp.keyPackage), passcode }));
    return await first;
  } finally {
    ws.terminate();
  }
}

function lookup(agent: Agent, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.server.port, path: `/api/meetings/${id}`, ca: server.ca, servername: "localhost", agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

test("60 wrong passcodes from 60 addresses do not stop a newcomer with the right link; the guessing addresses are refused even with the right passcode", async (t) => {
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Ada");
  t.after(() => host.leave());
  await waitForAgreement([host], 1);
  const answers: string[] = [];
  for (let i = 2; i < 62; i++) answers.push(await tryJoin(meeting, "wrongguess", `127.0.0.${i}`));
  assert.ok(answers.every((a) => a === "WRONG_PASSCODE" || a === "RATE_LIMITED"), answers.join(","));
  assert.ok(answers.filter((a) => a === "WRONG_PASSCODE").length >= 10, "the meeting came under attack after some guesses");
  // A guessing address that learnt the passcode meanwhile is still refused: the meeting is under
  // attack, and that address has failed.
  assert.equal(await tryJoin(meeting, meeting.passcode!, "127.0.0.2"), "RATE_LIMITED");
  // The newcomer from an address that has not failed gets in, and into the group.
  assert.equal(await tryJoin(meeting, meeting.passcode!, "127.0.0.1"), "joined");
  const bob = await joinSession(server, meeting, "Bob");
  t.after(() => bob.leave());
  await waitForAgreement([host, bob], 2, 15_000);
});

test("1,000 meeting lookups over HTTP from one address are limited like join attempts: unknown IDs run out its budget, then every ID, known or not, answers 429", async () => {
  const known = await server.createMeeting("e2ee");
  const agent = new Agent({ keepAlive: true, maxSockets: 20, localAddress: "127.0.1.1" } as ConstructorParameters<typeof Agent>[0]);
  const ids = Array.from({ length: 1000 }, (_, i) => (i === 500 ? known.id : `5${String(i).padStart(10, "0")}`));
  const statuses: number[] = [];
  for (let i = 0; i < ids.length; i += 20) statuses.push(...(await Promise.all(ids.slice(i, i + 20).map((id) => lookup(agent, id)))));
  const count = (s: number) => statuses.filter((x) => x === s).length;
  assert.ok(count(404) <= 10, `${count(404)} unknown IDs answered 404`);
  assert.ok(count(429) >= 989, `${count(429)} lookups answered 429`);
  assert.equal(statuses[500], 429, "while limited, a known meeting looks like any other ID");
  assert.equal(count(200), 0);
  // Another address is not affected.
  const other = new Agent({ localAddress: "127.0.1.2" } as ConstructorParameters<typeof Agent>[0]);
  assert.equal(await lookup(other, known.id), 200);
  agent.destroy();
  other.destroy();
});
