// Benchmark: readTflite + writeTflite (@tfpass/tflite) against the `flatbuffers` runtime's own
// decode/encode of the same file through the flatc-generated classes (a walk of every field the
// model uses with the generated accessors, then the generated create/start/add/end helpers). Both
// sides work in memory on the same bytes; buffer data is a view on both (dataArray()) and copied
// once into the builder on both (the baseline copies with one set(), as flatbuffers >= 23's
// createByteVector does; 2.0.7's generated createDataVector would add bytes one by one).
// The file (~100 MB: 100 conv layers of 1 MiB int8 weights, per-channel scales) is made by our
// writer. Median of alternating runs, each after a full GC; target ratio <= 1.2. A second row
// (10,000 conv layers of 64-byte weights, 5.5 MiB) shows the per-table overhead; it is reported only.
// Usage: node bench/tflite-io.mjs [--quick] [--mb N]   (needs packages/tflite/dist: `npm run build`)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// Each timed run starts from a collected heap (else one side pays the other's garbage): re-run
// with --expose-gc when started without it (as bench/run.mjs does).
if (!globalThis.gc) {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const dist = join(here, '..', 'packages', 'tflite', 'dist');
if (!existsSync(join(dist, 'gen', 'tflite_generated.js'))) throw new Error(`${dist} is missing: run npm run build first`);
const { readTflite, writeTflite } = await import(join(dist, 'index.js'));
const G = await import(join(dist, 'gen', 'tflite_generated.js'));
const flatbuffers = await import('flatbuffers');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const mbAt = args.indexOf('--mb');
const mb = mbAt >= 0 ? Number(args[mbAt + 1]) : quick ? 20 : 100;
const runs = quick ? 3 : 5;

// ---- the model ---------------------------------------------------------------------------------
/** `layers` conv layers with weights [c, 1, 1, inC] (int8, per-channel scales) and int32 biases. */
function makeModel(layers, c = 256, inC = 4096) {
  const tensors = [];
  const buffers = [{}];
  const operators = [];
  let x = 1;
  const rand = (n) => {
    const b = new Uint8Array(n);
    const u = new Uint32Array(b.buffer);
    for (let i = 0; i < u.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      u[i] = x >>> 0;
    }
    return b;
  };
  const scales = Array.from({ length: c }, (_, i) => 0.001 * (i + 1));
  tensors.push({ name: 'input', type: 'int8', shape: [1, 8, 8, inC], buffer: 0, quantization: { scale: [0.1], zeroPoint: [0] } });
  let prev = 0;
  for (let l = 0; l < layers; l++) {
    buffers.push({ data: rand(c * inC) });
    tensors.push({ name: `layer${l}/weights`, type: 'int8', shape: [c, 1, 1, inC], buffer: buffers.length - 1, quantization: { scale: scales, zeroPoint: new Array(c).fill(0), quantizedDimension: 0 } });
    const w = tensors.length - 1;
    buffers.push({ data: rand(c * 4) });
    tensors.push({ name: `layer${l}/bias`, type: 'int32', shape: [c], buffer: buffers.length - 1, quantization: { scale: scales.map((s) => s * 0.1), zeroPoint: new Array(c).fill(0) } });
    const b = tensors.length - 1;
    buffers.push({});
    tensors.push({ name: `layer${l}/out`, type: 'int8', shape: [1, 8, 8, inC], buffer: buffers.length - 1, quantization: { scale: [0.05], zeroPoint: [-3], min: [-6], max: [6] } });
    operators.push({ opcodeIndex: 0, inputs: [prev, w, b], outputs: [tensors.length - 1], builtinOptions: { type: 'Conv2DOptions', padding: 'SAME', strideW: 1, strideH: 1, fusedActivationFunction: 'RELU6', dilationWFactor: 1, dilationHFactor: 1, quantizedBiasType: 'FLOAT32' } });
    prev = tensors.length - 1;
  }
  return {
    version: 3,
    description: 'bench',
    operatorCodes: [{ builtin: 'CONV_2D', version: 3 }],
    buffers,
    subgraphs: [{ name: 'main', tensors, inputs: [0], outputs: [prev], operators }],
    metadata: [],
    signatureDefs: [],
  };
}

// ---- baseline: generated code ------------------------------------------------------------------
function fbDecode(bytes) {
  const bb = new flatbuffers.ByteBuffer(bytes);
  const m = G.Model.getRootAsModel(bb);
  const opcodes = [];
  for (let i = 0; i < m.operatorCodesLength(); i++) {
    const oc = m.operatorCodes(i);
    opcodes.push({ dep: oc.deprecatedBuiltinCode(), code: oc.builtinCode(), version: oc.version(), custom: oc.customCode() });
  }
  const buffers = [];
  for (let i = 0; i < m.buffersLength(); i++) buffers.push({ data: m.buffers(i).dataArray() });
  const subgraphs = [];
  for (let s = 0; s < m.subgraphsLength(); s++) {
    const sg = m.subgraphs(s);
    const tensors = [];
    for (let i = 0; i < sg.tensorsLength(); i++) {
      const t = sg.tensors(i);
      const q = t.quantization();
      const zp = [];
      if (q) for (let k = 0; k < q.zeroPointLength(); k++) zp.push(q.zeroPoint(k));
      tensors.push({
        name: t.name(), type: t.type(), shape: Array.from(t.shapeArray() ?? []), buffer: t.buffer(),
        q: q && { scale: Array.from(q.scaleArray() ?? []), zp, min: Array.from(q.minArray() ?? []), max: Array.from(q.maxArray() ?? []), dim: q.quantizedDimension() },
      });
    }
    const ops = [];
    for (let i = 0; i < sg.operatorsLength(); i++) {
      const op = sg.operators(i);
      const type = op.builtinOptionsType();
      let opts;
      if (type === G.BuiltinOptions.Conv2DOptions) {
        const o = op.builtinOptions(new G.Conv2DOptions());
        opts = { padding: o.padding(), strideW: o.strideW(), strideH: o.strideH(), act: o.fusedActivationFunction(), dw: o.dilationWFactor(), dh: o.dilationHFactor(), qb: o.quantizedBiasType() };
      }
      ops.push({ opcode: op.opcodeIndex(), inputs: Array.from(op.inputsArray() ?? []), outputs: Array.from(op.outputsArray() ?? []), type, opts });
    }
    subgraphs.push({ name: sg.name(), tensors, inputs: Array.from(sg.inputsArray() ?? []), outputs: Array.from(sg.outputsArray() ?? []), ops });
  }
  return { version: m.version(), description: m.description(), opcodes, buffers, subgraphs };
}

function fbBytesVector(b, data) {
  // What createByteVector does in newer flatbuffers: one aligned vector, one copy.
  b.startVector(1, data.length, 16);
  b.space -= data.length;
  b.bb.bytes().set(data, b.space);
  return b.endVector();
}

function fbEncode(m) {
  let size = 1 << 20;
  for (const x of m.buffers) size += (x.data?.length ?? 0) + 16;
  const b = new flatbuffers.Builder(size);
  const buffers = m.buffers.map((x) => {
    const d = x.data && x.data.length ? fbBytesVector(b, x.data) : 0;
    G.Buffer.startBuffer(b);
    if (d) G.Buffer.addData(b, d);
    return G.Buffer.endBuffer(b);
  });
  const bufVec = G.Model.createBuffersVector(b, buffers);
  const codes = G.Model.createOperatorCodesVector(b, m.opcodes.map((c) => {
    const custom = c.custom ? b.createString(c.custom) : 0;
    G.OperatorCode.startOperatorCode(b);
    G.OperatorCode.addDeprecatedBuiltinCode(b, c.dep);
    if (custom) G.OperatorCode.addCustomCode(b, custom);
    G.OperatorCode.addVersion(b, c.version);
    G.OperatorCode.addBuiltinCode(b, c.code);
    return G.OperatorCode.endOperatorCode(b);
  }));
  const sgs = G.Model.createSubgraphsVector(b, m.subgraphs.map((sg) => {
    const tensors = G.SubGraph.createTensorsVector(b, sg.tensors.map((t) => {
      const shape = G.Tensor.createShapeVector(b, t.shape);
      const name = b.createString(t.name);
      let q = 0;
      if (t.q) {
        const scale = G.QuantizationParameters.createScaleVector(b, t.q.scale);
        const zp = G.QuantizationParameters.createZeroPointVector(b, t.q.zp);
        const min = t.q.min.length ? G.QuantizationParameters.createMinVector(b, t.q.min) : 0;
        const max = t.q.max.length ? G.QuantizationParameters.createMaxVector(b, t.q.max) : 0;
        G.QuantizationParameters.startQuantizationParameters(b);
        if (min) G.QuantizationParameters.addMin(b, min);
        if (max) G.QuantizationParameters.addMax(b, max);
        G.QuantizationParameters.addScale(b, scale);
        G.QuantizationParameters.addZeroPoint(b, zp);
        G.QuantizationParameters.addQuantizedDimension(b, t.q.dim);
        q = G.QuantizationParameters.endQuantizationParameters(b);
      }
      G.Tensor.startTensor(b);
      G.Tensor.addShape(b, shape);
      G.Tensor.addType(b, t.type);
      G.Tensor.addBuffer(b, t.buffer);
      G.Tensor.addName(b, name);
      if (q) G.Tensor.addQuantization(b, q);
      return G.Tensor.endTensor(b);
    }));
    const ops = G.SubGraph.createOperatorsVector(b, sg.ops.map((op) => {
      const ins = G.Operator.createInputsVector(b, op.inputs);
      const outs = G.Operator.createOutputsVector(b, op.outputs);
      let o = 0;
      if (op.opts) o = G.Conv2DOptions.createConv2DOptions(b, op.opts.padding, op.opts.strideW, op.opts.strideH, op.opts.act, op.opts.dw, op.opts.dh, op.opts.qb);
      G.Operator.startOperator(b);
      G.Operator.addOpcodeIndex(b, op.opcode);
      G.Operator.addInputs(b, ins);
      G.Operator.addOutputs(b, outs);
      if (o) {
        G.Operator.addBuiltinOptionsType(b, op.type);
        G.Operator.addBuiltinOptions(b, o);
      }
      return G.Operator.endOperator(b);
    }));
    const ins = G.SubGraph.createInputsVector(b, sg.inputs);
    const outs = G.SubGraph.createOutputsVector(b, sg.outputs);
    const name = sg.name ? b.createString(sg.name) : 0;
    G.SubGraph.startSubGraph(b);
    G.SubGraph.addTensors(b, tensors);
    G.SubGraph.addInputs(b, ins);
    G.SubGraph.addOutputs(b, outs);
    G.SubGraph.addOperators(b, ops);
    if (name) G.SubGraph.addName(b, name);
    return G.SubGraph.endSubGraph(b);
  }));
  const desc = m.description ? b.createString(m.description) : 0;
  G.Model.startModel(b);
  G.Model.addVersion(b, m.version);
  G.Model.addOperatorCodes(b, codes);
  G.Model.addSubgraphs(b, sgs);
  if (desc) G.Model.addDescription(b, desc);
  G.Model.addBuffers(b, bufVec);
  G.Model.finishModelBuffer(b, G.Model.endModel(b));
  return b.asUint8Array();
}

// ---- run ---------------------------------------------------------------------------------------
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const gc = globalThis.gc;

function row(label, model) {
  const t0 = performance.now();
  const bytes = writeTflite(model);
  console.log(`${label}: generated a ${(bytes.length / 2 ** 20).toFixed(1)} MiB .tflite in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Sanity: the baseline decodes the same model and writes a file our reader reads back.
  const ours = readTflite(bytes);
  const again = readTflite(fbEncode(fbDecode(bytes)));
  if (again.subgraphs[0].tensors.length !== ours.subgraphs[0].tensors.length || again.buffers.length !== ours.buffers.length) throw new Error('baseline output does not match');
  const tfpass = [];
  const base = [];
  for (let i = 0; i < runs; i++) {
    gc();
    let s = performance.now();
    writeTflite(readTflite(bytes));
    tfpass.push(performance.now() - s);
    gc();
    s = performance.now();
    fbEncode(fbDecode(bytes));
    base.push(performance.now() - s);
  }
  const a = median(tfpass);
  const b = median(base);
  const ratio = +(a / b).toFixed(2);
  console.log(`${label}: readTflite+writeTflite median ${a.toFixed(0)} ms over ${runs} runs; flatbuffers generated decode+encode ${b.toFixed(0)} ms; ratio ${ratio}`);
  return { label, mib: +(bytes.length / 2 ** 20).toFixed(1), tfpassMs: Math.round(a), flatbuffersMs: Math.round(b), ratio };
}

const rows = [
  row(`weights (${mb} conv layers of 1 MiB)`, makeModel(mb)),
  // Many small tables: where per-table overhead shows (reported, the target is for the weights row).
  row(`tables (${quick ? 2000 : 10000} conv layers of 64 B)`, makeModel(quick ? 2000 : 10000, 4, 16)),
];
const worst = rows[0].ratio;
console.log(`ratio ${worst} on the ${rows[0].mib} MiB file (target <= 1.2); many small tables: ${rows[1].ratio}`);
console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'tflite-io', ok: worst <= 1.2, worst, rows })}`);
if (worst > 1.2) process.exitCode = 1;
