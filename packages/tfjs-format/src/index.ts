import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import {
  FileError,
  GraphFormatError,
  Graph,
  Tensor,
  TfpassError,
  maxTensorBytes,
  numElements,
  parseDType,
  writeFileAtomic,
  type DType,
  type Shape,
} from '@tfpass/core';
import {
  AttrValueSchema,
  GraphDefSchema,
  NodeDefSchema,
  TensorProtoSchema,
  create,
  fromJson,
  toJson,
  type GraphDef,
  type NodeDef,
} from '@tfpass/core/proto';

/** Element types TF.js stores in weight files. */
export type TfjsDType = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
  original_dtype?: string;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfjsDType;
  quantization?: TfjsQuantization;
}

/** In-memory TF.js graph-model artifacts (what `tf.io.fromMemorySync` accepts). */
export interface TfjsArtifacts {
  format: 'graph-model';
  generatedBy: string;
  convertedBy: string;
  /** GraphDef in proto3-JSON form, Const values moved into the weights. */
  modelTopology: Record<string, unknown>;
  weightSpecs: TfjsWeightSpec[];
  weightData: ArrayBuffer;
}

export type QuantizeMode = 'uint8' | 'uint16' | 'float16';

export interface ToArtifactsOptions {
  /** Store float32 weights quantized as TF.js does (`value = q*scale + min`, or float16). */
  quantize?: QuantizeMode;
  /**
   * Drop `^control` inputs (default true): tfjs-converter treats them as data inputs, which
   * breaks ops with variadic inputs (ConcatV2, AddN).
   */
  stripControlInputs?: boolean;
}

const BUILDER = 'tfpass';

// ---- host tensor -> TF.js weight bytes -----------------------------------------------------

/** TF.js weight dtype for a TF dtype, or undefined when TF.js cannot hold it. */
export function tfjsDTypeOf(d: DType): TfjsDType | undefined {
  switch (d) {
    case 'float32': case 'float64': case 'float16': case 'bfloat16': return 'float32';
    case 'int8': case 'int16': case 'int32': case 'int64': case 'uint8': case 'uint16': case 'uint32': case 'uint64':
    case 'qint8': case 'quint8': case 'qint16': case 'quint16': case 'qint32': return 'int32';
    case 'bool': return 'bool';
    case 'string': return 'string';
    case 'complex64': case 'complex128': return 'complex64';
    default: return undefined;
  }
}

function stringBytes(values: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const v of values) n += 4 + v.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const v of values) {
    dv.setUint32(o, v.length, true);
    out.set(v, o + 4);
    o += 4 + v.length;
  }
  return out;
}

/** Values of a host tensor converted to the storage TF.js uses for `dtype`. */
export function tensorToTfjsBytes(t: Tensor, dtype: TfjsDType): Uint8Array {
  if (dtype === 'string') return stringBytes(t.data as Uint8Array[]);
  let arr: Float32Array | Int32Array | Uint8Array;
  if (dtype === 'float32') arr = Float32Array.from(t.toFloat32());
  else if (dtype === 'complex64') arr = Float32Array.from(t.data as ArrayLike<number>);
  else if (dtype === 'bool') arr = Uint8Array.from(t.data as Uint8Array);
  else {
    const d = t.data as ArrayLike<number | bigint>;
    arr = new Int32Array(d.length);
    for (let i = 0; i < d.length; i++) arr[i] = Number(d[i]);
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** Quantize float32 values the way tfjs-converter's Python quantizer does. */
export function quantizeFloat32(values: Float32Array, mode: QuantizeMode): { bytes: Uint8Array; quantization: TfjsQuantization } {
  if (mode === 'float16') {
    const t = Tensor.fromValues('float16', [values.length], values);
    const d = t.data as Uint16Array;
    return { bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength), quantization: { dtype: 'float16' } };
  }
  const qmax = mode === 'uint8' ? 255 : 65535;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) lo = hi = 0;
  let scale: number;
  let min: number;
  if (lo === hi) {
    // Constant tensor: scale 1 with min at the value keeps it exact.
    scale = 1;
    min = lo;
  } else {
    scale = (hi - lo) / qmax;
    min = lo;
    if (lo <= 0 && 0 <= hi) {
      // Shift the grid so that 0.0 is exactly representable (same intent as the converter).
      const zq = Math.round(-lo / scale);
      min = -zq * scale;
    }
  }
  const q = mode === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round((values[i]! - min) / scale);
    q[i] = v < 0 ? 0 : v > qmax ? qmax : v;
  }
  return { bytes: new Uint8Array(q.buffer, q.byteOffset, q.byteLength), quantization: { dtype: mode, scale, min } };
}

