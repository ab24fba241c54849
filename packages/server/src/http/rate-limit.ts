/**
 * A fixed-window counter per key (e.g. per client IP). No timers: windows reset lazily when
 * a key is next seen, so nothing keeps the process alive. The table is bounded; when full,
 * expired entries are dropped first and then the oldest.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(options: { limit: number; windowMs: number; maxKeys?: number; now?: () => number }) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError("limit must be a positive integer");
    if (!(options.windowMs > 0)) throw new RangeError("windowMs must be positive");
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** True if `key` has used up its attempts in the current window. */
  isLimited(key: string): boolean {
    const w = this.#current(key);
    return w !== undefined && w.count >= this.#limit;
  }

  /** Attempts counted for `key` in its current window. */
  count(key: string): number {
    return this.#current(key)?.count ?? 0;
  }

  /** Count one attempt for `key`. */
  record(key: string): void {
    const w = this.#current(key);
    if (w !== undefined) {
      w.count++;
      return;
    }
    if (this.#windows.size >= this.#maxKeys) this.#evict();
    this.#windows.set(key, { start: this.#now(), count: 1 });
  }

  #current(key: string): { start: number; count: number } | undefined {
    const w = this.#windows.get(key);
    if (w === undefined) return undefined;
    if (this.#now() - w.start >= this.#windowMs) {
      this.#windows.delete(key);
      return undefined;
    }
    return w;
  }

  #evict(): void {
    const now = this.#now();
    for (const [k, w] of this.#windows) if (now - w.start >= this.#windowMs) this.#windows.delete(k);
    // Maps iterate in insertion order: the first key is the oldest window.
    while (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done) break;
      this.#windows.delete(oldest.value);
    }
  }
}
