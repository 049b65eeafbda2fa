/**
 * `summarizeTflite(model)`: what `tfpass summarize MODEL.tflite` shows, as data (for --json), and
 * `formatTfliteSummary` for the text form, laid out like `summarize` for GraphDefs.
 */
import type { BuiltinOptions, Model, Quantization, Tensor, TensorType } from './model.js';

export interface TensorQuantSummary {
  scale: number[];
  zeroPoint: number[];
  min?: number[];
  max?: number[];
  /** `quantized_dimension`, for per-axis parameters (more than one scale). */
  axis?: number;
  /** A `details` union (blockwise/custom): its type code. */
  details?: number;
}

export interface TensorSummary {
  index: number;
  name: string;
  type: TensorType;
  shape: number[];
  shapeSignature?: number[];
  buffer: number;
  /** Bytes of constant data (0 for activations). */
  bytes: number;
  constant: boolean;
  isVariable?: boolean;
  quantization?: TensorQuantSummary;
}

export interface OperatorSummary {
  index: number;
  builtin: string;
  customCode?: string;
  version: number;
  options?: BuiltinOptions;
  customOptionsBytes?: number;
  inputs: number[];
  outputs: number[];
  /** Elements of the op's constant inputs (weights and biases). */
  params: number;
  /** Multiply-accumulates for one run (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV, CONV_3D, BATCH_MATMUL); 0 otherwise. */
  macs: number;
}

export interface SubgraphSummary {
  index: number;
  name?: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  operators: OperatorSummary[];
  tensors: TensorSummary[];
  params: number;
  macs: number;
}

export interface TfliteSummary {
  version: number;
  description?: string;
  /** Decoded from the `min_runtime_version` metadata buffer (NUL padding dropped). */
  minRuntimeVersion?: string;
  operatorCodes: { index: number; builtin: string; customCode?: string; version: number; uses: number }[];
  subgraphs: SubgraphSummary[];
  buffers: { count: number; withData: number; dataBytes: number; sizes: number[] };
  metadata: { name: string; buffer: number; bytes: number; text?: string }[];
  signatureDefs: { key: string; subgraph: number; inputs: Record<string, number>; outputs: Record<string, number> }[];
  params: number;
  macs: number;
}

const product = (dims: readonly number[]) => dims.reduce((a, d) => a * Math.max(d, 0), 1);

function quantSummary(q: Quantization | undefined): TensorQuantSummary | undefined {
  if (!q || (!q.scale?.length && !q.min?.length && !q.details)) return undefined;
  const s: TensorQuantSummary = { scale: q.scale ?? [], zeroPoint: q.zeroPoint ?? [] };
  if (q.min) s.min = q.min;
  if (q.max) s.max = q.max;
  if ((q.scale?.length ?? 0) > 1) s.axis = q.quantizedDimension ?? 0;
  if (q.details) s.details = q.details.type;
  return s;
}

/** Text of a metadata buffer when it is printable ASCII (after dropping NUL padding). */
function printable(data: Uint8Array | undefined): string | undefined {
  if (!data || data.length > 256) return undefined;
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  for (let i = 0; i < end; i++) if (data[i]! < 32 || data[i]! > 126) return undefined;
  return String.fromCharCode(...data.subarray(0, end));
}

/** Bytes of a buffer: its `data`, or for models over 2 GB the out-of-flatbuffer `size` (valid
 *  when `offset` > 1, schema 3c). */
function bufferBytes(model: Model, index: number): number {
  const b = model.buffers[index];
  if (!b) return 0;
  if (b.data) return b.data.length;
  return b.offset !== undefined && b.offset > 1n && b.size !== undefined ? Number(b.size) : 0;
}

/** MACs of one op, from its weight and output shapes. */
function macsOf(builtin: string, ins: (Tensor | undefined)[], outs: (Tensor | undefined)[], opts?: BuiltinOptions): number {
  const out = outs[0]?.shape;
  const w = ins[1]?.shape;
  if (!out || !w) return 0;
  switch (builtin) {
    case 'CONV_2D': // filter [O, KH, KW, I]: each output element sums KH·KW·I products
      return w.length === 4 ? product(out) * w[1]! * w[2]! * w[3]! : 0;
    case 'DEPTHWISE_CONV_2D': // filter [1, KH, KW, C·M]: each output element sums KH·KW products
      return w.length === 4 ? product(out) * w[1]! * w[2]! : 0;
    case 'FULLY_CONNECTED': // weights [O, I]
      return w.length === 2 ? product(out) * w[1]! : 0;
    case 'CONV_3D': // filter [KD, KH, KW, I, O]
      return w.length === 5 ? product(out) * w[0]! * w[1]! * w[2]! * w[3]! : 0;
    case 'TRANSPOSE_CONV': {
      // inputs: output_shape, weights [O, KH, KW, I], input: every input element scatters O·KH·KW products
      const x = ins[2]?.shape;
      return x && w.length === 4 ? product(x) * w[0]! * w[1]! * w[2]! : 0;
    }
    case 'BATCH_MATMUL': {
      const a = ins[0]?.shape;
      if (!a || a.length < 2) return 0;
      const k = opts?.adjX ? a[a.length - 2]! : a[a.length - 1]!;
      return product(out) * k;
    }
    default:
      return 0;
  }
}

