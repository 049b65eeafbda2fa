import { Tensor, TfpassError, parseInput, type Graph, type Node } from '@tfpass/core';

// Graph Transform Tool's quantize_nodes (legacy eight-bit ops), spec graph-transforms.md §3.20.
// Structural only: the runtime has no kernels for the Quantized* ops, so this output is meant
// for TF Mobile / old TF runtimes, as the GTT's was.

interface QOp {
  quantized: string;
  copy: string[];
  types: Record<string, string>;
  qint32: boolean;
  unquantized: number[];
  separate?: boolean;
}

const TABLE: Record<string, QOp> = {
  Add: { quantized: 'QuantizedAdd', copy: [], types: { T1: 'quint8', T2: 'quint8', Toutput: 'qint32' }, qint32: true, unquantized: [] },
  AvgPool: { quantized: 'QuantizedAvgPool', copy: ['ksize', 'strides', 'padding'], types: { T: 'quint8' }, qint32: false, unquantized: [] },
  BiasAdd: { quantized: 'QuantizedBiasAdd', copy: [], types: { T1: 'quint8', T2: 'quint8', out_type: 'qint32' }, qint32: true, unquantized: [] },
  Concat: { quantized: 'QuantizedConcat', copy: ['N'], types: { T: 'quint8' }, qint32: false, unquantized: [0], separate: true },
  Conv2D: { quantized: 'QuantizedConv2D', copy: ['strides', 'padding'], types: { Tinput: 'quint8', Tfilter: 'quint8', out_type: 'qint32' }, qint32: true, unquantized: [] },
  Conv2DBackpropInput: { quantized: 'QuantizedConv2DTranspose', copy: ['strides', 'padding'], types: { Tinput: 'quint8', Tfilter: 'quint8', out_type: 'qint32' }, qint32: true, unquantized: [0] },
  MatMul: { quantized: 'QuantizedMatMul', copy: ['transpose_a', 'transpose_b'], types: { T1: 'quint8', T2: 'quint8', Toutput: 'qint32' }, qint32: true, unquantized: [] },
  MaxPool: { quantized: 'QuantizedMaxPool', copy: ['ksize', 'strides', 'padding'], types: { T: 'quint8' }, qint32: false, unquantized: [] },
  Mul: { quantized: 'QuantizedMul', copy: [], types: { T1: 'quint8', T2: 'quint8', Toutput: 'qint32' }, qint32: true, unquantized: [] },
  Relu: { quantized: 'QuantizedRelu', copy: [], types: { Tinput: 'quint8' }, qint32: false, unquantized: [] },
  ResizeBilinear: { quantized: 'QuantizedResizeBilinear', copy: ['align_corners'], types: { T: 'quint8' }, qint32: false, unquantized: [1] },
  Relu6: { quantized: 'QuantizedRelu6', copy: [], types: { Tinput: 'quint8' }, qint32: false, unquantized: [] },
  Reshape: { quantized: 'QuantizedReshape', copy: [], types: { T: 'quint8' }, qint32: false, unquantized: [1] },
};

export interface QuantizeNodesOptions {
  inputMin?: number;
  inputMax?: number;
  fallbackMin?: number;
  fallbackMax?: number;
  ignoreOps?: string[];
  /** Graph outputs: their Dequantize nodes are kept. */
  outputs?: string[];
}

const FLOAT = new Set(['float32']);
const dq = { T: { type: 'quint8' }, mode: { s: 'MIN_FIRST' } };
const int32 = (v: number[]) => ({ dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [v.length], v) } });
const f32 = (v: number) => ({ dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [v]) } });

function add(g: Graph, name: string, op: string, inputs: string[], attrs: Record<string, unknown> = {}): string {
  g.addNode({ name, op, inputs, attrs: attrs as never });
  return name;
}

function isConst(g: Graph, s: string): boolean {
  return g.producer(s)?.op === 'Const';
}

