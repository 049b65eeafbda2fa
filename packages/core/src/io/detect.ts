/**
 * Format detection: text or binary, and which container (GraphDef, MetaGraphDef, SavedModel)
 * from the file name or a scan of the top-level protobuf fields.
 */
import { basename } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { MetaGraphDefSchema } from '../gen/tensorflow/core/protobuf/meta_graph_pb.js';
import { GraphFormatError } from '../errors.js';

export type ContainerKind = 'graph' | 'meta' | 'saved_model';
export type TextOrBinary = 'binary' | 'text';

const PNG = [0x89, 0x50, 0x4e, 0x47];

export function isPng(b: Uint8Array): boolean {
  return b.length >= 4 && PNG.every((c, i) => b[i] === c);
}

export function looksLikeText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 4096);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 9 || c === 10 || c === 13) continue;
    if (c < 32 || c === 127) return false;
  }
  // Text format starts with a field name, a comment or a brace.
  const head = new TextDecoder().decode(b.subarray(0, n)).trimStart();
  return /^([A-Za-z_#\[{]|$)/.test(head);
}

function readVarint(b: Uint8Array, pos: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= b.length) return undefined;
    const c = b[pos + i]!;
    v += (c & 0x7f) * mul;
    mul *= 128;
    if (!(c & 0x80)) return [v, pos + i + 1];
  }
  return undefined;
}

interface TopField { field: number; wire: number; start: number; len: number; tagStart: number }

/**
 * Walk top-level fields without decoding them, checking each one's framing: fast container
 * detection and an exact byte offset for truncation or corruption at the top level.
 */
function* topFields(b: Uint8Array, file?: string): Generator<TopField> {
  let pos = 0;
  while (pos < b.length) {
    const at = pos;
    const tag = readVarint(b, pos);
    if (!tag) throw new GraphFormatError({ file, offset: at }, 'truncated field tag');
    const field = Math.floor(tag[0] / 8);
    const wire = tag[0] & 7;
    pos = tag[1];
    if (field === 0) throw new GraphFormatError({ file, offset: at }, 'invalid field number 0: not a protobuf message');
    switch (wire) {
      case 0: {
        const v = readVarint(b, pos);
        if (!v) throw new GraphFormatError({ file, offset: pos }, `truncated varint in field ${field}`);
        yield { field, wire, start: pos, len: v[1] - pos, tagStart: at };
        pos = v[1];
        break;
      }
      case 1: case 5: {
        const len = wire === 1 ? 8 : 4;
        if (pos + len > b.length) throw new GraphFormatError({ file, offset: pos }, `field ${field} is truncated`);
        yield { field, wire, start: pos, len, tagStart: at };
        pos += len;
        break;
      }
      case 2: {
        const l = readVarint(b, pos);
        if (!l) throw new GraphFormatError({ file, offset: pos }, `truncated length of field ${field}`);
        if (l[1] + l[0] > b.length) {
          throw new GraphFormatError({ file, offset: at }, `field ${field} claims ${l[0]} bytes but only ${b.length - l[1]} remain (file truncated or corrupt)`);
        }
        yield { field, wire, start: l[1], len: l[0], tagStart: at };
        pos = l[1] + l[0];
        break;
      }
      default:
        throw new GraphFormatError({ file, offset: at }, `invalid wire type ${wire} for field ${field}: not a protobuf message`);
    }
  }
}

export function scanTopLevel(b: Uint8Array, file?: string): TopField[] {
  return [...topFields(b, file)];
}

/** First field's wire type inside a length-delimited payload, or -1. */
function firstWire(b: Uint8Array, start: number, len: number): number {
  if (len === 0) return -1;
  const t = readVarint(b.subarray(start, start + len), 0);
  return t ? t[0] & 7 : -1;
}

/**
 * Tell GraphDef, MetaGraphDef and SavedModel apart from their top-level fields, stopping as
 * soon as one is certain (a GraphDef with two nodes is known after its second node).
 * GraphDef: 1 node*, 2 library, 3 version (deprecated varint), 4 versions{varints}.
 * MetaGraphDef: 1 meta_info_def, 2 graph_def, 3 saver_def{strings...}, 4 collection_def*{key string, value}, 5 signature_def*, 6 asset_file_def*.
 * SavedModel: 1 saved_model_schema_version(varint), 2 meta_graphs*.
 */
function detectBinaryKind(b: Uint8Array, file?: string): ContainerKind {
  let f1 = 0;
  let f1Len = 0;
  let f2 = 0;
  let f2Len = 0;
  for (const { field, wire, start, len } of topFields(b, file)) {
    if (wire === 0) {
      if (field === 1) return 'saved_model';
      if (field === 3) return 'graph';
      continue;
    }
    if (wire !== 2) continue;
    if (field === 1) {
      f1++;
      f1Len = len;
      if (f1 > 1) return 'graph';
    } else if (field === 2) {
      f2++;
      f2Len = len;
    } else if (field === 3 || field === 5 || field === 6) {
      return 'meta';
    } else if (field === 4) {
      // GraphDef.versions holds varints; a collection_def map entry starts with its string key.
      const w = firstWire(b, start, len);
      if (w === 0) return 'graph';
      if (w === 2) return 'meta';
    }
  }
  if (f1 === 0 && f2 > 1) return 'saved_model';
  if (f1 === 1 && f2 === 1 && f2Len > f1Len) {
    // One NodeDef plus a big library, or a MetaInfoDef plus a GraphDef: decode to tell.
    try {
      const m = fromBinary(MetaGraphDefSchema, b);
      if (m.graphDef && m.graphDef.node.length > 0) return 'meta';
    } catch {
      /* not a MetaGraphDef */
    }
  }
  return 'graph';
}

function detectTextKind(text: string): ContainerKind {
  const m = /^(?:\s|#[^\n]*\n)*([A-Za-z_]+)/.exec(text);
  const first = m?.[1] ?? '';
  if (first === 'meta_info_def' || first === 'graph_def' || first === 'saver_def' || first === 'collection_def' || first === 'signature_def') return 'meta';
  if (first === 'saved_model_schema_version' || first === 'meta_graphs') return 'saved_model';
  return 'graph';
}

/** Container kind from the file name (`.meta`, `saved_model.pb[txt]`), else from the content. */
export function detectKind(bytes: Uint8Array, text: string | undefined, file?: string): ContainerKind {
  if (file && /\.meta$/.test(file)) return 'meta';
  if (file && /saved_model\.pb(txt)?$/.test(basename(file))) return 'saved_model';
  return text !== undefined ? detectTextKind(text) : detectBinaryKind(bytes, file);
}

export function formatFromPath(path: string): TextOrBinary {
  return /\.(pbtxt|txt|prototxt|pbtext)$/i.test(path) ? 'text' : 'binary';
}
