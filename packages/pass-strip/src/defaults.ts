import type { Graph, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

export function addDefaultAttributes(lib: Lib): PassDefinition {
  return {
    name: 'add_default_attributes',
    summary: 'Write out attributes that nodes leave at their op\'s default',
    description: 'Ops the table does not know (custom ops, _Fused*, TF.js ops) are left as they are and counted in the report; TensorFlow fails on them.',
    params: {
      tf_version: { type: 'string', default: '1.15', description: 'TensorFlow release the graph is for: attrs added after it are not written (a TF 1.15 runtime rejects them)' },
    },
    example: 'add_default_attributes(tf_version=1.15)',
    run(graph: Graph, ctx: PassContext<{ tf_version: string }>) {
      if (!/^\d+\.\d+(\.\d+)?$/.test(ctx.params.tf_version)) throw new lib.ParamError('add_default_attributes', 'tf_version', `expected a release like 1.15 or 2.4, got '${ctx.params.tf_version}'`);
      const unknown = new Set<string>();
      for (const n of graph) {
        // TF's defaults come from core's op table, the one place op facts live.
        const d = lib.defaultAttrs(n.op, { tfVersion: ctx.params.tf_version });
        if (!d) {
          unknown.add(n.op);
          continue;
        }
        for (const [k, v] of Object.entries(d)) {
          if (n.attrs.has(k)) continue;
          n.attrs.setJson(k, v);
          ctx.count('added');
        }
      }
      if (unknown.size) ctx.note(`no defaults known for ${[...unknown].sort().join(', ')} (the op table lacks them); those nodes are unchanged`);
    },
  };
}