export function summarizeTflite(model: Model): TfliteSummary {
  const uses = new Array<number>(model.operatorCodes.length).fill(0);
  const subgraphs: SubgraphSummary[] = model.subgraphs.map((sg, si) => {
    const tensors: TensorSummary[] = sg.tensors.map((t, i) => {
      const bytes = bufferBytes(model, t.buffer);
      const q = quantSummary(t.quantization);
      return {
        index: i,
        name: t.name,
        type: t.type,
        shape: t.shape,
        ...(t.shapeSignature ? { shapeSignature: t.shapeSignature } : {}),
        buffer: t.buffer,
        bytes,
        constant: bytes > 0,
        ...(t.isVariable ? { isVariable: true } : {}),
        ...(q ? { quantization: q } : {}),
      };
    });
    const operators: OperatorSummary[] = sg.operators.map((op, i) => {
      const code = model.operatorCodes[op.opcodeIndex];
      if (code) uses[op.opcodeIndex]!++;
      const builtin = code?.builtin ?? `<opcode ${op.opcodeIndex}?>`;
      const params = op.inputs.reduce((a, x) => a + (x >= 0 && tensors[x]?.constant ? product(sg.tensors[x]!.shape) : 0), 0);
      return {
        index: i,
        builtin,
        ...(code?.customCode !== undefined ? { customCode: code.customCode } : {}),
        version: code?.version ?? 0,
        ...(op.builtinOptions ? { options: op.builtinOptions } : {}),
        ...(op.customOptions ? { customOptionsBytes: op.customOptions.length } : {}),
        inputs: op.inputs,
        outputs: op.outputs,
        params,
        macs: macsOf(builtin, op.inputs.map((x) => sg.tensors[x]), op.outputs.map((x) => sg.tensors[x]), op.builtinOptions),
      };
    });
    return {
      index: si,
      ...(sg.name !== undefined ? { name: sg.name } : {}),
      inputs: sg.inputs.map((x) => tensors[x]!).filter(Boolean),
      outputs: sg.outputs.map((x) => tensors[x]!).filter(Boolean),
      operators,
      tensors,
      // Constant tensors, each counted once however many ops read it.
      params: tensors.reduce((a, t) => a + (t.constant ? product(t.shape) : 0), 0),
      macs: operators.reduce((a, o) => a + o.macs, 0),
    };
  });
  const metadata = model.metadata.map((m) => {
    const data = model.buffers[m.buffer]?.data;
    const text = printable(data);
    return { name: m.name, buffer: m.buffer, bytes: data?.length ?? 0, ...(text !== undefined ? { text } : {}) };
  });
  const minRuntimeVersion = metadata.find((m) => m.name === 'min_runtime_version')?.text;
  const sizes = model.buffers.map((_, i) => bufferBytes(model, i));
  return {
    version: model.version,
    ...(model.description !== undefined ? { description: model.description } : {}),
    ...(minRuntimeVersion !== undefined ? { minRuntimeVersion } : {}),
    operatorCodes: model.operatorCodes.map((c, i) => ({ index: i, builtin: c.builtin, ...(c.customCode !== undefined ? { customCode: c.customCode } : {}), version: c.version, uses: uses[i]! })),
    subgraphs,
    buffers: { count: sizes.length, withData: sizes.filter((s) => s > 0).length, dataBytes: sizes.reduce((a, s) => a + s, 0), sizes },
    metadata,
    signatureDefs: model.signatureDefs.map((s) => ({
      key: s.signatureKey,
      subgraph: s.subgraphIndex,
      inputs: Object.fromEntries(s.inputs.map((m) => [m.name, m.tensorIndex])),
      outputs: Object.fromEntries(s.outputs.map((m) => [m.name, m.tensorIndex])),
    })),
    params: subgraphs.reduce((a, s) => a + s.params, 0),
    macs: subgraphs.reduce((a, s) => a + s.macs, 0),
  };
}

// --- text -----------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString('en-US');
const num = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(8))));

function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)}k`;
  return String(n);
}

export function formatQuant(q: TensorQuantSummary | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  const list = (xs: number[]) => (xs.length <= 4 ? xs.map(num).join(',') : `${xs.length} values ${num(xs.reduce((a, x) => Math.min(a, x)))}..${num(xs.reduce((a, x) => Math.max(a, x)))}`);
  if (q.scale.length) parts.push(`scale=${list(q.scale)}`, `zero_point=${list(q.zeroPoint)}`);
  if (q.axis !== undefined) parts.push(`axis=${q.axis}`);
  if (q.min?.length && q.max?.length) parts.push(q.min.length === 1 ? `range=[${num(q.min[0]!)}, ${num(q.max[0]!)}]` : `min=${list(q.min)} max=${list(q.max)}`);
  if (q.details !== undefined) parts.push(`details=${q.details}`);
  return parts.join(' ');
}

function formatOptions(o: BuiltinOptions | undefined): string {
  if (!o) return '';
  return Object.entries(o)
    .filter(([k]) => k !== 'type' && k !== 'extra')
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v instanceof Uint8Array ? `<${v.length} bytes>` : String(v)}`)
    .join(' ');
}

