// Where TensorFlow's transforms go wrong (spec §8, §9), and what these passes do instead.
import { describe, expect, it } from 'vitest';
import { fixture, floatConst, graph, ins, iota, lib, names, passes, run } from './helpers.js';

describe('strip_unused_nodes', () => {
  const image = (shape: number[] | undefined, dtype = 'float32'): lib.NodeSpec => ({ name: 'image', op: 'Placeholder', attrs: { dtype: { type: dtype }, ...(shape ? { shape: { shape } } : {}) } });

  it('leaves an existing Placeholder as it is, as TF does, and warns once that shape= was not applied (issue 17)', async () => {
    const g = graph([image([-1, -1, -1, 3]), { name: 'wav', op: 'Placeholder', attrs: { dtype: { type: 'string' }, shape: { shape: [] } } }, ['relu', 'Relu', ['image']], ['dec', 'DecodeWav', ['wav']], ['unused', 'Const']]);
    const [rep] = await run(g, 'strip_unused_nodes(type=float, shape="1,384,384,3")', { inputs: ['image', 'wav'], outputs: ['relu', 'dec'] });
    expect(g.node('image').attrs.getShape('shape')).toEqual([-1, -1, -1, 3]);
    expect(g.node('wav').attrs.getType('dtype')).toBe('string');
    expect(g.node('wav').attrs.getShape('shape')).toEqual([]);
    expect(rep!.warnings).toHaveLength(1);
    expect(rep!.warnings[0]).toMatch(/apply only to the Placeholders this pass creates.*'image' \[\?,\?,\?,3\], 'wav' \[\].*pin_shapes=true/);
    expect(rep!.stats.placeholders_pinned).toBeUndefined();
    expect(g.has('unused')).toBe(false);
  });

  it('no warning when shape= equals the existing shape', async () => {
    const g = graph([image([1, 384, 384, 3]), ['relu', 'Relu', ['image']]]);
    const [rep] = await run(g, 'strip_unused_nodes(type=float, shape="1,384,384,3")', { inputs: ['image'], outputs: ['relu'] });
    expect(rep!.warnings).toEqual([]);
  });

  it('pin_shapes=true fills only unknown dimensions of an existing Placeholder', async () => {
    const g = graph([image([-1, -1, -1, 3]), ['relu', 'Relu', ['image']]]);
    const [rep] = await run(g, 'strip_unused_nodes(type=float, shape="1,384,384,-1", pin_shapes=true)', { inputs: ['image'], outputs: ['relu'] });
    expect(g.node('image').attrs.getShape('shape')).toEqual([1, 384, 384, 3]);
    expect(rep!.stats.placeholders_pinned).toBe(1);
    expect(rep!.warnings).toEqual([]);
    const unknownRank = graph([image(undefined), ['relu', 'Relu', ['image']]]);
    await run(unknownRank, 'strip_unused_nodes(shape="2,3", pin_shapes=true)', { inputs: ['image'], outputs: ['relu'] });
    expect(unknownRank.node('image').attrs.getShape('shape')).toEqual([2, 3]);
  });

  it('pin_shapes=true refuses another rank, a different known dimension or another dtype, and changes nothing', async () => {
    const cases: [number[], string, string, RegExp][] = [
      [[-1, 3], 'float32', 'strip_unused_nodes(shape="1,384,384,3", pin_shapes=true)', /rank 2 \[\?,3\].*rank 4.*never changes an input's rank/],
      [[1, 800, 600, 3], 'float32', 'strip_unused_nodes(shape="1,384,384,3", pin_shapes=true)', /dimension 1 = 800, shape= gives 384; pinning only fills unknown dimensions/],
      [[26], 'int32', 'strip_unused_nodes(name=image, type_for_name=float, shape_for_name="26", pin_shapes=true)', /is int32, type_for_name gives float32; pinning never changes an input's dtype/],
    ];
    for (const [shape, dtype, t, msg] of cases) {
      const g = graph([image(shape, dtype), ['relu', 'Relu', ['image']], ['unused', 'Const']]);
      const err = await run(g, t, { inputs: ['image'], outputs: ['relu'] }).catch((e) => e);
      expect(err).toMatchObject({ code: 'E_PARAM' });
      expect(err.message).toMatch(msg);
      expect(g.node('image').attrs.getShape('shape')).toEqual(shape);
      expect(g.has('unused')).toBe(true);
    }
  });

  it('type= and type_for_name never change an existing Placeholder (ids stay int32); a mismatch is warned', async () => {
    const g = graph([
      { name: 'ids', op: 'Placeholder', attrs: { dtype: { type: 'int32' } } },
      { name: 'keep_prob', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1] } } },
      ['out', 'Mul', ['ids', 'keep_prob']],
    ]);
    const [rep] = await run(g, 'strip_unused_nodes(type=float, name=keep_prob, type_for_name=float16, shape_for_name="1")', { inputs: ['ids', 'keep_prob'], outputs: ['out'] });
    expect(g.node('ids').attrs.getType('dtype')).toBe('int32');
    expect(g.node('keep_prob').attrs.getType('dtype')).toBe('float32');
    expect(rep!.warnings.join('\n')).toMatch(/'keep_prob' float32, not type_for_name float16/);
  });

  it('a PlaceholderWithDefault input becomes a Placeholder of its own dtype and shape (TF would give it type=/shape=)', async () => {
    const g = graph([['def', 'Const'], { name: 'is_training', op: 'PlaceholderWithDefault', inputs: ['def'], attrs: { dtype: { type: 'bool' }, shape: { shape: [] } } }, ['out', 'LogicalNot', ['is_training']]]);
    await run(g, 'strip_unused_nodes(type=float, shape="1,384,384,3")', { inputs: ['is_training'], outputs: ['out'] });
    const n = g.node('is_training');
    expect([n.op, n.attrs.getType('dtype'), n.attrs.getShape('shape'), n.inputs]).toEqual(['Placeholder', 'bool', [], []]);
    expect(g.has('def')).toBe(false);
  });

  it('matches repeated type/shape to --inputs in order', async () => {
    const g = graph([['a', 'Relu', ['x']], ['b', 'Relu', ['y']], ['x', 'Const'], ['y', 'Const'], ['out', 'Add', ['a', 'b']]]);
    await run(g, 'strip_unused_nodes(type=int32, type=float, shape="2", shape="3,4")', { inputs: ['a', 'b'], outputs: ['out'] });
    expect([g.node('a').attrs.getType('dtype'), g.node('a').attrs.getShape('shape')]).toEqual(['int32', [2]]);
    expect([g.node('b').attrs.getType('dtype'), g.node('b').attrs.getShape('shape')]).toEqual(['float32', [3, 4]]);
    expect(g.has('x') || g.has('y')).toBe(false);
    await expect(run(graph([['a', 'Const'], ['b', 'Const'], ['c', 'Const'], ['o', 'AddN', ['a', 'b', 'c']]]), 'strip_unused_nodes(shape="1", shape="2")', { inputs: ['a', 'b', 'c'], outputs: ['o'] })).rejects.toThrow(
      /parameter 'shape'.*given 2 times but there are 3 --inputs/,
    );
  });

  it('replaces PlaceholderWithDefault (as TF does) and rewires a non-zero input port', async () => {
    const g = graph([['s', 'Split', ['dim', 'x']], ['dim', 'Const'], ['x', 'Const'], ['out', 'Relu', ['s:1']]]);
    await run(g, 'strip_unused_nodes', { inputs: ['s:1'], outputs: ['out'] });
    expect(g.node('s').op).toBe('Placeholder');
    expect(ins(g, 'out')).toEqual(['s']);
    g.validate();
  });

  it('keeps nodes reachable only through control edges, and errors on a missing output', async () => {
    const g = graph([['init', 'NoOp'], ['c', 'Const', ['^init']], ['out', 'Relu', ['c']]]);
    await run(g, 'strip_unused_nodes', { outputs: ['out'] });
    expect(names(g)).toEqual(['init', 'c', 'out']);
    await expect(run(g, 'strip_unused_nodes', { outputs: ['nope'] })).rejects.toThrow(/nope/);
  });
});

