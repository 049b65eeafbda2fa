import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { BIN, EXAMPLE, buildOnce, copyPackage, fakePlugin, tfpass, tmp } from './helpers.js';
import { writeConvGraph } from './graphs.js';

const MNIST = modelPath('armnn-simple-mnist/simple_mnist_tf.pb');
const MNIST_TXT = modelPath('armnn-simple-mnist/simple_mnist_tf.prototxt');
const MNET = modelPath('keras-mobilenet-0.25-128/mnet.pb');

beforeAll(() => buildOnce());

/** A project dir with the example plugin installed (copied) in its node_modules. */
function projectWithExample(): string {
  const dir = tmp('tfpass-proj-');
  copyPackage(EXAMPLE, dir, 'tfpass-pass-example');
  return dir;
}

describe.concurrent('transform: TF flag compatibility', () => {
  it('accepts --flag=value and --flag value, writes binary for .pb and text for .pbtxt / --output_as_text', async () => {
    const dir = projectWithExample();
    const g = writeConvGraph(dir);
    let r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=out.pb', '--inputs=x', '--outputs=out', '--transforms=rename_prefix(from=conv, to=c)'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote out\.pb \(binary GraphDef\): 9 -> 9 nodes/);
    const out = core.readModel(join(dir, 'out.pb'));
    expect(out.format).toBe('binary');
    expect(out.graph.has('c')).toBe(true);
    expect(out.graph.node('bias').inputs[0]).toBe('c');

    r = await tfpass(['transform', '--in_graph', g, '--out_graph', 'out.pbtxt', '--transforms', 'rename_prefix(from=conv, to=c)'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'out.pbtxt'), 'utf8')).toMatch(/^node[: ]/);

    r = await tfpass(['transform', '--in_graph', g, '--out_graph', 'out2.pb', '--output_as_text', '--transforms', 'rename_prefix(from=conv, to=c)'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(core.readModel(join(dir, 'out2.pb')).format).toBe('text');
  });

  it("runs the seed's transform_graph script unchanged and prints the op histogram diff", async () => {
    if (!MNET) return void console.log('models not available: skipped seed pipeline on mnet.pb');
    const dir = tmp();
    const r = await tfpass(
      [
        'transform',
        `--in_graph=${MNET}`,
        '--out_graph=frozen_opt.pb',
        '--inputs=input_1',
        '--outputs=output_0',
        `--transforms=strip_unused_nodes(type=float, shape="1,384,384,3") remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms`,
      ],
      { cwd: dir },
    );
    // As in TF, shape= is not applied to the existing Placeholder: one warning line says so (issue 17).
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/strip_unused_nodes: type\/shape apply only to the Placeholders this pass creates.*'input_1'/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/677 -> \d+ nodes/);
    expect(r.stdout).toMatch(/op types changed: .*Identity 136 -> 1/);
    const g = core.readGraph(join(dir, 'frozen_opt.pb'));
    expect(g.nodes().filter((n) => n.op === 'Rsqrt')).toHaveLength(0);
    expect(g.node('input_1').attrs.getShape('shape')).toEqual(core.readGraph(MNET).node('input_1').attrs.getShape('shape'));
  });

  it('a parameter the pass does not read is warned about and ignored, as TF does; --strict refuses it', async () => {
    if (!MNIST) return void console.log('models not available: skipped');
    const dir = tmp();
    const args = ['transform', `--in_graph=${MNIST}`, '--out_graph=o.pb', '--outputs=Softmax', '--transforms=remove_nodes(op=Identity, fallback_min=-10)'];
    let r = await tfpass(args, { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/remove_nodes: parameter 'fallback_min' is not one this pass reads; ignored/);
    r = await tfpass([...args.slice(0, 2), '--out_graph=o2.pb', ...args.slice(3), '--strict'], { cwd: dir });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/E_PARAM.*fallback_min.*unknown parameter/);
    expect(existsSync(join(dir, 'o2.pb'))).toBe(false);
  });

  it('--json gives one parseable document with per-pass reports', async () => {
    const dir = projectWithExample();
    const g = writeConvGraph(dir);
    const r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=rename_prefix(from=b, to=bb)', '--json'], { cwd: dir });
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.steps).toMatchObject([{ name: 'rename_prefix', package: 'tfpass-pass-example', nodes_before: 9, nodes_after: 9, stats: { renamed: 2 } }]);
  });

  it('keeps a MetaGraphDef / SavedModel container when the output names one', async () => {
    const meta = modelPath('edgetpu-qat-fashion-mlp/checkpoints.meta');
    if (!meta) return void console.log('models not available: skipped');
    const dir = projectWithExample();
    const r = await tfpass(['transform', `--in_graph=${meta}`, '--out_graph=x.meta', '--transforms=rename_prefix(from=zzz_none/)'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/MetaGraphDef/);
    expect(core.readModel(join(dir, 'x.meta')).kind).toBe('meta');
    const sm = modelPath('tf-serving-half-plus-two');
    if (!sm) return;
    mkdirSync(join(dir, 'sm'));
    const s = await tfpass(['transform', `--in_graph=${sm}`, '--out_graph=sm/saved_model.pb', '--transforms=rename_prefix(from=zzz_none/)'], { cwd: dir });
    expect(s.stdout).toMatch(/binary SavedModel/);
    expect(core.readModel(join(dir, 'sm')).kind).toBe('saved_model');
    const flat = await tfpass(['transform', `--in_graph=${sm}`, '--out_graph=flat.pb', '--transforms=rename_prefix(from=zzz_none/)'], { cwd: dir });
    expect(flat.stdout).toMatch(/binary GraphDef/);
  });
});

