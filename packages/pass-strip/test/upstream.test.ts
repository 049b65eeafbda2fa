// The upstream Graph Transform Tool tests (spec §4.3, §4.4, §4.9, §4.10) for this package's passes.
import { describe, expect, it } from 'vitest';
import { fixture, floatConst, graph, ins, iota, lib, names, run } from './helpers.js';

describe('strip_unused_nodes (spec 4.3)', () => {
  const mulGraph = () => graph([['add_node', 'Add', ['mul_node', 'a_node']], ['mul_node', 'Mul', ['b_node', 'c_node']], ['a_node', 'Const'], ['b_node', 'Const'], ['c_node', 'Const']]);

  it('TestSimpleAdd', async () => {
    const g = graph([['add_node', 'Add', ['a_node', 'b_node']], ['a_node', 'Const'], ['b_node', 'Const'], ['c_node', 'Const']]);
    await run(g, 'strip_unused_nodes', { outputs: ['add_node'] });
    expect(names(g)).toEqual(['add_node', 'a_node', 'b_node']);
  });

  it('TestCommonAncestor', async () => {
    const g = graph([
      ['add_node1', 'Add', ['add_node2', 'add_node3']], ['add_node2', 'Add', ['const_node1', 'const_node2']], ['add_node3', 'Add', ['const_node1', 'const_node3']],
      ['const_node1', 'Const'], ['const_node2', 'Const'], ['const_node3', 'Const'], ['dangling_input', 'Const'], ['add_node4', 'Add', ['add_node2', 'add_node3']],
    ]);
    await run(g, 'strip_unused_nodes', { inputs: ['dangling_input'], outputs: ['add_node1'] });
    expect(names(g).sort()).toEqual(['add_node1', 'add_node2', 'add_node3', 'const_node1', 'const_node2', 'const_node3', 'dangling_input']);
    expect(g.node('dangling_input').op).toBe('Placeholder');
  });

  it('TestSimplePlaceholder', async () => {
    const g = mulGraph();
    await run(g, 'strip_unused_nodes', { inputs: ['mul_node'], outputs: ['add_node'] });
    expect(names(g).sort()).toEqual(['a_node', 'add_node', 'mul_node']);
    const m = g.node('mul_node');
    expect(m.op).toBe('Placeholder');
    expect(m.attrs.getType('dtype')).toBe('float32');
    expect(m.attrs.getShape('shape')).toEqual([]);
    expect(m.inputs).toEqual([]);
  });

  it('TestPlaceholderDefaultArgs', async () => {
    const g = mulGraph();
    await run(g, 'strip_unused_nodes(type=int32, shape="1,2,3")', { inputs: ['mul_node'], outputs: ['add_node'] });
    expect(g.node('mul_node').attrs.getType('dtype')).toBe('int32');
    expect(g.node('mul_node').attrs.getShape('shape')).toEqual([1, 2, 3]);
    expect(g.has('b_node') || g.has('c_node')).toBe(false);
  });

  it('TestPlaceholderNamedArgs', async () => {
    const g = mulGraph();
    await run(g, 'strip_unused_nodes(name=a_node, type_for_name=int64, shape_for_name="1,2", name=mul_node, type_for_name=quint8, shape_for_name="1, 2, 3")', {
      inputs: ['mul_node', 'a_node'],
      outputs: ['add_node'],
    });
    expect(g.node('mul_node').attrs.getType('dtype')).toBe('quint8');
    expect(g.node('mul_node').attrs.getShape('shape')).toEqual([1, 2, 3]);
    expect(g.node('a_node').attrs.getType('dtype')).toBe('int64');
    expect(g.node('a_node').attrs.getShape('shape')).toEqual([1, 2]);
    expect(g.has('b_node') || g.has('c_node')).toBe(false);
  });
});

