/**
 * Building SIP requests and responses (RFC 3261 §8.1.1, §8.2.6): the mandatory headers copied or
 * made the way the RFC says, in one place.
 */
import { randomBytes } from "node:crypto";
import { header, type SipHeader, type SipRequest, type SipResponse } from "./message.js";

export const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REGISTER";
export const SUPPORTED = "timer";
export const USER_AGENT = "Conclave";

export function newTag(): string {
  return randomBytes(8).toString("hex");
}

export function newCallId(host: string): string {
  return `${randomBytes(16).toString("hex")}@${host}`;
}

export function h(name: string, value: string): SipHeader {
  return { name, value };
}

/** A response to `req` (§8.2.6.2): Via, From, Call-ID and CSeq copied; To with our tag. */
export function makeResponse(req: SipRequest, status: number, reason: string, opts: { toTag?: string; headers?: SipHeader[]; body?: Uint8Array } = {}): SipResponse {
  const headers: SipHeader[] = [];
  for (const hd of req.headers) if (hd.name === "Via") headers.push(hd);
  for (const name of ["From", "To", "Call-ID", "CSeq"]) {
    let value = header(req, name)!;
    if (name === "To" && opts.toTag !== undefined && status !== 100 && !/;\s*tag=/i.test(value)) value += `;tag=${opts.toTag}`;
    headers.push({ name, value });
  }
  if (status !== 100) headers.push(h("Server", USER_AGENT));
  headers.push(...(opts.headers ?? []));
  return { kind: "response", status, reason, headers, body: opts.body ?? new Uint8Array(0) };
}

export function makeRequest(method: string, uri: string, headers: SipHeader[], body: Uint8Array = new Uint8Array(0)): SipRequest {
  return { kind: "request", method, uri, headers: [...headers, h("Max-Forwards", "70"), h("User-Agent", USER_AGENT)], body };
}

/**
 * The `Warning` and `Reason` headers a refusal carries so the device can show why (RFC 3261
 * §20.43 warn-code 399 "miscellaneous"; RFC 3326 Reason with protocol SIP).
 */
export function explain(host: string, status: number, text: string): SipHeader[] {
  const safe = text.replace(/["\\\r\n]/g, "'");
  return [h("Warning", `399 ${host} "${safe}"`), h("Reason", `SIP;cause=${status};text="${safe}"`)];
}
