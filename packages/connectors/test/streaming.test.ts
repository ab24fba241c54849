// The streaming connector's ffmpeg side: the key goes into the publishing URL and nowhere else;
// an rtmps:// ingest's certificate is verified, and a refusal says why without the key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { certificateFailure, GRID_TILES, LineBuffer, publisherArgs, publishUrl, redact, SYSTEM_CA_FILE } from "../src/connectors/streaming/rtmp-publisher.js";
import { GridLayout } from "../src/media/mixer.js";
import { serverToStreamerSchema } from "../src/connectors/streaming/messages.js";

test("the publishing URL is the application URL with the key as the stream name", () => {
  assert.equal(publishUrl("rtmp://h:1935/live", "k1"), "rtmp://h:1935/live/k1");
  assert.equal(publishUrl("rtmp://h:1935/live/", "k1"), "rtmp://h:1935/live/k1");
});

test("ffmpeg's error lines are redacted: the key, as is or URL-encoded, never survives", () => {
  const key = "se cr+et/é";
  const line = `rtmp://h/live/${key}: Connection refused; ${encodeURIComponent(key)}; ${encodeURI(key)}`;
  const out = redact(line, key);
  assert.ok(!out.includes(key) && !out.includes(encodeURIComponent(key)) && !out.includes(encodeURI(key)), out);
  assert.match(out, /\[stream key\]: Connection refused/);
});

test("the server's start message is checked: only rtmp(s) URLs, a stream data key and a known layout", () => {
  const base = {
    type: "stream",
    streamId: "a".repeat(32),
    signalingUrl: "wss://127.0.0.1:1/ws",
    meetingId: "12345678901",
    ticket: "t".repeat(43),
    displayName: "Live stream to rtmp://h/app",
    url: "rtmp://h/app",
    layout: "speaker",
    sealedStreamKey: "AAAA",
    key: { id: "b".repeat(32), kind: "stream", objectId: "a".repeat(32), key: `${"A".repeat(43)}=` },
  };
  assert.ok(serverToStreamerSchema.safeParse(base).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, url: "file:///etc/passwd" }).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, key: { ...base.key, kind: "recording" } }).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, streamKey: "clear" }).success, "no clear key field");
  assert.ok(serverToStreamerSchema.safeParse({ ...base, ingestCaFile: "/etc/conclave/ingest-ca.pem" }).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, ingestCaFile: "ingest-ca.pem" }).success, "the CA bundle path is absolute");
  assert.ok(serverToStreamerSchema.safeParse({ ...base, layout: "grid" }).success);
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, layout: "mosaic" }).success, "only the two layouts");
  assert.ok(!serverToStreamerSchema.safeParse({ ...base, layout: undefined }).success, "the layout is always given");
});

/** The value following `option` in ffmpeg's arguments, which must come before the output URL. */
function optionBeforeOutput(args: string[], option: string): string | undefined {
  const i = args.indexOf(option);
  if (i < 0) return undefined;
  assert.ok(i < args.length - 2, `${option} precedes the output URL`);
  return args[i + 1];
}

