import { describe, expect, test } from 'vitest';
import { MiniExecutor, fold, iota, konst, lib, op } from './helpers.js';

/** Spec §4.5(1): a + b folds; the placeholder and output remain. */
function simpleAdd(suffixed = true) {
  const g = new lib.Graph();
  konst(g, 'a_expect_removed', [100], iota(100));
  konst(g, 'b_expect_removed', [100], iota(100));
  op(g, 'add_expect_removed', 'Add', ['a_expect_removed', 'b_expect_removed']);
  g.addNode({ name: 'placeholder_expect_remains', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  op(g, 'output_expect_remains', 'Mul', ['add_expect_removed', 'placeholder_expect_remains']);
  void suffixed;
  return g;
}

function expectNames(g: lib.Graph) {
  for (const n of g.nodes()) expect(n.name.endsWith('expect_removed') && n.op !== 'Const' ? n.name : '').toBe('');
}

describe('fold_constants (structure, mini executor)', () => {
  for (const [inputs, outputs] of [[['placeholder_expect_remains'], ['output_expect_remains']], [['placeholder_expect_remains:0'], ['output_expect_remains:0']]]) {
    test(`simple add with ${inputs[0]} / ${outputs[0]}`, async () => {
      const g = simpleAdd();
      const ex = new MiniExecutor();
      await fold(g, 'fold_constants', ex, { inputs, outputs });
      expect(g.has('a_expect_removed')).toBe(false);
      expect(g.has('b_expect_removed')).toBe(false);
      // The folded node keeps its name, now as a Const.
      expect(g.node('add_expect_removed').op).toBe('Const');
      expect(Array.from(g.node('add_expect_removed').attrs.getTensor('value').toFloat32()).slice(0, 3)).toEqual([2, 4, 6]);
      expect(g.node('placeholder_expect_remains').op).toBe('Placeholder');
      expect(g.node('output_expect_remains').op).toBe('Mul');
      expect(ex.runs).toBe(1);
      expectNames(g);
    });
  }

  test('exclude_op keeps the Add', async () => {
    const g = simpleAdd();
    await fold(g, 'fold_constants(exclude_op=Add)', new MiniExecutor(), { inputs: ['placeholder_expect_remains'], outputs: ['output_expect_remains'] });
    expect(g.node('add_expect_removed').op).toBe('Add');
    expect(g.has('a_expect_removed')).toBe(true);
  });

  test('max_constant_size_in_bytes=10 keeps the 400-byte result unfolded', async () => {
    const g = simpleAdd();
    await fold(g, 'fold_constants(max_constant_size_in_bytes=10)', new MiniExecutor(), { inputs: ['placeholder_expect_remains'], outputs: ['output_expect_remains'] });
    expect(g.node('add_expect_removed').op).toBe('Add');
  });

  test('spec 4.5(6): inputs whose names prefix each other are both kept', async () => {
    const g = new lib.Graph();
    g.addNode({ name: 'placeholder', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'placeholder_1', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    op(g, 'add', 'Add', ['placeholder', 'placeholder_1']);
    await fold(g, 'fold_constants', new MiniExecutor(), { inputs: ['placeholder', 'placeholder_1'], outputs: ['add'] });
    expect(g.nodes().map((n) => `${n.name}:${n.op}`).sort()).toEqual(['add:Add', 'placeholder:Placeholder', 'placeholder_1:Placeholder']);
  });

  test('a fed PlaceholderWithDefault becomes a Placeholder; a missing output is an error naming it', async () => {
    const g = new lib.Graph();
    konst(g, 'def', [2], [1, 2]);
    g.addNode({ name: 'pwd', op: 'PlaceholderWithDefault', inputs: ['def'], attrs: { dtype: { type: 'float32' }, shape: { shape: [2] } } });
    op(g, 'out', 'Relu', ['pwd']);
    await fold(g, 'fold_constants', new MiniExecutor(), { inputs: ['pwd'], outputs: ['out'] });
    expect(g.node('pwd').op).toBe('Placeholder');
    expect(g.node('pwd').attrs.getShape('shape')).toEqual([2]);
    expect(g.has('def')).toBe(false);
    await expect(fold(g, 'fold_constants', new MiniExecutor(), { outputs: ['nope'] })).rejects.toThrow(/nope/);
  });

  test('unused nodes are pruned when outputs are given', async () => {
    const g = simpleAdd();
    konst(g, 'unused', [1], [1]);
    await fold(g, 'fold_constants', new MiniExecutor(), { inputs: ['placeholder_expect_remains'], outputs: ['output_expect_remains'] });
    expect(g.has('unused')).toBe(false);
  });

  test('a fed Const is not folded; random and placeholders never are', async () => {
    const g = new lib.Graph();
    konst(g, 'k', [2], [1, 2]);
    konst(g, 'j', [2], [3, 4]);
    op(g, 'sum', 'Add', ['k', 'j']);
    konst(g, 'shape', [1], [2], 'int32');
    g.addNode({ name: 'noise', op: 'RandomUniform', inputs: ['shape'], attrs: { dtype: { type: 'float32' }, T: { type: 'int32' } } });
    op(g, 'noisy', 'Add', ['sum', 'noise']);
    g.addNode({ name: 'pwd', op: 'PlaceholderWithDefault', inputs: ['j'], attrs: { dtype: { type: 'float32' }, shape: { shape: [2] } } });
    op(g, 'out', 'Mul', ['noisy', 'pwd']);
    const ex = new MiniExecutor();
    ex.supportsOp = (o) => o !== 'PlaceholderWithDefault';
    // As TF: an --inputs node must be a Placeholder (9154380); a fed Const is refused, not folded.
    await expect(fold(g.clone(), 'fold_constants', ex, { inputs: ['k'] })).rejects.toThrow(/Input 'k' was expected to be a Placeholder or PlaceholderWithDefault op, but was Const/);
    g.node('k').op = 'Placeholder';
    g.node('k').attrs.delete('value');
    await fold(g, 'fold_constants', ex, { inputs: ['k'] });
    expect(g.node('sum').op).toBe('Add');
    expect(g.node('noise').op).toBe('RandomUniform');
    expect(g.node('pwd').op).toBe('PlaceholderWithDefault');
    expect(ex.runs).toBe(0);
  });

  test('Shape of a constant and Shape of a placeholder with a known shape fold', async () => {
    const g = new lib.Graph();
    g.addNode({ name: 'placeholder', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 1, 3] } } });
    konst(g, 'a', [1, 1, 3], [1, 1, 1]);
    g.addNode({ name: 'shape_a', op: 'Shape', inputs: ['a'], attrs: { T: { type: 'float32' }, out_type: { type: 'int32' } } });
    g.addNode({ name: 'shape_p', op: 'Shape', inputs: ['placeholder'], attrs: { T: { type: 'float32' }, out_type: { type: 'int32' } } });
    g.addNode({ name: 'cast', op: 'Cast', inputs: ['shape_a'], attrs: { SrcT: { type: 'int32' }, DstT: { type: 'float32' } } });
    op(g, 'output', 'Mul', ['cast', 'placeholder']);
    g.addNode({ name: 'cast_p', op: 'Cast', inputs: ['shape_p'], attrs: { SrcT: { type: 'int32' }, DstT: { type: 'float32' } } });
    op(g, 'output2', 'Mul', ['cast_p', 'placeholder']);
    await fold(g, 'fold_constants', new MiniExecutor(), { inputs: ['placeholder'], outputs: ['output', 'output2'] });
    expect(g.node('cast').op).toBe('Const');
    {
      expect(g.node('cast_p').op).toBe('Const');
      expect(g.node('cast_p').attrs.getTensor('value').toNumbers()).toEqual([1, 1, 3]);
      expect(g.has('shape_p')).toBe(false);
      expect(g.has('shape_a')).toBe(false);
    }
  });

  test('_output_shapes are cleared by default and used with clear_output_shapes=false', async () => {
    const mk = () => {
      const g = new lib.Graph();
      g.addNode({ name: 'placeholder', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, _output_shapes: { list: { shape: [[1, 1, 3]] } } } });
      g.addNode({ name: 'shape', op: 'Shape', inputs: ['placeholder'], attrs: { T: { type: 'float32' }, out_type: { type: 'int32' } } });
      g.addNode({ name: 'cast', op: 'Cast', inputs: ['shape'], attrs: { SrcT: { type: 'int32' }, DstT: { type: 'float32' } } });
      op(g, 'output', 'Mul', ['cast', 'placeholder']);
      return g;
    };
    const g1 = mk();
    await fold(g1, 'fold_constants', new MiniExecutor(), { inputs: ['placeholder'], outputs: ['output'] });
    expect(g1.node('cast').op).toBe('Cast');
    expect(g1.node('placeholder').attrs.has('_output_shapes')).toBe(false);
    const g2 = mk();
    await fold(g2, 'fold_constants(clear_output_shapes=false)', new MiniExecutor(), { inputs: ['placeholder'], outputs: ['output'] });
    expect(g2.node('cast').op).toBe('Const');
  });

  test('multi-output node: port 1 gets its own Const and consumers are rewired', async () => {
    const g = new lib.Graph();
    konst(g, 'pair', [2, 2], [1, 2, 3, 4]);
    g.addNode({ name: 'unpack', op: 'Unpack', inputs: ['pair'], attrs: { T: { type: 'float32' }, num: { i: 2 }, axis: { i: 0 } } });
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    op(g, 'y0', 'Mul', ['unpack', 'x']);
    op(g, 'y1', 'Mul', ['unpack:1', 'x']);
    await fold(g, 'fold_constants', new MiniExecutor(), { inputs: ['x'], outputs: ['y0', 'y1'] });
    expect(g.node('unpack').op).toBe('Const');
    const p1 = g.node('y1').dataInputs[0]!;
    expect(p1).not.toContain(':1');
    expect(g.node(p1).attrs.getTensor('value').toNumbers()).toEqual([3, 4]);
    expect(g.has('pair')).toBe(false);
  });

  test('an executor failure leaves that node unfolded (with a note) and folds the rest', async () => {
    const g = new lib.Graph();
    konst(g, 'a', [2], [1, 2]);
    op(g, 'good', 'Add', ['a', 'a']);
    op(g, 'bad', 'Sub', ['a', 'a']);
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    op(g, 'o1', 'Mul', ['good', 'x']);
    op(g, 'o2', 'Mul', ['bad', 'x']);
    const ex = new MiniExecutor();
    const orig = ex.run.bind(ex);
    ex.run = async (gg, f, fetches) => {
      if (fetches.includes('bad')) throw new Error('kernel exploded');
      return orig(gg, f, fetches);
    };
    const r = await fold(g, 'fold_constants', ex, { inputs: ['x'] });
    expect(g.node('good').op).toBe('Const');
    expect(g.node('bad').op).toBe('Sub');
    expect(r[0]!.messages.join()).toMatch(/bad \(Sub\) not folded: kernel exploded/);
  });

  test('without an executor service the pass says what is missing', async () => {
    const g = simpleAdd();
    const r = new lib.PassRegistry();
    await lib.registerPlugin(await import('../src/index.js'), r);
    await expect(lib.runPipeline(g, 'fold_constants', { registry: r })).rejects.toThrow(/executor/);
  });
});