describe.concurrent('errors: one line, typed exit status, nothing written', () => {
  it('unknown pass suggests the nearest name and the package that provides a known pass', async () => {
    const dir = projectWithExample();
    const g = writeConvGraph(dir);
    let r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=rename_prefx(from=a)'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_UNKNOWN_PASS);
    expect(r.stderr).toMatch(/unknown transform 'rename_prefx'; did you mean 'rename_prefix'\?/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, 'o.pb'))).toBe(false);
  });

  it('bad transform string gives its column', async () => {
    const dir = tmp();
    const r = await tfpass(['transform', '--in_graph=a.pb', '--out_graph=o.pb', '--transforms=fold_constants(a=1 , b=2)'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_TRANSFORM_SYNTAX);
    expect(r.stderr).toMatch(/column 20/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('missing --in_graph / unknown flag are usage errors', async () => {
    let r = await tfpass(['transform', '--out_graph=o.pb', '--transforms=fold_constants']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--in_graph is required/);
    r = await tfpass(['transform', '--in-graph=a.pb', '--out_grap=o.pb']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown flag --out_grap \(did you mean --out_graph\?\)/);
  });

  it('unreadable and garbage files', async () => {
    const dir = projectWithExample();
    let r = await tfpass(['transform', '--in_graph=missing.pb', '--out_graph=o.pb', '--transforms=rename_prefix(from=a)'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_FILE);
    expect(r.stderr).toMatch(/missing\.pb: cannot read/);
    writeFileSync(join(dir, 'junk.pb'), Buffer.from([0xff, 0xff, 0xff, 0x07, 0x01, 0x02]));
    r = await tfpass(['summarize', '--in_graph=junk.pb'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_GRAPH_FORMAT);
    expect(r.stderr.split('\n')[0]).toMatch(/^tfpass: error\[E_GRAPH_FORMAT\]: .*junk\.pb/);
    r = await tfpass(['summarize', '--in_graph=junk.pb', '--json'], { cwd: dir });
    expect(JSON.parse(r.stdout).error.code).toBe('E_GRAPH_FORMAT');
  });

  it('never overwrites its input unless --force', async () => {
    const dir = projectWithExample();
    const g = writeConvGraph(dir);
    const before = readFileSync(g);
    let r = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${g}`, '--transforms=rename_prefix(from=conv, to=c)'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_FILE);
    expect(r.stderr).toMatch(/refusing to overwrite the input/);
    expect(readFileSync(g)).toEqual(before);
    r = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${g}`, '--force', '--transforms=rename_prefix(from=conv, to=c)'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(core.readGraph(g).has('c')).toBe(true);
  });
});

describe.concurrent('plugins', () => {
  it('the example plugin is discovered from the project and listed with package and version', async () => {
    const dir = projectWithExample();
    const r = await tfpass(['passes'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^rename_prefix\s+tfpass-pass-example@1\.0\.0\s+Move every node/m);
    const j = JSON.parse((await tfpass(['passes', '--json'], { cwd: dir })).stdout);
    expect(j.passes.find((p: { pass: string }) => p.pass === 'rename_prefix')).toMatchObject({ package: 'tfpass-pass-example', version: '1.0.0' });
  });

  it('short names resolve like ESLint plugins; help PASS shows params, defaults and an example', async () => {
    const dir = projectWithExample();
    const r = await tfpass(['help', 'rename_prefix', '--plugin', 'example'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/provided by tfpass-pass-example@1\.0\.0/);
    expect(r.stdout).toMatch(/from\s+string; required/);
    expect(r.stdout).toMatch(/to\s+string; default ""/);
    expect(r.stdout).toMatch(/rename_prefix\(from=MobilenetV1\/, to=net\/\)/);
    const bad = await tfpass(['passes', '--plugin', 'nosuch'], { cwd: dir });
    expect(bad.status).toBe(10);
    expect(bad.stderr).toMatch(/looked for tfpass-pass-nosuch, @tfpass\/pass-nosuch/);
  });

  it('listing passes imports no plugin code', async () => {
    const dir = tmp();
    fakePlugin(dir, 'tfpass-pass-boom', { passes: ['boom'], code: "throw new Error('import side effect');\n" });
    const r = await tfpass(['passes'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^boom\s+tfpass-pass-boom@1\.2\.3/m);
  });

  it('a plugin whose import throws is refused with its name and version; nothing is written', async () => {
    const dir = tmp();
    fakePlugin(dir, 'tfpass-pass-boom', { passes: ['boom'], version: '0.4.2', code: "throw new Error('kaboom at import');\n" });
    const g = writeConvGraph(dir);
    const r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=boom'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_PLUGIN);
    expect(r.stderr).toMatch(/plugin tfpass-pass-boom@0\.4\.2: failed to load: kaboom at import/);
    expect(existsSync(join(dir, 'o.pb'))).toBe(false);
  });

  it('a pass that throws while running is reported with its package; nothing is written', async () => {
    const dir = tmp();
    fakePlugin(dir, 'tfpass-pass-bad', { passes: ['bad'], version: '2.0.0', code: "export function register(api) { api.registerPass({ name: 'bad', summary: 's', run() { throw new TypeError('oops'); } }); }\n" });
    const g = writeConvGraph(dir);
    const r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=bad'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_PASS);
    expect(r.stderr).toMatch(/pass 'bad' \(tfpass-pass-bad@2\.0\.0\): oops/);
    expect(existsSync(join(dir, 'o.pb'))).toBe(false);
  });

  it('two packages claiming one pass are refused naming both; --plugin chooses', async () => {
    const dir = tmp();
    fakePlugin(dir, 'tfpass-pass-one', { passes: ['dup'] });
    fakePlugin(dir, '@acme/tfpass-pass-two', { passes: ['dup'] });
    const g = writeConvGraph(dir);
    let r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=dup'], { cwd: dir });
    expect(r.status).toBe(core.EXIT_CODES.E_PLUGIN);
    expect(r.stderr).toMatch(/@acme\/tfpass-pass-two@1\.2\.3 and tfpass-pass-one@1\.2\.3: both provide pass 'dup'/);
    expect(existsSync(join(dir, 'o.pb'))).toBe(false);
    r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=dup', '--plugin', '@acme/two', '--report'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/dup \(@acme\/tfpass-pass-two\)/);
    expect((await tfpass(['passes'], { cwd: dir })).stdout).toMatch(/dup .*also provided by/);
  });

  it('refuses a plugin built for another plugin API or core range', async () => {
    const dir = tmp();
    fakePlugin(dir, 'tfpass-pass-future', { passes: ['future'], apiVersion: 2 });
    fakePlugin(dir, 'tfpass-pass-old', { passes: ['old'], peer: '^0.3.0' });
    const g = writeConvGraph(dir);
    let r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=future'], { cwd: dir });
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(/tfpass-pass-future@1\.2\.3: asks for plugin API 2, this core offers 1/);
    r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pb', '--transforms=old'], { cwd: dir });
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(/tfpass-pass-old@1\.2\.3: needs @tfpass\/core \^0\.3\.0/);
  });

  it('a global-like CLI install and a project with the plugin and its own copy of core work together', async () => {
    // Prefix A: the CLI and its dependencies, copied (not linked) as a global install would be.
    const prefix = tmp('tfpass-global-');
    const lib = join(prefix, 'lib');
    mkdirSync(join(lib, 'node_modules'), { recursive: true });
    for (const p of ['cli', 'core', 'pass-strip', 'pass-fold-bn', 'pass-fold-constants', 'runtime', 'tfjs-format', 'checkpoint']) {
      const src = join(BIN, '../../..', p);
      if (existsSync(join(src, 'dist'))) copyPackage(src, lib, `@tfpass/${p}`);
    }
    for (const dep of ['@bufbuild', 'tslib']) {
      const s = join(BIN, '../../../../node_modules', dep);
      if (existsSync(s)) symlinkSync(s, join(lib, 'node_modules', dep), 'dir');
    }
    // Project B: the plugin and a second copy of core.
    const proj = projectWithExample();
    copyPackage(join(BIN, '../../../core'), proj, '@tfpass/core');
    const g = writeConvGraph(proj);
    const bin = join(lib, 'node_modules/@tfpass/cli/dist/bin.js');
    const r = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o.pbtxt', '--transforms=rename_prefix(from=dw, to=depthwise_weights)', '--json'], { cwd: proj, bin });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).steps[0].package).toBe('tfpass-pass-example');
    expect(core.readGraph(join(proj, 'o.pbtxt')).node('depthwise').inputs).toEqual(['bias', 'depthwise_weights']);
    const listed = (await tfpass(['passes'], { cwd: proj, bin })).stdout;
    expect(listed).toMatch(/rename_prefix\s+tfpass-pass-example@1\.0\.0/);
    // a first-party pass that this install lacks: which package provides it, and the npm i line
    const unknown = await tfpass(['transform', `--in_graph=${g}`, '--out_graph=o2.pb', '--transforms=fuse_instance_norm'], { cwd: proj, bin });
    expect(unknown.status).toBe(core.EXIT_CODES.E_UNKNOWN_PASS);
    expect(unknown.stderr).toMatch(/unknown transform 'fuse_instance_norm'.*provided by @tfpass\/pass-instance-norm, which is not installed: npm i @tfpass\/pass-instance-norm/);
  });
});


describe.concurrent('summarize', () => {
  it('armnn-simple-mnist: 7,850 parameters and 7,840 MACs', async () => {
    if (!MNIST || !MNIST_TXT) return void console.log('models not available: skipped');
    for (const m of [MNIST, MNIST_TXT]) {
      const r = await tfpass(['summarize', `--in_graph=${m}`, '--input', 'Placeholder=1,784', '--json']);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.params).toBe(7850);
      expect(j.macs).toBe(7840);
      expect(j.const_parameters).toBe(7850);
    }
    const r = await tfpass(['summarize', `--in_graph=${MNIST}`, '--input=Placeholder=1,784']);
    expect(r.stdout).toMatch(/^Found 1 possible inputs: \(name=Placeholder, type=float\(1\), shape=\[\]\) $/m);
    expect(r.stdout).toMatch(/^Found 1 possible outputs: \(name=Softmax, op=Softmax\) $/m);
    expect(r.stdout).toMatch(/^Found 7850 \(7\.85k\) const parameters, 0 \(0\) variable parameters, and 0 control_edges$/m);
    expect(r.stdout).toMatch(/^Op types used: 2 Const, 1 Add, 1 MatMul, 1 Placeholder, 1 Softmax$/m);
    expect(r.stdout).toMatch(/Parameters: 7,850 .*MACs: 7,840/);
  });

  it('conv and depthwise layers: hand-computed parameters and MACs', async () => {
    const dir = tmp();
    const g = writeConvGraph(dir);
    const j = JSON.parse((await tfpass(['summarize', `--in_graph=${g}`, '--json'])).stdout);
    const layer = (n: string) => j.layers.find((l: { name: string }) => l.name === n);
    // conv: SAME, stride 1 -> [1,8,8,4]; 3*3*3 taps per output element
    expect(layer('conv')).toMatchObject({ params: 3 * 3 * 3 * 4, macs: 8 * 8 * 4 * 27 });
    expect(layer('bias')).toMatchObject({ params: 4 });
    // depthwise: VALID, stride 2 on 8x8 -> 3x3, channels 4*2 = 8, 3*3 taps each
    expect(layer('depthwise')).toMatchObject({ params: 3 * 3 * 4 * 2, macs: 3 * 3 * 8 * 9 });
    expect(j.params).toBe(108 + 4 + 72);
    expect(j.macs).toBe(6912 + 648);
    // a pinned bigger input scales the MACs
    const k = JSON.parse((await tfpass(['summarize', `--in_graph=${g}`, '--input', 'x=1,16,16,3', '--json'])).stdout);
    expect(k.macs).toBe(16 * 16 * 4 * 27 + 7 * 7 * 8 * 9);
  });
});