test("ffmpeg verifies an rtmps:// ingest's certificate against the system's CAs, or the configured bundle; rtmp:// gets no TLS options", () => {
  const tls = publisherArgs("rtmps://live.example.com:443/app", "k1");
  assert.equal(tls.at(-1), "rtmps://live.example.com:443/app/k1", "the output URL comes last");
  assert.equal(optionBeforeOutput(tls, "-tls_verify"), "1");
  assert.equal(optionBeforeOutput(tls, "-ca_file"), SYSTEM_CA_FILE);
  assert.equal(SYSTEM_CA_FILE, "/etc/ssl/certs/ca-certificates.crt");
  // The host name is checked against the URL's host: nothing may override it.
  assert.ok(!tls.includes("-verifyhost"));
  assert.deepEqual(tls.filter((a) => a.includes("k1")), ["rtmps://live.example.com:443/app/k1"], "the key is only in the URL");

  const custom = publisherArgs("rtmps://ingest.internal/live", "k1", "/etc/conclave/ingest-ca.pem");
  assert.equal(optionBeforeOutput(custom, "-tls_verify"), "1");
  assert.equal(optionBeforeOutput(custom, "-ca_file"), "/etc/conclave/ingest-ca.pem");

  const plain = publisherArgs("rtmp://h:1935/live", "k1", "/etc/conclave/ingest-ca.pem");
  assert.equal(plain.at(-1), "rtmp://h:1935/live/k1");
  assert.ok(!plain.includes("-tls_verify") && !plain.includes("-ca_file"));
  // Everything else is the same command line: the four TLS options are all that differ.
  assert.deepEqual(tls.slice(0, -9), plain.slice(0, -5));
  assert.deepEqual(tls.slice(-5, -1), plain.slice(-5, -1));
});

test("ffmpeg's certificate errors become a clear reason naming the host or the trust store, never the bundle's path; other lines are not certificate failures", () => {
  // The lines of ffmpeg 5.1's libavformat/tls_gnutls.c, as Debian 12's ffmpeg prints them.
  assert.equal(
    certificateFailure("[tls @ 0x5652120706c0] Peer certificate failed verification"),
    "the ingest's TLS certificate is not trusted: it does not chain to the system's CA certificates, or it has expired",
  );
  assert.equal(
    certificateFailure("[tls @ 0x5652120706c0] Peer certificate failed verification", "/etc/conclave/ingest-ca.pem"),
    "the ingest's TLS certificate is not trusted: it does not chain to the server's streaming CA bundle (streamingCa), or it has expired",
  );
  assert.equal(
    certificateFailure("[tls @ 0x55a161157400] The certificate's owner does not match hostname 127.0.0.1"),
    "the ingest's TLS certificate is not for the host 127.0.0.1; check the host name in the URL",
  );
  assert.match(certificateFailure("[tls @ 0x1] Unable to verify peer certificate: Error in the certificate.") ?? "", /not trusted/);
  assert.equal(certificateFailure("[tls @ 0x1] Error while reading file.", "/etc/conclave/ingest-ca.pem"), "the server's streaming CA bundle (streamingCa) cannot be read");
  for (const line of ["[rtmps @ 0x1] Cannot open connection tls://127.0.0.1:1", "rtmps://h/live/[stream key]: Input/output error", "Peer certificate failed verification"]) {
    assert.equal(certificateFailure(line), undefined, line);
  }
  assert.ok(!(certificateFailure("[tls @ 0x1] Peer certificate failed verification", "/secret/path/ca.pem") ?? "").includes("/secret/path"));
});

test("grid layout: ffmpeg gets one IVF input per tile (fd 3-6), scaled into 320×180 quarters and stacked 2×2 by xstack; the speaker layout keeps one input", () => {
  const grid = publisherArgs("rtmp://h/live", "k1", undefined, "grid");
  const inputs = grid.filter((_, i) => grid[i - 1] === "-i");
  assert.deepEqual(inputs, ["pipe:0", "pipe:3", "pipe:4", "pipe:5", "pipe:6"]);
  const graph = grid[grid.indexOf("-filter_complex") + 1]!;
  for (let i = 0; i < GRID_TILES; i++) assert.match(graph, new RegExp(`\\[${i + 1}:v\\]scale=320:180:`));
  assert.match(graph, /xstack=inputs=4:layout=0_0\|320_0\|0_180\|320_180\[v\]/);
  assert.deepEqual(grid.slice(grid.indexOf("-map"), grid.indexOf("-map") + 4), ["-map", "[v]", "-map", "0:a"]);
  assert.ok(!grid.includes("-vf"));
  const speaker = publisherArgs("rtmp://h/live", "k1");
  assert.deepEqual(speaker.filter((_, i) => speaker[i - 1] === "-i"), ["pipe:0", "pipe:3"]);
  assert.ok(!speaker.includes("-filter_complex"));
  assert.deepEqual(publisherArgs("rtmp://h/live", "k1", undefined, "speaker"), speaker);
});