/** QuantizePlaceholders: quint8 placeholders behind a Dequantize with the given range. */
function quantizePlaceholders(g: Graph, min: number, max: number): void {
  for (const p of g.nodes()) {
    if (p.op !== 'Placeholder' || p.attrs.optType('dtype') !== 'float32') continue;
    const base = `${p.name}_eightbit`;
    add(g, `${base}/min`, 'Const', [], f32(min));
    add(g, `${base}/max`, 'Const', [], f32(max));
    add(g, `${base}/dequantize`, 'Dequantize', [p.name, `${base}/min`, `${base}/max`], dq);
    g.replaceUses(p.name, `${base}/dequantize`, { except: new Set([`${base}/dequantize`]) });
    p.setAttr('dtype', { type: 'quint8' });
  }
}

/** HoistFakeQuants: FQ(c0(c1(…c_d))) with single-input c0…c_{d-1} → the range moves to c_d's output. */
function hoistFakeQuants(g: Graph): number {
  let n = 0;
  for (const depth of [3, 2, 1]) {
    for (const fq of g.nodes()) {
      if (!g.has(fq.name) || fq.op !== 'FakeQuantWithMinMaxVars' || fq.inputs.length !== 3) continue;
      if (!isConst(g, fq.inputs[1]!) || !isConst(g, fq.inputs[2]!)) continue;
      const chain: Node[] = [];
      let cur = g.producer(fq.inputs[0]!);
      for (let i = 0; i <= depth && cur; i++) {
        chain.push(cur);
        if (i < depth) {
          if (cur.inputs.length !== 1 || g.consumerCount(cur.name) !== 1) break;
          cur = g.producer(cur.inputs[0]!);
        }
      }
      if (chain.length !== depth + 1) continue;
      const second = chain[depth - 1]!;
      const hoisted = add(g, `${fq.name}_hoisted`, 'FakeQuantWithMinMaxVars', [second.inputs[0]!, fq.inputs[1]!, fq.inputs[2]!], {});
      g.node(hoisted).attrs.copyFrom(fq.attrs, 'num_bits').copyFrom(fq.attrs, 'narrow_range');
      second.setInput(0, hoisted);
      const top = chain[0]!;
      const fqName = fq.name;
      g.replaceUses(fqName, top.name);
      g.removeNode(fqName);
      g.renameNode(top.name, fqName);
      n++;
    }
  }
  return n;
}

/** ConvertFakeQuantsToRequantize: FQ(x, Const, Const) → QuantizeV2(qint32) → Requantize → Dequantize. */
function convertFakeQuants(g: Graph): number {
  let n = 0;
  for (const fq of g.nodes()) {
    if (fq.op !== 'FakeQuantWithMinMaxVars' || fq.inputs.length !== 3) continue;
    const [x, mn, mx] = fq.inputs as [string, string, string];
    if (!isConst(g, mn) || !isConst(g, mx)) continue;
    const name = fq.name;
    g.removeNode(name);
    const q = add(g, `${name}_eightbit/quantize`, 'QuantizeV2', [x, mn, mx], { T: { type: 'qint32' }, mode: { s: 'MIN_FIRST' } });
    const r = add(g, `${name}_eightbit/requantize`, 'Requantize', [q, `${q}:1`, `${q}:2`, mn, mx], { Tinput: { type: 'qint32' }, out_type: { type: 'quint8' } });
    add(g, name, 'Dequantize', [r, `${r}:1`, `${r}:2`], dq);
    n++;
  }
  return n;
}

function inputNs(name: string, input: string): string {
  const r = parseInput(input);
  return `${name}_eightbit/${r.control ? '__hat__' : ''}${r.node}${r.port ? `__port__${r.port}` : ''}`;
}

