/**
 * Local recording announcements through a real server (docs/protocol.md §6.3): a member who
 * records on its device tells everyone with an end-to-end encrypted `localRecording` message,
 * tells again whoever joins while it records, and says when it stops; a hostile member's
 * malformed or oversized announcements are refused by name and change nothing.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { MeetingLocalRecordings, type MeetingSession } from "@conclave/client";
import { joinSession, startTestServer, waitFor, waitForAgreement, type TestServer } from "./support/harness.js";

let server: TestServer;
const ready = startTestServer().then((s) => (server = s));
after(async () => {
  await ready;
  await server.close();
});

const names = (r: MeetingLocalRecordings) => r.recorders.map((x) => x.displayName).sort();

function untilRecorders(what: string, r: MeetingLocalRecordings, expected: string[]): Promise<true> {
  return waitFor(what, 15_000, (wake) => r.on("recorders", wake), () => JSON.stringify(names(r)) === JSON.stringify([...expected].sort()) || undefined);
}

test("a member recording on its device is announced to everyone, again to a late joiner, and its stop (or departure) clears it", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const ada = await joinSession(server, meeting, "Ada");
  const bob = await joinSession(server, meeting, "Bob");
  const sessions: MeetingSession[] = [ada, bob];
  t.after(() => sessions.forEach((s) => s.leave()));
  await waitForAgreement([ada, bob], 2);
  const rec = { ada: new MeetingLocalRecordings(ada), bob: new MeetingLocalRecordings(bob) };

  await rec.ada.setRecording(true);
  assert.deepEqual(names(rec.ada), ["Ada"], "the recorder lists itself at once");
  await untilRecorders("Bob to learn Ada records", rec.bob, ["Ada"]);
  assert.equal(rec.bob.recorders[0]!.memberId, ada.memberId, "attributed to the MLS sender");

  // Cy joins while Ada records: Ada's app tells Cy without being asked.
  const cy = await joinSession(server, meeting, "Cy");
  sessions.push(cy);
  const recCy = new MeetingLocalRecordings(cy);
  await untilRecorders("Cy, who joined later, to learn Ada records", recCy, ["Ada"]);

  // Bob starts too; then Ada stops: everyone follows.
  await rec.bob.setRecording(true);
  await untilRecorders("Cy to see both recorders", recCy, ["Ada", "Bob"]);
  await rec.ada.setRecording(false);
  await untilRecorders("Cy to see Ada stopped", recCy, ["Bob"]);
  await untilRecorders("Bob to see Ada stopped", rec.bob, ["Bob"]);

  // A recorder who leaves is no longer listed (no stop message needed).
  bob.leave();
  await waitFor("Cy to drop Bob", 15_000, (wake) => recCy.on("recorders", wake), () => recCy.recorders.length === 0 || undefined);
  for (const r of [rec.ada, rec.bob, recCy]) r.close();
});

test("a hostile member's malformed, oversized or impersonating localRecording messages are refused by name; the list and the meeting are unchanged", async (t) => {
  await ready;
  const meeting = await server.createMeeting("e2ee");
  const ada = await joinSession(server, meeting, "Ada");
  const mallory = await joinSession(server, meeting, "Mallory");
  t.after(() => [ada, mallory].forEach((s) => s.leave()));
  await waitForAgreement([ada, mallory], 2);
  const rec = new MeetingLocalRecordings(ada);
  t.after(() => rec.close());
  const errors: string[] = [];
  ada.on("error", (e) => errors.push(e.code));
  let changes = 0;
  rec.on("recorders", () => changes++);

  const refused = async (what: string, code: string, payload: Uint8Array | object) => {
    const before = errors.filter((c) => c === code).length;
    const bytes = payload instanceof Uint8Array ? payload : new TextEncoder().encode(JSON.stringify(payload));
    await mallory.sendApplicationBytes(bytes);
    await waitFor(`Ada to refuse ${what} with ${code}`, 10_000, (wake) => ada.on("error", wake), () => errors.filter((c) => c === code).length > before || undefined);
  };
  await refused("an unknown state", "APP_MESSAGE_MALFORMED", { v: 1, type: "localRecording", state: "paused" });
  await refused("a missing state", "APP_MESSAGE_MALFORMED", { v: 1, type: "localRecording" });
  await refused("a state that is not a string", "APP_MESSAGE_MALFORMED", { v: 1, type: "localRecording", state: 1 });
  await refused("a message naming someone else as the recorder", "APP_MESSAGE_MALFORMED", { v: 1, type: "localRecording", state: "started", memberId: ada.memberId, displayName: "Ada" });
  await refused("an oversized announcement", "APP_MESSAGE_TOO_LARGE", { v: 1, type: "localRecording", state: "started", pad: "x".repeat(17 * 1024) });
  await refused("a future version", "APP_MESSAGE_UNSUPPORTED", { v: 2, type: "localRecording", state: "started" });
  // A stop from someone who never started changes nothing either.
  await mallory.sendAppMessage({ v: 1, type: "localRecording", state: "stopped" });
  assert.equal(changes, 0, "no refused message touched the list");
  assert.deepEqual(rec.recorders, []);

  // The meeting goes on: a well-formed announcement from the same member is accepted.
  assert.equal(ada.state, "inGroup");
  await waitForAgreement([ada, mallory], 2);
  await mallory.sendAppMessage({ v: 1, type: "localRecording", state: "started" });
  await untilRecorders("Ada to list Mallory", rec, ["Mallory"]);
  assert.equal(changes, 1, "the stray stop before it (delivered in order) changed nothing");
});