test("grid layout choice: cameras fill free tiles in order and keep them; a leaver frees its tile for the next one; with more cameras than tiles a speaker takes the quietest tile only after speaking a while", () => {
  const g = new GridLayout(2);
  const quiet = (...ids: string[]) => new Map(ids.map((id) => [id, 0]));
  assert.deepEqual(g.update(quiet("a"), new Set(["a"]), 0), ["a", undefined]);
  assert.deepEqual(g.update(quiet("a", "b"), new Set(["a", "b"]), 10), ["a", "b"]);
  // c has no tile while a and b keep theirs; it speaks, but not yet for long enough.
  assert.deepEqual(g.update(new Map([["a", 0], ["b", 0], ["c", 5000]]), new Set(["a", "b", "c"]), 20), ["a", "b"]);
  assert.deepEqual(g.update(new Map([["a", 0], ["b", 0], ["c", 5000]]), new Set(["a", "b", "c"]), 1000), ["a", "b"], "held");
  // b spoke recently, a never: after 1.5 s of speaking c replaces a, the quietest.
  const g2 = new GridLayout(2);
  g2.update(quiet("a", "b"), new Set(["a", "b"]), 0);
  g2.update(new Map([["a", 0], ["b", 4000]]), new Set(["a", "b"]), 100);
  g2.update(new Map([["a", 0], ["b", 0], ["c", 4000]]), new Set(["a", "b", "c"]), 200);
  assert.deepEqual(g2.update(new Map([["a", 0], ["b", 0], ["c", 4000]]), new Set(["a", "b", "c"]), 1800), ["c", "b"]);
  // b's camera stops: its tile is free, and the waiting a takes it; nobody else moves.
  assert.deepEqual(g2.update(quiet("a", "c"), new Set(["a", "c"]), 1900), ["c", "a"]);
  // Everyone leaves: every tile is free.
  assert.deepEqual(g2.update(new Map(), new Set(), 2000), [undefined, undefined]);
});

test("ffmpeg's stderr is read as whole lines: a line written in parts (prefix, then message) is one line, so certificate errors are recognised and the key is redacted", () => {
  const key = "sk-0123456789abcdef";
  const b = new LineBuffer();
  // How ffmpeg 5.1 wrote it in the e2e test: "[tls @ 0x…] " and the message in separate reads.
  assert.deepEqual(b.push("[tls @ 0x5562f3f78ac0] "), []);
  const lines = b.push("The certificate's owner does not match hostname 127.0.0.1\n[rtmps @ 0x1] ");
  assert.deepEqual(lines, ["[tls @ 0x5562f3f78ac0] The certificate's owner does not match hostname 127.0.0.1"]);
  assert.match(certificateFailure(lines[0]!) ?? "", /not for the host 127\.0\.0\.1/);
  assert.deepEqual(b.push("Cannot open connection tls://127.0.0.1:1\r\nrtmps://h/live/sk-0123"), ["[rtmps @ 0x1] Cannot open connection tls://127.0.0.1:1"]);
  const last = b.push("456789abcdef: Input/output error\n");
  assert.deepEqual(last.map((l) => redact(l, key)), ["rtmps://h/live/[stream key]: Input/output error"], "a key split across reads is still redacted");
  assert.deepEqual(b.end(), []);
  assert.deepEqual(b.push("no newline"), []);
  assert.deepEqual(b.end(), ["no newline"]);
  const long = new LineBuffer(4);
  assert.deepEqual(long.push("abcdefghij"), [], "an endless line is not buffered without bound");
  assert.deepEqual(long.push("klm"), []);
  assert.deepEqual(long.end(), ["abcd"], "its beginning is kept");
});
