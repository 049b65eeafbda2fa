import type { Graph, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

const TA_OPS = ['TensorArrayWrite', 'TensorArrayRead', 'TensorArrayGather', 'TensorArrayScatter', 'TensorArrayConcat', 'TensorArraySplit', 'TensorArraySize', 'TensorArrayClose'];

export function backportPasses(lib: Lib): PassDefinition<any>[] {
  return [
    {
      name: 'backport_concatv2',
      summary: 'Turn ConcatV2 (axis last) into the old Concat (axis first)',
      params: {},
      example: 'backport_concatv2',
      run(graph: Graph, ctx: PassContext) {
        for (const n of graph) {
          if (n.op !== 'ConcatV2') continue;
          const data = n.dataInputs;
          if (data.length < 2) throw new lib.GraphValidationError(n.name, `ConcatV2 needs at least 2 inputs, has ${data.length}`);
          n.setInputs([data[data.length - 1]!, ...data.slice(0, -1), ...n.controlInputs.map((c) => '^' + c)]);
          n.op = 'Concat';
          n.attrs.delete('Tidx');
          ctx.count('rewritten');
        }
      },
    },
    {
      name: 'backport_tensor_array_v3',
      summary: 'Turn TensorArray*V3 ops into their V2 forms (for old runtimes)',
      description: 'The V3 flow output (:1) has no V2 equivalent: its readers read a float Const `<name>/replacement_flow_node` instead. `identical_element_shapes`, which V2 does not know, is dropped.',
      params: {},
      example: 'backport_tensor_array_v3',
      run(graph: Graph, ctx: PassContext) {
        for (const n of graph.nodes()) {
          if (n.op === 'TensorArrayV3' || n.op === 'TensorArrayGradV3') {
            n.op = n.op === 'TensorArrayV3' ? 'TensorArrayV2' : 'TensorArrayGradV2';
            n.attrs.delete('identical_element_shapes');
            const flow = graph.tensorConsumers(`${n.name}:1`);
            if (flow.length) {
              const name = graph.uniqueName(`${n.name}/replacement_flow_node`);
              graph.addNode({ name, op: 'Const', device: n.device, attrs: { dtype: { type: 'float32' }, value: { tensor: lib.Tensor.scalar('float32', 1) } } });
              for (const c of flow) c.node.setInput(c.index, name);
            }
            ctx.count('rewritten');
          } else if (n.op.endsWith('V3') && TA_OPS.includes(n.op.slice(0, -2))) {
            n.op = n.op.slice(0, -2) + 'V2';
            ctx.count('rewritten');
          }
        }
      },
    },
    {
      name: 'backport_addv2',
      summary: 'Turn AddV2 into Add (for TF <= 1.14 runtimes and converters pinned there)',
      params: {},
      example: 'backport_addv2',
      run(graph: Graph, ctx: PassContext) {
        for (const n of graph) if (n.op === 'AddV2') {
          n.op = 'Add';
          ctx.count('rewritten');
        }
      },
    },
  ];
}