describe('remove_nodes', () => {
  it('keeps the port of the bypassed input (tensorflow#15366)', async () => {
    const g = graph([['p', 'Const'], ['pred', 'Const'], ['Switch_1', 'Switch', ['p', 'pred']], ['id', 'Identity', ['Switch_1:1']], ['out', 'Relu', ['id']]]);
    await run(g, 'remove_nodes(op=Identity)', { outputs: ['out'] });
    expect(ins(g, 'out')).toEqual(['Switch_1:1']);
  });

  it("moves the removed node's own control dependencies to its readers (TF drops them)", async () => {
    const g = graph([['init', 'NoOp'], ['x', 'Const'], ['check', 'CheckNumerics', ['x', '^init']], ['a', 'Relu', ['check']], ['b', 'Relu', ['check']], ['waiter', 'NoOp', ['^check']]]);
    await run(g, 'remove_nodes(op=CheckNumerics)', { outputs: ['a', 'b', 'waiter'] });
    expect(ins(g, 'a')).toEqual(['x', '^init']);
    expect(ins(g, 'b')).toEqual(['x', '^init']);
    expect(ins(g, 'waiter').sort()).toEqual(['^init', '^x']);
    expect(g.has('check')).toBe(false);
  });

  it('never drops a producer others still read when max_inputs > 1', async () => {
    const g = graph([['x', 'Const'], ['min', 'Const'], ['max', 'Const'], ['fq', 'FakeQuantWithMinMaxVars', ['x', 'min', 'max']], ['out', 'Add', ['fq', 'max']]]);
    await run(g, 'remove_nodes(op=FakeQuantWithMinMaxVars, max_inputs=3)', { outputs: ['out'] });
    expect(ins(g, 'out')).toEqual(['x', 'max']);
    g.validate(); // TF deletes `max` here and leaves `out` reading a missing node
  });

  it('leaves a node whose other outputs are read (TF leaves them dangling)', async () => {
    const g = graph([['x', 'Const'], ['u', 'Unique', ['x']], ['a', 'Relu', ['u']], ['b', 'Relu', ['u:1']]]);
    const [rep] = await run(g, 'remove_nodes(op=Unique)', { outputs: ['a', 'b'] });
    expect(g.has('u')).toBe(true);
    expect(rep!.messages.join()).toMatch(/kept because outputs other than :0 are read/);
  });

  it('without --outputs, keeps nodes nobody reads (they are the graph outputs)', async () => {
    const g = graph([['x', 'Const'], ['mid', 'Identity', ['x']], ['y', 'Relu', ['mid']], ['output', 'Identity', ['y']]]);
    await run(g, 'remove_nodes(op=Identity)');
    expect(names(g)).toEqual(['x', 'y', 'output']);
    expect(ins(g, 'y')).toEqual(['x']);
  });

  it('keeps the loop frame of Consts hanging off a TF1 while-loop pivot', async () => {
    const g = fixture('while_pivot.pbtxt');
    await run(g, 'remove_nodes(op=Identity, op=CheckNumerics)', { outputs: ['out'] });
    g.validate();
    expect(g.has('while/Identity') || g.has('while/check')).toBe(false);
    // The Const still runs inside the loop body frame: its control edge now comes from the Switch.
    expect(ins(g, 'while/add/y')).toEqual(['^while/Switch']);
    expect(ins(g, 'while/add')).toEqual(['while/Switch:1', 'while/add/y']);
    // CheckNumerics's own control dependency survives on its reader.
    expect(ins(g, 'while/NextIteration')).toEqual(['while/add', '^while/add/y']);
    expect(ins(g, 'out')).toEqual(['while/Exit']);
  });
});

