import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { fromText, toText } from '@bufbuild/protobuf/txtpb';
import { GraphDefSchema, type GraphDef } from './gen/tensorflow/core/framework/graph_pb.js';
import { MetaGraphDefSchema, type MetaGraphDef } from './gen/tensorflow/core/protobuf/meta_graph_pb.js';
import { SavedModelSchema, type SavedModel } from './gen/tensorflow/core/protobuf/saved_model_pb.js';
import { FileError, GraphFormatError, TfpassError } from './errors.js';
import { Graph } from './graph.js';
import { STDIO_PATH, readStdin, refuseOverwrite, writeFileAtomic } from './files.js';

export type ContainerKind = 'graph' | 'meta' | 'saved_model';
export type TextOrBinary = 'binary' | 'text';

/**
 * A graph together with the container it came in. For MetaGraphDef and SavedModel inputs
 * the container keeps collections, saver_def and signatures so they can be written back.
 */
export interface Model {
  kind: ContainerKind;
  format: TextOrBinary;
  graph: Graph;
  /** Source path, when read from a file. */
  file?: string;
  /** @internal MetaGraphDef (for 'meta', and the chosen one for 'saved_model'). */
  meta?: MetaGraphDef;
  /** @internal */
  savedModel?: SavedModel;
  /** Index of the chosen MetaGraphDef inside the SavedModel. */
  metaIndex?: number;
}

export interface ReadOptions {
  /** Force a container kind instead of detecting it. */
  kind?: ContainerKind;
  /** SavedModel tag set to select (default: 'serve', else the first). */
  tags?: string[];
  /** Name shown in errors when reading bytes. */
  name?: string;
}

const PNG = [0x89, 0x50, 0x4e, 0x47];

function looksLikeText(b: Uint8Array): boolean {
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

/**
 * Index of the last character protobuf-es read before failing. Its errors carry no position,
 * so on the error path we parse again through a proxy string that records every index read.
 */
function lastIndexRead(schema: Parameters<typeof fromText>[0], text: string): number {
  let max = -1;
  const proxy = new Proxy(new String(text), {
    get(_t, k) {
      if (typeof k === 'string') {
        const c = k.charCodeAt(0);
        if (c >= 48 && c <= 57) {
          const i = Number(k);
          if (i > max) max = i;
          return text[i];
        }
        if (k === 'length') return text.length;
        if (k === 'substring') {
          return (a: number, b?: number) => {
            const e = Math.min(b ?? text.length, text.length) - 1;
            if (e > max) max = e;
            return text.substring(a, b);
          };
        }
      }
      const v = (text as unknown as Record<string | symbol, unknown>)[k];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(text) : v;
    },
  });
  try {
    fromText(schema, proxy as unknown as string);
  } catch {
    /* expected: this run only measures how far the parser got */
  }
  return max;
}

interface TextToken { start: number; end: number; text: string }

/** A small tokenizer for text format, enough to find token starts and unclosed braces. */
function textTokens(text: string): { tokens: TextToken[]; unclosed?: number } {
  const tokens: TextToken[] = [];
  const open: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    const st = i;
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      if (text[i] === c) i++;
    } else if (/[A-Za-z0-9_.+\-]/.test(c)) {
      while (i < text.length && /[A-Za-z0-9_.+\-]/.test(text[i]!)) i++;
    } else {
      i++;
      if (c === '{' || c === '<') open.push(st);
      else if (c === '}' || c === '>') open.pop();
    }
    tokens.push({ start: st, end: i, text: text.slice(st, i) });
  }
  return { tokens, unclosed: open.length ? open[open.length - 1] : undefined };
}

function lineCol(text: string, idx: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < idx && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: idx - lineStart + 1 };
}

/** line:column of a text-format parse error: the start of the token the parser stopped on. */
function locateTextError(schema: Parameters<typeof fromText>[0], text: string, message: string): { line: number; column: number; note?: string } {
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const body = bom ? text.slice(1) : text;
  const { tokens, unclosed } = textTokens(body);
  if (/end of input/.test(message) && unclosed !== undefined) {
    return { ...lineCol(body, unclosed), note: `the '${body[unclosed]}' opened here is never closed` };
  }
  const max = lastIndexRead(schema, body);
  let idx = body.length;
  let prev: TextToken | undefined;
  for (const t of tokens) {
    if (t.start > max) break;
    // Scanning an identifier or number reads one character past it: when that character
    // starts the next token, the parser stopped on the identifier, not on what follows.
    idx = t.start === max && prev && prev.end === max && /[A-Za-z0-9_]/.test(body[max - 1]!) ? prev.start : t.start;
    prev = t;
  }
  if (max < 0) idx = 0;
  return lineCol(body, idx);
}

function parseText<T>(schema: Parameters<typeof fromText>[0], text: string, file?: string): T {
  try {
    return fromText(schema, text) as T;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const { note, ...pos } = locateTextError(schema, text, msg);
    throw new GraphFormatError({ file, ...pos }, `text format: ${msg}${note ? ` (${note})` : ''}`, { cause: e });
  }
}

