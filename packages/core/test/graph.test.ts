import { describe, expect, it } from 'vitest';
import { Graph, GraphValidationError, formatInput, nodeNameOf, parseInput, tensorName, type Consumer } from '@tfpass/core';

/** x -> a -> b -> c, with a side branch a:1 -> d and a control edge ^a on c. */
function chain(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'a', op: 'Split', inputs: ['x'] });
  g.addNode({ name: 'b', op: 'Relu', inputs: ['a'] });
  g.addNode({ name: 'c', op: 'Add', inputs: ['b', 'a:0', '^a'] });
  g.addNode({ name: 'd', op: 'Neg', inputs: ['a:1'] });
  return g;
}

/** Consumer index recomputed from scratch, to compare with the incremental one. */
function bruteConsumers(g: Graph, name: string): string[] {
  const out: string[] = [];
  for (const n of g) n.inputs.forEach((s, i) => parseInput(s).node === name && out.push(`${n.name}#${i}`));
  return out.sort();
}
const fmt = (cs: Consumer[]) => cs.map((c) => `${c.node.name}#${c.index}`).sort();

function expectIndexConsistent(g: Graph): void {
  const names = new Set<string>();
  for (const n of g) {
    names.add(n.name);
    for (const s of n.inputs) names.add(parseInput(s).node);
  }
  for (const name of names) {
    expect(fmt(g.consumersOf(name)), `consumers of ${name}`).toEqual(bruteConsumers(g, name));
    expect(g.consumerCount(name)).toBe(new Set(bruteConsumers(g, name).map((s) => s.split('#')[0])).size);
  }
}

describe('input strings', () => {
  it('parses and prints n, n:k, ^n', () => {
    expect(parseInput('a')).toEqual({ node: 'a', port: 0, control: false });
    expect(parseInput('a:3')).toEqual({ node: 'a', port: 3, control: false });
    expect(parseInput('^a')).toEqual({ node: 'a', port: -1, control: true });
    expect(parseInput('scope/a:12')).toEqual({ node: 'scope/a', port: 12, control: false });
    // a ':' not followed by digits is part of the name (function-body syntax keeps it whole)
    expect(parseInput('f:out')).toEqual({ node: 'f:out', port: 0, control: false });
    expect(formatInput({ node: 'a', port: 0 })).toBe('a');
    expect(formatInput({ node: 'a', port: 2 })).toBe('a:2');
    expect(formatInput({ node: 'a', control: true })).toBe('^a');
    expect(tensorName('a', 0)).toBe('a');
    expect(tensorName('a', 1)).toBe('a:1');
    expect(nodeNameOf('^a')).toBe('a');
    expect(nodeNameOf('a:7')).toBe('a');
  });
});

