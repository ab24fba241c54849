/**
 * IVF container reader (the simple VP8/VP9 file format written by libvpx and ffmpeg):
 * a 32-byte file header ("DKIF") then frames, each a 12-byte header (size u32le, pts u64le) and
 * the encoded frame. Used for the bot's synthetic video; strict about truncation.
 */
export interface IvfFile {
  fourcc: string;
  width: number;
  height: number;
  timebase: { num: number; den: number };
  frames: { pts: number; data: Uint8Array }[];
}

export function parseIvf(bytes: Uint8Array): IvfFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (off: number, len: number) => String.fromCharCode(...bytes.subarray(off, off + len));
  if (bytes.length < 32 || text(0, 4) !== "DKIF") throw new Error("not an IVF file");
  const headerSize = view.getUint16(6, true);
  if (headerSize < 32 || headerSize > bytes.length) throw new Error("IVF: bad header size");
  const fourcc = text(8, 4);
  const width = view.getUint16(12, true);
  const height = view.getUint16(14, true);
  const den = view.getUint32(16, true);
  const num = view.getUint32(20, true);
  const frames: IvfFile["frames"] = [];
  let off = headerSize;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw new Error("IVF: truncated frame header");
    const size = view.getUint32(off, true);
    const pts = Number(view.getBigUint64(off + 4, true));
    off += 12;
    if (off + size > bytes.length) throw new Error("IVF: truncated frame");
    frames.push({ pts, data: bytes.slice(off, off + size) });
    off += size;
  }
  return { fourcc, width, height, timebase: { num, den }, frames };
}
