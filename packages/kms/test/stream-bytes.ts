/** Deterministic test content: the byte at offset o of a test stream (so any prefix can be checked). */
export function streamBytes(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    const o = offset + i;
    b[i] = (o * 31 + (o >>> 8) * 7 + 13) & 0xff;
  }
  return b;
}