describe('Graph editing', () => {
  it('adds nodes with data inputs before control inputs, deduplicating controls', () => {
    const g = new Graph();
    const n = g.addNode({ name: 'n', op: 'NoOp', inputs: ['^p', 'x', '^p', 'y:1'] });
    expect(n.inputs).toEqual(['x', 'y:1', '^p']);
    expect(n.dataInputs).toEqual(['x', 'y:1']);
    expect(n.controlInputs).toEqual(['p']);
    expect(() => g.addNode({ name: 'n', op: 'NoOp' })).toThrow(GraphValidationError);
  });

  it('addInput goes before controls, addControlInput is idempotent, removeInput updates the index', () => {
    const g = chain();
    const c = g.node('c');
    c.addInput('d');
    expect(c.inputs).toEqual(['b', 'a:0', 'd', '^a']);
    c.addControlInput('a');
    c.addInput('^x');
    expect(c.inputs).toEqual(['b', 'a:0', 'd', '^a', '^x']);
    expectIndexConsistent(g);
    c.removeControlInput('a');
    c.removeInput(1);
    expect(c.inputs).toEqual(['b', 'd', '^x']);
    expectIndexConsistent(g);
    c.setInputs(['^b', 'x', 'd:1']);
    expect(c.inputs).toEqual(['x', 'd:1', '^b']);
    expectIndexConsistent(g);
  });

  it('setInput and input()/inputNode()', () => {
    const g = chain();
    const d = g.node('d');
    expect(d.input(0)).toEqual({ node: 'a', port: 1, control: false });
    expect(d.inputNode(0)?.name).toBe('a');
    d.setInput(0, 'x');
    expect(g.consumersOf('x').map((c) => c.node.name).sort()).toEqual(['a', 'd']);
    expect(() => d.input(5)).toThrow(/node 'd': has no input 5/);
    expectIndexConsistent(g);
  });

  it('consumersOf reports index, port and control for every edge', () => {
    const g = chain();
    const cs = g.consumersOf('a').map((c) => [c.node.name, c.index, c.port, c.control]);
    expect(cs.sort()).toEqual([
      ['b', 0, 0, false],
      ['c', 1, 0, false],
      ['c', 2, -1, true],
      ['d', 0, 1, false],
    ].sort());
    expect(g.tensorConsumers('a').map((c) => c.node.name).sort()).toEqual(['b', 'c']);
    expect(g.tensorConsumers('a:1').map((c) => c.node.name)).toEqual(['d']);
    expect(g.consumerCount('a')).toBe(3);
    expect(g.node('a').consumers()).toHaveLength(4);
  });

  it('replaceUses rewires one tensor, optionally control edges, honouring except', () => {
    const g = chain();
    expect(g.replaceUses('a', 'x')).toBe(2);
    expect(g.node('b').inputs).toEqual(['x']);
    expect(g.node('c').inputs).toEqual(['b', 'x', '^a']);
    expect(g.node('d').inputs).toEqual(['a:1']);
    expectIndexConsistent(g);
    expect(g.replaceUses('a:1', 'x:2', { except: new Set(['d']) })).toBe(0);
    expect(g.replaceUses('a:1', 'x:2', { controls: true })).toBe(2);
    expect(g.node('d').inputs).toEqual(['x:2']);
    expect(g.node('c').inputs).toEqual(['b', 'x', '^x']);
    expect(g.consumerCount('a')).toBe(0);
    expectIndexConsistent(g);
  });

  it('renames a node, rewriting every reference and keeping its place in graph order', () => {
    const g = chain();
    g.renameNode('a', 'split');
    expect(g.nodes().map((n) => n.name)).toEqual(['x', 'split', 'b', 'c', 'd']);
    expect(g.node('c').inputs).toEqual(['b', 'split', '^split']);
    expect(g.node('d').inputs).toEqual(['split:1']);
    expect(g.has('a')).toBe(false);
    expect(g.consumersOf('a')).toEqual([]);
    expectIndexConsistent(g);
    // later edits keep that order: iteration, removal, addition and the written GraphDef agree
    g.renameNode('x', 'input');
    g.removeNode('b');
    g.addNode({ name: 'e', op: 'NoOp' });
    expect([...g].map((n) => n.name)).toEqual(['input', 'split', 'c', 'd', 'e']);
    expect(g.toGraphDef().node.map((n) => n.name)).toEqual(['input', 'split', 'c', 'd', 'e']);
    expect(g.topoOrder().map((n) => n.name)[0]).toBe('input');
    expect(() => g.renameNode('split', 'c')).toThrow(GraphValidationError);
    expect(() => g.renameNode('nope', 'z')).toThrow(/node 'nope': no such node/);
  });

  it('renaming inside a live for-of visits each node once', () => {
    const g = chain();
    const seen: string[] = [];
    for (const n of g) {
      seen.push(n.name);
      g.renameNode(n.name, `scope/${n.name}`);
    }
    expect(seen).toEqual(['x', 'a', 'b', 'c', 'd']);
    expect(g.nodes().map((n) => n.name)).toEqual(['scope/x', 'scope/a', 'scope/b', 'scope/c', 'scope/d']);
    expect(g.node('scope/c').inputs).toEqual(['scope/b', 'scope/a', '^scope/a']);
    expectIndexConsistent(g);
  });

  it('renames many nodes at once', () => {
    const g = chain();
    g.renameNodes(new Map([['a', 'b'], ['b', 'a']]));
    expect(g.nodes().map((n) => n.name)).toEqual(['x', 'b', 'a', 'c', 'd']);
    expect(g.node('a').op).toBe('Relu');
    expect(g.node('a').inputs).toEqual(['b']);
    expect(g.node('c').inputs).toEqual(['a', 'b', '^b']);
    expectIndexConsistent(g);
    expect(() => g.renameNodes(new Map([['a', 'c']]))).toThrow(GraphValidationError);
  });

  it('removes nodes (consumers keep dangling inputs until rewired) and retains subsets', () => {
    const g = chain();
    g.removeNode('d');
    expect(g.has('d')).toBe(false);
    expect(g.size).toBe(4);
    g.removeNode('b');
    expect(g.consumersOf('b').map((c) => c.node.name)).toEqual(['c']);
    expect(() => g.validate()).toThrow(/node 'c': input 'b' refers to a node that does not exist/);
    // re-adding a node of that name reconnects: the index is keyed by name
    g.addNode({ name: 'b', op: 'Relu', inputs: ['a'] });
    g.validate();
    expectIndexConsistent(g);
    g.retain(new Set(['x', 'a']));
    expect(g.nodes().map((n) => n.name)).toEqual(['x', 'a']);
    expectIndexConsistent(g);
    g.removeNodes(['x', 'a', 'missing']);
    expect(g.size).toBe(0);
  });

  it('reorders, imports and clones without sharing NodeDefs', () => {
    const g = chain();
    const order = g.nodes().reverse();
    g.reorder(order);
    expect(g.nodes().map((n) => n.name)).toEqual(['d', 'c', 'b', 'a', 'x']);
    expect([...g].map((n) => n.name)).toEqual(['d', 'c', 'b', 'a', 'x']);
    expect(() => g.reorder(order.slice(1))).toThrow(GraphValidationError);
    const h = g.clone();
    h.node('b').op = 'Relu6';
    h.node('b').attrs.setInt('k', 3);
    expect(g.node('b').op).toBe('Relu');
    expect(g.node('b').attrs.has('k')).toBe(false);
    const k = new Graph();
    const imported = k.importNode(g.node('c'), 'c2');
    expect(imported.inputs).toEqual(['b', 'a:0', '^a']);
    expect(k.consumersOf('a').map((c) => c.node.name)).toEqual(['c2', 'c2']);
    imported.setInput(0, 'z');
    expect(g.node('c').inputs[0]).toBe('b');
  });

  it('replaceWith makes an exact copy with a fresh index', () => {
    const g = chain();
    const snap = g.clone();
    g.replaceUses('a', 'x');
    g.removeNode('d');
    g.replaceWith(snap);
    expect(g.nodes().map((n) => n.name)).toEqual(['x', 'a', 'b', 'c', 'd']);
    expect(g.node('b').inputs).toEqual(['a']);
    expectIndexConsistent(g);
  });

  it('uniqueName skips taken names', () => {
    const g = chain();
    expect(g.uniqueName('z')).toBe('z');
    g.addNode({ name: 'a_1', op: 'NoOp' });
    expect(g.uniqueName('a')).toBe('a_2');
  });

  it('keeps the consumer index right through a random edit sequence', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const g = new Graph();
    for (let i = 0; i < 30; i++) g.addNode({ name: `n${i}`, op: 'Op', inputs: i ? [`n${rnd(i)}`, `n${rnd(i)}:1`] : [] });
    g.consumersOf('n0'); // build the index, then edit incrementally
    for (let step = 0; step < 300; step++) {
      const names = g.nodes().map((n) => n.name);
      const pick = () => names[rnd(names.length)]!;
      const n = g.node(pick());
      switch (rnd(7)) {
        case 0: n.addInput(`${pick()}:${rnd(3)}`); break;
        case 1: n.addControlInput(pick()); break;
        case 2: if (n.inputs.length) n.removeInput(rnd(n.inputs.length)); break;
        case 3: if (n.dataInputs.length) n.setInput(rnd(n.dataInputs.length), pick()); break;
        case 4: g.replaceUses(pick(), `${pick()}:${rnd(2)}`, { controls: rnd(2) === 0 }); break;
        case 5: { const to = `r${step}`; g.renameNode(n.name, to); break; }
        case 6: if (g.size > 10) g.removeNode(n.name); break;
      }
    }
    expectIndexConsistent(g);
  });
});

