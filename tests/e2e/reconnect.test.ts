/**
 * Node participants outlive their connection, as the browser does: when the network between a bot
 * and the server goes silent (a TCP proxy on loopback stops forwarding without closing anything),
 * the bot notices (no answer to its pings), joins again as a new member once the network is back,
 * and ends up with the host on one new security code — and nobody was told the meeting ended.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { NodeParticipant } from "@conclave/client/node";
import { startTestServer, waitFor } from "./support/harness.js";

/** A TCP relay to `port` that can go silent (forward nothing, close nothing) and come back. */
async function silentableProxy(port: number): Promise<{ port: number; silent: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { silent: false };
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (d) => {
      if (!state.silent) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!state.silent) client.write(d);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no proxy port");
  return {
    port: address.port,
    get silent() {
      return state.silent;
    },
    set silent(v: boolean) {
      state.silent = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test("a bot whose network goes silent notices, rejoins as a new member when it is back, and shares a new code with the host", async (t) => {
  const server = await startTestServer({ heartbeatMs: 1000 });
  t.after(() => server.close());
  const meeting = await server.createMeeting("e2ee");
  const proxy = await silentableProxy(server.server.port);
  t.after(() => proxy.close());
  const direct = `https://127.0.0.1:${server.server.port}/m/${meeting.id}#pwd=${meeting.passcode}`;
  const viaProxy = `https://127.0.0.1:${proxy.port}/m/${meeting.id}#pwd=${meeting.passcode}`;
  const host = new NodeParticipant({ link: direct, displayName: "Host", ca: server.ca, headers: { authorization: `Bearer ${server.server.adminToken}` }, sendMedia: false });
  const bot = new NodeParticipant({ link: viaProxy, displayName: "Bot", ca: server.ca, sendMedia: false, livenessMs: 3000, timeoutMs: 2000 });
  t.after(() => [host, bot].forEach((p) => p.leave()));
  const events: string[] = [];
  bot.on("reconnecting", (r) => events.push(`reconnecting:${r.reason}`));
  bot.on("joined", () => events.push("joined"));
  bot.on("error", (e) => events.push(`error:${e.code}`));
  bot.on("closed", () => events.push("closed"));
  await host.join();
  await bot.join();
  const agree = (what: string, notCode?: string) =>
    waitFor(what, 30_000, (wake) => {
      const offs = [host.on("epoch", wake), bot.on("epoch", wake)];
      return () => offs.forEach((o) => o());
    }, () => {
      const code = host.session.securityCode;
      return code !== null && code !== notCode && bot.session.securityCode === code && host.session.groupMembers.length === 2 ? code : undefined;
    });
  const before = await agree("host and bot on one code");
  const firstId = bot.memberId;

  proxy.silent = true;
  await waitFor("the bot to notice the silence", 15_000, (wake) => bot.on("reconnecting", wake), () => events.some((e) => e.startsWith("reconnecting")));
  proxy.silent = false;
  const after = await agree("a new shared code after the network came back", before);
  assert.notEqual(after, before);
  assert.notEqual(bot.memberId, firstId, "it joined again as a new member");
  assert.ok(!events.includes("closed"), events.join(", "));
  assert.ok(!events.some((e) => e.startsWith("error:MEETING_ENDED")), events.join(", "));
});
