/** Shared harness for end-to-end tests: a real Conclave server on a loopback port, real clients. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startConclave, loadConfig, type ConclaveServer, type ConclaveOptions, type ConfigFlags } from "@conclave/server";
import { MeetingSession } from "@conclave/client";
import { connectNodeSignaling, NodeParticipant } from "@conclave/client/node";
import { createNodeSFrameCrypto } from "@conclave/protocol/node";

export interface TestServer {
  server: ConclaveServer;
  wsUrl: string;
  ca: string;
  createMeeting(encryption?: "e2ee" | "enhanced", passcode?: boolean): Promise<{ id: string; passcode: string | null }>;
  close(): Promise<void>;
}

export async function startTestServer(opts: ConclaveOptions = {}, flags: ConfigFlags = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-e2e-"));
  const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir, ...flags }, env: {} });
  const server = await startConclave(config, {
    logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) },
    relay: { listenAddress: "127.0.0.1" },
    ...opts,
  });
  const ca = await readFile(server.certFile, "utf8");
  return {
    server,
    ca,
    wsUrl: `wss://127.0.0.1:${server.port}/ws`,
    async createMeeting(encryption = "e2ee", passcode = true) {
      const created = await server.context.meetings.create({ encryption, passcode });
      return { id: created.meeting.id, passcode: created.passcode };
    },
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function joinSession(
  t: TestServer,
  meeting: { id: string; passcode: string | null },
  displayName: string,
  extra: {
    graceMs?: number;
    asHost?: boolean;
    record?: string[];
    headers?: Record<string, string>;
    media?: boolean;
    deviceToken?: string;
    raw?: { send?: (text: string) => void };
    /** Filled with a function that hands `text` to the session as if the server had sent it. */
    inject?: { deliver?: (text: string) => void };
    /** Sees each message the session sends; it goes out only when `forward` is called. */
    outbound?: (text: string, forward: () => void) => void;
  } = {},
): Promise<MeetingSession> {
  const session = new MeetingSession({
    meetingId: meeting.id,
    displayName,
    sframeCrypto: createNodeSFrameCrypto(),
    ...(meeting.passcode ? { passcode: meeting.passcode } : {}),
    ...(extra.graceMs !== undefined ? { graceMs: extra.graceMs } : {}),
    ...(extra.deviceToken !== undefined ? { deviceToken: extra.deviceToken } : {}),
    ...(extra.media === false ? { media: false } : {}),
  });
  const inner = await connectNodeSignaling(t.wsUrl, {
    ca: t.ca,
    headers: { ...(extra.asHost ? { authorization: `Bearer ${t.server.adminToken}` } : {}), ...extra.headers },
  });
  const record = extra.record;
  // `raw` gets the unfiltered send of the connection: a scripted participant sends what it likes.
  if (extra.raw) extra.raw.send = (text) => inner.send(text);
  const inject = extra.inject;
  const outbound = extra.outbound;
  // `record` collects every text message the participant receives, for assertions on what it saw.
  const channel = {
    ...inner,
    send: outbound ? (text: string) => outbound(text, () => inner.send(text)) : (text: string) => inner.send(text),
    onMessage: (h: (text: string) => void) => {
      if (inject) inject.deliver = h;
      inner.onMessage((text) => {
        record?.push(text);
        h(text);
      });
    },
  };
  await session.join(channel);
  return session;
}

/** Resolves when `check` returns true, re-checking on each event of `session`; rejects after `ms`. */
export function waitFor<T>(what: string, ms: number, subscribe: (wake: () => void) => () => void, check: () => T | undefined | false): Promise<T> {
  return new Promise((resolve, reject) => {
    let off: () => void = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const wake = () => {
      const v = check();
      if (v !== undefined && v !== false) {
        clearTimeout(timer);
        off();
        resolve(v);
      }
    };
    off = subscribe(wake);
    wake();
  });
}

/** Waits until all sessions are at the same epoch with the same code and `count` MLS members. */
export function waitForAgreement(sessions: MeetingSession[], count: number, ms = 15_000, minEpoch = 0n): Promise<{ epoch: bigint; code: string }> {
  return waitFor(
    `${sessions.length} sessions to agree on a ${count}-member epoch`,
    ms,
    (wake) => {
      const offs = sessions.map((s) => s.on("epoch", wake));
      return () => offs.forEach((o) => o());
    },
    () => {
      const epochs = sessions.map((s) => s.epoch);
      const codes = sessions.map((s) => s.securityCode);
      const first = epochs[0];
      if (first === null || first === undefined || first < minEpoch) return undefined;
      if (!epochs.every((e) => e === first) || !codes.every((c) => c === codes[0])) return undefined;
      if (!sessions.every((s) => s.groupMembers.length === count)) return undefined;
      return { epoch: first, code: codes[0]! };
    },
  );
}

export function meetingLink(t: TestServer, meeting: { id: string; passcode: string | null }): string {
  return `https://127.0.0.1:${t.server.port}/m/${meeting.id}${meeting.passcode ? `#pwd=${meeting.passcode}` : ""}`;
}

/** A Node participant (as `conclave bot` runs it) that has sent its join request. */
export async function joinBot(
  t: TestServer,
  meeting: { id: string; passcode: string | null },
  displayName: string,
  extra: { sendMedia?: boolean; media?: boolean; graceMs?: number } = {},
): Promise<NodeParticipant> {
  const bot = new NodeParticipant({ link: meetingLink(t, meeting), displayName, ca: t.ca, ...extra });
  await bot.join();
  return bot;
}

/** Waits until every bot has decrypted at least `min` frames from each of the others. */
export function waitForMediaFromAll(bots: NodeParticipant[], min: number, ms = 30_000): Promise<void> {
  return waitFor(
    `every bot to decrypt >= ${min} frames from each other bot`,
    ms,
    (wake) => {
      const offs = bots.map((b) => b.on("frame", wake));
      return () => offs.forEach((o) => o());
    },
    () =>
      bots.every((b) =>
        bots.every((other) => other === b || (b.stats().perSender[other.memberId] ?? 0) >= min),
      ) || undefined,
  ).then(() => undefined);
}
