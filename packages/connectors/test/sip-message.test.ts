import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SipStreamParser,
  formatSipUri,
  header,
  headerValues,
  isConnectorError,
  parseAuthHeader,
  parseNameAddr,
  parseSessionExpires,
  parseSipMessage,
  parseSipUri,
  parseVia,
  serializeSipMessage,
  type SipRequest,
} from "../src/index.js";

const enc = (s: string) => Buffer.from(s, "utf8");

// What baresip 1.0 sent on this machine (SDP shortened).
const INVITE = [
  "INVITE sip:123.abc@127.0.0.1:25999;transport=tls;transport=tls SIP/2.0",
  "Via: SIP/2.0/TLS 127.0.0.1:25060;branch=z9hG4bK0a5944bd9aabc8fd;rport",
  "Contact: <sip:alice-0x564a0f210210@127.0.0.1:25060;transport=tls>",
  "Max-Forwards: 70",
  "To: <sip:123.abc@127.0.0.1:25999>",
  'From: "Room 4" <sip:alice@127.0.0.1>;tag=e2f90b4ccf5f2d02',
  "Call-ID: a8819ddbdd095def",
  "CSeq: 18279 INVITE",
  "User-Agent: baresip v1.0.0 (x86_64/linux)",
  "Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,REFER",
  "Supported:",
  "Content-Type: application/sdp",
  "Content-Length: 4",
  "",
  "v=0\n",
].join("\r\n");

function rejects(data: string, why: RegExp, datagram = false): void {
  assert.throws(() => parseSipMessage(enc(data), { datagram }), (e: unknown) => isConnectorError(e) && why.test((e as Error).message), why.source);
}

test("a real INVITE decodes: start line, headers in order, compact forms expanded, body by Content-Length", () => {
  const m = parseSipMessage(enc(INVITE), { datagram: false }) as SipRequest;
  assert.equal(m.kind, "request");
  assert.equal(m.method, "INVITE");
  assert.equal(m.uri, "sip:123.abc@127.0.0.1:25999;transport=tls;transport=tls");
  assert.equal(header(m, "call-id"), "a8819ddbdd095def");
  assert.equal(header(m, "Supported"), "");
  assert.deepEqual(headerValues(m, "Allow").slice(0, 3), ["INVITE", "ACK", "BYE"]);
  assert.equal(Buffer.from(m.body).toString(), "v=0\n");
  const compact = INVITE.replace("Call-ID:", "i:").replace("Via:", "v:").replace("Content-Length:", "l:");
  assert.equal(header(parseSipMessage(enc(compact), { datagram: false }), "Call-ID"), "a8819ddbdd095def");
});

test("encoding then decoding gives the same message, with a correct Content-Length", () => {
  const m = parseSipMessage(enc(INVITE), { datagram: false });
  const again = parseSipMessage(serializeSipMessage(m), { datagram: false });
  assert.deepEqual(again, m);
});

test("folded header lines are joined (RFC 3261 §7.3.1)", () => {
  const folded = INVITE.replace("User-Agent: baresip v1.0.0 (x86_64/linux)", "User-Agent: baresip\r\n  v1.0.0");
  assert.equal(header(parseSipMessage(enc(folded), { datagram: false }), "User-Agent"), "baresip v1.0.0");
});

