/**
 * Short-lived TURN credentials with a secret shared with the TURN server: the "TURN REST API"
 * scheme (draft-uberti-behave-turn-rest-00 §2.2) that coturn implements with `use-auth-secret`
 * and `static-auth-secret`. The username is `<expiry unix time>:<member id>`, the password
 * base64(HMAC-SHA1(secret, username)); coturn recomputes it and refuses expired usernames.
 * Only admitted participants receive them (live-meeting.ts #admit), never waiting ones.
 */
import { createHmac } from "node:crypto";
import type { TurnConfig } from "../config.js";

/**
 * How long credentials stay valid. coturn checks them again on every allocation refresh, so they
 * must outlive a long meeting; a participant that rejoins gets fresh ones.
 */
export const TURN_CREDENTIAL_TTL_S = 12 * 3600;

/** An RTCIceServer as the browser takes it. */
export interface IceServer {
  readonly urls: readonly string[];
  readonly username: string;
  readonly credential: string;
}

export function turnCredentials(turn: TurnConfig, user: string, nowMs: number = Date.now(), ttlS: number = TURN_CREDENTIAL_TTL_S): IceServer {
  const username = `${Math.floor(nowMs / 1000) + ttlS}:${user}`;
  const credential = createHmac("sha1", turn.secret).update(username).digest("base64");
  return { urls: [...turn.urls], username, credential };
}
