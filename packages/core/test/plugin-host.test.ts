import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { Graph, PassRegistry, Tensor, discoverPlugins, incompatibility, loadPlugin, registerPlugin, runPipeline, setPassTimeout, type PassDefinition, type PluginApi } from '../src/index.js';

// The host's checks around plugin passes (issue 21): they run whatever the pipeline options say
// and whatever the plugin does to core's objects.

function graph(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [3], [1, 2, 3]) } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' } } });
  return g;
}

async function registryWith(run: PassDefinition['run']): Promise<PassRegistry> {
  const r = new PassRegistry();
  await registerPlugin({ register: (api: PluginApi) => api.registerPass({ name: 'evil', summary: 'misbehaves', run }) }, r, { packageName: 'tfpass-evil', packageVersion: '1.0.0' });
  return r;
}

async function failure(run: PassDefinition['run'], opts: { validate?: boolean; outputs?: string[] } = {}): Promise<Error & { code?: string }> {
  const registry = await registryWith(run);
  const g = graph();
  try {
    await runPipeline(g, 'evil', { registry, outputs: opts.outputs ?? ['y'], validate: opts.validate });
  } catch (e) {
    return e as Error;
  }
  throw new Error('the pass was accepted');
}

describe('plugin host checks', () => {
  test('a pass that deletes a requested output is an error naming the pass and package', async () => {
    const e = await failure((g) => void g.removeNode('y'));
    expect(e.code).toBe('E_PASS');
    expect(e.message).toMatch(/pass 'evil' \(tfpass-evil@1\.0\.0\): removed the graph output 'y'/);
  });

  test('a pass that empties Const values is an error', async () => {
    const e = await failure((g) => {
      const raw = g.node('w').attrs.raw()['value'] as unknown as { value: { value: { tensorContent: Uint8Array; floatVal: number[] } } };
      raw.value.value.tensorContent = new Uint8Array();
      raw.value.value.floatVal = [];
    });
    expect(e.message).toMatch(/emptied the values of Const 'w' \(3 elements declared/);
  });

  test('validation runs even with validate:false and when the plugin replaced graph.validate', async () => {
    const e = await failure(
      (g) => {
        (g as unknown as { validate: () => void }).validate = () => {};
        g.removeNode('w');
      },
      { validate: false },
    );
    expect(e.code).toBe('E_PASS');
    expect(e.message).toMatch(/patched tfpass core \(graph\.validate\)/);
    const e2 = await failure((g) => void g.removeNode('w'), { validate: false });
    expect(e2.message).toMatch(/input 'w' refers to a node that does not exist/);
  });

  test('a patched Graph.prototype method is restored and reported', async () => {
    const original = Graph.prototype.validate;
    const e = await failure(() => {
      Graph.prototype.validate = () => {};
    });
    expect(e.message).toMatch(/Graph\.prototype\.validate/);
    expect(Graph.prototype.validate).toBe(original);
  });

  test('a pass that does not finish within --pass_timeout is reported by name', async () => {
    setPassTimeout(0.2);
    try {
      const t0 = performance.now();
      const e = await failure(() => new Promise<void>(() => setInterval(() => {}, 1000).unref()));
      expect(e.message).toMatch(/pass 'evil' .*did not finish within 0\.2 s \(--pass_timeout=0\.2/);
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      setPassTimeout(undefined);
    }
    expect(() => setPassTimeout(-1)).toThrow(/pass_timeout/);
  });

  test('a well-behaved pass still runs and its changes stay', async () => {
    const registry = await registryWith((g) => void g.node('y').attrs.setString('note', 'ok'));
    const g = graph();
    await runPipeline(g, 'evil', { registry, outputs: ['y'] });
    expect(g.node('y').attrs.getString('note')).toBe('ok');
  });
});

describe('plugin manifest entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfpass-plugin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = (name: string, entry: string) => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'package.json'), JSON.stringify({ name, version: '1.0.0', tfpass: { apiVersion: 1, entry, passes: [{ name: `${name}_pass`, summary: 's' }] } }));
    return d;
  };
  writeFileSync(join(dir, 'outside.mjs'), 'globalThis.__tfpassOutsideImported = true; export function register() {}');

  test('an entry with .. or an absolute path is refused before anything is imported', () => {
    for (const entry of ['../outside.mjs', join(dir, 'outside.mjs')]) {
      const name = `p${entry.length}`;
      const p = discoverPlugins({ extraDirs: [pkg(name, entry)], cwd: dir }).find((x) => x.name === name);
      expect(incompatibility(p!)).toMatch(/points outside the package/);
    }
  });

  test('an entry that is a symlink out of the package is refused at load', async () => {
    const d = pkg('linked', './index.mjs');
    symlinkSync(join(dir, 'outside.mjs'), join(d, 'index.mjs'));
    const p = discoverPlugins({ extraDirs: [d], cwd: dir }).find((x) => x.name === 'linked');
    await expect(loadPlugin(p!, new PassRegistry())).rejects.toThrow(/outside the package folder/);
    expect((globalThis as { __tfpassOutsideImported?: boolean }).__tfpassOutsideImported).toBeUndefined();
  });
});

describe('a pass promise that can never settle (child process on the built core)', () => {
  test('is reported by name with E_PASS instead of a silent exit 13', () => {
    const core = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `
      const core = await import(${JSON.stringify(core)});
      const r = new core.PassRegistry();
      await core.registerPlugin({ register: (api) => api.registerPass({ name: 'stuck', summary: 's', run: () => new Promise(() => {}) }) }, r, { packageName: 'p', packageVersion: '1.0.0' });
      const g = new core.Graph();
      g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
      try { await core.runPipeline(g, 'stuck', { registry: r }); } catch (e) { console.error(e.code + ' ' + e.message); process.exit(e.exitCode); }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, cwd: fileURLToPath(new URL('..', import.meta.url)) });
    expect(r.stderr.trim()).toMatch(/^E_PASS pass 'stuck' \(p@1\.0\.0\): its promise never settled/);
    expect(r.status).toBe(9);
  });
});