describe('parameters are checked against each pass schema (TF ignores unknown names)', () => {
  it('names the pass and the accepted parameters; a misspelt one is warned (as TF, it is ignored) and refused under strict', async () => {
    const g = graph([['x', 'Const']]);
    const [rep] = await run(g, 'remove_nodes(op=Identity, max_input=2)');
    expect(rep!.warnings.join('\n')).toMatch(/parameter 'max_input' is not one this pass reads; ignored.*did you mean 'max_inputs'.*accepted: ignore_errors, op, max_inputs/);
    const err = await lib.runPipeline(g, 'remove_nodes(op=Identity, max_input=2)', { registry: await passes(), strict: true }).catch((e) => e);
    expect(err).toBeInstanceOf(lib.ParamError);
    expect(err.message).toMatch(/remove_nodes.*max_input.*did you mean 'max_inputs'.*accepted: ignore_errors, op, max_inputs/);
    await expect(run(g, 'remove_nodes')).rejects.toThrow(/'op'.*required/);
    await expect(run(g, 'remove_nodes(op=Identity, max_inputs=two)')).rejects.toThrow(/integer/);
    const [typo] = await run(g, 'strip_unused_nodes(typ=float)', { outputs: ['x'] });
    expect(typo!.warnings.join()).toMatch(/did you mean 'type'/);
    await expect(run(g, 'strip_unused_nodes(type=floaty)', { outputs: ['x'] })).rejects.toThrow(/unknown data type/);
    await expect(run(g, 'strip_unused_nodes(shape="1,a")', { outputs: ['x'], inputs: ['x'] })).rejects.toThrow(/shape/);
    await expect(run(g, 'set_device(device="/cpu:0", if_default=maybe)')).rejects.toThrow(/if_default/);
  });

  it('every pass has a params schema with descriptions and a parseable example', async () => {
    const { makePasses } = await import('../src/index.js');
    const pj = (await import('../package.json', { with: { type: 'json' } })).default as { tfpass: { passes: { name: string; summary: string }[] } };
    const defs = makePasses(lib);
    expect(pj.tfpass.passes).toEqual(defs.map((d) => ({ name: d.name, summary: d.summary })));
    for (const d of defs) {
      expect(d.params, d.name).toBeDefined();
      for (const [k, p] of Object.entries(d.params!)) expect(p.description, `${d.name}.${k}`).not.toBe('');
      const [call] = lib.parseTransforms(d.example!);
      expect(call!.name).toBe(d.name);
      expect(() => lib.coerceParams(d, call!.params)).not.toThrow();
    }
  });
});

