export * from './bundle.js';
export { crc32c, maskCrc, unmaskCrc } from './crc.js';
export { encodeSliceKey, decodeSliceKey } from './slice-key.js';
export type { Compression } from './table.js';
export * from './inspect.js';
export * from './freeze.js';
export * from './unfreeze.js';
export * from './state.js';
export * from './restore.js';
