import { TfpassError } from '@tfpass/core/errors';
import type { FlopReport, Node } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { humanCount } from '../ui.js';
import { requireFlag } from '../graphs.js';
import { parseInputSpec } from '../inputs.js';
import { isTfliteFile, summarizeTfliteFile } from './tflite-files.js';

export const spec: CommandSpec = {
  usage: 'summarize --in_graph=FILE [--input NAME=1,384,384,3]... [--print_structure] | summarize MODEL.tflite',
  summary: "What TensorFlow's summarize_graph prints, plus per-layer and total parameters, MACs and FLOPs.",
  flags: {
    in_graph: { type: 'string', value: 'FILE', description: 'graph to summarize (.pb, .pbtxt, .meta, SavedModel, .tflite); may also be given as the argument' },
    input: { type: 'list', value: 'NAME=D0,D1,...', description: 'pin an input shape for FLOP counting (default: batch 1)' },
    inputs: { type: 'list', value: 'SPEC[;SPEC...]', description: 'alias of --input taking several specs separated by ;' },
    print_structure: { type: 'bool', description: 'also print every node with its inputs, in execution order' },
    layers: { type: 'number', value: 'N', default: 50, description: 'most per-layer rows to print (0: all)' },
  },
  maxPositionals: 1,
};

function dtypeString(core: typeof import('@tfpass/core'), n: Node): string {
  if (n.attrs.kind('dtype') !== 'type') return 'INVALID(0)';
  const d = n.attrs.getType('dtype');
  const e = core.dtypeToEnum(d) as number;
  return `${core.dtypeTfName(d).replace(/^DT_/, '').toLowerCase()}(${e})`;
}

function shapeString(n: Node): string {
  if (n.attrs.kind('shape') !== 'shape') return 'None';
  const s = n.attrs.getShape('shape');
  if (s === null) return '<unknown>';
  return `[${s.map((d) => (d < 0 ? '?' : String(d))).join(',')}]`;
}

function benchShape(n: Node): string {
  if (n.attrs.kind('shape') !== 'shape') return '';
  const s = n.attrs.getShape('shape');
  return s ? s.join(',') : '';
}

const fmt = (n: number) => n.toLocaleString('en-US');