describe('ops a pass does not know pass through untouched', () => {
  it('custom, grappler and TF.js ops survive every structural pass', async () => {
    const mk = () =>
      graph([
        { name: 'in', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } },
        floatConst('w', iota(4), [1, 1, 2, 2]), floatConst('b', [1, 2]), floatConst('alpha', [0.1, 0.2]),
        { name: 'conv', op: '_FusedConv2D', inputs: ['in', 'w', 'b'], attrs: { T: { type: 'float32' }, fused_ops: { list: { s: ['BiasAdd', 'Relu'] } }, num_args: { i: 1 } } },
        { name: 'dw', op: 'FusedDepthwiseConv2dNative', inputs: ['conv', 'w', 'b'], attrs: { T: { type: 'float32' } } },
        { name: 'prelu', op: 'Prelu', inputs: ['dw', 'alpha'], attrs: { T: { type: 'float32' } } },
        { name: 'custom', op: 'ProdEnvMatA', inputs: ['prelu'], attrs: { T: { type: 'float32' }, rcut_a: { f: 1 } } },
        ['out', 'Identity', ['custom']],
      ]);
    const before = mk();
    const g = mk();
    await run(
      g,
      'remove_nodes(op=Identity) sort_by_execution_order merge_duplicate_nodes backport_concatv2 backport_addv2 backport_tensor_array_v3 remove_device strip_unused_nodes inline_partitionedcall',
      { inputs: ['in'], outputs: ['out'] },
    );
    for (const n of ['conv', 'dw', 'prelu', 'custom']) {
      expect(g.node(n).op).toBe(before.node(n).op);
      expect(g.node(n).inputs).toEqual(before.node(n).inputs);
      expect(g.node(n).attrs.keys()).toEqual(before.node(n).attrs.keys());
    }
    // add_default_attributes fills in what the op table knows (grappler's _FusedConv2D) and leaves the rest.
    await run(g, 'add_default_attributes');
    expect(g.node('conv').attrs.getString('data_format')).toBe('NHWC');
    for (const n of ['prelu', 'custom']) expect(g.node(n).attrs.keys()).toEqual(before.node(n).attrs.keys());
  });

  it('add_default_attributes reports unknown ops instead of failing', async () => {
    const g = graph([['c', 'Prelu'], ['l', 'LRN', ['c']]]);
    const [rep] = await run(g, 'add_default_attributes');
    expect(rep!.messages.join()).toMatch(/no defaults known for Prelu/);
    expect(g.node('l').attrs.getInt('depth_radius')).toBe(5);
    expect(g.node('c').attrs.keys()).toEqual([]);
  });
});

