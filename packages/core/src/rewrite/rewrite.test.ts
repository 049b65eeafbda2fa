import { describe, expect, it } from 'vitest';
import {
  Builder, Graph, Tensor, applyRules, bypass, constValue, liveNodes, matchAt, mergeNodes, protectedNames, removeIfDead, replaceAllUses,
  replaceUsesIn,
  usedOnlyOnce, type Rule,
} from '@tfpass/core';

const f32 = (v: number[]) => new Tensor('float32', [v.length], Float32Array.from(v));

/** x -> conv(x, w/read) -> add(c, conv) -> out; `w` behind an Identity, `c` direct. */
function chain(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: f32([2]) } } });
  g.addNode({ name: 'w/read', op: 'Identity', inputs: ['w'] });
  g.addNode({ name: 'conv', op: 'MatMul', inputs: ['x', 'w/read'] });
  g.addNode({ name: 'c', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: f32([1]) } } });
  g.addNode({ name: 'add', op: 'AddV2', inputs: ['c', 'conv'] });
  g.addNode({ name: 'out', op: 'Identity', inputs: ['add'] });
  return g;
}

describe('pattern constraints', () => {
  it('commutative ops match with their inputs swapped and say which operand matched', () => {
    const g = chain();
    expect(matchAt(g, g.node('add'), 'AddV2(MatMul, Const)')).toBeUndefined();
    const m = matchAt(g, g.node('add'), 'AddV2(MatMul as mm, Const as k)', { commutative: true })!;
    expect(m.labels.mm!.name).toBe('conv');
    expect(m.labels.k!.name).toBe('c');
    expect(m.operands).toEqual([1, 0]);
  });

  it('a Const pattern sees through Identity only when asked', () => {
    const g = chain();
    expect(matchAt(g, g.node('conv'), 'MatMul(*, Const)')).toBeUndefined();
    expect(matchAt(g, g.node('conv'), 'MatMul(*, Const as w)', { through: true })!.labels.w!.name).toBe('w');
  });

  it('port checks and used-only-once', () => {
    const g = chain();
    g.addNode({ name: 'split', op: 'Split', inputs: ['c', 'x'] });
    g.addNode({ name: 'r', op: 'Relu', inputs: ['split:1'] });
    expect(matchAt(g, g.node('r'), 'Relu(Split:1)')).toBeDefined();
    expect(matchAt(g, g.node('r'), 'Relu(Split:0)')).toBeUndefined();
    expect(matchAt(g, g.node('add'), 'AddV2(*, MatMul!)')).toBeDefined();
    g.addNode({ name: 'other', op: 'Relu', inputs: ['conv'] });
    expect(matchAt(g, g.node('add'), 'AddV2(*, MatMul!)')).toBeUndefined();
    expect(usedOnlyOnce(g, g.node('add'))).toBe(true);
    expect(usedOnlyOnce(g, g.node('add'), new Set(['add']))).toBe(false);
  });
});

describe('builder', () => {
  it('types plain attribute values from the op table', () => {
    const g = chain();
    const b = new Builder(g, 'scope', '/cpu:0');
    const n = b.op('BiasAdd', ['conv', 'c'], { T: 'float32', data_format: 'NCHW' });
    expect(n.name).toBe('scope/BiasAdd');
    expect(n.device).toBe('/cpu:0');
    expect(n.attrs.getType('T')).toBe('float32');
    expect(n.attrs.getString('data_format')).toBe('NCHW');
    expect(b.op('BiasAdd', ['conv', 'c']).name).toBe('scope/BiasAdd_1');
    const r = b.op('Reshape', ['conv', 'c'], { T: 'float32', Tshape: 'int32' }, { name: 'exact', exact: true });
    expect(r.attrs.getType('Tshape')).toBe('int32');
    expect(b.const(f32([3, 4]), { name: 'k' }).attrs.getTensor('value').toNumbers()).toEqual([3, 4]);
    expect(b.op('Identity', ['c'], { T: 'float32', _class: ['loc:@c'] }).attrs.getStrings('_class')).toEqual(['loc:@c']);
    expect(b.created.map((x) => x.name)).toEqual(['scope/BiasAdd', 'scope/BiasAdd_1', 'exact', 'k', 'scope/Identity']);
  });

  it('become keeps the name with a new op; absorb takes the body of the replaced node and removes it', () => {
    const g = chain();
    const b = new Builder(g);
    b.become(g.node('out'), 'Relu', ['add'], { T: 'float32' });
    expect(g.node('out').op).toBe('Relu');
    g.node('conv').device = '/gpu:0';
    b.absorb(g.node('add'), g.node('conv'), ['x', 'w/read'], { device: true });
    expect(g.has('conv')).toBe(false);
    expect(g.node('add')).toMatchObject({ op: 'MatMul', device: '/gpu:0', inputs: ['x', 'w/read'] });
  });

  it('refuses unknown attrs and wrong kinds with a one-line error naming op and attr', () => {
    const b = new Builder(chain());
    expect(() => b.op('BiasAdd', [], { data_fromat: 'NCHW' })).toThrow(/BiasAdd has no attr 'data_fromat'/);
    expect(() => b.op('BiasAdd', [], { T: 'float' })).toThrow(/attr 'T' of BiasAdd wants a dtype name/);
    expect(() => b.op('Split', [], { num_split: 1.5 })).toThrow(/num_split.*an integer/);
  });
});