/** Decode one weight exactly as tfjs-core's `decodeWeights` does (dequantizing if needed). */
export function decodeWeight(spec: TfjsWeightSpec, bytes: Uint8Array): Float32Array | Int32Array | Uint8Array | Uint8Array[] {
  const n = numElements(spec.shape);
  const q = spec.quantization;
  if (q) {
    const buf = new Uint8Array(bytes).buffer; // a copy even when bytes is a Buffer view
    if (q.dtype === 'float16') {
      const bits = new Uint16Array(buf, 0, n);
      return new Tensor('float16', [n], bits).toFloat32().slice();
    }
    if (q.scale === undefined || q.min === undefined) {
      throw new GraphFormatError({}, `weight '${spec.name}' is quantized to ${q.dtype} without scale and min`);
    }
    const src = q.dtype === 'uint8' ? new Uint8Array(buf, 0, n) : new Uint16Array(buf, 0, n);
    if (spec.dtype === 'int32') {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.round(src[i]! * q.scale + q.min);
      return out;
    }
    const out = new Float32Array(n);
    // Computed in double then stored as float32, as tfjs-core does.
    for (let i = 0; i < n; i++) out[i] = src[i]! * q.scale + q.min;
    return out;
  }
  const buf = new Uint8Array(bytes).buffer; // a copy even when bytes is a Buffer view
  switch (spec.dtype) {
    case 'float32': return new Float32Array(buf, 0, n);
    case 'int32': return new Int32Array(buf, 0, n);
    case 'bool': return new Uint8Array(buf, 0, n);
    case 'complex64': return new Float32Array(buf, 0, 2 * n);
    case 'string': {
      const out: Uint8Array[] = [];
      const dv = new DataView(buf);
      let o = 0;
      for (let i = 0; i < n; i++) {
        const len = dv.getUint32(o, true);
        out.push(new Uint8Array(buf, o + 4, len).slice());
        o += 4 + len;
      }
      return out;
    }
    default:
      throw new GraphFormatError({}, `weight '${spec.name}' has unsupported dtype '${spec.dtype as string}'`);
  }
}

/** Byte length of one weight inside the weight data. */
export function weightByteLength(spec: TfjsWeightSpec, data: Uint8Array, offset: number): number {
  const n = numElements(spec.shape);
  const q = spec.quantization;
  if (q) return n * (q.dtype === 'uint8' ? 1 : 2);
  switch (spec.dtype) {
    case 'float32': case 'int32': return 4 * n;
    case 'bool': return n;
    case 'complex64': return 8 * n;
    case 'string': {
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      let o = offset;
      for (let i = 0; i < n; i++) o += 4 + dv.getUint32(o, true);
      return o - offset;
    }
    default:
      throw new GraphFormatError({}, `weight '${spec.name}' has unsupported dtype '${spec.dtype as string}'`);
  }
}

// ---- Graph -> artifacts ---------------------------------------------------------------------

function constTensorOf(nd: NodeDef, graph: Graph): Tensor {
  const n = graph.node(nd.name);
  return n.attrs.getTensor('value');
}

function hollowConst(nd: NodeDef, shape: Shape): NodeDef {
  const attr = { ...nd.attr };
  const enumDtype = nd.attr['value']?.value.case === 'tensor' ? nd.attr['value'].value.value.dtype : 0;
  attr['value'] = create(AttrValueSchema, {
    value: {
      case: 'tensor',
      value: create(TensorProtoSchema, { dtype: enumDtype, tensorShape: { dim: shape.map((s) => ({ size: BigInt(s) })) } }),
    },
  });
  return create(NodeDefSchema, { name: nd.name, op: nd.op, input: [...nd.input], device: nd.device, attr });
}

