import { create } from '@bufbuild/protobuf';
import { CollectionDefSchema, MetaGraphDefSchema, MetaGraphDef_MetaInfoDefSchema, type CollectionDef } from './gen/tensorflow/core/protobuf/meta_graph_pb.js';
import { SaverDefSchema, SaverDef_CheckpointFormatVersion } from './gen/tensorflow/core/protobuf/saver_pb.js';
import type { Graph } from './graph.js';
import type { Model, TextOrBinary } from './io.js';

/** One entry of the `variables` / `trainable_variables` collections (TF's VariableDef). */
export interface VariableInfo {
  /** Variable tensor, e.g. `conv1/act_quant/min:0`. */
  variableName: string;
  /** Assign op that initializes it. */
  initializerName: string;
  /** Tensor to read it through (`…/read:0`). */
  snapshotName: string;
  initialValueName?: string;
  trainable?: boolean;
  isResource?: boolean;
}

/** A collection: node names, VariableDefs, raw bytes, ints or floats. */
export interface CollectionSpec {
  nodes?: string[];
  variables?: VariableInfo[];
  bytes?: Uint8Array[];
  int64?: number[];
  floats?: number[];
}

export interface SaverSpec {
  filenameTensorName: string;
  saveTensorName: string;
  restoreOpName: string;
  maxToKeep?: number;
  keepCheckpointEveryNHours?: number;
  sharded?: boolean;
  /** Checkpoint format: 2 (default) or 1. */
  version?: 1 | 2;
}

export interface MetaModelOptions {
  collections?: Record<string, CollectionSpec>;
  saverDef?: SaverSpec;
  tags?: string[];
  /** Text or binary when written (default binary). */
  format?: TextOrBinary;
}

// ---- VariableDef wire format (not in the generated protos: a tiny hand codec) --------------

const enc = new TextEncoder();
const dec = new TextDecoder();

function varint(out: number[], v: number): void {
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function strField(out: number[], field: number, s: string | undefined): void {
  if (!s) return;
  const b = enc.encode(s);
  varint(out, (field << 3) | 2);
  varint(out, b.length);
  for (const x of b) out.push(x);
}

/** Encode a VariableDef message (fields 1,2,3,5,6,7 of variable.proto). */
export function encodeVariableDef(v: VariableInfo): Uint8Array {
  const out: number[] = [];
  strField(out, 1, v.variableName);
  strField(out, 2, v.initializerName);
  strField(out, 3, v.snapshotName);
  if (v.isResource) out.push((5 << 3) | 0, 1);
  strField(out, 6, v.initialValueName);
  if (v.trainable) out.push((7 << 3) | 0, 1);
  return Uint8Array.from(out);
}

/** Decode the fields of a VariableDef that encodeVariableDef writes (others are skipped). */
export function decodeVariableDef(b: Uint8Array): VariableInfo {
  const v: VariableInfo = { variableName: '', initializerName: '', snapshotName: '' };
  let p = 0;
  const rd = (): number => {
    let x = 0;
    let m = 1;
    for (;;) {
      const c = b[p++]!;
      x += (c & 127) * m;
      m *= 128;
      if (!(c & 128)) return x;
    }
  };
  while (p < b.length) {
    const tag = rd();
    const f = tag >>> 3;
    const w = tag & 7;
    if (w === 0) {
      const x = rd();
      if (f === 5) v.isResource = x !== 0;
      if (f === 7) v.trainable = x !== 0;
    } else if (w === 2) {
      const n = rd();
      const s = dec.decode(b.subarray(p, p + n));
      p += n;
      if (f === 1) v.variableName = s;
      else if (f === 2) v.initializerName = s;
      else if (f === 3) v.snapshotName = s;
      else if (f === 6) v.initialValueName = s;
    } else if (w === 5) p += 4;
    else if (w === 1) p += 8;
    else break;
  }
  return v;
}

function collection(spec: CollectionSpec): CollectionDef {
  if (spec.nodes) return create(CollectionDefSchema, { kind: { case: 'nodeList', value: { value: spec.nodes } } });
  if (spec.variables || spec.bytes) {
    const value = [...(spec.bytes ?? []), ...(spec.variables ?? []).map(encodeVariableDef)];
    return create(CollectionDefSchema, { kind: { case: 'bytesList', value: { value } } });
  }
  if (spec.int64) return create(CollectionDefSchema, { kind: { case: 'int64List', value: { value: spec.int64.map(BigInt) } } });
  return create(CollectionDefSchema, { kind: { case: 'floatList', value: { value: spec.floats ?? [] } } });
}

/**
 * Wrap a graph as a MetaGraphDef model (kind 'meta'), so `writeModel` writes a `.meta` file
 * that TF's `import_meta_graph` accepts with its collections and saver.
 */
export function createMetaModel(graph: Graph, opts: MetaModelOptions = {}): Model {
  const collectionDef: Record<string, CollectionDef> = {};
  for (const [k, v] of Object.entries(opts.collections ?? {})) collectionDef[k] = collection(v);
  const s = opts.saverDef;
  const meta = create(MetaGraphDefSchema, {
    metaInfoDef: create(MetaGraphDef_MetaInfoDefSchema, { tags: opts.tags ?? [], strippedDefaultAttrs: false }),
    collectionDef,
    saverDef: s
      ? create(SaverDefSchema, {
          filenameTensorName: s.filenameTensorName,
          saveTensorName: s.saveTensorName,
          restoreOpName: s.restoreOpName,
          maxToKeep: s.maxToKeep ?? 5,
          sharded: s.sharded ?? false,
          keepCheckpointEveryNHours: s.keepCheckpointEveryNHours ?? 10000,
          version: s.version === 1 ? SaverDef_CheckpointFormatVersion.V1 : SaverDef_CheckpointFormatVersion.V2,
        })
      : undefined,
  });
  return { kind: 'meta', format: opts.format ?? 'binary', graph, meta };
}

/** Read a collection of a 'meta' or 'saved_model' model as plain values (undefined if absent). */
export function metaCollection(model: Model, key: string): CollectionSpec | undefined {
  const c = model.meta?.collectionDef[key];
  if (!c) return undefined;
  switch (c.kind.case) {
    case 'nodeList': return { nodes: [...c.kind.value.value] };
    case 'bytesList': return { bytes: [...c.kind.value.value] };
    case 'int64List': return { int64: c.kind.value.value.map(Number) };
    case 'floatList': return { floats: [...c.kind.value.value] };
    default: return {};
  }
}

/** The model's SaverDef as plain values (undefined if it has none). */
export function metaSaver(model: Model): SaverSpec | undefined {
  const s = model.meta?.saverDef;
  if (!s) return undefined;
  return {
    filenameTensorName: s.filenameTensorName,
    saveTensorName: s.saveTensorName,
    restoreOpName: s.restoreOpName,
    maxToKeep: s.maxToKeep,
    keepCheckpointEveryNHours: s.keepCheckpointEveryNHours,
    sharded: s.sharded,
    version: s.version === SaverDef_CheckpointFormatVersion.V1 ? 1 : 2,
  };
}