describe('topoOrder', () => {
  it('is stable: a sorted graph keeps its order, otherwise producers move just before first use', () => {
    const g = chain();
    expect(g.topoOrder().map((n) => n.name)).toEqual(['x', 'a', 'b', 'c', 'd']);
    const h = new Graph();
    h.addNode({ name: 'out', op: 'Add', inputs: ['p', 'q'] });
    h.addNode({ name: 'q', op: 'Relu', inputs: ['p'] });
    h.addNode({ name: 'p', op: 'Placeholder' });
    h.addNode({ name: 'z', op: 'Const' });
    const order = h.topoOrder().map((n) => n.name);
    expect(order).toEqual(['p', 'q', 'out', 'z']);
    expect(h.topoOrder().map((n) => n.name)).toEqual(order);
  });

  it('tolerates TF1 while-loop back edges (Merge <- NextIteration)', () => {
    const g = new Graph();
    g.addNode({ name: 'init', op: 'Const' });
    g.addNode({ name: 'enter', op: 'Enter', inputs: ['init'] });
    g.addNode({ name: 'merge', op: 'Merge', inputs: ['enter', 'next'] });
    g.addNode({ name: 'limit', op: 'Const' });
    g.addNode({ name: 'less', op: 'Less', inputs: ['merge', 'limit'] });
    g.addNode({ name: 'cond', op: 'LoopCond', inputs: ['less'] });
    g.addNode({ name: 'switch', op: 'Switch', inputs: ['merge', 'cond'] });
    g.addNode({ name: 'body', op: 'Add', inputs: ['switch:1', 'limit'] });
    g.addNode({ name: 'next', op: 'NextIteration', inputs: ['body'] });
    g.addNode({ name: 'exit', op: 'Exit', inputs: ['switch'] });
    g.validate();
    const order = g.topoOrder().map((n) => n.name);
    expect(new Set(order).size).toBe(g.size);
    const at = (n: string) => order.indexOf(n);
    for (const n of g) for (const s of n.inputs) {
      const p = parseInput(s).node;
      if (n.op === 'Merge' && p === 'next') continue;
      expect(at(p), `${p} before ${n.name}`).toBeLessThan(at(n.name));
    }
    expect(g.topoOrder().map((n) => n.name)).toEqual(order);
  });

  it('rejects a cycle outside a while loop, naming a node on it', () => {
    const g = new Graph();
    g.addNode({ name: 'a', op: 'Add', inputs: ['c'] });
    g.addNode({ name: 'b', op: 'Relu', inputs: ['a'] });
    g.addNode({ name: 'c', op: 'Relu', inputs: ['b'] });
    expect(() => g.topoOrder()).toThrow(GraphValidationError);
    expect(() => g.validate()).toThrow(/cycle/);
    // a NextIteration back edge into something other than Merge is still a cycle
    const h = new Graph();
    h.addNode({ name: 'm', op: 'Add', inputs: ['n'] });
    h.addNode({ name: 'n', op: 'NextIteration', inputs: ['m'] });
    expect(() => h.validate()).toThrow(/cycle through/);
  });
});

