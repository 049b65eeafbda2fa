#!/usr/bin/env node
// The committed entry point npm links as `tfpass`. It exists before anything is built, so
// `npm ci` links node_modules/.bin/tfpass on a fresh clone (a bin pointing into dist/ would
// not be linked, and `npx tfpass` would then ask the public registry for a package of that name).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  const pkg = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`tfpass: the CLI is not built yet (${fileURLToPath(entry)} is missing): run \`npm run build\` at the repository root (it builds ${pkg})\n`);
  process.exit(1);
}
await import(entry.href);
