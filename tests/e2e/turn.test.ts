// TURN with coturn (Debian) on loopback: admitted participants — and only they — receive
// short-lived TURN REST credentials, which coturn accepts; expired or forged ones it refuses.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { promisify } from "node:util";
import type { IceServerInfo } from "@conclave/protocol";
import { requireSystemBinary, startCoturn, type Coturn } from "@conclave/test-support";
import { startTestServer, joinSession, waitFor, type TestServer } from "./support/harness.js";

const run = promisify(execFile);
let coturn: Coturn;
let server: TestServer;

before(async () => {
  coturn = await startCoturn();
  server = await startTestServer({ meetingPolicy: () => ({ waitingRoom: true, joinBeforeHost: true }) }, { turnUrl: coturn.url, turnSecret: coturn.secret });
});
after(async () => {
  await server?.close();
  await coturn?.close();
});

/** One TURN allocation (and a few relayed packets) with turnutils_uclient; true when coturn allowed it. */
async function allocate(username: string, credential: string): Promise<boolean> {
  const uclient = requireSystemBinary("turnutils_uclient");
  try {
    await run(uclient, ["-u", username, "-w", credential, "-n", "2", "-y", "-p", String(coturn.port), "127.0.0.1"], { timeout: 30_000 });
    return true;
  } catch (e) {
    if ((e as { killed?: boolean }).killed) throw new Error("turnutils_uclient hung");
    return false;
  }
}

test("a waiting participant gets no TURN credentials; on admission it gets short-lived ones that coturn accepts", async (t) => {
  const meeting = await server.createMeeting("e2ee");
  const host = await joinSession(server, meeting, "Host", { asHost: true });
  const seen: string[] = [];
  const guest = await joinSession(server, meeting, "Guest", { record: seen });
  t.after(() => [host, guest].forEach((s) => s.leave()));
  await guest.once("waiting");
  await waitFor("Guest in the waiting list", 10_000, (w) => host.on("waitingList", w), () => host.waitingList.some((e) => e.displayName === "Guest"));
  assert.ok(seen.every((m) => !m.includes("iceServers") && !m.includes("credential") && !m.includes("turn:")), "nothing about TURN before admission");
  assert.deepEqual(guest.iceServers, []);

  const joined = guest.once("joined");
  host.admit(guest.memberId);
  await joined;
  const [ice] = guest.iceServers as IceServerInfo[];
  assert.ok(ice, "admitted: TURN servers arrive with the joined message");
  assert.deepEqual(ice.urls, [coturn.url]);
  const [expiry, user] = ice.username.split(":");
  assert.equal(user, guest.memberId);
  const ttl = Number(expiry) - Date.now() / 1000;
  assert.ok(ttl > 3600 && ttl <= 12 * 3600 + 5, `credentials expire in ${ttl} s`);
  assert.equal(ice.credential, createHmac("sha1", coturn.secret).update(ice.username).digest("base64"));
  assert.equal((host.iceServers[0]?.username ?? "").split(":")[1], host.memberId, "each participant its own username");

  assert.equal(await allocate(ice.username, ice.credential), true, "coturn accepts the credentials the server handed out");
  await coturn.waitForLog(new RegExp(`user <${ice.username}>: incoming packet ALLOCATE processed, success`));
});

test("coturn refuses expired and forged TURN credentials", async () => {
  const expired = `${Math.floor(Date.now() / 1000) - 60}:someone`;
  assert.equal(await allocate(expired, createHmac("sha1", coturn.secret).update(expired).digest("base64")), false, "expired");
  await coturn.waitForLog(new RegExp(`user <${expired}>: incoming packet message processed, error 401`));

  const forgedUser = `${Math.floor(Date.now() / 1000) + 3600}:mallory`;
  assert.equal(await allocate(forgedUser, createHmac("sha1", "not the shared secret").update(forgedUser).digest("base64")), false, "forged");
  await coturn.waitForLog(new RegExp(`user <${forgedUser}>: incoming packet message processed, error 401`));
  assert.doesNotMatch(coturn.log(), new RegExp(`user <(${expired}|${forgedUser})>: incoming packet ALLOCATE processed, success`));
});
