// Live streaming in the grid layout: ffmpeg stacks up to four cameras 2×2. Each bot's camera takes
// the next free tile (the others stay black); when a bot leaves its tile goes black and nobody
// else's tile moves, and the next newcomer takes it. Debian's nginx-rtmp is the ingest on
// loopback and ffmpeg reads the picture back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { meetingLink, startTestServer, type TestServer } from "./support/harness.js";
import { api, requireFfmpeg, toneBot, type ToneBot } from "./support/recording.js";
import { startNginxRtmp, type NginxRtmp } from "./support/nginx-rtmp.js";
import { probeRtmp, quarter, rtmpFrame, spread } from "./support/rtmp-probe.js";

let t: TestServer;
let nginx: NginxRtmp;

before(async () => {
  requireFfmpeg();
  nginx = await startNginxRtmp();
  t = await startTestServer();
  t.server.context.database.settings.writeAccount({ liveStreaming: { value: true } });
});

after(async () => {
  await t?.close();
  await nginx?.close();
});

type Json = Record<string, unknown>;
const call = (method: string, path: string, body?: unknown) => api(t.server.port, t.ca, t.server.adminToken, method, path, body === undefined ? {} : { body });

/** A camera picture has a spread of grey levels; the black placeholder has none. */
const CAMERA_SPREAD = 10;

/** Which of the four tiles show a camera picture, read from one frame of the live stream. */
async function tilesShowing(play: string): Promise<boolean[]> {
  const frame = await rtmpFrame(play, 0.5);
  return [0, 1, 2, 3].map((q) => spread(quarter(frame, q)) > CAMERA_SPREAD);
}

/** Reads frames until the tiles showing a camera are `want` (the layout follows joins and leaves within seconds). */
async function untilTiles(play: string, want: boolean[], what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  let seen: boolean[] = [];
  while (Date.now() < deadline) {
    seen = await tilesShowing(play);
    if (seen.every((v, i) => v === want[i])) return;
  }
  assert.fail(`${what}: tiles showing a camera ${JSON.stringify(seen)}, expected ${JSON.stringify(want)}`);
}

test("grid layout: cameras fill the 2×2 tiles in order, a newcomer takes the next free tile, a leaver's tile goes black while the others stay put and the next newcomer takes it; an unknown layout is refused", { timeout: 240_000 }, async (ctx) => {
  const meeting = await t.createMeeting("enhanced");
  const link = meetingLink(t, meeting);
  const bots: ToneBot[] = [];
  ctx.after(() => bots.forEach((b) => b.stop()));
  bots.push(await toneBot(link, t.ca, "Ada Grid", 440));
  const streamKey = `sk-${randomBytes(12).toString("hex")}`;

  const bad = await call("POST", `/api/meetings/${meeting.id}/stream`, { url: nginx.url, streamKey, layout: "mosaic" });
  assert.equal(bad.status, 400);
  assert.equal(bad.json<{ error: { code: string } }>().error.code, "BAD_REQUEST");
  assert.equal(t.server.streams!.active(meeting.id), undefined, "nothing started");

  const started = await call("POST", `/api/meetings/${meeting.id}/stream`, { url: nginx.url, streamKey, layout: "grid" });
  assert.equal(started.status, 201, started.body.toString());
  const stream = started.json<{ stream: Json }>().stream;
  assert.equal(stream.layout, "grid");
  assert.equal(stream.status, "live");
  const play = `${nginx.url}/${streamKey}`;
  const streams = await probeRtmp(play);
  assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ["audio:aac", "video:h264"]);

  // One camera: the top left tile; the others black.
  await untilTiles(play, [true, false, false, false], "one camera");
  // Each newcomer's camera takes the next free tile.
  bots.push(await toneBot(link, t.ca, "Bea Grid", 660));
  await untilTiles(play, [true, true, false, false], "a second camera");
  bots.push(await toneBot(link, t.ca, "Cy Grid", 880));
  await untilTiles(play, [true, true, true, false], "a third camera");
  // The first bot leaves: its tile goes black, the other two stay where they were.
  bots.shift()!.stop();
  await untilTiles(play, [false, true, true, false], "after the first bot left");
  // The next newcomer takes the freed tile, not the last one.
  bots.push(await toneBot(link, t.ca, "Dee Grid", 550));
  await untilTiles(play, [true, true, true, false], "a newcomer after the first bot left");

  const stopped = await call("DELETE", `/api/meetings/${meeting.id}/stream`);
  assert.equal(stopped.status, 200);
  assert.equal(stopped.json<{ stream: Json }>().stream.layout, "grid");
});