function parseBinary<T>(schema: Parameters<typeof fromBinary>[0], b: Uint8Array, file?: string): T {
  try {
    return fromBinary(schema, b) as T;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // Slow path, errors only: find the top-level field that does not decode.
    const top = scanTopLevel(b, file);
    let lo = 0;
    let hi = top.length - 1;
    const endOf = (k: number) => top[k]!.start + top[k]!.len;
    // Prefixes made of whole fields decode until the first bad one: binary search for it.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      let ok = true;
      try {
        fromBinary(schema, b.subarray(0, endOf(mid)));
      } catch {
        ok = false;
      }
      if (ok) lo = mid + 1;
      else hi = mid;
    }
    const bad = top[lo];
    if (!bad) throw new GraphFormatError({ file }, `binary protobuf: ${msg}`, { cause: e });
    const nth = top.slice(0, lo + 1).filter((f) => f.field === bad.field).length;
    const what = schema.typeName === GraphDefSchema.typeName && bad.field === 1 ? `node #${nth}` : `field ${bad.field} (occurrence ${nth})`;
    throw new GraphFormatError({ file, offset: bad.tagStart }, `binary protobuf: ${what} (bytes ${bad.start}..${bad.start + bad.len}) does not decode: ${msg}`, { cause: e });
  }
}

function pickMeta(sm: SavedModel, tags: string[] | undefined, file?: string): number {
  if (sm.metaGraphs.length === 0) throw new GraphFormatError({ file }, 'SavedModel has no meta graphs');
  const want = tags ?? ['serve'];
  const i = sm.metaGraphs.findIndex((m) => want.every((t) => m.metaInfoDef?.tags.includes(t)));
  if (i >= 0) return i;
  if (tags) {
    const have = sm.metaGraphs.map((m) => `[${m.metaInfoDef?.tags.join(',') ?? ''}]`).join(' ');
    throw new GraphFormatError({ file }, `no meta graph with tags ${tags.join(',')}; available: ${have}`);
  }
  return 0;
}

/** Resolve a path: a SavedModel directory means its saved_model.pb / .pbtxt. */
function resolvePath(path: string): string {
  if (path === STDIO_PATH) return path;
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new FileError(path, 'cannot read: no such file or directory', { cause: e });
  }
  if (st.isDirectory()) {
    for (const f of ['saved_model.pb', 'saved_model.pbtxt']) if (existsSync(join(path, f))) return join(path, f);
    throw new FileError(path, 'is a directory without saved_model.pb');
  }
  return path;
}

/** Protobuf's limit for one serialized message. */
const MAX_MESSAGE_BYTES = 2 ** 31 - 1;
/** V8's longest string: a bigger text-format file cannot be decoded at all. */
const MAX_TEXT_BYTES = 0x1fffffe8;

function readBytes(path: string): Uint8Array {
  if (path === STDIO_PATH) return readStdin(MAX_MESSAGE_BYTES);
  // Refuse before reading: a file over the limit would otherwise be pulled whole into memory.
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    /* reported by the read below */
  }
  if (size > MAX_MESSAGE_BYTES) {
    throw new GraphFormatError({ file: path }, `file is ${size} bytes, over protobuf's 2 GiB message limit: it cannot be one GraphDef, MetaGraphDef or SavedModel (keep big weights outside the graph, e.g. in a checkpoint)`);
  }
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FileError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Read a graph in any container (GraphDef, MetaGraphDef, SavedModel; binary or text). */
export function readModel(src: string | Uint8Array, opts: ReadOptions = {}): Model {
  const file = typeof src === 'string' ? resolvePath(src) : opts.name;
  const bytes = typeof src === 'string' ? readBytes(file!) : src;
  if (bytes.length >= 4 && PNG.every((c, i) => bytes[i] === c)) {
    throw new GraphFormatError({ file, offset: 0 }, 'this is a PNG image, not a TensorFlow graph');
  }
  const text = looksLikeText(bytes);
  const format: TextOrBinary = text ? 'text' : 'binary';
  if (text && bytes.length > MAX_TEXT_BYTES) {
    throw new GraphFormatError({ file, offset: 0 }, `text-format graph of ${bytes.length} bytes is too large to decode (at most ${MAX_TEXT_BYTES}); convert it to binary .pb`);
  }
  const str = text ? new TextDecoder().decode(bytes) : '';
  let kind = opts.kind;
  if (!kind) {
    if (file && /\.meta$/.test(file)) kind = 'meta';
    else if (file && /saved_model\.pb(txt)?$/.test(basename(file))) kind = 'saved_model';
    else kind = text ? detectTextKind(str) : detectBinaryKind(bytes, file);
  }
  if (bytes.length === 0) throw new GraphFormatError({ file, offset: 0 }, 'file is empty');
  const decode = <T>(schema: Parameters<typeof fromBinary>[0]): T =>
    text ? parseText<T>(schema, str, file) : parseBinary<T>(schema, bytes, file);
  if (kind === 'graph') {
    const def = decode<GraphDef>(GraphDefSchema);
    return { kind, format, graph: Graph.fromGraphDef(def, { file }), file };
  }
  if (kind === 'meta') {
    const meta = decode<MetaGraphDef>(MetaGraphDefSchema);
    if (!meta.graphDef) throw new GraphFormatError({ file }, 'MetaGraphDef has no graph_def');
    const graph = Graph.fromGraphDef(meta.graphDef, { file });
    return { kind, format, graph, meta, file };
  }
  const sm = decode<SavedModel>(SavedModelSchema);
  const i = pickMeta(sm, opts.tags, file);
  const meta = sm.metaGraphs[i]!;
  if (!meta.graphDef) throw new GraphFormatError({ file }, `meta graph ${i} has no graph_def`);
  return { kind, format, graph: Graph.fromGraphDef(meta.graphDef, { file }), meta, savedModel: sm, metaIndex: i, file };
}

/** Read a GraphDef from `.pb`, `.pbtxt`, `.meta`, a SavedModel (dir or file), or bytes. */
export function readGraph(src: string | Uint8Array, opts: ReadOptions = {}): Graph {
  return readModel(src, opts).graph;
}

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

export function formatFromPath(path: string): TextOrBinary {
  return /\.(pbtxt|txt|prototxt|pbtext)$/i.test(path) ? 'text' : 'binary';
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
