import type { DType, Graph, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

interface LogParams {
  op: string[];
  prefix: string[];
  message: string;
  show_name: boolean;
  show_op: boolean;
  first_n: number;
  summarize: number;
}

export function insertLogging(lib: Lib): PassDefinition<LogParams> {
  return {
    name: 'insert_logging',
    summary: 'Insert Print nodes that log the outputs of chosen nodes when the graph runs',
    description:
      'For each chosen node whose output 0 is read, a Print node `<node>__print__` logs output 0 and every other read output; ' +
      'readers of output 0 read the Print instead. Nodes whose output types cannot be told are skipped with a warning.',
    params: {
      op: { type: 'string', repeated: true, description: 'only nodes of these ops (default: all)' },
      prefix: { type: 'string', repeated: true, description: 'only nodes whose name starts with one of these (default: all)' },
      message: { type: 'string', default: '', description: 'text printed before the values' },
      show_name: { type: 'bool', default: false, description: 'print the Print node\'s name' },
      show_op: { type: 'bool', default: false, description: 'print the op' },
      first_n: { type: 'int', default: -1, description: 'log only the first N runs (-1 = always)' },
      summarize: { type: 'int', default: 1024, description: 'how many elements of each tensor to print' },
    },
    example: 'insert_logging(op=RequantizationRange, show_name=true, message="__requant_min_max:")',
    idempotent: false,
    run(graph: Graph, ctx: PassContext<LogParams>) {
      const p = ctx.params;
      const ops = new Set(p.op);
      const chosen = graph.nodes().filter((n) => (!ops.size || ops.has(n.op)) && (!p.prefix.length || p.prefix.some((x) => n.name.startsWith(x))) && n.op !== 'Print');
      for (const node of chosen) {
        const ports = new Set<number>();
        for (const c of graph.consumersOf(node.name)) if (!c.control && c.node.op !== 'Print') ports.add(c.port);
        if (!ports.has(0)) continue;
        const sorted = [...ports].sort((a, b) => a - b);
        const types: DType[] = [];
        let unknown = false;
        for (const k of sorted) {
          const t = lib.outputDType(node, k);
          if (!t) unknown = true;
          else types.push(t);
        }
        if (unknown) {
          ctx.warn(`'${node.name}' (${node.op}): output types unknown, not logged`);
          continue;
        }
        const name = graph.uniqueName(`${node.name}__print__`);
        const readers = graph.tensorConsumers(node.name).filter((c) => c.node.op !== 'Print');
        const message = (p.show_op ? `;${node.op};` : '') + (p.show_name ? `;${name};` : '') + p.message;
        graph.addNode({
          name,
          op: 'Print',
          device: node.device,
          inputs: [node.name, ...sorted.map((k) => lib.tensorName(node.name, k))],
          attrs: {
            T: { type: types[0]! },
            U: { list: { type: types } },
            message: { s: message },
            first_n: { i: p.first_n },
            summarize: { i: p.summarize },
          },
        });
        for (const c of readers) c.node.setInput(c.index, name);
        ctx.count('inserted');
      }
    },
  };
}
