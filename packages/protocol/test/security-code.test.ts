import { test } from "node:test";
import assert from "node:assert/strict";
import { securityCodeFromAuthenticator, securityCodesMatch, SECURITY_CODE_DIGITS } from "../src/security-code.js";
import { isProtocolError } from "../src/errors.js";

test("the security code is 35 digits in 7 groups of 5 (at least 100 bits)", () => {
  const code = securityCodeFromAuthenticator(new Uint8Array(32).fill(0xab));
  assert.match(code, /^(\d{5} ){6}\d{5}$/);
  assert.ok(SECURITY_CODE_DIGITS * Math.log2(10) >= 100);
});

test("equal authenticators give equal codes; a one-bit change gives a different code", () => {
  const a = crypto.getRandomValues(new Uint8Array(32));
  const b = a.slice();
  assert.equal(securityCodeFromAuthenticator(a), securityCodeFromAuthenticator(b));
  b[31]! ^= 1;
  assert.notEqual(securityCodeFromAuthenticator(a), securityCodeFromAuthenticator(b));
});

test("the code is the authenticator as an integer modulo 10^35, zero-padded", () => {
  const auth = new Uint8Array(32);
  auth[31] = 7;
  assert.equal(securityCodeFromAuthenticator(auth), "00000 00000 00000 00000 00000 00000 00007");
});

test("a too-short authenticator is refused", () => {
  assert.throws(() => securityCodeFromAuthenticator(new Uint8Array(8)), (e) => isProtocolError(e, "INVALID_ARGUMENT"));
});

test("codes compare ignoring whitespace, and only full-length codes match", () => {
  const code = securityCodeFromAuthenticator(new Uint8Array(32).fill(1));
  assert.ok(securityCodesMatch(code, code.replace(/ /g, "")));
  assert.ok(!securityCodesMatch("123", "123"));
});
