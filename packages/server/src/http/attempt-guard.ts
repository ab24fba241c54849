/**
 * Limits on guessing (meeting IDs, passcodes, passwords) that an attacker cannot turn against
 * the people they guess at.
 *
 * - Every attempt (a join, a meeting lookup over HTTP, a sign-in) counts against its client
 *   address's budget (`attemptsPerAddress` per window); every failure (unknown meeting, wrong
 *   passcode, wrong password) against its failure budget (`failuresPerAddress`). An address over
 *   either is refused (RATE_LIMITED) until the window ends, whatever it sends.
 * - Failures are answered slower and slower: from the `slowAfter`-th failure in a window, each
 *   failed answer waits `slowStepMs` more (at most `maxDelayMs`).
 * - A target (a meeting, an account) that collects `targetFailures` failures in a window, from any
 *   addresses, is *under attack*: from then on, addresses that have failed anything in the window
 *   are refused for it, while addresses that have not — the newcomer with the right link — still
 *   get in. The target itself is never locked (that would hand a denial of service to whoever
 *   knows a meeting ID or an email address).
 *
 * Addresses are grouped the way one client holds them: an IPv4 address (also IPv4-mapped IPv6)
 * on its own, an IPv6 address by its /64 prefix (one host commonly holds a whole /64).
 */
import { isIPv6 } from "node:net";
import { RateLimiter } from "./rate-limit.js";

export interface AttemptLimits {
  /** Attempts of any outcome per address and window (generous: offices share one NAT address). */
  attemptsPerAddress?: number;
  /** Failures per address and window; then the address is refused. */
  failuresPerAddress?: number;
  /** Failures on one target (meeting, account) per window before it is under attack. */
  targetFailures?: number;
  /** Failures per address in a window answered at full speed. */
  slowAfter?: number;
  slowStepMs?: number;
  maxDelayMs?: number;
  windowMs?: number;
  now?: () => number;
}

export const DEFAULT_ATTEMPT_LIMITS: Required<Omit<AttemptLimits, "now">> = {
  attemptsPerAddress: 600,
  failuresPerAddress: 10,
  targetFailures: 10,
  slowAfter: 3,
  slowStepMs: 500,
  maxDelayMs: 3000,
  windowMs: 60_000,
};

/** Why an attempt is refused. */
export type AttemptRefusal = "attempts" | "failures" | "target";

/** What a refusal or failure tells the security log (no secrets: address, target kind and id). */
export interface AttemptTrip {
  reason: AttemptRefusal;
  address: string;
  target?: string;
}

export class AttemptGuard {
  readonly #limits: Required<Omit<AttemptLimits, "now">>;
  readonly #attempts: RateLimiter;
  readonly #failures: RateLimiter;
  readonly #targets: RateLimiter;
  /** Called when an attempt is refused (for the security log and metrics). */
  onTrip: ((trip: AttemptTrip) => void) | null = null;

  constructor(limits: AttemptLimits = {}) {
    this.#limits = { ...DEFAULT_ATTEMPT_LIMITS, ...withoutUndefined(limits) };
    const { windowMs } = this.#limits;
    const now = limits.now ?? Date.now;
    this.#attempts = new RateLimiter({ limit: this.#limits.attemptsPerAddress, windowMs, now });
    this.#failures = new RateLimiter({ limit: this.#limits.failuresPerAddress, windowMs, now });
    this.#targets = new RateLimiter({ limit: this.#limits.targetFailures, windowMs, now });
  }

  /**
   * Whether an attempt from `address` (on `target`, if any) may go ahead; counts it when it may.
   * Returns null, or why it is refused.
   */
  attempt(address: string, target?: string): AttemptRefusal | null {
    const key = addressKey(address);
    let refusal: AttemptRefusal | null = null;
    if (this.#attempts.isLimited(key)) refusal = "attempts";
    else if (this.#failures.isLimited(key)) refusal = "failures";
    else if (target !== undefined && this.#targets.isLimited(target) && this.#failures.count(key) > 0) refusal = "target";
    if (refusal !== null) {
      this.onTrip?.({ reason: refusal, address: key, ...(target !== undefined ? { target } : {}) });
      return refusal;
    }
    this.#attempts.record(key);
    return null;
  }

  /** A failed attempt. Resolves after the delay that answer should wait. */
  failure(address: string, target?: string): Promise<void> {
    const key = addressKey(address);
    this.#failures.record(key);
    if (target !== undefined) this.#targets.record(target);
    const n = this.#failures.count(key);
    const { slowAfter, slowStepMs, maxDelayMs } = this.#limits;
    const delay = n <= slowAfter ? 0 : Math.min(maxDelayMs, (n - slowAfter) * slowStepMs);
    if (delay === 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, delay).unref());
  }
}

/** The key an address is counted under: IPv4 as is, IPv6 by /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const groups = expandIPv6(address);
  return `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head, tail] = address.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
