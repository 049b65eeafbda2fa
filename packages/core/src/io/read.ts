/** Reading a graph from any container, binary or text, with byte offsets or line:column on bad input. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { GraphDefSchema, type GraphDef } from '../gen/tensorflow/core/framework/graph_pb.js';
import { MetaGraphDefSchema, type MetaGraphDef } from '../gen/tensorflow/core/protobuf/meta_graph_pb.js';
import { SavedModelSchema, type SavedModel } from '../gen/tensorflow/core/protobuf/saved_model_pb.js';
import { FileError, GraphFormatError } from '../errors.js';
import { Graph } from '../graph.js';
import { STDIO_PATH, readStdin } from '../files.js';
import { detectKind, isPng, looksLikeText, scanTopLevel, type ContainerKind, type TextOrBinary } from './detect.js';
import { parseText } from './text-errors.js';

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
  if (isPng(bytes)) {
    throw new GraphFormatError({ file, offset: 0 }, 'this is a PNG image, not a TensorFlow graph');
  }
  const text = looksLikeText(bytes);
  const format: TextOrBinary = text ? 'text' : 'binary';
  if (text && bytes.length > MAX_TEXT_BYTES) {
    throw new GraphFormatError({ file, offset: 0 }, `text-format graph of ${bytes.length} bytes is too large to decode (at most ${MAX_TEXT_BYTES}); convert it to binary .pb`);
  }
  const str = text ? new TextDecoder().decode(bytes) : '';
  const kind = opts.kind ?? detectKind(bytes, text ? str : undefined, file);
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
