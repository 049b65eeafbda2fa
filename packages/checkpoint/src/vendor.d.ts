// Minimal typings for the two CommonJS helpers this package uses (neither ships types).
declare module 'fast-crc32c' {
  const crc: { calculate(data: Uint8Array | string, initial?: number): number };
  export default crc;
}
declare module 'snappyjs' {
  export function compress(input: Uint8Array): Uint8Array;
  export function uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
}