describe('validate', () => {
  it('accepts a good graph', () => {
    expect(() => chain().validate()).not.toThrow();
  });
  it('reports a dangling input with the node name', () => {
    const g = chain();
    g.node('d').addInput('ghost:2');
    const e = (() => { try { g.validate(); } catch (x) { return x; } })() as GraphValidationError;
    expect(e).toBeInstanceOf(GraphValidationError);
    expect(e.code).toBe('E_GRAPH_VALIDATION');
    expect(e.node).toBe('d');
    expect(e.message).toContain("'ghost:2'");
  });
  it('reports a data input after a control input', () => {
    const g = chain();
    g.node('c').setInput(0, '^x'); // inputs are now ^x, a:0, ^a
    expect(() => g.validate()).toThrow(/node 'c': data input 'a:0' comes after a control input/);
  });
  it('reports an empty op', () => {
    const g = chain();
    g.node('b').op = '';
    expect(() => g.validate()).toThrow(/node 'b': has no op/);
  });
  it('duplicate names are refused when reading a GraphDef', async () => {
    const { create } = await import('@bufbuild/protobuf');
    const { GraphDefSchema } = await import('@tfpass/core/proto');
    const def = create(GraphDefSchema, { node: [{ name: 'a', op: 'Const' }, { name: 'b', op: 'Relu', input: ['a'] }, { name: 'a', op: 'Relu' }] });
    expect(() => Graph.fromGraphDef(def, { file: 'm.pb' })).toThrow(/node 'a': duplicate node name in m\.pb/);
  });
});

describe('versions and library', () => {
  it('keeps versions and exposes them', async () => {
    const { create } = await import('@bufbuild/protobuf');
    const { GraphDefSchema } = await import('@tfpass/core/proto');
    const def = create(GraphDefSchema, {
      node: [{ name: 'a', op: 'Const' }],
      versions: { producer: 27, minConsumer: 12, badConsumers: [3] },
      library: { function: [{ signature: { name: 'f', inputArg: [{ name: 'x' }], outputArg: [{ name: 'y' }] }, nodeDef: [{ name: 'n', op: 'Identity', input: ['x'] }], ret: { y: 'n:output:0' } }] },
    });
    const g = Graph.fromGraphDef(def);
    expect(g.producerVersion).toBe(27);
    expect(g.versions).toEqual({ producer: 27, minConsumer: 12, badConsumers: [3] });
    expect(g.functionNames()).toEqual(['f']);
    const f = g.functionBody('f')!;
    expect(f.inputs).toEqual(['x']);
    expect(f.ret).toEqual({ y: 'n:output:0' });
    expect(f.body.node('n').inputs).toEqual(['x']);
    expect(g.clone().toGraphDef().versions?.producer).toBe(27);
  });
});