/** Replace each quantizable float op by its eight-bit form (the op's name becomes a Dequantize). */
function quantizeOps(g: Graph, opts: QuantizeNodesOptions): number {
  const ignore = new Set(opts.ignoreOps ?? []);
  let n = 0;
  for (const node of g.nodes()) {
    const q = TABLE[node.op];
    if (!q || ignore.has(node.op)) continue;
    const data = node.dataInputs;
    const T = node.attrs.optType('T');
    if (T !== undefined && !FLOAT.has(T)) continue;
    const quantIdx = data.map((_, i) => i).filter((i) => !q.unquantized.includes(i));
    const name = node.name;
    const ranges: [string, string][] = [];
    const ins = data.map((s, i) => {
      if (!quantIdx.includes(i)) return s;
      const ns = inputNs(name, s);
      const src = parseInput(s).node;
      add(g, `${ns}/reshape_dims`, 'Const', [`^${src}`], int32([-1]));
      add(g, `${ns}/reduction_dims`, 'Const', [`^${src}`], int32([0]));
      add(g, `${ns}/reshape`, 'Reshape', [s, `${ns}/reshape_dims`], { T: { type: 'float32' }, Tshape: { type: 'int32' } });
      const red = { T: { type: 'float32' }, Tidx: { type: 'int32' }, keep_dims: { b: false } };
      add(g, `${ns}/min`, 'Min', [`${ns}/reshape`, `${ns}/reduction_dims`], red);
      add(g, `${ns}/max`, 'Max', [`${ns}/reshape`, `${ns}/reduction_dims`], red);
      add(g, `${ns}/quantize`, 'QuantizeV2', [s, `${ns}/min`, `${ns}/max`], { T: { type: 'quint8' }, mode: { s: 'MIN_FIRST' } });
      ranges.push([`${ns}/quantize:1`, `${ns}/quantize:2`]);
      return `${ns}/quantize`;
    });
    const extra = q.separate ? [...ranges.map((r) => r[0]), ...ranges.map((r) => r[1])] : ranges.flat();
    const controls = node.controlInputs.map((c) => `^${c}`);
    const old = node;
    g.removeNode(name);
    const main = `${name}/eightbit`;
    g.addNode({ name: main, op: q.quantized, inputs: [...ins, ...extra, ...controls] });
    const m = g.node(main);
    for (const a of q.copy) m.attrs.copyFrom(old.attrs, a);
    for (const [k, v] of Object.entries(q.types)) m.setAttr(k, { type: v as never });
    let out = main;
    if (q.qint32) {
      let lo: string;
      let hi: string;
      if (opts.fallbackMin !== undefined && opts.fallbackMax !== undefined) {
        lo = add(g, `${main}/fallback_min`, 'Const', [], f32(opts.fallbackMin));
        hi = add(g, `${main}/fallback_max`, 'Const', [], f32(opts.fallbackMax));
      } else {
        const rr = add(g, `${main}/requant_range`, 'RequantizationRange', [main, `${main}:1`, `${main}:2`], { Tinput: { type: 'qint32' } });
        lo = rr;
        hi = `${rr}:1`;
      }
      out = add(g, `${main}/requantize`, 'Requantize', [main, `${main}:1`, `${main}:2`, lo, hi], { Tinput: { type: 'qint32' }, out_type: { type: 'quint8' } });
    }
    add(g, name, 'Dequantize', [out, `${out}:1`, `${out}:2`], dq);
    n++;
  }
  return n;
}

/** Requantize(QuantizeV2(Dequantize(Requantize(op:0..2, RR)), …), Const, Const) → one Requantize of op:0..2. */
function mergeAdjacentRequantizes(g: Graph): number {
  let n = 0;
  for (const outer of g.nodes()) {
    if (!g.has(outer.name) || outer.op !== 'Requantize') continue;
    const qv = g.producer(outer.inputs[0]!);
    if (!qv || qv.op !== 'QuantizeV2' || !isConst(g, outer.inputs[3]!) || !isConst(g, outer.inputs[4]!)) continue;
    const deq = g.producer(qv.inputs[0]!);
    if (!deq || deq.op !== 'Dequantize') continue;
    const inner = g.producer(deq.inputs[0]!);
    if (!inner || inner.op !== 'Requantize' || g.producer(inner.inputs[3]!)?.op !== 'RequantizationRange') continue;
    // Only when the intermediate float tensor is not used elsewhere.
    if (g.consumerCount(deq.name) !== 1 || g.consumerCount(qv.name) !== 1) continue;
    const rr = g.producer(inner.inputs[3]!)!;
    outer.setInputs([inner.inputs[0]!, inner.inputs[1]!, inner.inputs[2]!, outer.inputs[3]!, outer.inputs[4]!]);
    g.removeNodes([qv.name, deq.name]);
    if (g.consumerCount(inner.name) === 0) g.removeNode(inner.name);
    if (g.consumerCount(rr.name) === 0) g.removeNode(rr.name);
    n++;
  }
  return n;
}