describe('edits', () => {
  it('replaceAllUses moves control edges too', () => {
    const g = chain();
    g.addNode({ name: 'after', op: 'NoOp', inputs: ['^add'] });
    replaceAllUses(g, 'add', 'conv');
    expect(g.node('out').inputs).toEqual(['conv']);
    expect(g.node('after').inputs).toEqual(['^conv']);
  });

  it('removeIfDead removes unread Const/Identity upstream only, never protected names', () => {
    const g = chain();
    g.node('out').setInputs(['x']);
    expect(removeIfDead(g, 'add', { keep: new Set(['c']) })).toBe(1);
    expect(g.has('add')).toBe(false);
    expect(g.has('c')).toBe(true);
    expect(g.has('conv')).toBe(true); // real computation stays
    g.node('out').setInputs(['c']);
    g.removeNode('conv');
    expect(removeIfDead(g, 'w/read')).toBe(2);
    expect(g.has('w')).toBe(false);
  });

  it('bypass: readers read the first input, control deps move to the readers', () => {
    const g = chain();
    g.node('out').addControlInput('c');
    g.addNode({ name: 'tail', op: 'Relu', inputs: ['out', '^out'] });
    bypass(g, g.node('out'));
    expect(g.node('tail').inputs).toEqual(['add', '^add', '^c']);
  });

  it('mergeNodes rewires every port and control edge in one scan; replaceUsesIn only the named readers', () => {
    const g = chain();
    g.addNode({ name: 'conv2', op: 'MatMul', inputs: ['x', 'w/read'] });
    g.addNode({ name: 'sum', op: 'AddV2', inputs: ['conv2', 'conv'] });
    g.addNode({ name: 'after', op: 'NoOp', inputs: ['^conv2', '^sum'] });
    g.node('sum').addControlInput('conv2');
    mergeNodes(g, new Map([['conv2', 'conv']]));
    expect(g.has('conv2')).toBe(false);
    expect(g.node('sum').inputs).toEqual(['conv', 'conv', '^conv']);
    expect(g.node('after').inputs).toEqual(['^conv', '^sum']);
    expect(replaceUsesIn(g, 'conv', 'x', ['sum'])).toBe(2);
    expect(g.node('add').inputs).toEqual(['c', 'conv']);
  });

  it('liveNodes walks inputs and control inputs, stopping at the given names', () => {
    const g = chain();
    g.addNode({ name: 'dead', op: 'Relu', inputs: ['x'] });
    expect([...liveNodes(g, ['out'])].sort()).toEqual(['add', 'c', 'conv', 'out', 'w', 'w/read', 'x']);
    expect([...liveNodes(g, ['out'], new Set(['conv']))].sort()).toEqual(['add', 'c', 'conv', 'out']);
  });

  it('protectedNames keeps both spellings of an output', () => {
    expect([...protectedNames({ inputs: [' x '], outputs: ['split:1', ''] })].sort()).toEqual(['split', 'split:1', 'x']);
  });
});

describe('greedy driver', () => {
  // x + 0 -> x, a rule with a refusal for protected adds.
  const addZero: Rule<{ add: { name: string }; x: string }> = {
    name: 'add_zero',
    ops: ['AddV2'],
    match(n, cx) {
      const k = n.dataInputs.findIndex((s) => constValue(cx.graph, s)?.every((v) => v === 0));
      return k < 0 ? undefined : { add: n, x: n.dataInputs[1 - k]! };
    },
    check: (m, cx) => (cx.keep.has(m.add.name) ? { warn: 'kept, it is an output' } : undefined),
    rewrite(m, _b, cx) {
      replaceAllUses(cx.graph, m.add.name, m.x);
      removeIfDead(cx.graph, m.add.name);
    },
  };
  const zeros = () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder' });
    g.addNode({ name: 'z', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: f32([0]) } } });
    g.addNode({ name: 'a1', op: 'AddV2', inputs: ['x', 'z'] });
    g.addNode({ name: 'a2', op: 'AddV2', inputs: ['z', 'a1'] });
    g.addNode({ name: 'a3', op: 'AddV2', inputs: ['a2', 'z'] });
    return g;
  };

  it('applies rules to a fixed point and reports modified/applied', () => {
    const g = zeros();
    const notes: string[] = [];
    const counts: Record<string, number> = {};
    const report = { note: (m: string) => notes.push(m), warn: (m: string) => notes.push('W ' + m), count: (k: string, by = 1) => void (counts[k] = (counts[k] ?? 0) + by) };
    const r = applyRules(g, [addZero], { keep: new Set(['a3']), report });
    expect(r).toMatchObject({ modified: true, applied: { add_zero: 2 }, converged: true });
    expect(g.node('a3').inputs).toEqual(['x', 'z']);
    expect(notes).toEqual(['W a3: kept, it is an output']); // once, not once per sweep
    expect(counts).toEqual({ add_zero: 2 });
    expect(applyRules(g, [addZero], { keep: new Set(['a3']) }).modified).toBe(false);
  });

  it('stops at maxSweeps and says it did not converge', () => {
    let n = 0;
    const forever: Rule<true> = { name: 'forever', match: () => true, rewrite: () => void n++ };
    const g = zeros();
    const r = applyRules(g, [forever], { maxSweeps: 3 });
    expect(r.converged).toBe(false);
    expect(r.sweeps).toBe(3);
    expect(n).toBe(3 * g.size);
  });
});