describe('remove_nodes (spec 4.4)', () => {
  it('TestRemoveNodes', async () => {
    const g = fixture('remove_nodes.pbtxt');
    await run(g, 'remove_nodes(op=Identity)', { outputs: ['add_node1'] });
    expect(ins(g, 'add_node2')).toEqual(['const_node1', 'const_node2']);
    expect(ins(g, 'add_node3')).toEqual(['const_node1', 'const_node3']);
    expect(ins(g, 'add_node1')).toEqual(['add_node2', 'add_node3']);
    expect(ins(g, 'add_node4')).toEqual(['add_node2', 'add_node3']);
    for (const n of ['identity_node1', 'identity_node2', 'identity_node3']) expect(g.has(n)).toBe(false);
    for (const n of ['const_node1', 'const_node2', 'const_node3']) expect(g.node(n).op).toBe('Const');
  });

  it('TestRemoveOutputNodes', async () => {
    const g = graph([['const_node1', 'Const'], ['const_node2', 'Const'], ['add_node', 'Add', ['const_node1', 'const_node2']], ['identity_node', 'Identity', ['add_node']]]);
    await run(g, 'remove_nodes(op=Identity)', { outputs: ['identity_node'] });
    expect(ins(g, 'identity_node')).toEqual(['add_node']);
  });

  it('TestRemoveChainedNodes', async () => {
    const g = graph([
      ['const_node1', 'Const'], ['identity_node1', 'Identity', ['const_node1']], ['identity_node2', 'Identity', ['identity_node1']],
      ['identity_node3', 'Identity', ['identity_node2']], ['const_node2', 'Const'], ['add_node', 'Add', ['identity_node3', 'const_node2']],
    ]);
    await run(g, 'remove_nodes(op=Identity)', { outputs: ['identity_node'] });
    expect(ins(g, 'add_node')).toEqual(['const_node1', 'const_node2']);
    expect(g.nodes().some((n) => n.op === 'Identity')).toBe(false);
  });

  it('TestRemoveMultipleInputs', async () => {
    const g = graph([
      ['const_node1', 'Const'], ['const_node2', 'Const'], ['const_node3', 'Const'], ['const_node4', 'Const'],
      ['fake_quant_node', 'FakeQuantWithMinMaxVars', ['const_node1', 'const_node2', 'const_node3']], ['add_node', 'Add', ['fake_quant_node', 'const_node4']],
    ]);
    await run(g, 'remove_nodes(op=FakeQuantWithMinMaxVars, max_inputs=3)', { outputs: ['add_node'] });
    expect(g.has('fake_quant_node')).toBe(false);
    expect(ins(g, 'add_node')).toEqual(['const_node1', 'const_node4']);
    expect(g.has('const_node1') && g.has('const_node4')).toBe(true);
  });
});

describe('sort_by_execution_order (spec 4.9)', () => {
  const pos = (g: lib.Graph) => new Map(names(g).map((n, i) => [n, i]));
  it('TestSimpleAdd', async () => {
    const g = graph([['add_node', 'Add', ['a_node', 'b_node']], ['b_node', 'Const'], ['a_node', 'Const']]);
    await run(g, 'sort_by_execution_order');
    expect(names(g)).toEqual(['a_node', 'b_node', 'add_node']); // TF's exact LIFO order
  });
  it('TestSimpleLinear', async () => {
    const g = graph([['negative_node', 'Negative', ['sqrt_node']], ['relu_node', 'Relu', ['const_node']], ['sqrt_node', 'Sqrt', ['relu_node']], ['const_node', 'Const']]);
    await run(g, 'sort_by_execution_order');
    expect(names(g)).toEqual(['const_node', 'relu_node', 'sqrt_node', 'negative_node']);
  });
  it('TestSimpleTree', async () => {
    const g = graph([
      ['add_node1', 'Add', ['add_node2', 'add_node3']], ['add_node2', 'Add', ['const_node1', 'const_node2']], ['add_node3', 'Add', ['const_node3', 'const_node4']],
      ['const_node1', 'Const'], ['const_node2', 'Const'], ['const_node3', 'Const'], ['const_node4', 'Const'],
    ]);
    await run(g, 'sort_by_execution_order');
    const p = pos(g);
    expect(p.get('add_node1')).toBe(6);
    expect(p.get('add_node2')!).toBeLessThan(6);
    expect(p.get('add_node3')!).toBeLessThan(6);
    for (let i = 1; i <= 4; i++) expect(p.get(`const_node${i}`)!).toBeLessThan(5);
  });
  it('TestCommonAncestor', async () => {
    const g = graph([
      ['add_node1', 'Add', ['add_node2', 'add_node3']], ['add_node2', 'Add', ['const_node1', 'const_node2']], ['add_node3', 'Add', ['const_node1', 'const_node3']],
      ['const_node1', 'Const'], ['const_node2', 'Const'], ['const_node3', 'Const'],
    ]);
    await run(g, 'sort_by_execution_order');
    const p = pos(g);
    expect(p.get('add_node1')).toBe(5);
    expect(p.get('add_node2')!).toBeLessThan(5);
    expect(p.get('add_node3')!).toBeLessThan(5);
    expect(p.get('const_node2')!).toBeLessThan(4);
    expect(p.get('const_node3')!).toBeLessThan(4);
    expect(p.get('const_node1')!).toBeLessThan(3);
  });
  it('sorts a graph with a TF1 while loop (Merge waits for one data input)', async () => {
    const g = fixture('while_pivot.pbtxt');
    await run(g, 'sort_by_execution_order');
    const p = pos(g);
    for (const n of g) for (const s of n.inputs) {
      const src = lib.parseInput(s).node;
      if (n.op === 'Merge' && g.node(src).op === 'NextIteration') continue;
      expect(p.get(src)!, `${src} before ${n.name}`).toBeLessThan(p.get(n.name)!);
    }
  });
  it('reports a cycle outside a loop', async () => {
    const g = graph([['a', 'Add', ['b']], ['b', 'Add', ['a']]]);
    await expect(run(g, 'sort_by_execution_order')).rejects.toThrow(/cycle/);
  });
});

