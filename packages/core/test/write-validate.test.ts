import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Graph, readModel, writeGraph, writeModel } from '../src/index.js';

// Issue 21: `convert` and `freeze` wrote graphs with dangling inputs that our own readers then
// refused. Every GraphDef write validates first; nothing is created when it fails.

const dir = mkdtempSync(join(tmpdir(), 'tfpass-write-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dangling(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'y', op: 'Identity', inputs: ['x'], attrs: { T: { type: 'float32' } } });
  g.removeNode('x');
  return g;
}

describe('writes validate first', () => {
  for (const ext of ['pb', 'pbtxt']) {
    test(`writeGraph (.${ext}) of a graph with a dangling input: E_GRAPH_VALIDATION naming node and file, no file`, () => {
      const out = join(dir, `g.${ext}`);
      let err: (Error & { code?: string }) | undefined;
      try {
        writeGraph(dangling(), out);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.code).toBe('E_GRAPH_VALIDATION');
      expect(err!.message).toMatch(new RegExp(`node 'y': input 'x' refers to a node that does not exist; .*g\\.${ext} was not written`));
      expect(existsSync(out)).toBe(false);
    });
  }

  test('writeModel validates too; a valid graph is written and reads back', () => {
    const g = dangling();
    const out = join(dir, 'm.pb');
    expect(() => writeModel({ kind: 'graph', format: 'binary', graph: g } as never, out)).toThrow(/does not exist/);
    expect(existsSync(out)).toBe(false);
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    writeGraph(g, out);
    expect(readModel(out).graph.size).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['m.pb']);
  });
});
