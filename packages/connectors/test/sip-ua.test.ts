// The SIP user agent against another instance of itself and against a raw socket that misbehaves:
// calls, re-INVITE both ways, BYE both ways, OPTIONS, CANCEL, 2xx retransmission until the ACK,
// session timers, REGISTER and digest authentication both ways.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DigestServer,
  SipTransport,
  SipUserAgent,
  answerChallenge,
  header,
  isConnectorError,
  parseSipMessage,
  parseSipUri,
  type IncomingCall,
  type SipDialog,
  type SipRequest,
} from "../src/index.js";

const SDP_A = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const SDP_B = SDP_A.replace("o=a", "o=b").replace("4000", "5000");

async function pair(opts: { transport?: "udp" | "tls"; digest?: DigestServer; sessionExpires?: number } = {}): Promise<{ caller: SipUserAgent; callee: SipUserAgent; calleeUri: string; close(): Promise<void> }> {
  let tls: { cert: Buffer; key: Buffer } | undefined;
  let dir: string | undefined;
  if (opts.transport === "tls") {
    dir = mkdtempSync(join(tmpdir(), "conclave-ua-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")], { stdio: "ignore" });
    tls = { cert: readFileSync(join(dir, "c.pem")), key: readFileSync(join(dir, "k.pem")) };
  }
  const listen = async () =>
    SipTransport.listen({
      udp: { host: "127.0.0.1", port: 0 },
      ...(tls ? { tls: { host: "127.0.0.1", port: 0, ...tls }, tlsClientCa: tls.cert } : {}),
    });
  const ta = await listen();
  const tb = await listen();
  const caller = new SipUserAgent({ transport: ta, publicHost: "127.0.0.1", user: "caller", ...(opts.sessionExpires ? { sessionExpires: opts.sessionExpires } : {}) });
  const callee = new SipUserAgent({ transport: tb, publicHost: "127.0.0.1", user: "callee", ...(opts.digest ? { digest: opts.digest } : {}), ...(opts.sessionExpires ? { sessionExpires: opts.sessionExpires } : {}) });
  const t = opts.transport ?? "udp";
  const calleeUri = `sip:room@127.0.0.1:${tb.boundFor(t)!.port};transport=${t}`;
  return {
    caller,
    callee,
    calleeUri,
    async close() {
      await caller.close();
      await callee.close();
      await ta.close();
      await tb.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function nextInvite(ua: SipUserAgent): Promise<IncomingCall> {
  return new Promise((resolve) => ua.once("invite", resolve));
}

for (const transport of ["udp", "tls"] as const) {
  test(`over ${transport.toUpperCase()}: a call is answered, renegotiated by either side, and hung up by either side`, async (t) => {
    const p = await pair({ transport });
    t.after(() => p.close());
    // Call; the callee answers.
    const incoming = nextInvite(p.callee);
    const calling = p.caller.call(parseSipUri(p.calleeUri), SDP_A, { displayName: "Caller" });
    const call = await incoming;
    assert.equal(call.from.displayName, "Caller");
    assert.equal(call.secure, transport === "tls");
    assert.equal(call.offer, SDP_A);
    call.ringing();
    const [calleeDialog, { dialog: callerDialog, answer }] = await Promise.all([call.accept(SDP_B), calling]);
    assert.equal(answer, SDP_B);
    assert.equal(calleeDialog.state, "confirmed");

    // re-INVITE from the caller: the callee's application answers it.
    calleeDialog.once("offer", ({ sdp, respond }) => respond(sdp.replace("o=a", "o=b")));
    assert.match(await callerDialog.reinvite(SDP_A.replace("o=a 1 1", "o=a 1 2")), /o=b 1 2/);
    // ...and from the callee; a refused offer is 488.
    callerDialog.once("offer", ({ respond }) => respond(null, "no thanks"));
    await assert.rejects(calleeDialog.reinvite(SDP_B), (e: unknown) => isConnectorError(e, "SIP_CALL_FAILED") && /488/.test((e as Error).message));
    callerDialog.once("offer", ({ respond }) => respond(SDP_A));
    assert.equal(await calleeDialog.reinvite(SDP_B), SDP_A);

    // OPTIONS in the dialog's transport, out of dialog.
    assert.equal(await p.caller.options(parseSipUri(p.calleeUri)), 200);

    // BYE from the callee this time; the caller sees it.
    const ended = new Promise((r) => callerDialog.once("terminated", r));
    await calleeDialog.bye();
    assert.equal(await ended, "remote-bye");
    assert.equal(p.callee.dialogs.length + p.caller.dialogs.length, 0);
  });
}

test("BYE from the caller ends the callee's dialog; a request for an unknown dialog gets 481", async (t) => {
  const p = await pair();
  t.after(() => p.close());
  const incoming = nextInvite(p.callee);
  const calling = p.caller.call(parseSipUri(p.calleeUri), SDP_A);
  const call = await incoming;
  const [calleeDialog, { dialog }] = await Promise.all([call.accept(SDP_B), calling]);
  const ended = new Promise((r) => calleeDialog.once("terminated", r));
  await dialog.bye();
  assert.equal(await ended, "remote-bye");
  await assert.rejects(dialog.reinvite(), (e: unknown) => isConnectorError(e, "SIP_CLOSED"));
});

test("a refused call reaches the caller with its status, and CANCEL before the answer ends it with 487", async (t) => {
  const p = await pair();
  t.after(() => p.close());
  const incoming = nextInvite(p.callee);
  const calling = p.caller.call(parseSipUri(p.calleeUri), SDP_A);
  (await incoming).reject(488, "Not Acceptable Here", "enable SRTP");
  await assert.rejects(calling, (e: unknown) => isConnectorError(e, "SIP_CALL_FAILED") && /488 Not Acceptable Here/.test((e as Error).message));

  const abort = new AbortController();
  const incoming2 = nextInvite(p.callee);
  const calling2 = p.caller.call(parseSipUri(p.calleeUri), SDP_A, { signal: abort.signal, onProgress: (s) => s === 180 && abort.abort() });
  const call = await incoming2;
  const cancelled = new Promise((r) => call.once("cancelled", () => r(true)));
  call.ringing();
  await assert.rejects(calling2, (e: unknown) => isConnectorError(e, "SIP_CALL_FAILED") && /487/.test((e as Error).message));
  assert.equal(await cancelled, true);
});

test("the 200 OK is retransmitted until the ACK arrives (RFC 3261 §13.3.1.4)", async (t) => {
  mock.timers.enable({ apis: ["setTimeout"] });
  t.after(() => mock.timers.reset());
  const transport = await SipTransport.listen({ udp: { host: "127.0.0.1", port: 0 } });
  const ua = new SipUserAgent({ transport, publicHost: "127.0.0.1" });
  const raw = createSocket("udp4");
  await new Promise<void>((r) => raw.bind(0, "127.0.0.1", () => r()));
  t.after(async () => {
    raw.close();
    await ua.close();
    await transport.close();
  });
  const port = transport.boundFor("udp")!.port;
  const rawPort = raw.address().port;
  let oks = 0;
  let wake: () => void = () => {};
  raw.on("message", (d) => {
    const m = parseSipMessage(d, { datagram: true });
    if (m.kind === "response" && m.status === 200) {
      oks += 1;
      wake();
    }
  });
  const okCount = (n: number) => new Promise<void>((resolve) => {
    wake = () => oks >= n && resolve();
    wake();
  });
  const headers = (method: string, branch: string, toTag = "") =>
    `Via: SIP/2.0/UDP 127.0.0.1:${rawPort};branch=${branch};rport\r\nFrom: <sip:raw@127.0.0.1>;tag=r1\r\nTo: <sip:room@127.0.0.1>${toTag}\r\nCall-ID: raw-call-1\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\n`;
  const incoming = new Promise<IncomingCall>((r) => ua.once("invite", r));
  raw.send(`INVITE sip:room@127.0.0.1:${port} SIP/2.0\r\n${headers("INVITE", "z9hG4bKraw1")}Contact: <sip:raw@127.0.0.1:${rawPort}>\r\nContent-Type: application/sdp\r\nContent-Length: ${SDP_A.length}\r\n\r\n${SDP_A}`, port, "127.0.0.1");
  const call = await incoming;
  const accepted = call.accept(SDP_B);
  await okCount(1);
  // Without an ACK it comes again after T1, then after 2*T1 (and so on, up to T2).
  mock.timers.tick(500);
  await okCount(2);
  mock.timers.tick(1000);
  await okCount(3);
  raw.send(`ACK sip:room@127.0.0.1:${port} SIP/2.0\r\n${headers("ACK", "z9hG4bKraw2", `;tag=${call.toTag}`)}Content-Length: 0\r\n\r\n`, port, "127.0.0.1");
  const dialog: SipDialog = await accepted;
  assert.equal(dialog.state, "confirmed");
  mock.timers.tick(30_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(oks, 3, "retransmissions stop after the ACK");
  // The device asked for no session timer and does not support one: we are the refresher.
  assert.deepEqual(dialog.sessionTimer, { seconds: 1800, refresher: "us" });
});

test("session timers: a dialog whose refresher never refreshes is ended with a BYE before Session-Expires (RFC 4028 §10)", async (t) => {
  // Virtual time for the session timers (the sockets are real; loopback needs no retransmission).
  mock.timers.enable({ apis: ["setTimeout"] });
  t.after(() => mock.timers.reset());
  const p = await pair({ sessionExpires: 90 });
  t.after(() => p.close());
  const incoming = nextInvite(p.callee);
  const calling = p.caller.call(parseSipUri(p.calleeUri), SDP_A);
  const call = await incoming;
  const [calleeDialog, { dialog }] = await Promise.all([call.accept(SDP_B), calling]);
  // The caller asked for 90 s and supports timers: it refreshes, the callee watches.
  assert.deepEqual(calleeDialog.sessionTimer, { seconds: 90, refresher: "them" });
  assert.deepEqual(dialog.sessionTimer, { seconds: 90, refresher: "us" });
  // The caller refreshes at half the interval; a refresh re-arms the callee's watch.
  const refreshed = new Promise((r) => calleeDialog.once("offer", ({ sdp, respond }) => (respond(SDP_B), r(sdp))));
  mock.timers.tick(45_000);
  assert.match(String(await refreshed), /o=a 1 1/);
  await waitForState(calleeDialog, "confirmed");
  // Now the caller vanishes without a BYE: the callee ends the session itself, before it expires.
  dialog.terminate("closed");
  const ended = new Promise((r) => calleeDialog.once("terminated", r));
  mock.timers.tick(60_000);
  assert.equal(await ended, "session-expired");
});

test("digest: REGISTER and INVITE from a configured account must authenticate; the UAC answers challenges with configured credentials", async (t) => {
  const digest = new DigestServer("conclave.test", [{ username: "room", password: "correct horse battery" }]);
  const p = await pair({ digest });
  t.after(() => p.close());
  // The callee challenges an INVITE that claims the account "room"; the caller's UA answers.
  const caller = new SipUserAgent({ transport: p.caller.transport, publicHost: "127.0.0.1", user: "room", credentialsFor: () => ({ username: "room", password: "correct horse battery" }) });
  const incoming = nextInvite(p.callee);
  const calling = caller.call(parseSipUri(p.calleeUri), SDP_A);
  const call = await incoming;
  assert.match(header(call.request, "Authorization") ?? "", /^Digest username="room"/);
  await Promise.all([call.accept(SDP_B), calling]);
  // A wrong password is refused (401 again, then the call fails).
  const wrong = new SipUserAgent({ transport: p.caller.transport, publicHost: "127.0.0.1", user: "room", credentialsFor: () => ({ username: "room", password: "wrong wrong wrong" }) });
  await assert.rejects(wrong.call(parseSipUri(p.calleeUri), SDP_A), (e: unknown) => isConnectorError(e, "SIP_CALL_FAILED") && /401/.test((e as Error).message));
  // The verifier: a valid response passes, a tampered one does not.
  const challenge = digest.challenge("SHA-256");
  const ok = answerChallenge(challenge, { username: "room", password: "correct horse battery" }, "REGISTER", "sip:127.0.0.1")!;
  assert.equal(digest.verify(ok, "REGISTER"), "room");
  assert.equal(digest.verify(ok.replace(/response="[0-9a-f]/, 'response="z'), "REGISTER"), null);
  assert.equal(digest.verify(ok, "INVITE"), null, "the method is part of the response");
});

test("REGISTER: an account registers with digest and can then be called by name; a wrong password cannot", async (t) => {
  const digest = new DigestServer("127.0.0.1", [{ username: "room4", password: "correct horse battery" }]);
  const p = await pair({ digest });
  t.after(() => p.close());
  const registrar = parseSipUri(p.calleeUri);
  const contactPort = p.caller.transport.boundFor("udp")!.port;
  const register = async (password: string): Promise<number> => {
    const flow = p.caller.flowFor(registrar);
    const base = (cseq: number, auth?: string) =>
      ({
        kind: "request",
        method: "REGISTER",
        uri: `sip:127.0.0.1:${registrar.port}`,
        headers: [
          p.caller.via("udp"),
          { name: "From", value: `<sip:room4@127.0.0.1>;tag=reg${cseq}` },
          { name: "To", value: "<sip:room4@127.0.0.1>" },
          { name: "Call-ID", value: `register-${password.length}` },
          { name: "CSeq", value: `${cseq} REGISTER` },
          { name: "Contact", value: `<sip:room4@127.0.0.1:${contactPort};transport=udp>;expires=600` },
          ...(auth ? [{ name: "Authorization", value: auth }] : []),
        ],
        body: new Uint8Array(0),
      }) as SipRequest;
    const first = await p.caller.request(base(1), flow);
    assert.equal(first.status, 401);
    const auth = answerChallenge(header(first, "WWW-Authenticate")!, { username: "room4", password }, "REGISTER", `sip:127.0.0.1:${registrar.port}`)!;
    return (await p.caller.request(base(2, auth), flow)).status;
  };
  assert.equal(await register("wrong wrong wrong"), 401);
  assert.equal(p.callee.registeredContact("room4"), undefined);
  assert.equal(await register("correct horse battery"), 200);
  assert.equal(p.callee.registeredContact("room4")?.uri.port, contactPort);
  // The registrar side calls it by its address of record: the registered UA rings.
  const ringing = nextInvite(p.caller);
  const calling = p.callee.call(parseSipUri("sip:room4@127.0.0.1"), SDP_B);
  const call = await ringing;
  call.reject(486, "Busy Here");
  await assert.rejects(calling, /486/);
});

test("a 200 OK never acknowledged for 64*T1 ends the call with a BYE", async (t) => {
  mock.timers.enable({ apis: ["setTimeout"] });
  t.after(() => mock.timers.reset());
  const transport = await SipTransport.listen({ udp: { host: "127.0.0.1", port: 0 } });
  const ua = new SipUserAgent({ transport, publicHost: "127.0.0.1" });
  const raw = createSocket("udp4");
  await new Promise<void>((r) => raw.bind(0, "127.0.0.1", () => r()));
  t.after(async () => {
    raw.close();
    await ua.close();
    await transport.close();
  });
  const port = transport.boundFor("udp")!.port;
  const rawPort = raw.address().port;
  const bye = new Promise<SipRequest>((resolve) =>
    raw.on("message", (d) => {
      const m = parseSipMessage(d, { datagram: true });
      if (m.kind === "request" && m.method === "BYE") resolve(m);
    }),
  );
  const invite = `INVITE sip:room@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${rawPort};branch=z9hG4bKnoack;rport\r\nFrom: <sip:raw@127.0.0.1>;tag=n1\r\nTo: <sip:room@127.0.0.1>\r\nCall-ID: no-ack-1\r\nCSeq: 1 INVITE\r\nContact: <sip:raw@127.0.0.1:${rawPort}>\r\nContent-Type: application/sdp\r\nContent-Length: ${SDP_A.length}\r\n\r\n${SDP_A}`;
  const incoming = new Promise<IncomingCall>((r) => ua.once("invite", r));
  raw.send(invite, port, "127.0.0.1");
  const accepted = (await incoming).accept(SDP_B);
  mock.timers.tick(64 * 500);
  await assert.rejects(accepted, (e: unknown) => isConnectorError(e, "SIP_TIMEOUT"));
  assert.equal(header(await bye, "Call-ID"), "no-ack-1");
});

async function waitForState(d: SipDialog, state: "confirmed"): Promise<void> {
  for (let i = 0; i < 200 && d.state !== state; i++) await new Promise((r) => setImmediate(r));
  assert.equal(d.state, state);
}
