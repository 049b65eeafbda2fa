export * from './lib.js';
export * from './plugin.js';
export * from './host.js';
export * from './services.js';
