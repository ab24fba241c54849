/**
 * When a participant whose connection dropped tries again, and when it gives up: one policy for
 * Node participants (node-participant.ts) and the web app (packages/web meeting-controller.ts).
 */

/** Join refusals that trying again cannot fix: the participant ends with the error. */
export const PERMANENT_REFUSALS: ReadonlySet<string> = new Set([
  "MEETING_NOT_FOUND",
  "MEETING_ENDED",
  "WRONG_PASSCODE",
  "RATE_LIMITED",
  "MEETING_FULL",
  "CONNECTOR_NOT_ALLOWED",
  "REMOVED",
  "REMOVED_BY_HOST",
  "BANNED",
  "MEETING_LOCKED",
  "NOT_ADMITTED",
  "BAD_KEY_PACKAGE",
  "TLS_UNTRUSTED",
]);

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const MAX_BACKOFF_MS = 10_000;

/**
 * The wait before reconnect attempt `attempt` (0-based): exponential up to 8 s, with ±25 % jitter
 * so that a meeting's members do not all come back in the same instant, never over 10 s.
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = BACKOFF_MS[Math.min(Math.max(0, attempt), BACKOFF_MS.length - 1)] ?? MAX_BACKOFF_MS;
  return Math.round(Math.min(MAX_BACKOFF_MS, base * (0.75 + random() * 0.5)));
}