describe('small transforms (spec 4.10)', () => {
  const withAttrs = () => {
    const g = fixture('g8.pbtxt');
    g.node('mul_node1').setAttr('foo', { i: 23 }).setAttr('bar', { s: 'something' });
    g.node('add_node2').setAttr('foo', { i: 46 }).setAttr('bob', { i: 23 }).setAttr('bar', { s: 'something else' });
    return g;
  };

  it('remove_attribute: all ops', async () => {
    const g = withAttrs();
    await run(g, 'remove_attribute(op_name="*", attribute_name=foo)');
    expect(g.node('mul_node1').attrs.keys()).toEqual(['bar']);
    expect(g.node('add_node2').attrs.keys()).toEqual(['bar', 'bob']);
  });
  it('remove_attribute: one op', async () => {
    const g = withAttrs();
    await run(g, 'remove_attribute(op_name=Mul, attribute_name=foo)');
    expect(g.node('mul_node1').attrs.has('foo')).toBe(false);
    expect(g.node('add_node2').attrs.getInt('foo')).toBe(46);
  });
  it('rename_attribute: all ops', async () => {
    const g = withAttrs();
    await run(g, 'rename_attribute(op_name="*", old_attribute_name=foo, new_attribute_name=baz)');
    expect(g.node('mul_node1').attrs.getInt('baz')).toBe(23);
    expect(g.node('add_node2').attrs.getInt('baz')).toBe(46);
    expect(g.node('mul_node1').attrs.has('foo') || g.node('add_node2').attrs.has('foo')).toBe(false);
  });
  it('rename_attribute: one op', async () => {
    const g = withAttrs();
    await run(g, 'rename_attribute(op_name=Mul, old_attribute_name=foo, new_attribute_name=baz)');
    expect(g.node('mul_node1').attrs.getInt('baz')).toBe(23);
    expect(g.node('add_node2').attrs.getInt('foo')).toBe(46);
    expect(g.node('add_node2').attrs.has('baz')).toBe(false);
  });
  it('rename_op', async () => {
    const g = fixture('g8.pbtxt');
    await run(g, 'rename_op(old_op_name=Mul, new_op_name=Multiply)');
    expect(g.node('mul_node1').op).toBe('Multiply');
    expect(g.nodes().filter((n) => n.name !== 'mul_node1').map((n) => n.op)).toEqual(['Add', 'Add', 'Const', 'Const', 'Const', 'Add']);
  });
  it('rename_node', async () => {
    const mk = () => graph([['input', 'Placeholder'], ['splitter', 'Split', ['input']], ['adder', 'Add', ['splitter', 'splitter:1']]]);
    const g = mk();
    await run(g, 'rename_node(old_node_name=splitter, new_node_name=demux)');
    expect(g.has('demux') && !g.has('splitter')).toBe(true);
    expect(ins(g, 'adder')).toEqual(['demux', 'demux:1']);
    await expect(run(mk(), 'rename_node(old_node_name=splitter, new_node_name=adder)')).rejects.toThrow(/adder.*already has this name/);
  });
  it('rename_node of a node that is not there changes nothing and says so, as TF does (issue 17)', async () => {
    const g = graph([['input', 'Placeholder'], ['splitter', 'Split', ['input']], ['adder', 'Add', ['splitter', 'splitter:1']]]);
    const before = g.nodes().map((n) => [n.name, [...n.inputs]]);
    const [rep] = await run(g, 'rename_node(old_node_name=nope, new_node_name=demux)');
    expect(g.nodes().map((n) => [n.name, [...n.inputs]])).toEqual(before);
    expect(rep!.messages).toEqual(["no node named 'nope'; nothing renamed (as in TensorFlow)"]);
  });
  it('set_device', async () => {
    const mk = () => {
      const g = fixture('g8.pbtxt');
      g.node('mul_node1').device = '/device:CPU:0';
      g.node('add_node2').device = '/device:GPU:1';
      return g;
    };
    const a = mk();
    await run(a, 'set_device(device="/device:CPU:0")');
    expect(a.nodes().every((n) => n.device === '/device:CPU:0')).toBe(true);
    const b = mk();
    await run(b, 'set_device(device="/device:GPU:0", if_default=true)');
    expect(b.node('mul_node1').device).toBe('/device:CPU:0');
    expect(b.node('add_node2').device).toBe('/device:GPU:1');
    expect(b.nodes().filter((n) => n.device === '/device:GPU:0')).toHaveLength(5);
  });
  it('remove_device', async () => {
    const g = fixture('g8.pbtxt');
    g.node('mul_node1').device = '//cpu:0';
    g.node('add_node2').device = '//device:GPU:1';
    await run(g, 'remove_device');
    expect(g.nodes().every((n) => n.device === '')).toBe(true);
  });
  it('add_default_attributes (LRN)', async () => {
    const g = graph([['lrn_node1', 'LRN']]);
    g.addNode({ name: 'lrn_node2', op: 'LRN', attrs: { depth_radius: { i: 7 }, bias: { f: 2 }, alpha: { f: 2 }, beta: { f: 1 } } });
    await run(g, 'add_default_attributes');
    const a = g.node('lrn_node1').attrs;
    expect([a.getInt('depth_radius'), a.getFloat('bias'), a.getFloat('alpha'), a.getFloat('beta')]).toEqual([5, 1, 1, 0.5]);
    const b = g.node('lrn_node2').attrs;
    expect([b.getInt('depth_radius'), b.getFloat('bias'), b.getFloat('alpha'), b.getFloat('beta')]).toEqual([7, 2, 2, 1]);
  });

  describe('obfuscate_names', () => {
    it('keeps inputs and outputs of a tree', async () => {
      const g = graph([
        ['add_node1', 'Add', ['add_node2', 'add_node3']], ['add_node2', 'Add', ['const_node1', 'const_node2']], ['add_node3', 'Add', ['const_node3', 'const_node4']],
        ['const_node1', 'Const'], ['const_node2', 'Const'], ['const_node3', 'Const'], ['const_node4', 'Const'],
      ]);
      await run(g, 'obfuscate_names', { inputs: ['const_node1'], outputs: ['add_node1'] });
      expect(g.has('add_node1') && g.has('const_node1')).toBe(true);
      for (const n of ['add_node2', 'add_node3', 'const_node2', 'const_node3', 'const_node4']) expect(g.has(n)).toBe(false);
      expect(g.node('add_node1').inputs.every((s) => g.has(s))).toBe(true);
      g.validate();
    });
    it('1000 consts', async () => {
      const g = graph(iota(1000, 0).map((i) => [`const_node${i}`, 'Const'] as [string, string]));
      await run(g, 'obfuscate_names', { inputs: ['const_node0'], outputs: ['const_node999'] });
      expect(g.has('const_node0') && g.has('const_node999')).toBe(true);
      expect(g.has('const_node500')).toBe(false);
    });
    it('names that collide with the generated ones', async () => {
      const g = graph(iota(1000, 0).map((i) => [`1${i}`, 'Const'] as [string, string]));
      await run(g, 'obfuscate_names', { inputs: ['10'], outputs: ['19'] });
      expect(g.has('10') && g.has('19')).toBe(true);
      expect(new Set(names(g)).size).toBe(1000);
    });
  });

  describe('insert_logging', () => {
    const mk = () =>
      graph([
        floatConst('const_node1', iota(10)), floatConst('const_node2', iota(10)), floatConst('const_node3', iota(10)),
        { name: 'add_node2', op: 'Add', inputs: ['const_node1', 'const_node2'], attrs: { T: { type: 'float32' } } },
        { name: 'add_node3', op: 'Add', inputs: ['const_node1', 'const_node3'], attrs: { T: { type: 'float32' } } },
        { name: 'mul_node1', op: 'Mul', inputs: ['add_node2', 'add_node3'], attrs: { T: { type: 'float32' } } },
        { name: 'add_node4', op: 'Add', inputs: ['mul_node1', 'const_node3'], attrs: { T: { type: 'float32' } } },
      ]);
    const printed = (g: lib.Graph) => g.nodes().filter((n) => n.op === 'Print').map((n) => lib.parseInput(n.inputs[0]!).node).sort();
    it('no params', async () => {
      const g = mk();
      await run(g, 'insert_logging');
      expect(printed(g)).toEqual(['add_node2', 'add_node3', 'const_node1', 'const_node2', 'const_node3', 'mul_node1']);
      expect(ins(g, 'add_node4')).toEqual(['mul_node1__print__', 'const_node3__print__']);
      expect(g.node('mul_node1__print__').attrs.getTypes('U')).toEqual(['float32']);
      g.validate();
    });
    it('op=[Mul, Add]', async () => {
      const g = mk();
      await run(g, 'insert_logging(op=Mul, op=Add)');
      expect(printed(g)).toEqual(['add_node2', 'add_node3', 'mul_node1']);
    });
    it('prefix=add_node', async () => {
      const g = mk();
      await run(g, 'insert_logging(prefix=add_node, show_name=true, show_op=true, message="hi:")');
      expect(printed(g)).toEqual(['add_node2', 'add_node3']);
      expect(g.node('add_node2__print__').attrs.getString('message')).toBe(';Add;;add_node2__print__;hi:');
    });
  });

  describe('backports', () => {
    it('backport_concatv2', async () => {
      const g = fixture('g8.pbtxt');
      g.addNode({ name: 'concat_node', op: 'ConcatV2', inputs: ['const_node1', 'const_node2', 'const_node3'], attrs: { Tidx: { type: 'int32' } } });
      await run(g, 'backport_concatv2');
      const c = g.node('concat_node');
      expect(c.op).toBe('Concat');
      expect(c.attrs.has('Tidx')).toBe(false);
      expect(c.inputs).toEqual(['const_node3', 'const_node1', 'const_node2']);
    });
    it('backport_tensor_array_v3', async () => {
      const g = graph([
        { name: 'size_node', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.scalar('int32', 1) } } },
        {
          name: 'tensor_array_node', op: 'TensorArrayV3', inputs: ['size_node'],
          attrs: { dtype: { type: 'float32' }, element_shape: { shape: [1, 2] }, dynamic_size: { b: false }, clear_after_read: { b: true }, identical_element_shapes: { b: false }, tensor_array_name: { s: 'some_name' } },
        },
        ['handle_output_node', 'Identity', ['tensor_array_node']], ['flow_output_node', 'Identity', ['tensor_array_node:1']],
        { name: 'tensor_array_grad_node', op: 'TensorArrayGradV3', inputs: ['tensor_array_node', 'tensor_array_node:1'], attrs: { source: { s: 'foo' } } },
        ['grad_handle_output_node', 'Identity', ['tensor_array_grad_node']], ['grad_flow_output_node', 'Identity', ['tensor_array_grad_node:1']],
      ]);
      await run(g, 'backport_tensor_array_v3');
      expect(g.node('tensor_array_node').op).toBe('TensorArrayV2');
      expect(g.node('tensor_array_grad_node').op).toBe('TensorArrayGradV2');
      expect(g.nodes().some((n) => n.inputs.includes('tensor_array_node:1'))).toBe(false);
      expect(g.nodes().some((n) => n.inputs.includes('tensor_array_grad_node:1'))).toBe(false);
      expect(g.node('tensor_array_node').attrs.has('identical_element_shapes')).toBe(false);
      expect(g.node('tensor_array_node/replacement_flow_node').attrs.getTensor('value').toNumbers()).toEqual([1]);
      g.validate();
    });
    it.each(['Write', 'Read', 'Gather', 'Scatter', 'Concat', 'Split', 'Size', 'Close'])('TensorArray%sV3 -> V2', async (op) => {
      const g = graph([['v3_node', `TensorArray${op}V3`]]);
      await run(g, 'backport_tensor_array_v3');
      expect(g.node('v3_node').op).toBe(`TensorArray${op}V2`);
    });
  });

  it('inline_partitionedcall (spec 3.26)', async () => {
    const g = fixture('partitioned_call.pbtxt');
    expect(g.functionNames()).toEqual(['__inference_sub_fn']);
    await run(g, 'inline_partitionedcall');
    expect(g.size).toBe(9);
    expect(g.nodes().some((n) => n.op === 'PartitionedCall')).toBe(false);
    g.validate();
    expect(ins(g, 'add')).toEqual(['PartitionedCall/identity', 'add/y']);
    expect(ins(g, 'PartitionedCall/mul')).toEqual(['y', 'PartitionedCall/mul/y']);
    expect(ins(g, 'PartitionedCall/add')).toEqual(['PartitionedCall/mul', 'sub/y']);
  });
});