const shapeStr = (t: TensorSummary) => `[${(t.shapeSignature ?? t.shape).map((d) => (d < 0 ? '?' : String(d))).join(',')}]`;
const describe = (t: TensorSummary) => {
  const q = formatQuant(t.quantization);
  return `(name=${t.name}, type=${t.type}, shape=${shapeStr(t)}${q ? `, ${q}` : ''}) `;
};

/** The text of `tfpass summarize MODEL.tflite`. `layers`: most operator rows (0: all). */
export function formatTfliteSummary(s: TfliteSummary, opts: { file?: string; layers?: number } = {}): string[] {
  const out: string[] = [];
  const head = [`TFLite model${opts.file ? ` ${opts.file}` : ''}: schema version ${s.version}`];
  if (s.description !== undefined) head.push(`description "${s.description}"`);
  if (s.minRuntimeVersion !== undefined) head.push(`min_runtime_version ${s.minRuntimeVersion}`);
  out.push(head.join(', '));
  const main = s.subgraphs[0];
  if (main) {
    out.push(main.inputs.length ? `Found ${main.inputs.length} inputs: ${main.inputs.map(describe).join('')}` : 'No inputs.');
    out.push(main.outputs.length ? `Found ${main.outputs.length} outputs: ${main.outputs.map(describe).join('')}` : 'No outputs.');
  }
  out.push(`Found ${s.params} (${human(s.params)}) const parameters in ${s.buffers.withData} of ${s.buffers.count} buffers (${fmt(s.buffers.dataBytes)} bytes of data)`);
  out.push(`Op types used: ${s.operatorCodes.map((c) => `${c.uses} ${c.builtin === 'CUSTOM' && c.customCode ? `CUSTOM(${c.customCode})` : c.builtin} v${c.version}`).join(', ')}`);
  if (s.subgraphs.length > 1) out.push(`${s.subgraphs.length} subgraphs: ${s.subgraphs.map((g) => `${g.index}${g.name ? ` '${g.name}'` : ''} (${g.operators.length} ops)`).join(', ')}`);
  for (const m of s.metadata) out.push(`Metadata ${m.name}: buffer ${m.buffer}, ${m.bytes} bytes${m.text !== undefined ? ` "${m.text}"` : ''}`);
  for (const d of s.signatureDefs) out.push(`Signature '${d.key}' (subgraph ${d.subgraph}): inputs ${JSON.stringify(d.inputs)} outputs ${JSON.stringify(d.outputs)}`);
  out.push('');
  out.push(`Parameters: ${fmt(s.params)} (${human(s.params)}), MACs: ${fmt(s.macs)} (${human(s.macs)})`);
  for (const g of s.subgraphs) {
    if (s.subgraphs.length > 1) out.push(`subgraph ${g.index}${g.name ? ` '${g.name}'` : ''}:`);
    const limit = opts.layers ?? 50;
    const ops = limit > 0 ? g.operators.slice(0, limit) : g.operators;
    const wo = Math.max(2, ...ops.map((o) => o.builtin.length + 3));
    out.push(`${'#'.padStart(4)}  ${'op'.padEnd(wo)}  ${'inputs -> outputs'.padEnd(24)}  ${'params'.padStart(10)}  ${'MACs'.padStart(14)}  options`);
    for (const o of ops) {
      const io = `[${o.inputs.join(',')}] -> [${o.outputs.join(',')}]`;
      const name = `${o.builtin === 'CUSTOM' && o.customCode ? o.customCode : o.builtin} v${o.version}`;
      out.push(`${String(o.index).padStart(4)}  ${name.padEnd(wo)}  ${io.padEnd(24)}  ${fmt(o.params).padStart(10)}  ${fmt(o.macs).padStart(14)}  ${formatOptions(o.options)}`.trimEnd());
    }
    if (ops.length < g.operators.length) out.push(`… ${g.operators.length - ops.length} more operators (--layers=0 shows all)`);
    out.push('Tensors:');
    const wn = Math.min(60, Math.max(4, ...g.tensors.map((t) => t.name.length)));
    for (const t of g.tensors) {
      const data = t.constant ? `buffer ${t.buffer} (${fmt(t.bytes)} B)` : `buffer ${t.buffer}`;
      out.push(`${String(t.index).padStart(4)}  ${t.name.padEnd(wn)}  ${t.type.padEnd(7)}  ${shapeStr(t).padEnd(16)}  ${data.padEnd(22)}  ${formatQuant(t.quantization)}`.trimEnd());
    }
  }
  return out;
}
