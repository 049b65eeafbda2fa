import type { AttrJson, Graph, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

const CALL_OPS = new Set(['PartitionedCall', 'StatefulPartitionedCall']);

export function inlinePartitionedCall(lib: Lib): PassDefinition {
  /** `n:out:k` -> `n:k`, `n` -> `n` (function-body syntax to graph syntax). */
  const normalize = (s: string): { node: string; port: number; control: boolean } => {
    const control = s.startsWith('^');
    const body = control ? s.slice(1) : s;
    const parts = body.split(':');
    if (parts.length >= 3) return { node: parts[0]!, port: Number(parts[parts.length - 1]), control };
    const r = lib.parseInput(body);
    return { node: r.node, port: r.port, control };
  };
  return {
    name: 'inline_partitionedcall',
    summary: 'Replace each PartitionedCall by the body of the library function it calls',
    description:
      'Body nodes are named `<call>/<node>`; argument references become the call\'s inputs; readers of `<call>:k` read the ' +
      'k-th result. Unlike TensorFlow, StatefulPartitionedCall is inlined too, the call\'s control inputs move to the inlined ' +
      'source nodes, `^<call>` readers wait for every result, type placeholders in the body take the call\'s attr values, and a ' +
      'call named in --outputs stays readable as an IdentityN of its results.',
    params: {},
    example: 'inline_partitionedcall',
    run(graph: Graph, ctx: PassContext) {
      const keep = lib.protectedNames(ctx);
      for (const call of graph.nodes()) {
        if (!CALL_OPS.has(call.op)) continue;
        if (call.attrs.kind('f') !== 'func') throw new lib.GraphValidationError(call.name, `${call.op} has no function attribute 'f'`);
        const f = call.attrs.getFunc('f');
        const fn = graph.functionBody(f.name);
        if (!fn) throw new lib.GraphValidationError(call.name, `calls function '${f.name}', which is not in the graph's library`);
        const args = call.dataInputs;
        if (args.length !== fn.inputs.length) throw new lib.GraphValidationError(call.name, `passes ${args.length} inputs to '${f.name}', which takes ${fn.inputs.length}`);
        const argMap = new Map(fn.inputs.map((a, i) => [a, args[i]!]));
        const prefix = call.name + '/';
        const callCtl = call.controlInputs.map((c) => '^' + c);
        const map = (s: string): string => {
          const r = normalize(s);
          const arg = argMap.get(r.node);
          if (arg !== undefined && r.port === 0) return r.control ? '^' + lib.parseInput(arg).node : arg;
          return r.control ? '^' + prefix + r.node : lib.formatInput({ node: prefix + r.node, port: r.port });
        };
        for (const b of fn.body) {
          const n = graph.importNode(b, graph.uniqueName(prefix + b.name));
          const ins = b.inputs.map(map);
          n.setInputs(ins.length ? ins : callCtl);
          if (!n.device) n.device = call.device;
          for (const k of n.attrs.keys()) {
            const j = n.attrs.getJson(k) as AttrJson;
            if ('placeholder' in j) {
              const v = f.attrs[j.placeholder] ?? call.attrs.getJson(j.placeholder);
              if (v) n.attrs.setJson(k, v);
            }
          }
        }
        const results = fn.outputs.map((o) => {
          const r = fn.ret[o];
          if (r === undefined) throw new lib.GraphValidationError(call.name, `function '${f.name}' has no result for output '${o}'`);
          return map(r);
        });
        for (const c of graph.consumersOf(call.name)) {
          if (c.control) continue;
          const r = results[c.port];
          if (r === undefined) throw new lib.GraphValidationError(c.node.name, `reads output ${c.port} of '${call.name}', whose function has ${results.length}`);
          c.node.setInput(c.index, r);
        }
        const ctlTargets = [...results.map((r) => lib.parseInput(r).node), ...Object.values(fn.controlRet).map((r) => prefix + normalize(r).node)];
        for (const c of graph.consumersOf(call.name)) {
          c.node.removeControlInput(call.name);
          for (const t of ctlTargets) if (t !== c.node.name) c.node.addControlInput(t);
        }
        graph.removeNode(call.name);
        if (keep.has(call.name)) {
          graph.addNode({ name: call.name, op: 'IdentityN', inputs: results, device: call.device, attrs: call.attrs.has('Tout') ? { T: call.attrs.getJson('Tout')! } : {} });
        }
        ctx.count('inlined');
      }
    },
  };
}
