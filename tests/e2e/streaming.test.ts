// Live streaming end to end: a real server, a bot sending a known tone and the synthetic camera,
// the streaming connector as a visible member, Debian's nginx-rtmp as the ingest on loopback,
// ffprobe/ffmpeg reading the stream back, the ingest dropped and restarted, and the refusals;
// RTMPS through a TLS proxy in front of nginx-rtmp, with certificates of throwaway CAs: one the
// server trusts through streamingCa, one it does not.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { computeShield } from "@conclave/protocol";
import { joinSession, meetingLink, startTestServer, waitFor, type TestServer } from "./support/harness.js";
import { api, requireFfmpeg, toneBot, type ToneBot } from "./support/recording.js";
import { toneCorrelation } from "./support/baresip.js";
import { probeRtmp, rtmpAudio, rtmpFrame, spread } from "./support/rtmp-probe.js";
import { startNginxRtmp, startRtmpsFront, type NginxRtmp, type RtmpsFront } from "./support/nginx-rtmp.js";
import { freePort } from "./support/pebble.js";
import { makeTestCa, type TestCa } from "./support/test-ca.js";

let t: TestServer;
let nginx: NginxRtmp;
/** The CA of the RTMPS ingest's certificates, and a second server that trusts it (streamingCa); `t` trusts only the system's CAs. */
let ingestCa: TestCa;
let tCa: TestServer;
/** A CA nobody trusts. */
let otherCa: TestCa;
/** Everything the server logged, at every level. */
const logged: string[] = [];

before(async () => {
  requireFfmpeg();
  nginx = await startNginxRtmp();
  const line = (m: string, e?: unknown) => logged.push(`${m} ${e instanceof Error ? `${e.message} ${e.stack ?? ""}` : e === undefined ? "" : JSON.stringify(e)}`);
  t = await startTestServer({ logger: { debug: line, info: line, warn: line, error: line } as never });
  t.server.context.database.settings.writeAccount({ liveStreaming: { value: true } });
  ingestCa = await makeTestCa("Conclave test ingest CA");
  otherCa = await makeTestCa("Untrusted test CA");
  tCa = await startTestServer({ logger: { debug: line, info: line, warn: line, error: line } as never }, { streamingCa: ingestCa.caFile });
  tCa.server.context.database.settings.writeAccount({ liveStreaming: { value: true } });
});

after(async () => {
  await t?.close();
  await tCa?.close();
  await nginx?.close();
  await ingestCa?.close();
  await otherCa?.close();
});

type Json = Record<string, unknown>;
const callOn = (on: TestServer, method: string, path: string, body?: unknown) => api(on.server.port, on.ca, on.server.adminToken, method, path, body === undefined ? {} : { body });
const call = (method: string, path: string, body?: unknown) => callOn(t, method, path, body);
const errorOf = (r: { json<T>(): T }) => r.json<{ error: { code: string; message: string } }>().error;

