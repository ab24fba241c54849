// SIP INFO in a dialog (RFC 6086): the DTMF fallback phones and trunks use when they do not send
// RFC 4733 events. Two real UAs over UDP on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SipTransport } from "../src/sip/transport.js";
import { SipUserAgent, type IncomingCall } from "../src/sip/ua.js";
import { parseSipUri } from "../src/sip/uri.js";
import { dtmfFromInfo } from "../src/pstn/dtmf.js";

const SDP = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

test("SIP INFO with DTMF reaches the other side's dialog as an 'info' event and is answered 200; without a listener it is 469", async (t) => {
  const ta = await SipTransport.listen({ udp: { host: "127.0.0.1", port: 0 } });
  const tb = await SipTransport.listen({ udp: { host: "127.0.0.1", port: 0 } });
  const caller = new SipUserAgent({ transport: ta, publicHost: "127.0.0.1", user: "trunk" });
  const callee = new SipUserAgent({ transport: tb, publicHost: "127.0.0.1", user: "conclave" });
  t.after(async () => {
    await caller.close();
    await callee.close();
    await ta.close();
    await tb.close();
  });
  const incoming = new Promise<IncomingCall>((resolve) => callee.once("invite", resolve));
  const calling = caller.call(parseSipUri(`sip:+15550100@127.0.0.1:${tb.boundFor("udp")!.port}`), SDP);
  const call = await incoming;
  const [calleeDialog, { dialog }] = await Promise.all([call.accept(SDP), calling]);

  assert.equal(await dialog.info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), 469, "nobody listens yet: Bad Info Package");
  const keys: string[] = [];
  calleeDialog.on("info", ({ contentType, body }) => {
    const d = dtmfFromInfo(contentType, body);
    if (d) keys.push(d);
  });
  assert.equal(await dialog.info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), 200);
  assert.equal(await dialog.info("application/dtmf", "#"), 200);
  assert.equal(await dialog.info("text/plain", "hello"), 200, "answered, but no key");
  assert.deepEqual(keys, ["5", "#"]);
  await dialog.bye();
});