describe('merge_duplicate_nodes (quantize_nodes_test merge cases)', () => {
  it('merges equal Enter (same frame), Switch and LoopCond nodes of a while loop as TF does, keeps NextIteration; the loop computes the same (issue 17)', async () => {
    const f32 = { type: 'float32' };
    const enter = (name: string, input: string, frame = 'loop'): lib.NodeSpec => ({ name, op: 'Enter', inputs: [input], attrs: { T: f32, frame_name: { s: frame }, is_constant: { b: true }, parallel_iterations: { i: 10 } } });
    // i = 0; while (i < 7) i = (i + c) + c   with c = 1.5 read through two equal Enters
    const mk = () =>
      graph([
        floatConst('i0', [0], []), floatConst('lim', [7], []), floatConst('c', [1.5], []),
        { name: 'enter_i', op: 'Enter', inputs: ['i0'], attrs: { T: f32, frame_name: { s: 'loop' }, is_constant: { b: false }, parallel_iterations: { i: 10 } } },
        { name: 'merge_i', op: 'Merge', inputs: ['enter_i', 'next_i'], attrs: { T: f32, N: { i: 2 } } },
        enter('enter_lim', 'lim'), enter('enter_lim_2', 'lim'),
        { name: 'less', op: 'Less', inputs: ['merge_i', 'enter_lim'], attrs: { T: f32 } },
        { name: 'less_2', op: 'Less', inputs: ['merge_i', 'enter_lim_2'], attrs: { T: f32 } },
        { name: 'cond', op: 'LoopCond', inputs: ['less'] },
        { name: 'cond_2', op: 'LoopCond', inputs: ['less_2'] },
        { name: 'switch_i', op: 'Switch', inputs: ['merge_i', 'cond'], attrs: { T: f32 } },
        { name: 'switch_i_2', op: 'Switch', inputs: ['merge_i', 'cond_2'], attrs: { T: f32 } },
        { name: 'body_i', op: 'Identity', inputs: ['switch_i:1'], attrs: { T: f32 } },
        enter('enter_c', 'c'), enter('enter_c_2', 'c'), enter('enter_c_other', 'c', 'other_loop'),
        { name: 'add', op: 'AddV2', inputs: ['body_i', 'enter_c'], attrs: { T: f32 } },
        { name: 'add_2', op: 'AddV2', inputs: ['add', 'enter_c_2'], attrs: { T: f32 } },
        { name: 'next_i', op: 'NextIteration', inputs: ['add_2'], attrs: { T: f32 } },
        { name: 'exit_i', op: 'Exit', inputs: ['switch_i:0'], attrs: { T: f32 } },
        { name: 'exit_i_2', op: 'Exit', inputs: ['switch_i_2:0'], attrs: { T: f32 } },
        { name: 'out', op: 'AddV2', inputs: ['exit_i', 'exit_i_2'], attrs: { T: f32 } },
      ]);
    const before = mk();
    const g = mk();
    const [rep] = await run(g, 'merge_duplicate_nodes', { outputs: ['out'] });
    for (const gone of ['enter_lim_2', 'less_2', 'cond_2', 'switch_i_2', 'enter_c_2', 'exit_i_2']) expect(g.has(gone), gone).toBe(false);
    expect(g.has('enter_c_other')).toBe(true); // another frame
    expect(rep!.stats.merged).toBe(6);
    expect(ins(g, 'add_2')).toEqual(['add', 'enter_c']);
    expect(ins(g, 'out')).toEqual(['exit_i', 'exit_i']);
    g.validate();
    // 0 -> 3 -> 6 -> 9: out = 9 + 9; inputs: none (all constants)
    const { expectSameOutputs } = await import('@tfpass/runtime/testing');
    const { sharedExecutor } = await import('@tfpass/runtime');
    const [t] = await sharedExecutor('cpu').run(g, {}, ['out']);
    expect(t!.toNumbers()).toEqual([18]);
    await expectSameOutputs(before, g, { inputs: {}, outputs: ['out'], atol: 0, rtol: 0, backend: 'cpu' });
  });

  const base = () => [floatConst('a_op', iota(10)), floatConst('b_op', iota(10)), floatConst('c_op', iota(10, 2))];
  it('TestMergeDuplicateConsts', async () => {
    const g = graph([...base(), ['add_op', 'Add', ['a_op', 'b_op']], ['mul_op', 'Mul', ['add_op', 'c_op']]]);
    await run(g, 'merge_duplicate_nodes', { outputs: ['mul_op'] });
    expect(Number(g.has('a_op')) + Number(g.has('b_op'))).toBe(1);
    const kept = g.has('a_op') ? 'a_op' : 'b_op';
    expect(ins(g, 'add_op')).toEqual([kept, kept]);
    expect(ins(g, 'mul_op')).toEqual(['add_op', 'c_op']);
  });
  it('TestMergeDuplicatesNested', async () => {
    const g = graph([...base(), ['a_relu_op', 'Relu', ['a_op']], ['b_relu_op', 'Relu', ['b_op']], ['add_op', 'Add', ['a_relu_op', 'b_relu_op']], ['mul_op', 'Mul', ['add_op', 'c_op']]]);
    await run(g, 'merge_duplicate_nodes', { outputs: ['mul_op'] });
    expect(g.nodes().filter((n) => n.op === 'Relu')).toHaveLength(1);
    const r = g.nodes().find((n) => n.op === 'Relu')!.name;
    expect(ins(g, 'add_op')).toEqual([r, r]);
  });
  it('TestMergeDuplicatesInOut', async () => {
    const g = graph([
      ...base(), ['a_relu_op', 'Relu', ['a_op']], ['b_relu_op', 'Relu', ['b_op']], ['add_op', 'Add', ['a_relu_op', 'b_relu_op']],
      ['mul_op1', 'Mul', ['add_op', 'c_op']], ['mul_op2', 'Mul', ['add_op', 'c_op']], ['mul_op3', 'Mul', ['add_op', 'c_op']], ['final_mul_op', 'Mul', ['mul_op2', 'mul_op3']],
    ]);
    await run(g, 'merge_duplicate_nodes', { inputs: ['a_op'], outputs: ['mul_op1', 'final_mul_op'] });
    for (const n of ['a_op', 'b_op', 'a_relu_op', 'b_relu_op', 'mul_op1', 'final_mul_op']) expect(g.has(n), n).toBe(true);
    expect(Number(g.has('mul_op2')) + Number(g.has('mul_op3'))).toBe(1);
    const m = g.has('mul_op2') ? 'mul_op2' : 'mul_op3';
    expect(ins(g, 'final_mul_op')).toEqual([m, m]);
  });
  it('never merges Placeholders, stateful ops, or tensors that differ', async () => {
    const g = graph([
      { name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } }, { name: 'y', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } },
      { name: 'r1', op: 'RandomUniform', inputs: ['s'] }, { name: 'r2', op: 'RandomUniform', inputs: ['s'] }, ['s', 'Const'],
      floatConst('c1', [1, 2, 3]), floatConst('c2', [1, 2, 4]), ['o', 'AddN', ['x', 'y', 'r1', 'r2', 'c1', 'c2']],
    ]);
    await run(g, 'merge_duplicate_nodes');
    expect(g.size).toBe(8);
  });
  it('keeps graph order (TF reorders by hash)', async () => {
    const g = graph([...base(), ['add_op', 'Add', ['a_op', 'b_op']], ['mul_op', 'Mul', ['add_op', 'c_op']]]);
    await run(g, 'merge_duplicate_nodes');
    expect(names(g)).toEqual(['a_op', 'c_op', 'add_op', 'mul_op']);
  });
});

