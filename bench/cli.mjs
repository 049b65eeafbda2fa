// Benchmark: cold start of `tfpass passes` (a fresh node process each run, as a user types it),
// against a bare `node -e 0` start measured in the same run. Target: median <= 300 ms, and no
// TensorFlow.js module (nor @tfpass/runtime) is loaded. Needs dist: `npm run build`.
// Usage: node bench/cli.mjs [--runs 15] [--quick]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = join(here, '..', 'packages', 'cli', 'dist', 'bin.js');
if (!existsSync(bin)) {
  console.error(`missing ${bin}: run npm run build first`);
  process.exit(1);
}
const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1]) || (argv.includes('--quick') ? 7 : 15);

function time(args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: join(here, '..'), encoding: 'utf8', env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, out: r.stdout };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Which modules does `tfpass passes` load? A loader hook appends every URL to a file.
const dir = mkdtempSync(join(tmpdir(), 'tfpass-bench-cli-'));
const log = join(dir, 'loaded.txt');
const hooks = join(dir, 'hooks.mjs');
writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, ctx, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, ctx); }\n`);
const reg = join(dir, 'register.mjs');
writeFileSync(reg, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
const listed = time(['--import', pathToFileURL(reg).href, bin, 'passes']);
const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
const tfjs = loaded.filter((u) => /@tensorflow|packages\/runtime\/|@tfpass\/runtime/.test(u));
const passes = listed.out.split('\n').filter(Boolean).length;

time([bin, 'passes']); // warm the file cache
const node = [];
const cli = [];
// Commands run in a worker thread (so Ctrl-C can stop them): its cost is `summarize` of a tiny
// graph through the worker against the same on the main thread (TFPASS_INLINE=1), interleaved
// so load hits both alike.
const tiny = join(dir, 'tiny.pbtxt');
writeFileSync(tiny, 'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n');
const help = [];
const inline = [];
for (let i = 0; i < runs; i++) {
  node.push(time(['-e', '0']).ms);
  cli.push(time([bin, 'passes']).ms);
  help.push(time([bin, 'summarize', `--in_graph=${tiny}`]).ms);
  inline.push(time([bin, 'summarize', `--in_graph=${tiny}`], { TFPASS_INLINE: '1' }).ms);
}
const m = median(cli);
const base = median(node);
const ok = m <= 300 && tfjs.length === 0;
console.log(`tfpass passes: median ${m.toFixed(0)} ms, min ${Math.min(...cli).toFixed(0)} ms over ${runs} runs (${passes} passes listed)`);
console.log(`node -e 0:     median ${base.toFixed(0)} ms, min ${Math.min(...node).toFixed(0)} ms`);
console.log(`CLI overhead over bare node: ${(m - base).toFixed(0)} ms (ratio ${(m / base).toFixed(2)})`);
console.log(`tfpass summarize: median ${median(help).toFixed(0)} ms in the worker, ${median(inline).toFixed(0)} ms inline (worker start-up ${(median(help) - median(inline)).toFixed(0)} ms)`);
console.log(`modules loaded: ${loaded.length}; TensorFlow.js/runtime modules: ${tfjs.length}${tfjs.length ? ' ' + tfjs.slice(0, 3).join(', ') : ''}`);
console.log(`${ok ? 'PASS' : 'FAIL'}: target median <= 300 ms and no TensorFlow.js loaded (ratio to target ${(m / 300).toFixed(2)})`);
console.log('BENCH_SUMMARY ' + JSON.stringify({ worst: +(m / 300).toFixed(2), ok, medianMs: Math.round(m), nodeMs: Math.round(base), tfjsModules: tfjs.length, helpMs: Math.round(median(help)), helpInlineMs: Math.round(median(inline)) }));
if (!ok) process.exitCode = 1;
