export * from './lib.js';
export * from './plugin.js';
