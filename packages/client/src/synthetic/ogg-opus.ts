/**
 * Ogg Opus reader (RFC 7845): pulls the Opus packets out of Ogg pages, skipping the OpusHead and
 * OpusTags header packets. Used for the bot's synthetic audio; strict about truncation.
 */
export function parseOggOpus(bytes: Uint8Array): Uint8Array[] {
  const packets: Uint8Array[] = [];
  let partial: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 27 > bytes.length || String.fromCharCode(...bytes.subarray(off, off + 4)) !== "OggS") {
      throw new Error("Ogg: bad page");
    }
    const segments = bytes[off + 26]!;
    const table = bytes.subarray(off + 27, off + 27 + segments);
    if (table.length !== segments) throw new Error("Ogg: truncated segment table");
    let data = off + 27 + segments;
    for (const lace of table) {
      if (data + lace > bytes.length) throw new Error("Ogg: truncated page");
      partial.push(bytes.subarray(data, data + lace));
      data += lace;
      // A lacing value below 255 ends a packet (RFC 3533 §6).
      if (lace < 255) {
        const len = partial.reduce((n, p) => n + p.length, 0);
        const packet = new Uint8Array(len);
        let o = 0;
        for (const p of partial) {
          packet.set(p, o);
          o += p.length;
        }
        packets.push(packet);
        partial = [];
      }
    }
    off = data;
  }
  const isHeader = (p: Uint8Array, magic: string) => p.length >= 8 && String.fromCharCode(...p.subarray(0, 8)) === magic;
  return packets.filter((p) => !isHeader(p, "OpusHead") && !isHeader(p, "OpusTags"));
}
