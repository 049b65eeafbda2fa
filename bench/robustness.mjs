// Benchmark: peak memory of `tfpass transform` on a generated ~1 GiB-weight graph, against raw
// protobuf-es decode+encode of the same file (the foundation issue's memory goal: <= 1.2x that
// baseline) and against the file size. Each side runs in its own child process; peak RSS is the
// child's process.resourceUsage().maxRSS. Files live in /dev/shm (RAM disk) when it has room.
//
//   node bench/robustness.mjs [--quick] [--mb N]      (needs the build: `npm run build`)
//   node bench/robustness.mjs --fuzz --minutes 30     (long fuzz run of packages/robustness,
//                                                      random seeds, printed for replay)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const flag = (k) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};

// ---- long fuzz run ----------------------------------------------------------------------------

if (args.includes('--fuzz')) {
  const minutes = Number(flag('--minutes') ?? 5);
  const env = { ...process.env, TFPASS_FUZZ_MINUTES: String(minutes) };
  const files = ['test/fuzz-graph', 'test/fuzz-checkpoint', 'test/fuzz-formats', 'test/fuzz-tflite', 'test/fuzz-semantic'];
  console.log(`fuzzing for about ${minutes} minute(s) of CPU time (spread over vitest's workers); seeds are printed as [fuzz] seed N`);
  const r = spawn('npx', ['vitest', 'run', '--project', 'robustness', ...files], { cwd: root, env, stdio: 'inherit' });
  r.on('close', (code) => process.exit(code ?? 1));
} else {
  await bench();
}

// ---- memory bench -----------------------------------------------------------------------------

