import { describe, expect, it } from 'vitest';
import { parseArgs, splitList, type CommandSpec } from '../src/args.js';
import { parseInputSpec, parseInputSpecs } from '../src/inputs.js';
import { resolvePluginName } from '../src/plugins.js';
import { main } from '../src/main.js';
import { commands, registerCommand } from '../src/commands/index.js';
import type { Io } from '../src/ui.js';

const spec: CommandSpec = {
  usage: 'x',
  summary: 's',
  flags: {
    in_graph: { type: 'string', description: '', alias: ['input_graph'] },
    output_as_text: { type: 'bool', description: '' },
    plugin: { type: 'list', description: '' },
    atol: { type: 'number', description: '' },
  },
  maxPositionals: 1,
};

describe('TF-style flags', () => {
  it('takes --flag=value, --flag value, aliases, dashes for underscores, repeated lists, last single wins', () => {
    const a = parseArgs(['--in_graph=a.pb', '--plugin', 'x', '--plugin=y', '--input-graph', 'b.pb', 'pos', '--atol=1e-3'], spec);
    expect(a.flags).toMatchObject({ in_graph: 'b.pb', plugin: ['x', 'y'], atol: 0.001, output_as_text: false });
    expect(a.positionals).toEqual(['pos']);
    expect(a.given.has('in_graph')).toBe(true);
  });
  it('booleans: --flag, --flag=true|false, --noflag; a bool never eats the next argument', () => {
    expect(parseArgs(['--output_as_text'], spec).flags.output_as_text).toBe(true);
    expect(parseArgs(['--output_as_text=false'], spec).flags.output_as_text).toBe(false);
    expect(parseArgs(['--nooutput_as_text'], spec).flags.output_as_text).toBe(false);
    expect(parseArgs(['--output_as_text', 'g.pb'], spec).positionals).toEqual(['g.pb']);
    expect(() => parseArgs(['--output_as_text=maybe'], spec)).toThrow(/takes true or false/);
  });
  it('errors name the flag', () => {
    expect(() => parseArgs(['--in_grap=a'], spec)).toThrow(/unknown flag --in_grap \(did you mean --in_graph\?\)/);
    expect(() => parseArgs(['--in_graph'], spec)).toThrow(/--in_graph needs a value/);
    expect(() => parseArgs(['--atol=abc'], spec)).toThrow(/takes a number/);
    expect(() => parseArgs(['a', 'b'], spec)).toThrow(/unexpected argument 'b'/);
  });
  it('splits TF lists', () => {
    expect(splitList('a,b:1, c')).toEqual(['a', 'b:1', 'c']);
    expect(splitList('')).toEqual([]);
  });
});

describe('input grammar', () => {
  it('NAME[=D0,D1,...][:DTYPE] with ports, -1/? dims, scalars and dtype aliases', () => {
    expect(parseInputSpec('input=1,384,384,3')).toEqual({ name: 'input', shape: [1, 384, 384, 3] });
    expect(parseInputSpec('x:0=1,?,3:float')).toEqual({ name: 'x:0', shape: [1, -1, 3], dtype: 'float32' });
    expect(parseInputSpec('ids:int32')).toEqual({ name: 'ids', dtype: 'int32' });
    expect(parseInputSpec('x:1')).toEqual({ name: 'x:1' });
    expect(parseInputSpec('s=')).toEqual({ name: 's', shape: [] });
    expect(() => parseInputSpec('x=1,a')).toThrow(/dimension 'a'/);
  });
  it('--inputs alias with ;, --input_file, --data [NAME=]GLOB, duplicates refused', () => {
    const r = parseInputSpecs({ input: ['a=1,2'], inputs: ['b=3;c:int64'], input_file: ['a=x.npy', 'd=y.npy'], data: ['e=dir/*.npy', 'dir2/*.npy'] });
    expect(r.inputs).toEqual([
      { name: 'a', shape: [1, 2], file: 'x.npy' },
      { name: 'b', shape: [3] },
      { name: 'c', dtype: 'int64' },
      { name: 'd', file: 'y.npy' },
    ]);
    expect(r.data).toEqual([{ name: 'e', glob: 'dir/*.npy' }, { glob: 'dir2/*.npy' }]);
    expect(() => parseInputSpecs({ input: ['a', 'a=1'] })).toThrow(/given twice/);
  });
});

describe('plugin short names', () => {
  it('resolve like ESLint', () => {
    expect(resolvePluginName('example')).toEqual(['tfpass-pass-example', '@tfpass/pass-example', 'example']);
    expect(resolvePluginName('tfpass-pass-example')[0]).toBe('tfpass-pass-example');
    expect(resolvePluginName('@acme')).toEqual(['@acme/tfpass-pass']);
    expect(resolvePluginName('@acme/npu')).toEqual(['@acme/tfpass-pass-npu', '@acme/pass-npu', '@acme/npu']);
    expect(resolvePluginName('@tfpass/pass-strip')[0]).toBe('@tfpass/pass-strip');
  });
});

describe('command map', () => {
  it('other packages can register commands (e.g. demo), which get the shared flags and error handling', async () => {
    let out = '';
    let err = '';
    const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), tty: false, cwd: process.cwd() };
    registerCommand('hello', {
      summary: 'test command',
      load: async () => ({
        spec: { usage: 'hello', summary: 's', flags: { who: { type: 'string', description: '' } } },
        run: async (ctx) => {
          if (ctx.str('who') === 'boom') throw Object.assign(new Error('bad who'), { code: 'E_PARAM' });
          ctx.print(`hi ${ctx.str('who')}`);
          ctx.emit({ who: ctx.str('who') });
        },
      }),
    });
    expect(commands.has('hello')).toBe(true);
    expect(await main(['hello', '--who=you'], io)).toBe(0);
    expect(out).toBe('hi you\n');
    out = '';
    expect(await main(['hello', '--who', 'x', '--json'], io)).toBe(0);
    expect(JSON.parse(out)).toEqual({ who: 'x' });
    expect(await main(['hello', '--who=boom'], io)).toBe(8);
    expect(err).toBe('tfpass: error[E_PARAM]: bad who\n');
    err = '';
    expect(await main(['helo'], io)).toBe(2);
    expect(err).toMatch(/unknown command 'helo'; did you mean 'hello'\?/);
    err = '';
    expect(await main(['hello', '--who'], io)).toBe(2);
    commands.delete('hello');
  });
  it('an unexpected exception is an internal error with exit 70 and no stack', async () => {
    let err = '';
    const io: Io = { out: () => {}, err: (s) => void (err += s), tty: false, cwd: process.cwd() };
    registerCommand('crash', { summary: '', load: async () => ({ spec: { usage: 'crash', summary: '', flags: {} }, run: async () => { throw new TypeError('x is undefined', { cause: new Error('root cause') }); } }) });
    expect(await main(['crash'], io)).toBe(70);
    expect(err).toBe('tfpass: error[E_INTERNAL]: internal error: x is undefined\n  (run with --verbose for the cause)\n');
    err = '';
    expect(await main(['crash', '--verbose'], io)).toBe(70);
    expect(err).toMatch(/caused by: Error: root cause/);
    expect(err).not.toMatch(/\n\s+at /);
    commands.delete('crash');
  });
});