/**
 * Build TF.js graph-model artifacts from an IR graph, in memory. Each Const's value moves to
 * `weightSpecs`/`weightData` (keyed by node name); the topology keeps its dtype and shape.
 */
export function graphToArtifacts(graph: Graph, opts: ToArtifactsOptions = {}): TfjsArtifacts {
  const strip = opts.stripControlInputs ?? true;
  const gd = graph.toGraphDef();
  const nodes: NodeDef[] = [];
  const specs: TfjsWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const nd of gd.node) {
    let out = nd;
    if (nd.op === 'Const' && nd.attr['value']?.value.case === 'tensor') {
      const t = constTensorOf(nd, graph);
      const dtype = tfjsDTypeOf(t.dtype);
      if (!dtype) throw new TfpassError('E_UNSUPPORTED_OP', `node '${nd.name}': Const of dtype ${t.dtype} cannot be stored in TF.js weights`);
      let bytes: Uint8Array;
      const spec: TfjsWeightSpec = { name: nd.name, shape: [...t.shape], dtype };
      if (opts.quantize && dtype === 'float32' && t.size > 0) {
        const q = quantizeFloat32(t.toFloat32(), opts.quantize);
        bytes = q.bytes;
        spec.quantization = q.quantization;
      } else {
        bytes = tensorToTfjsBytes(t, dtype);
      }
      specs.push(spec);
      chunks.push(bytes);
      total += bytes.length;
      out = hollowConst(nd, t.shape);
    }
    if (strip && out.input.some((s) => s.startsWith('^'))) {
      out = create(NodeDefSchema, { ...out, input: out.input.filter((s) => !s.startsWith('^')) });
    }
    nodes.push(out);
  }
  const topo = create(GraphDefSchema, { ...gd, node: nodes });
  const weightData = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    weightData.set(c, o);
    o += c.length;
  }
  const modelTopology = toJson(GraphDefSchema, topo) as Record<string, unknown>;
  // tfjs-converter reads versions.producer unconditionally.
  modelTopology['versions'] ??= {};
  return {
    format: 'graph-model',
    generatedBy: BUILDER,
    convertedBy: BUILDER,
    modelTopology,
    weightSpecs: specs,
    weightData: weightData.buffer,
  };
}

// ---- artifacts -> Graph ---------------------------------------------------------------------

function hostTensor(dtype: DType, shape: Shape, values: ReturnType<typeof decodeWeight>): Tensor {
  if (dtype === 'string') return new Tensor('string', [...shape], values as Uint8Array[]);
  if (dtype === 'float32') return new Tensor('float32', [...shape], Float32Array.from(values as Float32Array));
  if (dtype === 'int32') return new Tensor('int32', [...shape], Int32Array.from(values as Int32Array));
  if (dtype === 'bool') return new Tensor('bool', [...shape], Uint8Array.from(values as Uint8Array));
  if (dtype === 'complex64') return new Tensor('complex64', [...shape], Float32Array.from(values as Float32Array));
  if (dtype === 'complex128') return new Tensor('complex128', [...shape], Float64Array.from(values as Float32Array));
  return Tensor.fromValues(dtype, shape, values as ArrayLike<number>);
}

/**
 * Build an IR graph from TF.js graph-model artifacts: weights (dequantized exactly as TF.js
 * does) become the Const values, cast back to each Const's declared dtype.
 */