describe('op table', () => {
  it('add_default_attributes writes TF 1.15 defaults unless tf_version asks for later attrs', async () => {
    const a = graph([['q', 'QuantizeV2']]);
    await run(a, 'add_default_attributes');
    const b = graph([['q', 'QuantizeV2']]);
    await run(b, 'add_default_attributes(tf_version=2.4)');
    expect(a.node('q').attrs.getString('mode')).toBe('MIN_COMBINED');
    expect(a.node('q').attrs.has('narrow_range')).toBe(false);
    expect(b.node('q').attrs.has('narrow_range')).toBe(true);
    await expect(run(b, 'add_default_attributes(tf_version=latest)')).rejects.toThrow(/tf_version/);
  });

  it('insert_logging types every read output of a multi-output op', async () => {
    const g = graph([
      { name: 'dim', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.scalar('int32', 0) } } }, floatConst('x', iota(4)),
      { name: 'split', op: 'Split', inputs: ['dim', 'x'], attrs: { T: { type: 'float32' }, num_split: { i: 2 } } },
      { name: 'add', op: 'Add', inputs: ['split', 'split:1'], attrs: { T: { type: 'float32' } } },
      { name: 'shape', op: 'Shape', inputs: ['add'], attrs: { T: { type: 'float32' } } }, ['out', 'Identity', ['shape']],
    ]);
    await run(g, 'insert_logging(op=Split, op=Shape)');
    expect(ins(g, 'split__print__')).toEqual(['split', 'split', 'split:1']);
    expect(g.node('split__print__').attrs.getTypes('U')).toEqual(['float32', 'float32']);
    expect(ins(g, 'add')).toEqual(['split__print__', 'split:1']);
    expect(g.node('shape__print__').attrs.getType('T')).toBe('int32');
  });

  it('merge_duplicate_nodes leaves ops the table does not know (custom ops may be stateful)', async () => {
    const g = graph([['x', 'Const'], ['c1', 'MyCustomOp', ['x']], ['c2', 'MyCustomOp', ['x']], ['o', 'Add', ['c1', 'c2']]]);
    await run(g, 'merge_duplicate_nodes');
    expect(g.has('c1') && g.has('c2')).toBe(true);
  });
});

