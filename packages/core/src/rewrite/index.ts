// The rewrite kit: what a pass needs to read like a rule (see docs/writing-a-pass.md).
export * from './query.js';
export * from './edit.js';
export * from './builder.js';
export * from './driver.js';
export * from './channels.js';
export * from './dtypes.js';