export function artifactsToGraph(a: { modelTopology: unknown; weightSpecs: TfjsWeightSpec[]; weightData: ArrayBuffer | Uint8Array }, name = 'model.json'): Graph {
  let gd: GraphDef;
  try {
    gd = fromJson(GraphDefSchema, a.modelTopology as never, { ignoreUnknownFields: true });
  } catch (e) {
    throw new GraphFormatError({ file: name }, `modelTopology is not a GraphDef in JSON form: ${(e as Error).message}`, { cause: e });
  }
  const g = Graph.fromGraphDef(gd, { file: name });
  const data = a.weightData instanceof Uint8Array ? a.weightData : new Uint8Array(a.weightData);
  let offset = 0;
  for (const spec of a.weightSpecs) {
    if (!spec || typeof spec.name !== 'string' || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new GraphFormatError({ file: name }, `weight spec ${JSON.stringify(spec)?.slice(0, 120)} needs a string name and a shape of non-negative integers`);
    }
    // Corrupt specs or weight bytes (string lengths past the end, odd quantization) surface as
    // RangeErrors and TypeErrors deep in decoding: report them as format errors naming the weight.
    try {
      const len = weightByteLength(spec, data, offset);
      if (offset + len > data.length) {
        throw new GraphFormatError({ file: name }, `weight '${spec.name}' needs bytes ${offset}..${offset + len} but the weight data has ${data.length}`);
      }
      const values = decodeWeight(spec, data.subarray(offset, offset + len));
      offset += len;
      let node = g.get(spec.name);
      if (!node) {
        node = g.addNode({ name: spec.name, op: 'Const', attrs: { dtype: { type: spec.dtype === 'complex64' ? 'complex64' : spec.dtype } } });
      }
      const declared = node.attrs.optType('dtype') ?? parseDType(spec.dtype) ?? 'float32';
      node.attrs.setTensor('value', hostTensor(declared, spec.shape, values));
    } catch (e) {
      if (e instanceof TfpassError && e.code !== 'E_INTERNAL') throw e;
      throw new GraphFormatError({ file: name }, `weight '${spec.name}' does not decode: ${(e as Error).message}`, { cause: e });
    }
  }
  return g;
}

// ---- files ----------------------------------------------------------------------------------

export interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
  signature?: unknown;
  userDefinedMetadata?: unknown;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * Bytes of one weight shard named in `file`'s manifest. The shard must be a regular file inside
 * the model folder after symlinks are resolved: a manifest cannot make us read /etc/shadow
 * through a link, block on a FIFO, or read a folder.
 */
function readShard(dir: string, p: string, file: string): Uint8Array {
  const shard = join(dir, p);
  let st;
  try {
    st = statSync(shard);
  } catch (e) {
    throw new FileError(shard, `weight shard listed in ${file} is missing (${errno(e)})`);
  }
  if (!st.isFile()) throw new GraphFormatError({ file }, `weight shard path ${JSON.stringify(p)} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`);
  // Links (of the shard or of a folder on its path) may not lead out of the model folder.
  const real = realpathSync(shard);
  const rel = relative(realpathSync(dir), real);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new GraphFormatError({ file }, `weight shard ${JSON.stringify(p)} ${lstatSync(shard).isSymbolicLink() ? 'is a link' : 'leads'} to ${real}, outside the model folder; refused`);
  if (st.size > maxTensorBytes()) throw new GraphFormatError({ file }, `weight shard ${JSON.stringify(p)} has ${st.size} bytes, more than the tensor size limit (--max_tensor_bytes)`);
  try {
    return readFileSync(shard);
  } catch (e) {
    throw new FileError(shard, `cannot read weight shard: ${errno(e)}`, { cause: e });
  }
}

