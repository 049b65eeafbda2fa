import crc32cLib from 'fast-crc32c';

/** CRC-32C (Castagnoli) of `data`, optionally continuing from a previous (unmasked) value. */
export function crc32c(data: Uint8Array, prev?: number): number {
  // The library takes a Buffer; a view over the same memory avoids a copy.
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return (prev === undefined ? crc32cLib.calculate(buf) : crc32cLib.calculate(buf, prev)) >>> 0;
}

const MASK_DELTA = 0xa282ead8;

/** LevelDB/TF masking: stored CRCs are rotated and offset so CRCs of CRCs stay well-distributed. */
export function maskCrc(c: number): number {
  return ((((c >>> 15) | (c << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmaskCrc(m: number): number {
  const r = (m - MASK_DELTA) >>> 0;
  return ((r >>> 17) | (r << 15)) >>> 0;
}
