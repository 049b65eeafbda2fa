// Packaging check (too slow for CI's test budget: packing 15 packages and an offline install of
// everything takes minutes on this machine; CI runs the small case in packages/cli/test/pack.test.ts).
// Packs every public package, installs @tfpass/all from the tarballs offline into an empty prefix,
// and reports: installed size against the 150 MB target, how many copies of each @tensorflow
// package the layout holds (target: one), and whether `tfpass demo` prints TensorFlow.js warnings
// ("already registered" lines mean two copies of a backend were loaded).
// Needs dist (`npm run build`). Usage: node bench/pack.mjs [--steps 6] [--keep]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const steps = Number(argv[argv.indexOf('--steps') + 1]) || 6;
const TARGET_MB = 150;

const pkgs = readdirSync(join(root, 'packages')).filter((d) => {
  const f = join(root, 'packages', d, 'package.json');
  return existsSync(f) && !JSON.parse(readFileSync(f, 'utf8')).private;
});
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

const work = mkdtempSync(join(tmpdir(), 'tfpass-bench-pack-'));
const tgz = join(work, 'tgz');
mkdirSync(tgz);
let t0 = performance.now();
npm(['pack', '--pack-destination', tgz, '--silent', ...pkgs.map((p) => join(root, 'packages', p))], root);
const tarballs = readdirSync(tgz).map((f) => join(tgz, f));
console.log(`packed ${tarballs.length} packages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const prefix = join(work, 'prefix');
mkdirSync(prefix);
writeFileSync(join(prefix, 'package.json'), '{"name":"empty-prefix","private":true}\n');
t0 = performance.now();
const base = ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts'];
try {
  npm([...base, '--offline', ...tarballs], prefix);
} catch {
  npm([...base, '--prefer-offline', ...tarballs], prefix);
}
console.log(`installed everything in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

function walk(dir, visit) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, visit);
    else if (e.isFile()) visit(p);
  }
}
let bytes = 0;
const copies = new Map();
walk(join(prefix, 'node_modules'), (p) => {
  bytes += statSync(p).size;
  const m = /node_modules\/(@tensorflow\/[^/]+)\/package\.json$/.exec(p);
  if (m) copies.set(m[1], (copies.get(m[1]) ?? 0) + 1);
});
const mb = bytes / 1e6;
const dup = [...copies].filter(([, n]) => n > 1);
console.log(`installed size: ${mb.toFixed(1)} MB (target <= ${TARGET_MB} MB, ratio ${(mb / TARGET_MB).toFixed(2)})`);
console.log(`@tensorflow packages: ${[...copies].map(([k, n]) => `${k} x${n}`).join(', ')}`);

const bin = join(prefix, 'node_modules/.bin/tfpass');
const demo = spawnSync(bin, ['demo', '--out', join(work, 'demo'), '--steps', String(steps)], { cwd: prefix, encoding: 'utf8', env: { ...process.env, TFPASS_PROGRESS: '0' } });
const warnings = `${demo.stdout}\n${demo.stderr}`.split('\n').filter((l) => /already registered|Platform .* has already been set|Hi, looks like you are running TensorFlow\.js/.test(l));
console.log(`tfpass demo --steps ${steps}: exit ${demo.status}; TensorFlow.js warnings: ${warnings.length}${warnings.length ? ` (e.g. ${warnings[0].trim().slice(0, 100)})` : ''}`);
const ok = mb <= TARGET_MB && dup.length === 0 && demo.status === 0;
console.log(`${ok ? 'PASS' : 'FAIL'}: size ${mb.toFixed(1)} MB, ${dup.length} duplicated @tensorflow packages, demo exit ${demo.status}`);
console.log('BENCH_SUMMARY ' + JSON.stringify({ worst: +(mb / TARGET_MB).toFixed(2), ok, sizeMB: +mb.toFixed(1), duplicates: dup.length, demoWarnings: warnings.length }));
if (!argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
if (!ok) process.exitCode = 1;