describe('more passes', () => {
  it('backport_addv2', async () => {
    const g = graph([['a', 'Const'], { name: 'add', op: 'AddV2', inputs: ['a', 'a'], attrs: { T: { type: 'float32' } } }]);
    const [rep] = await run(g, 'backport_addv2');
    expect(g.node('add').op).toBe('Add');
    expect(g.node('add').attrs.getType('T')).toBe('float32');
    expect(rep!.stats.rewritten).toBe(1);
  });

  it('remove_control_dependencies warns when a Const loses its while-loop frame', async () => {
    const g = fixture('while_pivot.pbtxt');
    const [rep] = await run(g, 'remove_control_dependencies');
    expect(g.nodes().some((n) => n.inputs.some((s) => s.startsWith('^')))).toBe(false);
    expect(rep!.warnings.join()).toMatch(/while loop/);
  });

  it('rename_attribute does not lose the old value when the new name exists (TF does)', async () => {
    const g = graph([{ name: 'n', op: 'Mul', attrs: { foo: { i: 1 }, bar: { i: 2 } } }]);
    const [rep] = await run(g, 'rename_attribute(old_attribute_name=foo, new_attribute_name=bar)');
    expect([g.node('n').attrs.getInt('foo'), g.node('n').attrs.getInt('bar')]).toEqual([1, 2]);
    expect(rep!.warnings).toHaveLength(1);
  });

  it('obfuscate_names keeps versions and the function library; inputs written with :0 are protected too', async () => {
    const g = fixture('partitioned_call.pbtxt');
    g.base.versions = { producer: 27, minConsumer: 0, badConsumers: [] } as never;
    await run(g, 'obfuscate_names', { inputs: ['y:0'], outputs: ['Identity'] });
    expect(g.has('y') && g.has('Identity')).toBe(true);
    expect(g.producerVersion).toBe(27);
    expect(g.functionNames()).toEqual(['__inference_sub_fn']);
    g.validate();
  });

  it('inline_partitionedcall keeps a call named in --outputs readable as an IdentityN', async () => {
    const g = fixture('partitioned_call.pbtxt');
    await run(g, 'inline_partitionedcall', { outputs: ['PartitionedCall'] });
    expect(g.node('PartitionedCall').op).toBe('IdentityN');
    expect(ins(g, 'PartitionedCall')).toEqual(['PartitionedCall/identity']);
    await expect(run(graph([{ name: 'c', op: 'PartitionedCall', attrs: { f: { func: { name: 'nope', attrs: {} } } } }]), 'inline_partitionedcall')).rejects.toThrow(/'nope'.*not in the graph's library/);
  });

  it('sparsify_gather (spec 4.10, Const weights, GatherV2, concat kept with two values)', async () => {
    const mk = (v2: boolean, twoConcat: boolean) =>
      graph([
        floatConst('w/part_1', [0.2, 0.000001, 1.2, 0.001], [4, 1]), ['w/read', 'Identity', ['w/part_1']],
        { name: 'ids', op: 'Const', attrs: { dtype: { type: 'int64' }, value: { tensor: lib.Tensor.fromValues('int64', [2], [0, 2]) } } },
        { name: 'axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.scalar('int32', 0) } } },
        v2 ? ['gather', 'GatherV2', ['w/read', 'ids', 'axis']] : ['gather', 'Gather', ['w/read', 'ids']],
        floatConst('concat/input/node', [1], [1, 1]), floatConst('concat/input/node_2', [2], [1, 1]),
        { name: 'linear/concat/axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.scalar('int32', 0) } } },
        { name: 'concat/node', op: 'ConcatV2', inputs: ['w/read', 'concat/input/node', ...(twoConcat ? ['concat/input/node_2'] : []), 'linear/concat/axis'], attrs: { N: { i: twoConcat ? 3 : 2 } } },
      ]);
    for (const v2 of [false, true]) {
      const g = mk(v2, false);
      await run(g, 'sparsify_gather', { outputs: ['gather', 'concat/node'] });
      expect(g.node('w/part_1/indices').attrs.getTensor('value').toNumbers()).toEqual([0, 2, 3]);
      expect(Array.from(g.node('w/part_1/values').attrs.getTensor('value').toFloat32())).toEqual([0.2, 1.2, 0.001].map(Math.fround));
      expect(ins(g, 'w/part_1/InitializeTable')).toEqual(['w/part_1/HashTable', 'w/part_1/indices', 'w/part_1/values']);
      expect(ins(g, 'gather/LookupTableFind')).toEqual(['w/part_1/HashTable', 'ids', 'gather/Const']);
      expect(g.node('gather').op).toBe('ExpandDims');
      expect(ins(g, 'gather')).toEqual(['gather/LookupTableFind', 'gather/ExpandDims/Const']);
      expect(ins(g, 'group_deps')).toEqual(['^w/part_1/InitializeTable']);
      expect(g.has('w/part_1') || g.has('w/read')).toBe(false);
      expect(g.node('concat/node').op).toBe('Identity');
      expect(ins(g, 'concat/node')).toEqual(['concat/input/node']);
      expect(g.has('linear/concat/axis')).toBe(false);
      expect(g.has('axis')).toBe(!v2); // the GatherV2 axis goes with the gather; with Gather it was never read
      g.validate();
    }
    const g = mk(false, true);
    await run(g, 'sparsify_gather(group_init_node=shared_inits)', { outputs: ['gather', 'concat/node'] });
    expect(g.node('concat/node').op).toBe('ConcatV2');
    expect(ins(g, 'concat/node')).toEqual(['concat/input/node', 'concat/input/node_2', 'linear/concat/axis']);
    expect(g.node('concat/node').attrs.getInt('N')).toBe(2);
    expect(ins(g, 'shared_inits')).toEqual(['^w/part_1/InitializeTable']);
  });
});
