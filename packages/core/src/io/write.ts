/** Encoding and writing graphs and models: validated first, written atomically, protected paths refused. */
import { toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { toText } from '@bufbuild/protobuf/txtpb';
import { GraphDefSchema, type GraphDef } from '../gen/tensorflow/core/framework/graph_pb.js';
import { MetaGraphDefSchema, type MetaGraphDef } from '../gen/tensorflow/core/protobuf/meta_graph_pb.js';
import { SavedModelSchema, type SavedModel } from '../gen/tensorflow/core/protobuf/saved_model_pb.js';
import { TfpassError } from '../errors.js';
import type { Graph } from '../graph.js';
import { refuseOverwrite, writeFileAtomic } from '../files.js';
import { formatFromPath, type TextOrBinary } from './detect.js';
import type { Model } from './read.js';

export interface WriteOptions {
  /** Default: from the extension (`.pbtxt`/`.txt`/`.prototxt` -> text), else binary. */
  format?: TextOrBinary;
  /** Refuse to write over this path (the input). */
  protect?: string[];
  /** Allow writing over a protected path. */
  force?: boolean;
  /** Validate the graph first (default true): a graph with dangling inputs or a cycle is never written. */
  validate?: boolean;
}


function guard(graph: Graph, path: string, opts: WriteOptions): void {
  refuseOverwrite(path, opts.protect ?? [], opts.force);
  if (opts.validate === false) return;
  try {
    graph.validate();
  } catch (e) {
    // What our own readers would refuse is not written (no file is created).
    if (e instanceof TfpassError) e.message += `; ${path} was not written`;
    throw e;
  }
}

// protobuf-es's writer starts at 1 KiB and doubles, copying everything written so far at each
// step, then copies all of it once more in finish(): on a weight-heavy graph that is several
// copies of every weight byte. toBinary takes no writer, so for the duration of one synchronous
// call the writer's first allocation is the expected size and finish() returns a view when the
// estimate was close. The hook checks the internals it relies on and otherwise leaves toBinary as is.
interface WriterInternals {
  buffer: Uint8Array;
  pos: number;
  ensureCapacity(size: number): void;
  finish(): Uint8Array;
}
const writerProto = BinaryWriter.prototype as unknown as WriterInternals;

function binary<D extends DescMessage>(schema: D, message: MessageShape<D>, expected: number): Uint8Array {
  const { ensureCapacity: grow, finish } = writerProto;
  if (typeof grow !== 'function' || typeof finish !== 'function') return toBinary(schema, message);
  writerProto.ensureCapacity = function (this: WriterInternals, size: number) {
    writerProto.ensureCapacity = grow; // only the first allocation is pre-sized
    if (this.pos === 0 && this.buffer instanceof Uint8Array && this.buffer.length < expected) this.buffer = new Uint8Array(Math.max(expected, size));
    grow.call(this, size);
  };
  writerProto.finish = function (this: WriterInternals) {
    const { buffer, pos } = this;
    // A close estimate is handed out as a view; a poor one is copied so its slack is freed.
    // (toBinary drops its writer after finish(), so the writer needs no reset.)
    if (!(buffer instanceof Uint8Array) || typeof pos !== 'number' || pos < buffer.length * 0.75) return finish.call(this);
    return buffer.subarray(0, pos);
  };
  try {
    return toBinary(schema, message);
  } finally {
    writerProto.ensureCapacity = grow;
    writerProto.finish = finish;
  }
}

/** Bytes the graph's large payloads take (tensor bytes and strings) plus a per-node allowance. */
function expectedSize(def: GraphDef): number {
  let n = 4096;
  const tensorBytes = (t: { tensorContent: Uint8Array; stringVal: Uint8Array[] }) => {
    n += t.tensorContent.length + 32;
    for (const s of t.stringVal) n += s.length + 2;
  };
  const nodes = (list: GraphDef['node']) => {
    for (const node of list) {
      n += 64 + node.name.length * (1 + node.input.length) + node.op.length;
      for (const k in node.attr) {
        const v = node.attr[k]!.value;
        n += 16 + k.length;
        if (v.case === 'tensor') tensorBytes(v.value);
        else if (v.case === 'list') for (const t of v.value.tensor) tensorBytes(t);
        else if (v.case === 's') n += v.value.length;
      }
    }
  };
  nodes(def.node);
  for (const f of def.library?.function ?? []) nodes(f.nodeDef);
  return n;
}

/** Encode a graph as binary or text GraphDef. */
export function encodeGraph(graph: Graph, format: TextOrBinary = 'binary'): Uint8Array | string {
  const def = graph.toGraphDef();
  return format === 'text' ? toText(GraphDefSchema, def) : binary(GraphDefSchema, def, expectedSize(def));
}

export function writeGraph(graph: Graph, path: string, opts: WriteOptions = {}): void {
  guard(graph, path, opts);
  writeFileAtomic(path, encodeGraph(graph, opts.format ?? formatFromPath(path)));
}

/** Encode a model in its own container (the graph replaces the container's graph_def). */
export function encodeModel(model: Model, format: TextOrBinary = model.format): Uint8Array | string {
  const def = model.graph.toGraphDef();
  // The container's other parts (collections, signatures, other graphs) grow the writer as needed.
  const expected = format === 'binary' ? expectedSize(def) : 0;
  if (model.kind === 'graph') return format === 'text' ? toText(GraphDefSchema, def) : binary(GraphDefSchema, def, expected);
  if (model.kind === 'meta') {
    const meta = { ...model.meta!, graphDef: def } as MetaGraphDef;
    return format === 'text' ? toText(MetaGraphDefSchema, meta) : binary(MetaGraphDefSchema, meta, expected);
  }
  const sm = model.savedModel!;
  const metas = sm.metaGraphs.slice();
  metas[model.metaIndex ?? 0] = { ...metas[model.metaIndex ?? 0]!, graphDef: def } as MetaGraphDef;
  const out = { ...sm, metaGraphs: metas } as SavedModel;
  return format === 'text' ? toText(SavedModelSchema, out) : binary(SavedModelSchema, out, expected);
}

export function writeModel(model: Model, path: string, opts: WriteOptions = {}): void {
  guard(model.graph, path, opts);
  writeFileAtomic(path, encodeModel(model, opts.format ?? (model.kind === 'graph' ? formatFromPath(path) : model.format)));
}