/** Read a TF.js graph model (`model.json` or its folder) and its weight shards into a Graph. */
export function readTfjsModel(path: string): Graph {
  if (path === '') throw new FileError("''", 'an empty path names no TF.js model');
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'model.json') : path;
  if (!existsSync(file)) throw new FileError(file, 'no such file');
  let json: ModelJson;
  try {
    if (!statSync(file).isFile()) throw new FileError(file, 'is not a regular file');
    json = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  } catch (e) {
    if (e instanceof TfpassError) throw e;
    if ((e as NodeJS.ErrnoException).code) throw new FileError(file, `cannot read: ${errno(e)}`, { cause: e });
    throw new GraphFormatError({ file }, `not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!json || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new GraphFormatError({ file }, 'not a TF.js graph model (needs modelTopology and weightsManifest)');
  }
  if (json.format && json.format !== 'graph-model') {
    throw new GraphFormatError({ file }, `format '${json.format}' is not a graph model (layers models are not supported)`);
  }
  const dir = dirname(file);
  const specs: TfjsWeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    if (!group || !Array.isArray(group.weights) || !Array.isArray(group.paths)) {
      throw new GraphFormatError({ file }, 'each weightsManifest entry needs "paths" and "weights" lists');
    }
    specs.push(...group.weights);
    for (const p of group.paths) {
      // Shards live next to model.json: a path that leaves the folder is not followed.
      if (typeof p !== 'string' || isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
        throw new GraphFormatError({ file }, `weight shard path ${JSON.stringify(p)} must be a relative path inside the model folder`);
      }
      parts.push(readShard(dir, p, file));
    }
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return artifactsToGraph({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: data }, file);
}

export interface WriteTfjsOptions extends ToArtifactsOptions {
  /** Bytes per weight shard (default 4 MiB, as the TF.js converter). */
  shardBytes?: number;
}

/** Shard files of our (and tfjs-converter's) naming: `group1-shard1of3.bin`, `group1-shard1of3-1a2b3c4d.bin`. */
const SHARD_NAME = /^group1-shard\d+of\d+(-[0-9a-f]{8})?\.bin$/;

/** Shard paths the model.json in `dir` lists now (empty when there is none or it is unreadable). */
function currentShards(mj: string): Set<string> {
  try {
    const json = JSON.parse(readFileSync(mj, 'utf8')) as ModelJson;
    return new Set(json.weightsManifest.flatMap((g) => g.paths).filter((p): p is string => typeof p === 'string'));
  } catch {
    return new Set();
  }
}

/**
 * Write `model.json` plus `group1-shardNofM.bin` files into `dir`; returns the paths written.
 * Atomic as a set: shards are written under names the folder's current model.json does not
 * use (`-<hash>` added when the plain names are taken), model.json last (renamed into place),
 * then the previous model's shards are removed. A run killed at any point leaves the previous
 * model complete and loadable; leftover shards of our naming are removed by the next write.
 */
export function writeTfjsModel(graph: Graph, dir: string, opts: WriteTfjsOptions = {}): string[] {
  try {
    graph.validate();
  } catch (e) {
    if (e instanceof TfpassError) e.message += `; ${dir} was not written`;
    throw e;
  }
  const a = graphToArtifacts(graph, opts);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new FileError(dir, `cannot create the TF.js output folder: ${errno(e)}`, { cause: e });
  }
  if (!statSync(dir).isDirectory()) throw new FileError(dir, 'the TF.js output must be a folder');
  const data = new Uint8Array(a.weightData);
  const shard = Math.max(1, opts.shardBytes ?? 4 * 1024 * 1024);
  const count = Math.max(1, Math.ceil(data.length / shard));
  const mj = join(dir, 'model.json');
  const previous = currentShards(mj);
  const plain = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
  // Same content gives the same tagged names: rewriting them in place changes no byte.
  const tag = createHash('sha256').update(data).digest('hex').slice(0, 8);
  const paths = plain.some((p) => previous.has(p)) ? plain.map((p) => p.replace(/\.bin$/, `-${tag}.bin`)) : plain;
  const written: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = join(dir, paths[i]!);
    writeFileAtomic(f, data.subarray(i * shard, Math.min(data.length, (i + 1) * shard)));
    written.push(f);
  }
  const json: ModelJson = {
    format: 'graph-model',
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths, weights: a.weightSpecs }],
  };
  writeFileAtomic(mj, JSON.stringify(json));
  written.unshift(mj);
  // Only now is the previous model gone: remove its shards and strays of interrupted runs.
  const keep = new Set(paths);
  for (const f of readdirSync(dir)) {
    if (SHARD_NAME.test(f) && !keep.has(f)) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        /* already gone, or not ours to remove */
      }
    }
  }
  return written;
}
