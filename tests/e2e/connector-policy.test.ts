// Whether connectors may be in a meeting is decided by the MLS group itself (the policy extension
// the founder binds into it), and enforced by every member and by the server. These tests play a
// malicious server — a scripted WSS endpoint speaking the signaling protocol — against real
// MeetingSession clients, and a real server against forged connector tickets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
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
  createKeyPackage,
  encodeMeetingPolicy,
  encodeMemberIdentity,
  fromBase64,
  toBase64,
  type ClientMessage,
  type ServerMessage,
} from "@conclave/protocol";
import { MeetingSession } from "@conclave/client";
import { connectNodeSignaling } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";
import { joinSession, startTestServer, waitFor } from "./support/harness.js";

const MEETING = "12345678901";

/** A WSS endpoint that speaks the signaling protocol as a hostile delivery service would. */
class MaliciousServer {
  readonly received: { from: WebSocket; msg: ClientMessage }[] = [];
  readonly #https: Server;
  readonly #wss: WebSocketServer;
  readonly ca: string;
  readonly #dir: string;
  onJoin: (ws: WebSocket, msg: Extract<ClientMessage, { type: "join" }>) => void = () => {};

  private constructor(https: Server, wss: WebSocketServer, ca: string, dir: string) {
    this.#https = https;
    this.#wss = wss;
    this.ca = ca;
    this.#dir = dir;
    wss.on("connection", (ws) =>
      ws.on("message", (data) => {
        const msg = JSON.parse(String(data)) as ClientMessage;
        this.received.push({ from: ws, msg });
        if (msg.type === "join") this.onJoin(ws, msg);
      }),
    );
  }

