/**
 * A Chromium participant that may only use TURN (iceTransportPolicy "relay") publishes to and
 * receives from the relay through Debian's coturn on loopback, with the credentials the server
 * handed it on admission; a Node bot on the other side decrypts its frames, and coturn's log
 * shows the allocation and the permission for the relay's address.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import type { NodeParticipant } from "@conclave/client/node";
import { startCoturn, type Coturn } from "@conclave/test-support";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, renderedFrames, startTestServer, type Participant, type TestServer } from "./support/harness.js";

let coturn: Coturn;
let server: TestServer;
let browser: Browser;
let ada: Participant;
let bot: NodeParticipant;

/** Runs in the page before the app: every RTCPeerConnection may use relay candidates only. */
function forceRelay(): void {
  const Native = window.RTCPeerConnection;
  const pcs: RTCPeerConnection[] = [];
  class RelayOnly extends Native {
    constructor(config?: RTCConfiguration) {
      super({ ...config, iceTransportPolicy: "relay" });
      pcs.push(this);
    }
  }
  window.RTCPeerConnection = RelayOnly;
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = pcs;
}

before(async () => {
  coturn = await startCoturn();
  server = await startTestServer({ turnUrl: coturn.url, turnSecret: coturn.secret });
  browser = await launchBrowser(server);
  const meeting = await server.createMeeting("e2ee");
  ada = await openPage(browser, server.link(meeting), async (context) => {
    await context.addInitScript(forceRelay);
  });
  await joinFromPage(ada, "Ada");
  bot = await joinBot(server, meeting, "Robo");
});

after(async () => {
  bot?.leave();
  await browser?.close();
  await server?.close();
  await coturn?.close();
});

/** What Ada's peer connections, the bot and coturn say, for a failure message. */
async function diagnosis(): Promise<string> {
  const pcs = await ada.page
    .evaluate(async () => {
      const out: unknown[] = [];
      for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
        const stats = await pc.getStats();
        const candidates: string[] = [];
        const pairs: string[] = [];
        stats.forEach((r: Record<string, unknown>) => {
          if (r.type === "local-candidate" || r.type === "remote-candidate") candidates.push(`${String(r.type)} ${String(r.candidateType)} ${String(r.address)}:${String(r.port)}`);
          if (r.type === "candidate-pair") pairs.push(`${String(r.state)} nominated=${String(r.nominated)} sent=${String(r.requestsSent)} recv=${String(r.responsesReceived)}`);
        });
        out.push({ connection: pc.connectionState, ice: pc.iceConnectionState, gathering: pc.iceGatheringState, candidates, pairs });
      }
      return out;
    })
    .catch((e: unknown) => `page unreadable: ${String(e)}`);
  return [
    `Ada's peer connections: ${JSON.stringify(pcs, null, 1)}`,
    `Robo's stats: ${JSON.stringify(bot.stats())}`,
    `Ada's console errors: ${JSON.stringify(ada.consoleErrors)}`,
    `coturn's log (end): ${coturn.log().slice(-3000)}`,
  ].join("\n");
}

test("a relay-only Chromium participant publishes and receives E2EE media through coturn", async () => {
  // Robo decrypts Ada's frames (published through TURN) and Ada renders Robo's (received through TURN).
  try {
    await eventually("Robo to decrypt 30 frames from Ada", 60_000, () => Object.values(bot.stats().perSender).some((n) => n >= 30));
    await eventually("Ada to render Robo's video", 60_000, async () => ((await renderedFrames(ada.page, 1000)).Robo ?? 0) > 5);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await diagnosis()}`);
  }

  // Both of Ada's peer connections are up on a relay candidate: media really went through TURN.
  const pairs = await ada.page.evaluate(async () => {
    const out: { state: string; local: string | undefined; config: RTCConfiguration }[] = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState === "closed") continue;
      const stats = await pc.getStats();
      let local: string | undefined;
      stats.forEach((r: { type: string; selectedCandidatePairId?: string; localCandidateId?: string; candidateType?: string; id: string }) => {
        if (r.type !== "transport" || !r.selectedCandidatePairId) return;
        const pair = stats.get(r.selectedCandidatePairId) as { localCandidateId: string };
        local = (stats.get(pair.localCandidateId) as { candidateType: string }).candidateType;
      });
      out.push({ state: pc.connectionState, local, config: pc.getConfiguration() });
    }
    return out;
  });
  assert.equal(pairs.length, 2, "a publish and a subscribe connection");
  for (const p of pairs) {
    assert.equal(p.state, "connected");
    assert.equal(p.local, "relay", "the selected candidate pair uses the TURN relay");
    assert.equal(p.config.iceTransportPolicy, "relay");
    assert.deepEqual(p.config.iceServers?.map((s) => s.urls), [[coturn.url]], "the app used the TURN server the meeting handed out");
  }

  // coturn allocated for Ada's username (<expiry>:<member id>) and let it talk to the relay.
  await coturn.waitForLog(/user <\d+:[^>]+>: incoming packet ALLOCATE processed, success/);
  await coturn.waitForLog(/user <\d+:[^>]+>: incoming packet (CREATE_PERMISSION|CHANNEL_BIND) processed, success/);
  assert.deepEqual(ada.consoleErrors.filter((e) => !/favicon/.test(e)), []);
});
