// Benchmark: writeCheckpoint / readCheckpoint+readAll (@tfpass/checkpoint) on a generated
// ~64 MB bundle (200 float32 tensors), against the floor of the same work done by hand:
// writing/reading the raw bytes with fs plus one CRC32C pass over them.
// Files live in /dev/shm (when present) so disk speed does not enter the ratios.
// Usage: node bench/checkpoint.mjs [--quick]   (needs dist: `npm run build`)
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = fileURLToPath(new URL('.', import.meta.url));
const ck = await import(join(here, '..', 'packages', 'checkpoint', 'dist', 'index.js'));
const core = await import(join(here, '..', 'packages', 'core', 'dist', 'index.js'));
const crc = createRequire(join(here, '..', 'packages', 'checkpoint', 'package.json'))('fast-crc32c');

const quick = process.argv.includes('--quick');
const count = quick ? 50 : 200;
const elems = 80_000; // 320 KB per tensor
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const dir = mkdtempSync(join(base, 'tfpass-bench-ckpt-'));

let seed = 99;
const tensors = new Map();
for (let i = 0; i < count; i++) {
  const a = new Float32Array(elems);
  for (let j = 0; j < elems; j++) { seed = (seed * 1664525 + 1013904223) >>> 0; a[j] = seed / 2 ** 32 - 0.5; }
  tensors.set(`layer_${i}/kernel`, new core.Tensor('float32', [elems], a));
}
const bytes = count * elems * 4;

function best(fn, reps = quick ? 2 : 3) {
  let b = Infinity;
  for (let r = 0; r < reps; r++) { const t = performance.now(); fn(); b = Math.min(b, performance.now() - t); }
  return b;
}

const prefix = join(dir, 'ckpt');
const tWrite = best(() => ck.writeCheckpoint(prefix, tensors));
const tRead = best(() => ck.readCheckpoint(prefix).readAll());
const raw = join(dir, 'raw.bin');
const tRawWrite = best(() => {
  const out = Buffer.allocUnsafe(bytes);
  let o = 0;
  for (const t of tensors.values()) { const b = Buffer.from(t.data.buffer); b.copy(out, o); crc.calculate(b); o += b.length; }
  writeFileSync(raw, out);
});
const tRawRead = best(() => {
  const b = readFileSync(raw);
  for (let o = 0; o < b.length; o += elems * 4) { const s = b.subarray(o, o + elems * 4); crc.calculate(s); new Float32Array(s.buffer.slice(s.byteOffset, s.byteOffset + s.length)); }
});
rmSync(dir, { recursive: true, force: true });

const mb = bytes / 2 ** 20;
const row = (name, ms, floor) => console.log(`${name.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms  ${(mb / (ms / 1000)).toFixed(0).padStart(6)} MB/s  ratio vs floor ${(ms / floor).toFixed(2)}x`);
console.log(`checkpoint bench: ${count} float32 tensors, ${mb.toFixed(1)} MB, files in ${base}`);
row('writeCheckpoint', tWrite, tRawWrite);
row('readCheckpoint+readAll', tRead, tRawRead);
row('floor: raw write+crc', tRawWrite, tRawWrite);
row('floor: raw read+crc', tRawRead, tRawRead);