  static async start(): Promise<MaliciousServer> {
    const dir = mkdtempSync(join(tmpdir(), "conclave-evil-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")], { stdio: "ignore" });
    const cert = readFileSync(join(dir, "c.pem"), "utf8");
    const https = createServer({ cert, key: readFileSync(join(dir, "k.pem")) });
    const wss = new WebSocketServer({ server: https });
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", () => r()));
    return new MaliciousServer(https, wss, cert, dir);
  }

  get url(): string {
    const addr = this.#https.address() as { port: number };
    return `wss://127.0.0.1:${addr.port}/ws`;
  }

  send(ws: WebSocket, msg: ServerMessage): void {
    ws.send(JSON.stringify(msg));
  }

  async close(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    await new Promise((r) => this.#wss.close(r));
    await new Promise((r) => this.#https.close(r));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

async function session(server: MaliciousServer, name: string): Promise<MeetingSession> {
  const s = new MeetingSession({ meetingId: MEETING, displayName: name, sframeCrypto: createNodeSFrameCrypto() });
  await s.join(await connectNodeSignaling(server.url, { ca: server.ca }));
  return s;
}

const connectorIdentity = {
  kind: "connector" as const,
  connector: "sip" as const,
  memberId: "c-room",
  displayName: "Room 4",
  farLeg: { protocol: "SIP", signaling: "tls" as const, media: "srtp" as const, suite: "AES_CM_128_HMAC_SHA1_80" },
};

test("a malicious server asks a member of an e2ee group to add a connector's key package: the member refuses, commits nothing and says which joiner it could not add", async (t) => {
  const evil = await MaliciousServer.start();
  t.after(() => evil.close());
  const sockets = new Map<string, WebSocket>();
  const keyPackages = new Map<string, string>();
  evil.onJoin = (ws, msg) => {
    sockets.set(msg.memberId, ws);
    keyPackages.set(msg.memberId, msg.keyPackage);
    evil.send(ws, { type: "joined", memberId: msg.memberId, meetingId: MEETING, encryption: "e2ee", members: [] });
  };
  const a = await session(evil, "Ada");
  const b = await session(evil, "Bob");
  t.after(() => [a, b].forEach((s) => s.leave()));
  await waitFor("both joins", 10_000, (wake) => {
    const i = setInterval(wake, 20);
    return () => clearInterval(i);
  }, () => sockets.size === 2 || undefined);
  const wsA = sockets.get(a.memberId)!;
  // Honest ordering first: A founds the e2ee group and adds B.
  evil.send(wsA, { type: "createGroup", groupId: toBase64(new TextEncoder().encode(`conclave:${MEETING}#1`)) });
  await waitFor("A's group", 10_000, (wake) => a.on("epoch", wake), () => a.epoch === 0n || undefined);
  evil.send(wsA, { type: "commitRequest", epoch: "0", add: [{ memberId: b.memberId, keyPackage: keyPackages.get(b.memberId)! }], remove: [] });
  const commit = await waitFor("A's commit adding B", 10_000, (wake) => {
    const i = setInterval(wake, 20);
    return () => clearInterval(i);
  }, () => evil.received.find((r) => r.msg.type === "commit")?.msg as Extract<ClientMessage, { type: "commit" }> | undefined);
  evil.send(wsA, { type: "commitAccepted", epoch: "0" });
  evil.send(sockets.get(b.memberId)!, { type: "welcome", epoch: "1", welcome: commit.welcome! });
  await waitFor("A and B at epoch 1", 10_000, (wake) => {
    const offs = [a.on("epoch", wake), b.on("epoch", wake)];
    return () => offs.forEach((o) => o());
  }, () => (a.epoch === 1n && b.epoch === 1n) || undefined);
  assert.equal(a.groupEncryption, "e2ee");
  assert.equal(a.securityCode, b.securityCode);

  // The attack: the server asks A to add a connector, even telling it the meeting is enhanced.
  evil.send(wsA, { type: "joined", memberId: a.memberId, meetingId: MEETING, encryption: "enhanced", members: [] });
  const connectorKp = await createKeyPackage(connectorIdentity);
  evil.send(wsA, { type: "commitRequest", epoch: "1", add: [{ memberId: "c-room", keyPackage: toBase64(connectorKp.keyPackage) }], remove: [] });
  const refusal = await waitFor("A's badKeyPackages", 10_000, (wake) => {
    const i = setInterval(wake, 20);
    return () => clearInterval(i);
  }, () => evil.received.find((r) => r.msg.type === "badKeyPackages")?.msg as Extract<ClientMessage, { type: "badKeyPackages" }> | undefined);
  assert.deepEqual(refusal.memberIds, ["c-room"]);
  assert.equal(evil.received.filter((r) => r.msg.type === "commit").length, 1, "no second commit was made");
  assert.equal(a.epoch, 1n);
  assert.deepEqual(a.groupMembers.map((m) => m.identity.kind), ["person", "person"]);
});

test("a forged commit adding a connector to an e2ee group (from a rogue member colluding with the server) is applied by nobody", async (t) => {
  const evil = await MaliciousServer.start();
  t.after(() => evil.close());
  let joinedWs: WebSocket | undefined;
  let honestKp: string | undefined;
  evil.onJoin = (ws, msg) => {
    joinedWs = ws;
    honestKp = msg.keyPackage;
    evil.send(ws, { type: "joined", memberId: msg.memberId, meetingId: MEETING, encryption: "e2ee", members: [] });
  };
  const honest = await session(evil, "Ada");
  t.after(() => honest.leave());
  const errors: string[] = [];
  honest.on("error", (e) => errors.push(e.code));
  const epochs: { epoch: bigint; kinds: string[] }[] = [];
  honest.on("epoch", (e) => epochs.push({ epoch: e.epoch, kinds: e.members.map((m) => m.identity.kind) }));
  await waitFor("the join", 10_000, (wake) => {
    const i = setInterval(wake, 20);
    return () => clearInterval(i);
  }, () => (joinedWs && honestKp) || undefined);

  // The rogue member runs raw ts-mls: a group bound to e2ee, the honest member added by Welcome.
  const cs = await getCiphersuiteImpl(getCiphersuiteFromName(MLS_SUITES.default));
  const caps = defaultCapabilities();
  caps.extensions = [...caps.extensions, MEETING_POLICY_EXTENSION_TYPE];
  const rogue = await generateKeyPackage({ credentialType: "basic", identity: encodeMemberIdentity({ kind: "person", memberId: "rogue", displayName: "Rogue" }) }, caps, { notBefore: 0n, notAfter: 2n ** 62n }, [], cs);
  let state = await createGroup(new TextEncoder().encode(`conclave:${MEETING}#1`), rogue.publicPackage, rogue.privatePackage, [{ extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption: "e2ee" }) }], cs);
  const add = async (kpBytes: Uint8Array) => {
    const decoded = decodeMlsMessage(kpBytes, 0)![0];
    if (decoded.wireformat !== "mls_key_package") throw new Error("not a key package");
    const r = await createCommit({ state, cipherSuite: cs }, { wireAsPublicMessage: true, ratchetTreeExtension: true, extraProposals: [{ proposalType: "add", add: { keyPackage: decoded.keyPackage } }] });
    state = r.newState;
    return { commit: encodeMlsMessage(r.commit), welcome: encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r.welcome! }) };
  };
  const first = await add(fromBase64(honestKp!));
  evil.send(joinedWs!, { type: "welcome", epoch: "1", welcome: toBase64(first.welcome) });
  await waitFor("the honest member in the group", 10_000, (wake) => honest.on("epoch", wake), () => honest.epoch === 1n || undefined);

  const connectorKp = await createKeyPackage(connectorIdentity);
  const forged = await add(connectorKp.keyPackage);
  evil.send(joinedWs!, { type: "commit", epoch: "1", commit: toBase64(forged.commit), from: "rogue" });
  await waitFor("the honest member's refusal", 10_000, (wake) => honest.on("error", wake), () => errors.includes("MLS_COMMIT_REJECTED") || undefined);
  // It never entered the forged epoch nor listed the connector; it stayed on its epoch and
  // reported the commit as failed (commitFailed, for the members' vote; or groupFailure when it
  // could not stay) instead.
  assert.deepEqual(epochs, [{ epoch: 1n, kinds: ["person", "person"] }]);
  const report = await waitFor("the honest member's failure report", 10_000, (wake) => {
    const i = setInterval(wake, 20);
    return () => clearInterval(i);
  }, () => evil.received.find((r) => r.msg.type === "commitFailed" || r.msg.type === "groupFailure") || undefined);
  if (report.msg.type === "commitFailed") assert.equal(report.msg.epoch, "1");
  assert.equal(honest.epoch, 1n);
});

