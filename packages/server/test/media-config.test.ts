// The media settings of the server configuration reach the relay that startConclave creates:
// its ICE candidates carry the announced address and a port from the configured range. A
// captured Chromium offer drives the publish negotiation; no media flows.

import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startConclave, type ConclaveOptions, type ConclaveServer } from "../src/conclave.js";
import { loadConfig, type ConfigFlags } from "../src/config.js";
import { isServerError } from "../src/errors.js";
import type { LocalCandidate } from "../src/relay/index.js";
import { CHROMIUM_PUBLISH_OFFER } from "./relay-chromium-offer.js";

type Cleanup = { after(fn: () => Promise<void> | void): void };

const quiet = { info() {}, warn() {}, error() {} };

async function start(t: Cleanup, flags: ConfigFlags, opts: ConclaveOptions = {}): Promise<ConclaveServer> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-media-"));
  const config = loadConfig({ flags: { host: "127.0.0.1", port: 0, data: join(dir, "data"), ...flags }, env: {} });
  const server = await startConclave(config, { logger: quiet, ...opts });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return server;
}

/** Publishes the captured offer to a fresh relay peer; returns the answer and the first trickled candidate. */
async function negotiate(server: ConclaveServer): Promise<{ answer: string; candidate: string }> {
  assert.ok(server.relay, "the server has a media relay");
  const peer = server.relay.createRoom("media-config-test").addPeer("alice");
  const first = once(peer, "localCandidate");
  const answer = await peer.handlePublishOffer(CHROMIUM_PUBLISH_OFFER);
  const [c] = (await first) as [LocalCandidate];
  return { answer, candidate: c.candidate };
}

/** [address, port] of every host candidate, trickled or inside the description. */
function hostCandidates(lines: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (const line of lines) {
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ host (RFC 8839 §5.1)
    const m = /^(?:a=)?candidate:\S+ \d+ \S+ \d+ (\S+) (\d+) typ host/.exec(line);
    if (m) out.push([m[1]!, Number(m[2])]);
  }
  return out;
}

test("a server configured with --media-ports and --media-address announces that address and a port in the range", async (t) => {
  // A random 100-port window above Linux's ephemeral range (32768-60999), so no socket bound to
  // "any port" lands in it; relay-lifecycle.test.ts uses windows from 63000 up.
  const min = 61_000 + 100 * Math.floor(Math.random() * 20);
  const max = min + 99;
  const server = await start(t, { mediaListen: "127.0.0.1", mediaAddress: "203.0.113.7", mediaPorts: `${min}-${max}` });
  const { answer, candidate } = await negotiate(server);

  const found = hostCandidates([candidate, ...answer.split("\r\n")]);
  assert.ok(found.length >= 1, `a host candidate was produced: ${candidate}`);
  for (const [address, port] of found) {
    assert.equal(address, "203.0.113.7");
    assert.ok(port >= min && port <= max, `port ${port} is in ${min}-${max}`);
  }
  assert.doesNotMatch(answer, / 127\.0\.0\.1 \d+ typ host/, "the bound address is not disclosed");
});

test("relay options given to startConclave replace the configured media settings", async (t) => {
  const server = await start(
    t,
    { mediaAddress: "203.0.113.7", mediaPorts: "40000-40099" },
    { relay: { listenAddress: "127.0.0.1" } },
  );
  const { answer, candidate } = await negotiate(server);
  const found = hostCandidates([candidate, ...answer.split("\r\n")]);
  assert.ok(found.length >= 1);
  for (const [address] of found) assert.equal(address, "127.0.0.1");
});

test("relay: false still gives a signaling-only server when media settings are configured", async (t) => {
  const server = await start(t, { mediaAddress: "203.0.113.7" }, { relay: false });
  assert.equal(server.relay, null);
});

test("a media listen address this machine does not have is refused at start with CONFIG_INVALID", async (t) => {
  // libdatachannel would abort the process at the first negotiation; the server refuses to start.
  const dir = mkdtempSync(join(tmpdir(), "conclave-media-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ flags: { host: "127.0.0.1", port: 0, data: join(dir, "data"), mediaListen: "203.0.113.9" }, env: {} });
  await assert.rejects(
    startConclave(config, { logger: quiet }),
    (e: unknown) => isServerError(e, "CONFIG_INVALID") && /media listen address 203\.0\.113\.9/.test(e.message),
  );
});