export async function run(ctx: Ctx): Promise<number> {
  const inPath = requireFlag(ctx.str('in_graph') ?? ctx.args.positionals[0], 'in_graph', 'the graph to summarize');
  if (isTfliteFile(inPath)) return summarizeTfliteFile(ctx, inPath);
  const core = await import('@tfpass/core');
  const g = core.readGraph(inPath);
  const nodes = g.nodes();
  const lines: string[] = [];
  const out = (s: string) => lines.push(s);

  const placeholders = nodes.filter((n) => n.op === 'Placeholder');
  const variables = nodes.filter((n) => n.op === 'Variable' || n.op === 'VariableV2');
  const used = new Set<string>();
  for (const n of nodes) for (const s of n.inputs) used.add(core.parseInput(s).node);
  const outputs = nodes.filter((n) => !used.has(n.name) && !['Const', 'Assign', 'NoOp', 'Placeholder'].includes(n.op));

  const describe = (n: Node) => `(name=${n.name}, type=${dtypeString(core, n)}, shape=${shapeString(n)}) `;
  out(placeholders.length ? `Found ${placeholders.length} possible inputs: ${placeholders.map(describe).join('')}` : 'No inputs spotted.');
  out(variables.length ? `Found ${variables.length} variables: ${variables.map(describe).join('')}` : 'No variables spotted.');
  out(outputs.length ? `Found ${outputs.length} possible outputs: ${outputs.map((n) => `(name=${n.name}, op=${n.op}) `).join('')}` : 'No outputs spotted.');

  let constParams = 0;
  let varParams = 0;
  let controlEdges = 0;
  const devices = new Map<string, number>();
  for (const n of nodes) {
    controlEdges += n.controlInputs.length;
    if (n.device) devices.set(n.device, (devices.get(n.device) ?? 0) + 1);
    if ((n.op === 'Const' || n.op === 'Variable' || n.op === 'VariableV2') && n.attrs.kind('value') === 'tensor') {
      let size = 0;
      try {
        size = n.attrs.getTensorInfo('value').size;
      } catch {
        ctx.debug(`Decoding Tensor failed for node ${n.name}`);
      }
      if (n.op === 'Const') constParams += size;
      else varParams += size;
    }
  }
  out(`Found ${constParams} (${humanCount(constParams)}) const parameters, ${varParams} (${humanCount(varParams)}) variable parameters, and ${controlEdges} control_edges`);
  if (devices.size) out([...devices].sort(([a], [b]) => a.localeCompare(b)).map(([d, c]) => `${c} nodes assigned to device '${d}'`).join(''));

  const invalid: string[] = [];
  for (const n of nodes) for (const s of n.inputs) if (!g.has(core.parseInput(s).node)) invalid.push(`Invalid input ${s} for node ${n.name}`);
  if (invalid.length) {
    for (const l of invalid) ctx.print(l);
    throw new TfpassError('E_GRAPH_VALIDATION', `${inPath}: invalid graph with inputs referring to nonexistent nodes (${invalid.length})`);
  }

  const hist = new Map<string, number>();
  for (const n of nodes) hist.set(n.op, (hist.get(n.op) ?? 0) + 1);
  for (const f of g.functionNames()) for (const n of g.functionBody(f)?.body.nodes() ?? []) hist.set(n.op, (hist.get(n.op) ?? 0) + 1);
  const ops = [...hist].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  out(`Op types used: ${ops.map(([op, c]) => `${c} ${op}`).join(', ')}`);

  const layer = [...placeholders, ...variables];
  out('To use with tensorflow/tools/benchmark:benchmark_model try these arguments:');
  out(
    `bazel run tensorflow/tools/benchmark:benchmark_model -- --graph=${inPath} --show_flops --input_layer=${layer.map((n) => n.name).join(',')} ` +
      `--input_layer_type=${layer.map((n) => dtypeString(core, n).replace(/\(\d+\)$/, '')).join(',')} --input_layer_shape=${layer.map(benchShape).join(':')} ` +
      `--output_layer=${outputs.map((n) => n.name).join(',')}`,
  );

  // Parameters and FLOPs from core's shape inference (batch 1 unless --input pins shapes).
  const specs = [...ctx.list('input'), ...ctx.list('inputs').flatMap((v) => v.split(';'))].filter((s) => s.trim()).map(parseInputSpec);
  const pinned: Record<string, number[]> = core.batchOneInputs(g);
  for (const s of specs) {
    if (!s.shape) continue;
    const name = core.parseInput(s.name).node;
    if (!g.has(name)) throw new TfpassError('E_USAGE', `--input ${s.name}: no node '${name}' in ${inPath}`);
    pinned[name] = s.shape;
  }
  const report: FlopReport = core.countFlops(g, core.inferShapes(g, pinned));
  out('');
  out(`Parameters: ${fmt(report.params)} (${humanCount(report.params)}), MACs: ${fmt(report.macs)} (${humanCount(report.macs)}), FLOPs: ${fmt(report.flops)} (${humanCount(report.flops)})${Object.keys(pinned).length ? ` for ${Object.entries(pinned).map(([k, v]) => `${k}=[${v.join(',')}]`).join(' ')}` : ''}`);
  if (report.loop) out(`${fmt(report.loop.nodes)} of these nodes run inside while loops: their ${fmt(report.loop.macs)} MACs (${fmt(report.loop.flops)} FLOPs) are for one iteration, counted once`);
  const rows = report.nodes.filter((n) => n.params || n.macs);
  const limit = ctx.num('layers') ?? 50;
  const shown = limit > 0 ? rows.slice(0, limit) : rows;
  if (shown.length) {
    const w = Math.min(60, Math.max(5, ...shown.map((r) => r.name.length)));
    const wo = Math.max(2, ...shown.map((r) => r.op.length));
    out(`${'layer'.padEnd(w)}  ${'op'.padEnd(wo)}  ${'params'.padStart(12)}  ${'MACs'.padStart(14)}  ${'FLOPs'.padStart(14)}`);
    for (const r of shown) out(`${r.name.padEnd(w)}  ${r.op.padEnd(wo)}  ${fmt(r.params).padStart(12)}  ${fmt(r.macs).padStart(14)}  ${fmt(r.flops).padStart(14)}`);
    if (shown.length < rows.length) out(`… ${rows.length - shown.length} more layers (--layers=0 shows all)`);
  }
  if (report.unknown.length) out(`cost unknown (shape not inferred) for ${report.unknown.length} nodes: ${report.unknown.slice(0, 8).join(', ')}${report.unknown.length > 8 ? ', …' : ''}; pin input shapes with --input NAME=D0,D1,...`);

  if (ctx.bool('print_structure')) {
    for (const n of g.topoOrder()) {
      let extra = '';
      if (n.op === 'Const' && n.attrs.kind('value') === 'tensor') {
        try {
          const t = n.attrs.getTensor('value');
          const vals = Array.isArray(t.data) ? [] : t.toNumbers().slice(0, 10);
          extra = `, value=Tensor<type: ${core.dtypeTfName(t.dtype).replace(/^DT_/, '').toLowerCase()} shape: [${t.shape.join(',')}] values: ${vals.join(' ')}${t.size > 10 ? '...' : ''}>`;
        } catch {
          /* undecodable value: print the node without it */
        }
      }
      out(`${n.name} (${n.op}): [${n.inputs.join(', ')}]${extra}`);
    }
  }

  ctx.emit({
    in_graph: inPath,
    nodes: g.size,
    inputs: placeholders.map((n) => ({ name: n.name, dtype: dtypeString(core, n).replace(/\(\d+\)$/, ''), shape: n.attrs.kind('shape') === 'shape' ? n.attrs.getShape('shape') : undefined })),
    variables: variables.map((n) => n.name),
    outputs: outputs.map((n) => ({ name: n.name, op: n.op })),
    constParameters: constParams,
    variableParameters: varParams,
    controlEdges,
    devices: Object.fromEntries(devices),
    ops: Object.fromEntries(ops),
    params: report.params, macs: report.macs, flops: report.flops, loop: report.loop, layers: report.nodes, unknownCost: report.unknown, inputShapes: pinned,
  });
  for (const l of lines) ctx.print(l);
  return 0;
}
