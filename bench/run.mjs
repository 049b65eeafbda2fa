// Runs every bench/*.mjs except itself and _-prefixed helpers, one after another (benchmarks must not compete for
// the CPU), streams their output, then prints a summary table. Extra arguments (e.g. --quick)
// are passed to every script; `--only a,b` runs just those. Exit code 1 if any script failed.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',').map((s) => s.replace(/\.mjs$/, ''))) : undefined;
const passArgs = onlyAt >= 0 ? args.filter((_, i) => i !== onlyAt && i !== onlyAt + 1) : args;

const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== self && !f.startsWith('_'))
  .filter((f) => !only || only.has(f.replace(/\.mjs$/, '')))
  .sort();

function run(script) {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(here, script), ...passArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code, signal) => done({ script, code: code ?? 1, signal, s: (performance.now() - t0) / 1000, out }));
  });
}

/** One line saying how the script did: its BENCH_SUMMARY, else its last line mentioning a ratio/target, else its last line. */
function summarize(out) {
  const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
  const tagged = lines.find((l) => l.startsWith('BENCH_SUMMARY '));
  if (tagged) {
    try {
      const s = JSON.parse(tagged.slice('BENCH_SUMMARY '.length));
      return `worst ratio ${s.worst}${s.ok ? '' : ' (over target)'}`;
    } catch {
      /* fall through */
    }
  }
  const verdict = [...lines].reverse().find((l) => /ratio|target|PASS|FAIL/i.test(l) && !l.startsWith('{'));
  return (verdict ?? lines.at(-1) ?? '').slice(0, 100);
}

const results = [];
for (const s of scripts) {
  console.log(`\n=== ${s} ${passArgs.join(' ')}`.trimEnd());
  results.push(await run(s));
}
console.log('\n=== summary');
console.table(results.map((r) => ({ script: r.script, status: r.code === 0 ? 'ok' : r.signal ? `killed (${r.signal})` : `exit ${r.code}`, seconds: +r.s.toFixed(1), result: summarize(r.out) })));
if (results.some((r) => r.code !== 0)) process.exitCode = 1;
