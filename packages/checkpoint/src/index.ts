export * from './bundle.js';
export { crc32c, maskCrc, unmaskCrc } from './crc.js';
export { encodeSliceKey, decodeSliceKey } from './slice-key.js';
export type { Compression } from './table.js';
/** The SSTable layer, for tools and fuzzers that rewrite index entries (valid block CRCs). */
export { TableBuilder, readTable } from './table.js';
export * from './inspect.js';
export * from './freeze.js';
export * from './unfreeze.js';
export * from './state.js';
export * from './restore.js';
