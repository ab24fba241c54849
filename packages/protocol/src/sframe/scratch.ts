/**
 * Small per-frame buffers (nonces, headers) carved from a larger ArrayBuffer.
 *
 * Why: V8 keeps typed arrays of 64 bytes or less on the JS heap, and handing one to
 * node:crypto or WebCrypto first moves it off-heap, which costs more than the rest of the
 * per-frame bookkeeping together. Slices of one off-heap block avoid that. Slices are never
 * handed out twice, so a slice stays valid for as long as its user holds it.
 */
const BLOCK_BYTES = 1024;

export class ScratchSlab {
  #block = new Uint8Array(0);
  #offset = 0;

  /** A fresh, zero-filled view of `length` bytes (length <= BLOCK_BYTES). */
  take(length: number): Uint8Array {
    if (this.#offset + length > this.#block.length) {
      this.#block = new Uint8Array(BLOCK_BYTES);
      this.#offset = 0;
    }
    const view = this.#block.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return view;
  }
}