test("malformed messages fail with SIP_BAD_MESSAGE and say what is wrong", () => {
  rejects("", /no end of headers/);
  rejects(INVITE.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"), /unsupported SIP version/);
  rejects(INVITE.replace("CSeq: 18279 INVITE", "CSeq: 18279 BYE"), /CSeq method differs/);
  rejects(INVITE.replace("CSeq: 18279 INVITE", "CSeq: x INVITE"), /malformed CSeq/);
  rejects(INVITE.replace("Call-ID: a8819ddbdd095def\r\n", ""), /missing Call-ID/);
  rejects(INVITE.replace("To: ", "To: a\r\nTo: "), /To appears more than once/);
  rejects(INVITE.replace("Content-Length: 4", "Content-Length: 40"), /shorter than Content-Length/);
  rejects(INVITE.replace("Content-Length: 4", "Content-Length: 2"), /bytes after the body/);
  rejects(INVITE.replace("Content-Length: 4\r\n", ""), /mandatory on stream/);
  rejects(INVITE.replace("Max-Forwards: 70", "Max Forwards: 70"), /not a token/);
  rejects(INVITE.replace("Max-Forwards: 70", "Max-Forwards 70"), /without a name and colon/);
  rejects(INVITE.replace("Max-Forwards: 70", "Max-Forwards: 7\r0"), /bare CR/);
  rejects(INVITE.replace("SIP/2.0 ", "SIP/2.0 999 Nope").replace(/^INVITE [^\r]*/, "SIP/2.0 999 Nope"), /malformed status line/);
  // A raw 0xFF byte (not UTF-8) in a display name.
  assert.throws(() => parseSipMessage(Buffer.from(INVITE.replace("Room 4", "Room \xff"), "latin1"), { datagram: false }), /not valid UTF-8/);
  const many = INVITE.replace("Max-Forwards: 70", Array.from({ length: 130 }, (_, i) => `X-H${i}: v`).join("\r\n"));
  rejects(many, /more than 128 header fields/);
});

test("on datagrams a missing Content-Length means the rest, and extra bytes after the body are cut (RFC 3261 §18.3)", () => {
  const noLength = INVITE.replace("Content-Length: 4\r\n", "");
  assert.equal(Buffer.from(parseSipMessage(enc(noLength), { datagram: true }).body).toString(), "v=0\n");
  const extra = INVITE + "junk";
  assert.equal(Buffer.from(parseSipMessage(enc(extra), { datagram: true }).body).toString(), "v=0\n");
});

test("the stream parser splits back-to-back messages, waits for partial ones and skips CRLF keep-alives", () => {
  const p = new SipStreamParser();
  const two = Buffer.concat([enc("\r\n\r\n"), enc(INVITE), enc("\r\n"), enc(INVITE)]);
  const out = [...p.push(two.subarray(0, 100)), ...p.push(two.subarray(100, 101)), ...p.push(two.subarray(101))];
  assert.equal(out.length, 2);
  assert.throws(() => new SipStreamParser().push(enc(INVITE.replace("Content-Length: 4\r\n", ""))), (e: unknown) => isConnectorError(e, "SIP_BAD_MESSAGE"));
  assert.throws(() => new SipStreamParser().push(Buffer.alloc(70_000, 0x41)), (e: unknown) => isConnectorError(e, "SIP_MESSAGE_TOO_LARGE"));
});

test("SIP URIs: user, host, port and parameters; an identical repeated parameter is accepted, a conflicting one or a password is not", () => {
  const u = parseSipUri("sip:123.abc@127.0.0.1:25999;transport=tls;transport=tls;lr");
  assert.deepEqual([u.scheme, u.user, u.host, u.port, u.params.get("transport"), u.params.get("lr")], ["sip", "123.abc", "127.0.0.1", 25999, "tls", null]);
  assert.equal(formatSipUri(parseSipUri("sips:room@[2001:db8::1]:5061")), "sips:room@[2001:db8::1]:5061");
  for (const bad of ["http://x", "sip:", "sip:a@", "sip:a:pw@host", "sip:host:70000", "sip:host;transport=tls;transport=udp", "sip:bad host", "sip:[::1"]) {
    assert.throws(() => parseSipUri(bad), (e: unknown) => isConnectorError(e, "SIP_BAD_URI"), bad);
  }
});

test("header values: name-addr with quoted names and tags, Via with branch, digest challenges, Session-Expires", () => {
  const from = parseNameAddr('"Room \\"4\\"" <sip:alice@127.0.0.1>;tag=e2f9');
  assert.deepEqual([from.displayName, from.uri.user, from.params.get("tag")], ['Room "4"', "alice", "e2f9"]);
  assert.equal(parseNameAddr("sip:bob@example.org;tag=1").params.get("tag"), "1");
  const via = parseVia("SIP/2.0/TLS 127.0.0.1:25060;branch=z9hG4bK0a59;rport");
  assert.deepEqual([via.transport, via.host, via.port, via.params.get("branch"), via.params.get("rport")], ["TLS", "127.0.0.1", 25060, "z9hG4bK0a59", null]);
  const auth = parseAuthHeader('Digest realm="conclave", nonce="a,b", algorithm=SHA-256, qop="auth"');
  assert.deepEqual([auth.scheme, auth.params.get("nonce"), auth.params.get("qop")], ["Digest", "a,b", "auth"]);
  assert.deepEqual(parseSessionExpires("1800;refresher=uac"), { seconds: 1800, refresher: "uac" });
  for (const bad of ["<sip:a@b", '"unterminated <sip:a@b>', "sip:a@b;tag=1;tag=2"]) assert.throws(() => parseNameAddr(bad), (e: unknown) => isConnectorError(e, "SIP_BAD_HEADER"), bad);
  assert.throws(() => parseVia("SIP/2.0/SCTP host"), (e: unknown) => isConnectorError(e, "SIP_BAD_HEADER"));
  assert.throws(() => parseSessionExpires("1800;refresher=me"), (e: unknown) => isConnectorError(e, "SIP_BAD_HEADER"));
});
