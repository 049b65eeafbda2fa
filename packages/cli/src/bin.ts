#!/usr/bin/env node
import { main } from './main.js';

// Ctrl-C / kill: outputs are written synchronously to a temp file that is then renamed into
// place, so this handler never runs in the middle of a write. Exiting here, instead of the
// default action killing the process mid-write, leaves either no output or the complete one
// (and no temp file).
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => {
    process.stderr.write(`\ntfpass: interrupted (${sig}); nothing was left half-written\n`);
    process.exit(code);
  });
}

process.exitCode = await main(process.argv.slice(2));