function attrKey(n: Node): string {
  return n.attrs
    .keys()
    .map((k) => {
      const j = n.attrs.getJson(k);
      if (j && 'tensor' in j) {
        const t = j.tensor;
        const d = t.data as ArrayLike<unknown>;
        return `${k}=${t.dtype}[${t.shape.join(',')}]${Array.from(d as ArrayLike<number>, String).join(',')}`;
      }
      return `${k}=${JSON.stringify(j)}`;
    })
    .join(';');
}

/** MergeDuplicateNodes for the helper ops quantize_nodes emits. */
function mergeDuplicates(g: Graph, protect: Set<string>): number {
  const OPS = new Set(['Const', 'Reshape', 'Min', 'Max', 'QuantizeV2']);
  let merged = 0;
  for (let changed = true; changed; ) {
    changed = false;
    const seen = new Map<string, string>();
    for (const n of g.nodes()) {
      if (!OPS.has(n.op)) continue;
      const key = `${n.op}|${n.inputs.join(',')}|${attrKey(n)}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, n.name);
        continue;
      }
      if (protect.has(n.name)) continue;
      for (let p = 0; p < 3; p++) g.replaceUses(p ? `${n.name}:${p}` : n.name, p ? `${first}:${p}` : first, { controls: p === 0 });
      g.removeNode(n.name);
      merged++;
      changed = true;
    }
  }
  return merged;
}

/** QuantizeV2(Dequantize(a, b, c), Min, Max) → its consumers read a, b, c directly. */
function removeRedundant(g: Graph, outputs: Set<string>): number {
  let n = 0;
  for (const q of g.nodes()) {
    if (!g.has(q.name) || q.op !== 'QuantizeV2') continue;
    const d = g.producer(q.inputs[0]!);
    if (!d || d.op !== 'Dequantize' || g.producer(q.inputs[1]!)?.op !== 'Min' || g.producer(q.inputs[2]!)?.op !== 'Max') continue;
    for (let p = 0; p < 3; p++) g.replaceUses(p ? `${q.name}:${p}` : q.name, d.inputs[p]!);
    g.removeNode(q.name);
    if (g.consumerCount(d.name) === 0 && !outputs.has(d.name)) {
      // The float helpers (reshape/min/max) of the removed quantize go with it when unused.
      g.removeNode(d.name);
    }
    n++;
  }
  return n;
}

function pruneHelpers(g: Graph, outputs: Set<string>): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of g.nodes()) {
      if (outputs.has(n.name) || g.consumerCount(n.name) > 0) continue;
      if (/_eightbit\//.test(n.name) && ['Reshape', 'Min', 'Max', 'Const'].includes(n.op)) {
        g.removeNode(n.name);
        changed = true;
      }
    }
  }
}

export interface QuantizeNodesReport {
  hoisted: number;
  fakeQuantsConverted: number;
  quantized: number;
  requantizesMerged: number;
  duplicatesMerged: number;
  redundantRemoved: number;
}

export function quantizeNodes(g: Graph, opts: QuantizeNodesOptions = {}): QuantizeNodesReport {
  if ((opts.inputMin === undefined) !== (opts.inputMax === undefined)) throw new TfpassError('E_USAGE', 'You must pass both input_min and input_max into quantize_nodes');
  if ((opts.fallbackMin === undefined) !== (opts.fallbackMax === undefined)) throw new TfpassError('E_USAGE', 'You must pass both fallback_min and fallback_max into quantize_nodes');
  const outputs = new Set((opts.outputs ?? []).map((o) => parseInput(o).node));
  if (opts.inputMin !== undefined) quantizePlaceholders(g, opts.inputMin, opts.inputMax!);
  const hoisted = hoistFakeQuants(g);
  const fakeQuantsConverted = convertFakeQuants(g);
  const quantized = quantizeOps(g, opts);
  const requantizesMerged = mergeAdjacentRequantizes(g);
  const duplicatesMerged = mergeDuplicates(g, outputs);
  const redundantRemoved = removeRedundant(g, outputs);
  pruneHelpers(g, outputs);
  return { hoisted, fakeQuantsConverted, quantized, requantizesMerged, duplicatesMerged, redundantRemoved };
}