async function bench() {
  const coreDist = join(root, 'packages/core/dist/index.js');
  const protoDist = join(root, 'packages/core/dist/proto.js');
  const bin = join(root, 'packages/cli/dist/bin.js');
  for (const f of [coreDist, protoDist, bin]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);

  let mb = Number(flag('--mb') ?? (args.includes('--quick') ? 128 : 1024));
  let base = '/dev/shm';
  const free = (p) => {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch {
      return 0;
    }
  };
  // Input + output + headroom for the raw baseline's output.
  if (free(base) < 3.2 * mb * 2 ** 20) {
    if (free(base) >= 3.2 * 512 * 2 ** 20) {
      console.log(`/dev/shm has ${(free(base) / 2 ** 30).toFixed(1)} GiB free: using 512 MB instead of ${mb} MB`);
      mb = Math.min(mb, 512);
    } else {
      base = tmpdir();
      console.log(`/dev/shm lacks space: using ${base} (disk writes add noise)`);
    }
  }
  const dir = mkdtempSync(join(base, 'tfpass-robustness-'));
  try {
    const input = join(dir, 'big.pb');
    const t0 = performance.now();
    // Generated in a child so this process stays small.
    await node(['--input-type=module', '-e', genScript(coreDist, input, mb)]);
    const size = statSync(input).size;
    console.log(`generated ${input}: ${(size / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const wrapper = join(dir, 'wrap.mjs');
    // Report the CLI's own peak RSS on exit, whatever the exit path.
    writeFileSync(wrapper, `import { writeSync } from 'node:fs';\nprocess.on('exit', () => writeSync(2, '\\nMAXRSS_KB ' + process.resourceUsage().maxRSS + '\\n'));\nawait import(${JSON.stringify(bin)});\n`);
    const out = join(dir, 'out.pb');
    const t1 = performance.now();
    const cli = await node([wrapper, 'transform', `--in_graph=${input}`, `--out_graph=${out}`, '--outputs=output', '--transforms=remove_nodes(op=Identity) fold_batch_norms']);
    const cliMs = performance.now() - t1;
    const cliKb = Number(/MAXRSS_KB (\d+)/.exec(cli.stderr)?.[1]);
    if (cli.code !== 0) throw new Error(`tfpass transform failed (${cli.code}):\n${cli.stderr}`);
    const outSize = statSync(out).size;
    rmSync(out);

    const raw = await node(['--input-type=module', '-e', rawScript(protoDist, input, join(dir, 'raw.pb'))]);
    const rawKb = JSON.parse(raw.stdout.trim().split('\n').at(-1)).rssKb;
    rmSync(join(dir, 'raw.pb'), { force: true });

    const mib = (kb) => (kb / 1024).toFixed(0);
    const vsFile = (cliKb * 1024) / size;
    const vsRaw = cliKb / rawKb;
    const nodes = /(\d+) -> (\d+) nodes/.exec(cli.stdout);
    console.log(`tfpass transform 'remove_nodes(op=Identity) fold_batch_norms': ${(cliMs / 1000).toFixed(1)} s, peak RSS ${mib(cliKb)} MiB, output ${(outSize / 2 ** 20).toFixed(0)} MiB, nodes ${nodes ? nodes[1] + ' -> ' + nodes[2] : '?'}`);
    console.log(`raw protobuf-es decode+encode of the same file: peak RSS ${mib(rawKb)} MiB`);
    console.log(`peak RSS / file size: ${vsFile.toFixed(2)}x; peak RSS / raw protobuf-es: ${vsRaw.toFixed(2)}x (target <= 1.2x)`);
    console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'robustness', ok: vsRaw <= 1.2, worst: +vsRaw.toFixed(2), fileMiB: Math.round(size / 2 ** 20), cliRssMiB: Math.round(cliKb / 1024), rawRssMiB: Math.round(rawKb / 1024), rssPerFileByte: +vsFile.toFixed(2), cliSeconds: +(cliMs / 1000).toFixed(1), dir: base })}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function node(argv) {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, argv, { cwd: root, env: { ...process.env, TFPASS_PROGRESS: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', fail);
    c.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A MatMul chain with Identity-read weights and a per-channel Mul after each MatMul. */
function genScript(coreDist, path, mb) {
  return `
import { Graph, Tensor, writeGraph } from ${JSON.stringify(coreDist)};
const width = 2048;
const layers = Math.max(1, Math.round(${mb} * 2 ** 20 / (width * width * 4)));
const g = new Graph();
const f = { T: { type: 'float32' } };
g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, width] } } });
let cur = 'input';
for (let i = 0; i < layers; i++) {
  const w = new Float32Array(width * width);
  for (let k = 0; k < w.length; k++) w[k] = ((k * 7919 + i) % 1000) / 1e6 - 5e-4;
  g.addNode({ name: 'l' + i + '/w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new Tensor('float32', [width, width], w) } } });
  g.addNode({ name: 'l' + i + '/w/read', op: 'Identity', inputs: ['l' + i + '/w'], attrs: f });
  g.addNode({ name: 'l' + i + '/MatMul', op: 'MatMul', inputs: [cur, 'l' + i + '/w/read'], attrs: { ...f, transpose_a: { b: false }, transpose_b: { b: false } } });
  const s = new Float32Array(width).map((_, k) => 1 + (k % 7) / 10);
  g.addNode({ name: 'l' + i + '/scale', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new Tensor('float32', [width], s) } } });
  g.addNode({ name: 'l' + i + '/mul', op: 'Mul', inputs: ['l' + i + '/MatMul', 'l' + i + '/scale'], attrs: f });
  cur = 'l' + i + '/mul';
}
g.addNode({ name: 'output', op: 'Identity', inputs: [cur], attrs: f });
writeGraph(g, ${JSON.stringify(path)});
`;
}

function rawScript(protoDist, input, out) {
  return `
import { readFileSync, writeFileSync } from 'node:fs';
import { fromBinary, toBinary, GraphDefSchema } from ${JSON.stringify(protoDist)};
const def = fromBinary(GraphDefSchema, readFileSync(${JSON.stringify(input)}));
writeFileSync(${JSON.stringify(out)}, toBinary(GraphDefSchema, def));
console.log(JSON.stringify({ rssKb: process.resourceUsage().maxRSS }));
`;
}

