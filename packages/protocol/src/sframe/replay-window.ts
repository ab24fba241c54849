/**
 * A sliding replay window over SFrame counters. RFC 9605 leaves replay protection to the
 * application (§7, Security Considerations); this is the usual anti-replay bitmap (RFC 6479).
 *
 * Accepts each counter once, if it is one of the `size` most recent: from highest - size + 1
 * up to the highest accepted so far (anything newer moves the window forward). Callers
 * `check` before decrypting (cheap early reject) and `accept` only after the tag verified,
 * so forged frames can never move the window.
 */
import { ProtocolError } from "../errors.js";

export const DEFAULT_REPLAY_WINDOW_SIZE = 1024;
export const MAX_REPLAY_WINDOW_SIZE = 1 << 20;

export class ReplayWindow {
  readonly size: number;
  /** Ring of bits, a power of two >= size long; counter c lives at bit c & #mask. */
  readonly #bits: Uint32Array;
  readonly #mask: bigint;
  readonly #ringSize: bigint;
  readonly #sizeBig: bigint;
  /** Highest accepted counter, or -1n before the first. */
  #highest = -1n;

  constructor(size: number = DEFAULT_REPLAY_WINDOW_SIZE) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW_SIZE) {
      throw new ProtocolError("INVALID_ARGUMENT", `replayWindowSize: expected an integer in 1…${MAX_REPLAY_WINDOW_SIZE}`);
    }
    let ring = 32;
    while (ring < size) ring *= 2;
    this.size = size;
    this.#bits = new Uint32Array(ring / 32);
    this.#ringSize = BigInt(ring);
    this.#mask = BigInt(ring - 1);
    this.#sizeBig = BigInt(size);
  }

  /** True when `ctr` has not been accepted and is not older than the window. */
  check(ctr: bigint): boolean {
    if (ctr > this.#highest) return true;
    if (this.#highest - ctr >= this.#sizeBig) return false;
    const pos = Number(ctr & this.#mask);
    return (this.#bits[pos >>> 5]! & (1 << (pos & 31))) === 0;
  }

  /** Records `ctr` as accepted; throws SFRAME_REPLAY if `check` would now fail. */
  accept(ctr: bigint): void {
    if (!this.check(ctr)) throw new ProtocolError("SFRAME_REPLAY");
    if (ctr > this.#highest) {
      if (ctr - this.#highest >= this.#ringSize) {
        this.#bits.fill(0);
      } else {
        // Clear the slots of the counters skipped over (they held old ones); ctr's own slot is set below.
        for (let c = this.#highest + 1n; c < ctr; c++) this.#clear(Number(c & this.#mask));
      }
      this.#highest = ctr;
    }
    const pos = Number(ctr & this.#mask);
    this.#bits[pos >>> 5]! |= 1 << (pos & 31);
  }

  #clear(pos: number): void {
    this.#bits[pos >>> 5]! &= ~(1 << (pos & 31));
  }
}