function onEpochs(bots: ToneBot[]) {
  return (wake: () => void) => {
    const offs = bots.map((b) => b.p.on("epoch", wake));
    return () => offs.forEach((o) => o());
  };
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function waitStatus(meetingId: string, pred: (s: Json) => boolean, what: string, ms = 60_000): Promise<Json> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = (await call("GET", `/api/meetings/${meetingId}/stream`)).json<{ stream: Json | null }>().stream;
    if (s && pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (status ${String(s?.status)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("a meeting streamed to nginx-rtmp: everyone sees the streaming member and its unencrypted leg, ffprobe reads H.264 and AAC, the bot's tone is in the audio, a dropped ingest is reconnected, stopping ends the stream, and the key is in no log and no file", { timeout: 240_000 }, async (ctx) => {
  const meeting = await t.createMeeting("enhanced");
  const bot = await toneBot(meetingLink(t, meeting), t.ca, "Ada Stream-440", 440);
  ctx.after(() => bot.stop());
  const streamKey = `sk-${randomBytes(12).toString("hex")}`;

  const started = await call("POST", `/api/meetings/${meeting.id}/stream`, { url: nginx.url, streamKey });
  assert.equal(started.status, 201, started.body.toString());
  assert.ok(!started.body.toString().includes(streamKey), "the response never echoes the key");
  const stream = started.json<{ stream: Json }>().stream;
  assert.equal(stream.status, "live");
  assert.equal(stream.destination, nginx.url);
  assert.equal(stream.tls, false);
  assert.equal(errorOf(await call("POST", `/api/meetings/${meeting.id}/stream`, { url: nginx.url, streamKey })).code, "STREAM_ACTIVE");

  // Everyone sees it: the streaming member in the MLS member list, and in the shield's exceptions
  // with its destination and unencrypted leg (never the key).
  await waitFor("the bot to see the streaming member", 30_000, onEpochs([bot]), () => bot.p.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "streaming") || undefined);
  const shield = computeShield("enhanced", bot.p.session.groupMembers.map((m) => m.identity));
  assert.equal(shield.state, "partial");
  assert.equal(shield.exceptions.length, 1);
  const ex = shield.exceptions[0]!;
  assert.equal(ex.connector, "streaming");
  assert.equal(ex.protection, "unencrypted");
  assert.equal(ex.farLegEncrypted, false);
  assert.match(ex.reason, new RegExp(`^live stream to ${nginx.url.replace(/[./]/g, "\\$&")}: unencrypted beyond the connector`));
  assert.ok(!JSON.stringify(shield).includes(streamKey), "the key is nowhere in the shield");

  // The ingest has it: H.264 video and AAC audio, with the bot's tone in the audio.
  const play = `${nginx.url}/${streamKey}`;
  const streams = await probeRtmp(play);
  assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ["audio:aac", "video:h264"]);
  const audio = await rtmpAudio(play, 4);
  assert.ok(audio.length > 48_000 * 3, `about 4 s of audio was read (${(audio.length / 48_000).toFixed(1)} s)`);
  const tone = toneCorrelation(audio, 48_000, 440);
  assert.ok(tone > 0.6, `the bot's 440 Hz tone is in the stream (correlation ${tone.toFixed(2)})`);
  assert.ok(toneCorrelation(audio, 48_000, 1000) < 0.3, "and no tone that nobody sent");
  // The picture is the bot's camera, not the black placeholder shown while no camera is on.
  const frame = await rtmpFrame(play, 1);
  assert.equal(frame.length, 64 * 36);
  ctx.diagnostic(`grey-level spread of the streamed picture: ${spread(frame).toFixed(1)}; tone correlation ${tone.toFixed(2)}`);
  assert.ok(spread(frame) > 10, `the stream shows the bot's camera (grey-level spread ${spread(frame).toFixed(1)})`);

  // The ingest drops (nginx killed) and comes back: the connector reconnects with backoff.
  await nginx.stop();
  await waitStatus(meeting.id, (s) => s.status === "reconnecting", "the connector to notice the ingest dropped");
  await nginx.start();
  const back = await waitStatus(meeting.id, (s) => s.status === "live" && Number(s.reconnects) >= 1, "the stream to be live again");
  ctx.diagnostic(`reconnected after ${String(back.reconnects)} restart(s)`);
  assert.deepEqual((await probeRtmp(play)).map((s) => s.codec_name).sort(), ["aac", "h264"], "the stream is back at the ingest");

  // Stopping ends it: the member leaves every group and nothing is published any more.
  const stopped = await call("DELETE", `/api/meetings/${meeting.id}/stream`);
  assert.equal(stopped.status, 200, stopped.body.toString());
  assert.equal(stopped.json<{ stream: Json }>().stream.status, "stopped");
  await waitFor("the streaming member to leave", 30_000, onEpochs([bot]), () => !bot.p.session.groupMembers.some((m) => m.identity.kind === "connector") || undefined);
  await assert.rejects(probeRtmp(play), "nothing is published after the stop");
  assert.equal((await call("GET", `/api/meetings/${meeting.id}/stream`)).json<{ stream: unknown }>().stream, null);
  assert.equal(errorOf(await call("DELETE", `/api/meetings/${meeting.id}/stream`)).code, "STREAM_NOT_ACTIVE");

  // The key: in no log line, in no file of the data directory (its data key is shredded too).
  assert.ok(logged.length > 0, "the server logged something");
  assert.ok(logged.some((l) => l.includes("reconnecting")), "the reconnect was logged");
  for (const l of logged) assert.ok(!l.includes(streamKey), `a log line holds the stream key: ${l.replace(streamKey, "<KEY>")}`);
  const dataDir = t.server.context.config.dataDir;
  const files = await filesUnder(dataDir);
  assert.ok(files.length > 0);
  for (const f of files) {
    if ((await stat(f)).size > 64 * 1024 * 1024) continue;
    const bytes = await readFile(f);
    assert.equal(bytes.indexOf(Buffer.from(streamKey)), -1, `${f} holds the stream key in clear`);
  }
  assert.equal(await t.server.context.database.keys.dataKeyIdOf({ kind: "stream", id: String(stream.id) }), undefined, "the stream's data key is destroyed");
});

test("streaming is refused in an e2ee meeting, when settings turn it off, for a malformed URL, and with STREAM_REFUSED when the destination refuses; nobody joins a meeting for a refused stream", { timeout: 120_000 }, async () => {
  const streamKey = `sk-${randomBytes(12).toString("hex")}`;
  const e2ee = await t.createMeeting("e2ee");
  const r1 = await call("POST", `/api/meetings/${e2ee.id}/stream`, { url: nginx.url, streamKey });
  assert.equal(r1.status, 403);
  assert.equal(errorOf(r1).code, "CONNECTOR_NOT_ALLOWED");
  assert.match(errorOf(r1).message, /live streaming is unavailable in end-to-end encrypted meetings/);

  const meeting = await t.createMeeting("enhanced");
  const settings = t.server.context.database.settings;
  settings.writeAccount({ liveStreaming: { value: false, locked: true } });
  try {
    assert.equal(errorOf(await call("POST", `/api/meetings/${meeting.id}/stream`, { url: nginx.url, streamKey })).code, "STREAMING_NOT_ALLOWED");
  } finally {
    settings.writeAccount({ liveStreaming: { value: true, locked: false } });
  }
  for (const body of [{ url: "http://127.0.0.1/live", streamKey }, { url: nginx.url }, { url: nginx.url, streamKey: "a/b" }, { url: `rtmp://user:pw@127.0.0.1:${nginx.port}/live`, streamKey }]) {
    const r = await call("POST", `/api/meetings/${meeting.id}/stream`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(errorOf(r).code, "STREAM_URL_INVALID");
  }

  // A port nothing listens on, and an application nginx does not have: refused, clearly.
  const bot = await toneBot(meetingLink(t, meeting), t.ca, "Bob Stream-660", 660);
  try {
    for (const url of [`rtmp://127.0.0.1:${await freePort()}/live`, `rtmp://127.0.0.1:${nginx.port}/nosuchapp`]) {
      const r = await call("POST", `/api/meetings/${meeting.id}/stream`, { url, streamKey });
      assert.equal(r.status, 502, r.body.toString());
      const e = errorOf(r);
      assert.equal(e.code, "STREAM_REFUSED");
      assert.ok(e.message.includes(url), `the error names the destination: ${e.message}`);
      assert.ok(!r.body.toString().includes(streamKey), "the error does not quote the key");
      assert.equal((await call("GET", `/api/meetings/${meeting.id}/stream`)).json<{ stream: unknown }>().stream, null);
    }
    assert.ok(!bot.p.session.groupMembers.some((m) => m.identity.kind === "connector"), "no streaming member joined for a refused stream");
  } finally {
    bot.stop();
  }
  for (const l of logged) assert.ok(!l.includes(streamKey), "no log line holds the key of a refused stream");
});

test("when the host ends the meeting, the stream ends with it: the connector leaves, the ingest has nothing, and the stream's data key is destroyed", { timeout: 120_000 }, async () => {
  const meeting = await t.createMeeting("enhanced");
  const host = await joinSession(t, meeting, "Host", { asHost: true });
  const streamKey = `sk-${randomBytes(12).toString("hex")}`;
  const started = await call("POST", `/api/meetings/${meeting.id}/stream`, { url: nginx.url, streamKey });
  assert.equal(started.status, 201, started.body.toString());
  const id = String(started.json<{ stream: Json }>().stream.id);
  // Nobody's camera is on: the ingest still gets a picture (the placeholder) and audio.
  assert.deepEqual((await probeRtmp(`${nginx.url}/${streamKey}`)).map((s) => s.codec_name).sort(), ["aac", "h264"]);
  const ended = host.once("error");
  host.endMeeting();
  assert.equal((await ended).code, "MEETING_ENDED");
  const deadline = Date.now() + 30_000;
  while (t.server.streams!.active(meeting.id) !== undefined) {
    if (Date.now() > deadline) throw new Error("the stream outlived its meeting");
    await new Promise((r) => setTimeout(r, 100));
  }
  await assert.rejects(probeRtmp(`${nginx.url}/${streamKey}`), "nothing is published after the meeting ended");
  assert.equal(await t.server.context.database.keys.dataKeyIdOf({ kind: "stream", id }), undefined);
});

/** An RTMPS front of nginx with a certificate of `ca` for `subjectAltName`, closed after the test. */
async function rtmpsFront(ctx: { after(fn: () => Promise<void>): void }, ca: TestCa, name: string, subjectAltName: string): Promise<RtmpsFront> {
  const front = await startRtmpsFront(nginx.port, await ca.issue(name, subjectAltName));
  ctx.after(() => front.close());
  return front;
}

/**
 * Starts a stream to `front` on `on` and checks it is refused for its certificate: 502
 * STREAM_REFUSED naming the destination and `reason`, never the key or the CA file's path; no
 * stream left; ffmpeg reached the proxy but sent no application byte through TLS (so neither the
 * RTMP handshake nor the key), and nginx has nothing published.
 */
async function assertCertificateRefused(on: TestServer, front: RtmpsFront, reason: RegExp): Promise<string> {
  const meeting = await on.createMeeting("enhanced");
  const streamKey = `sk-${randomBytes(12).toString("hex")}`;
  const before = front.connections;
  const r = await callOn(on, "POST", `/api/meetings/${meeting.id}/stream`, { url: front.url, streamKey });
  assert.equal(r.status, 502, r.body.toString());
  const e = errorOf(r);
  assert.equal(e.code, "STREAM_REFUSED");
  assert.ok(e.message.includes(`could not stream to ${front.url}: `), `the error names the destination: ${e.message}`);
  assert.match(e.message, reason);
  assert.ok(!r.body.toString().includes(streamKey), "the error does not quote the key");
  for (const ca of [ingestCa, otherCa]) assert.ok(!r.body.toString().includes(dirname(ca.caFile)), "the error does not name the server's files");
  assert.ok(front.connections > before, `ffmpeg reached the TLS proxy (${front.connections} connection(s))`);
  assert.equal(front.bytesIn, 0, "no RTMP byte (handshake, commands, key) came through TLS");
  assert.equal((await callOn(on, "GET", `/api/meetings/${meeting.id}/stream`)).json<{ stream: unknown }>().stream, null);
  await assert.rejects(probeRtmp(`${nginx.url}/${streamKey}`), "nothing reached nginx");
  for (const l of logged) assert.ok(!l.includes(streamKey), "no log line holds the key of a refused stream");
  return e.message;
}

test("RTMPS to an ingest whose certificate chains to a CA the server does not trust is refused (502 STREAM_REFUSED: not trusted) before any RTMP byte or the key goes through TLS", { timeout: 120_000 }, async (ctx) => {
  // A certificate of a CA nobody trusts, valid for the URL's host: refused by the server that
  // trusts only the test ingest CA (streamingCa), and by the one that trusts the system's CAs.
  const untrusted = await rtmpsFront(ctx, otherCa, "untrusted-ingest", "IP:127.0.0.1");
  const m1 = await assertCertificateRefused(tCa, untrusted, /: the ingest's TLS certificate is not trusted: it does not chain to the server's streaming CA bundle \(streamingCa\)/);
  const m2 = await assertCertificateRefused(t, untrusted, /: the ingest's TLS certificate is not trusted: it does not chain to the system's CA certificates/);
  // The certificate the streamingCa server accepts (see the next tests) is not trusted without it.
  const good = await rtmpsFront(ctx, ingestCa, "ingest-ip", "IP:127.0.0.1");
  await assertCertificateRefused(t, good, /: the ingest's TLS certificate is not trusted: it does not chain to the system's CA certificates/);
  ctx.diagnostic(`${m1} | ${m2} | TLS connections ${untrusted.connections}, completed handshakes ${untrusted.handshakes}, application bytes ${untrusted.bytesIn}`);
});

test("RTMPS to 127.0.0.1 whose certificate (of the trusted CA) is for DNS:ingest.example is refused (502 STREAM_REFUSED: not for the host)", { timeout: 120_000 }, async (ctx) => {
  const front = await rtmpsFront(ctx, ingestCa, "ingest-dns", "DNS:ingest.example");
  const message = await assertCertificateRefused(tCa, front, /: the ingest's TLS certificate is not for the host 127\.0\.0\.1; check the host name in the URL/);
  assert.doesNotMatch(message, /TLS certificate is not trusted/, "the chain was fine: only the host name is wrong");
});

test("RTMPS to an ingest whose certificate for IP:127.0.0.1 chains to the streamingCa bundle: accepted (201, tls true), the shield says TLS as far as the service, and nginx-rtmp behind the TLS proxy gets H.264 and AAC", { timeout: 180_000 }, async (ctx) => {
  const front = await rtmpsFront(ctx, ingestCa, "ingest-ip", "IP:127.0.0.1");
  const meeting = await tCa.createMeeting("enhanced");
  const bot = await toneBot(meetingLink(tCa, meeting), tCa.ca, "Cy Stream-550", 550);
  ctx.after(() => bot.stop());
  const streamKey = `sk-${randomBytes(12).toString("hex")}`;

  const started = await callOn(tCa, "POST", `/api/meetings/${meeting.id}/stream`, { url: front.url, streamKey });
  assert.equal(started.status, 201, started.body.toString());
  assert.ok(!started.body.toString().includes(streamKey), "the response never echoes the key");
  const stream = started.json<{ stream: Json }>().stream;
  assert.equal(stream.status, "live");
  assert.equal(stream.destination, front.url);
  assert.equal(stream.tls, true);
  // tls:true is what the URL says; that the stream really went through TLS is the proxy's count.
  assert.ok(front.handshakes >= 1 && front.bytesIn > 0, `RTMP came through the TLS proxy (${front.bytesIn} bytes)`);

  await waitFor("the bot to see the streaming member", 30_000, onEpochs([bot]), () => bot.p.session.groupMembers.some((m) => m.identity.kind === "connector" && m.identity.connector === "streaming") || undefined);
  const ex = computeShield("enhanced", bot.p.session.groupMembers.map((m) => m.identity)).exceptions;
  assert.equal(ex.length, 1);
  assert.match(ex[0]!.reason, new RegExp(`^live stream to ${front.url.replace(/[./]/g, "\\$&")}: encrypted \\(TLS\\) only as far as the streaming service`));

  // nginx behind the proxy has it (read in plain RTMP from nginx itself).
  const streams = await probeRtmp(`${nginx.url}/${streamKey}`);
  assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ["audio:aac", "video:h264"]);
  const received = front.bytesIn;
  const stopped = await callOn(tCa, "DELETE", `/api/meetings/${meeting.id}/stream`);
  assert.equal(stopped.status, 200, stopped.body.toString());
  assert.ok(received > 10_000, `media went through TLS (${received} bytes)`);
  for (const l of logged) assert.ok(!l.includes(streamKey), "no log line holds the stream key");
});