test("the server refuses a connector join to an e2ee meeting, and a forged or reused connector ticket", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const e2ee = await server.createMeeting("e2ee");
  const enhanced = await server.createMeeting("enhanced");
  const tryJoin = async (meeting: { id: string; passcode: string | null }, ticket?: string): Promise<string> => {
    const s = new MeetingSession({
      meetingId: meeting.id,
      displayName: "Room 4",
      kind: { kind: "connector", connector: "sip", farLeg: connectorIdentity.farLeg },
      sframeCrypto: createNodeSFrameCrypto(),
      ...(ticket ? { connectorTicket: ticket } : { ...(meeting.passcode ? { passcode: meeting.passcode } : {}) }),
    });
    await s.join(await connectNodeSignaling(server.wsUrl, { ca: server.ca }));
    const outcome = await Promise.race([s.once("error").then((e) => e.code), s.once("epoch").then(() => "JOINED")]);
    s.leave();
    return outcome;
  };
  assert.equal(await tryJoin(e2ee), "CONNECTOR_NOT_ALLOWED");
  assert.equal(await tryJoin(enhanced, "f".repeat(43)), "BAD_TICKET");
  const ticket = server.server.registry.hostTicket(enhanced.id, "sip");
  const host = await joinSession(server, enhanced, "Host", { asHost: true });
  t.after(() => host.leave());
  assert.equal(await tryJoin(enhanced, ticket), "JOINED");
  assert.equal(await tryJoin(enhanced, ticket), "BAD_TICKET", "a ticket is single-use");
});
