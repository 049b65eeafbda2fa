import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { FileError, UsageError, mulberry32 } from '@tfpass/core';
import type { Tensor } from '@tfpass/core';
import { decodeExample, ExampleFormatError, type Features } from './example.js';
import { decodeImage, imageToInput, maskToLabels, type ImageLayout } from './image.js';
import { indexTfrecord, readRecord, type RecordRef } from './tfrecord.js';

/**
 * One streaming data module for qat, calibrate, run, verify and eval. Opening a source lists
 * entries (paths, record offsets, row numbers) and nothing else; examples are decoded when a
 * batch asks for them, so a 10 GB folder never sits in memory.
 */

export type Entry =
  | { kind: 'image'; file: string; label?: number; mask?: string }
  | { kind: 'record'; ref: RecordRef }
  | { kind: 'npy'; file: string; row: number; rows: number; label?: number };

export interface SourceOptions {
  /** Flat folder of images + CSV (`file,label`) or JSON (`{file: label}` / `[{file, label}]`). */
  labelsFile?: string;
  /** Folder of PNG label maps with the same base names as the images (segmentation). */
  masksDir?: string;
  /** TFRecord feature holding the encoded image (default `image/encoded`). */
  imageFeature?: string;
  /** TFRecord feature holding the class label (default `image/class/label`). */
  labelFeature?: string;
  /** TFRecord feature holding a PNG label map (segmentation), e.g. `image/segmentation/class/encoded`. */
  maskFeature?: string;
  /** Raw float features to read into the input instead of an image (`--feature NAME=input`). */
  rawFeature?: string;
}

export interface Example {
  input: Float32Array;
  /** Class id, or a label map of H×W class ids for segmentation. */
  label?: number | Int32Array;
  /** `file`, `file#record N` or `file[row]`, for messages. */
  where: string;
}

export interface Batch {
  /** [B, ...example shape] flattened. */
  inputs: Float32Array;
  labels?: Int32Array;
  size: number;
  where: string[];
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const RECORD_EXT = new Set(['.tfrecord', '.tfrecords', '.record', '.rec']);

/** Classes of an image-folder source, sorted as Keras' `image_dataset_from_directory` sorts them. */
export interface Opened {
  entries: Entry[];
  classNames?: string[];
  description: string;
}

/** Open a folder (class subfolders, or flat + labels file), TFRecord files or `.npy` files. */
export function openSource(paths: string[], opts: SourceOptions = {}): Opened {
  if (paths.length === 0) throw new UsageError('--data: no files matched');
  if (paths.length === 1 && isDir(paths[0]!)) return openFolder(paths[0]!, opts);
  const exts = new Set(paths.map((p) => extname(p).toLowerCase()));
  if ([...exts].every((e) => RECORD_EXT.has(e))) {
    const entries = paths.flatMap((file) => indexTfrecord(file).map((ref): Entry => ({ kind: 'record', ref })));
    return { entries, description: `${entries.length} records in ${paths.length} TFRecord file(s)` };
  }
  if ([...exts].every((e) => e === '.npy')) {
    const entries = paths.flatMap((file): Entry[] => {
      const rows = npyRows(file);
      return Array.from({ length: rows }, (_, row) => ({ kind: 'npy', file, row, rows }));
    });
    return { entries, description: `${entries.length} examples in ${paths.length} .npy file(s)` };
  }
  if ([...exts].every((e) => IMAGE_EXT.has(e))) {
    const labels = opts.labelsFile ? readLabels(opts.labelsFile) : undefined;
    const entries = paths.map((file) => imageEntry(file, labels, opts.masksDir));
    return { entries, description: `${entries.length} images` };
  }
  throw new UsageError(`--data: cannot mix ${[...exts].join(', ')} files; give image folders, TFRecord files or .npy files`);
}

function openFolder(dir: string, opts: SourceOptions): Opened {
  const items = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const subdirs = items.filter((d) => d.isDirectory() && !d.name.startsWith('.'));
  if (subdirs.length > 0 && !opts.labelsFile) {
    const classNames = subdirs.map((d) => d.name);
    const entries: Entry[] = [];
    classNames.forEach((name, label) => {
      for (const file of walkImages(join(dir, name))) entries.push({ kind: 'image', file, label });
    });
    if (!entries.length) throw new FileError(dir, 'no PNG or JPEG images in its class folders');
    return { entries, classNames, description: `${entries.length} images in ${classNames.length} classes (${classNames.slice(0, 5).join(', ')}${classNames.length > 5 ? ', …' : ''})` };
  }
  const files = walkImages(dir);
  if (!files.length) throw new FileError(dir, 'no PNG or JPEG images');
  const labels = opts.labelsFile ? readLabels(opts.labelsFile) : undefined;
  const entries = files.map((file) => imageEntry(file, labels, opts.masksDir, dir));
  return { entries, description: `${entries.length} images${labels ? ' with labels from ' + opts.labelsFile : ''}${opts.masksDir ? ' with masks from ' + opts.masksDir : ''}` };
}

function imageEntry(file: string, labels: Map<string, number> | undefined, masksDir: string | undefined, root?: string): Entry {
  const e: Entry = { kind: 'image', file };
  if (labels) {
    const keys = [root ? relative(root, file) : file, basename(file), basename(file, extname(file))];
    const hit = keys.map((k) => labels.get(k)).find((v) => v !== undefined);
    if (hit === undefined) throw new FileError(file, 'has no entry in the labels file');
    e.label = hit;
  }
  if (masksDir) {
    const stem = basename(file, extname(file));
    const mask = [join(masksDir, stem + '.png'), join(masksDir, basename(file))].find((p) => existsSync(p));
    if (!mask) throw new FileError(file, `no label map ${stem}.png in ${masksDir}`);
    e.mask = mask;
  }
  return e;
}

function walkImages(dir: string): string[] {
  const out: string[] = [];
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    const items = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    for (const it of items) {
      if (it.name.startsWith('.')) continue;
      const p = join(d, it.name);
      if (it.isDirectory()) stack.push(p);
      else if (IMAGE_EXT.has(extname(it.name).toLowerCase())) out.push(p);
    }
  }
  return out.sort();
}

/** `file,label` CSV (header optional) or JSON object/array. Labels are integers. */
export function readLabels(file: string): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileError(file, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  const map = new Map<string, number>();
  const put = (k: string, v: unknown, where: string) => {
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    if (!Number.isInteger(n) || n < 0) throw new FileError(file, `${where}: label ${JSON.stringify(v)} is not a non-negative integer`);
    map.set(k.trim(), n);
  };
  if (/^\s*[[{]/.test(text)) {
    let j: unknown;
    try {
      j = JSON.parse(text);
    } catch (e) {
      throw new FileError(file, `invalid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(j)) j.forEach((x, i) => put(String((x as { file?: unknown }).file), (x as { label?: unknown }).label, `entry ${i}`));
    else for (const [k, v] of Object.entries(j as object)) put(k, v, `key ${JSON.stringify(k)}`);
    return map;
  }
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const cut = line.lastIndexOf(',');
    if (cut < 0) throw new FileError(file, `line ${i + 1}: expected "file,label"`);
    const [k, v] = [line.slice(0, cut), line.slice(cut + 1)];
    if (i === 0 && !/^\s*\d+\s*$/.test(v)) return; // header row
    put(k, v, `line ${i + 1}`);
  });
  return map;
}

/** Rows of a `.npy` file from its header alone: 1 for a single example, N for `[N, …]` batches
 *  (decided later against the input's rank; here the first dim is reported). */
export function npyShape(file: string): number[] {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < 10 || head[0] !== 0x93 || head.toString('latin1', 1, 6) !== 'NUMPY') throw new FileError(file, 'not a .npy file (bad magic)');
    const text = head.toString('latin1', 10, n);
    const m = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
    if (!m) throw new FileError(file, 'unreadable .npy header');
    return m[1]!.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
      const d = Number(s);
      if (!Number.isSafeInteger(d) || d < 0) throw new FileError(file, `.npy shape has an invalid dimension '${s}'`);
      return d;
    });
  } finally {
    closeSync(fd);
  }
}

// Rows are resolved against the input shape when the dataset is bound (`bind`); until then a
// file counts as one example per leading index when it has a leading dim, else one.
function npyRows(file: string): number {
  const s = npyShape(file);
  return s.length ? s[0]! : 1;
}

// ---- binding to a model input ------------------------------------------------------------

export interface InputLayout extends ImageLayout {
  /** Elements of one example (H·W·C for images). */
  exampleSize: number;
  /** Example shape without batch (for `.npy` single-vs-batch decisions). */
  exampleShape: number[];
}

/**
 * Layout of a model input: `[N, H, W, C]`; `[N, H, W]` (gray without channel axis) when the
 * first of three dims is a batch (−1 or 1), else `[H, W, C]` without batch; `[N, F]` features.
 */
export function layoutFor(shape: number[], scale: { mean?: number[]; std?: number[] } = {}): InputLayout {
  const batched = shape.length === 4 || shape.length === 2 || (shape.length === 3 && (shape[0] === -1 || shape[0] === 1));
  const exampleShape = (batched ? shape.slice(1) : shape).map((d) => (d < 0 ? 1 : d));
  const [height, width, channels] = exampleShape.length >= 2 ? [exampleShape[0]!, exampleShape[1]!, exampleShape[2] ?? 0] : [1, exampleShape[0] ?? 1, 0];
  return { height, width, channels, exampleShape, exampleSize: exampleShape.reduce((a, b) => a * b, 1), ...scale };
}

export type NpyDecoder = (bytes: Uint8Array, file: string) => Tensor;

export interface DatasetOptions extends SourceOptions {
  seed?: number;
  /** Decoder for `.npy` files (the CLI passes @tfpass/runtime's). */
  decodeNpy?: NpyDecoder;
}

export class Dataset {
  private npyCache?: { file: string; values: Float32Array; rows: number };

  constructor(
    readonly entries: Entry[],
    readonly layout: InputLayout,
    private readonly opts: DatasetOptions = {},
    readonly classNames?: string[],
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** A deterministic split: the same seed and fraction always give the same validation set. */
  split(valFraction: number, seed = 1): { train: Dataset; val: Dataset } {
    if (!(valFraction > 0 && valFraction < 1)) throw new UsageError(`--val_split must be in (0, 1), got ${valFraction}`);
    const order = permutation(this.entries.length, seed ^ 0x5eed);
    const nVal = Math.max(1, Math.round(this.entries.length * valFraction));
    const valSet = new Set(order.slice(0, nVal));
    const pick = (inVal: boolean) => this.entries.filter((_, i) => valSet.has(i) === inVal);
    return { train: this.with(pick(false)), val: this.with(pick(true)) };
  }

  shuffled(seed: number): Dataset {
    const order = permutation(this.entries.length, seed);
    return this.with(order.map((i) => this.entries[i]!));
  }

  take(n: number): Dataset {
    return this.with(this.entries.slice(0, n));
  }

  private with(entries: Entry[]): Dataset {
    return new Dataset(entries, this.layout, this.opts, this.classNames);
  }

  /** Batches in order; the last one may be smaller unless `dropRemainder`. */
  *batches(batchSize: number, dropRemainder = false): Generator<Batch> {
    const { exampleSize } = this.layout;
    for (let start = 0; start < this.entries.length; start += batchSize) {
      const n = Math.min(batchSize, this.entries.length - start);
      if (dropRemainder && n < batchSize) return;
      const inputs = new Float32Array(n * exampleSize);
      let labels: Int32Array | undefined;
      const where: string[] = [];
      for (let i = 0; i < n; i++) {
        const ex = this.example(start + i);
        inputs.set(ex.input, i * exampleSize);
        where.push(ex.where);
        if (ex.label !== undefined) {
          const per = typeof ex.label === 'number' ? 1 : ex.label.length;
          labels ??= new Int32Array(n * per);
          if (typeof ex.label === 'number') labels[i] = ex.label;
          else labels.set(ex.label, i * per);
        }
      }
      yield { inputs, labels, size: n, where };
    }
  }

  /** Decode example `i` (streaming: reads just that file or record). */
  example(i: number): Example {
    const e = this.entries[i];
    if (!e) throw new UsageError(`example ${i} out of range (${this.entries.length})`);
    const L = this.layout;
    if (e.kind === 'image') {
      const bytes = readBytes(e.file);
      const input = imageToInput(decodeImage(bytes, e.file), L);
      const label = e.mask ? maskToLabels(decodeImage(readBytes(e.mask), e.mask), L.height, L.width) : e.label;
      return { input, label, where: e.file };
    }
    if (e.kind === 'record') return this.fromRecord(e.ref);
    return this.fromNpy(e.file, e.row, e.rows);
  }

  private fromRecord(ref: RecordRef): Example {
    const where = `${ref.file}#record ${ref.index}`;
    let f: Features;
    try {
      f = decodeExample(readRecord(ref));
    } catch (err) {
      if (err instanceof ExampleFormatError) throw new FileError(ref.file, `record ${ref.index} at byte ${ref.offset}: not a tf.train.Example (${err.message})`);
      throw err;
    }
    const o = this.opts;
    const L = this.layout;
    let input: Float32Array;
    if (o.rawFeature) {
      const raw = f.get(o.rawFeature);
      if (!raw || raw.kind === 'bytes') throw new FileError(ref.file, `record ${ref.index}: no numeric feature '${o.rawFeature}'`);
      const vals = raw.kind === 'float' ? raw.values : Float32Array.from(raw.values, Number);
      if (vals.length !== L.exampleSize) throw new FileError(ref.file, `record ${ref.index}: feature '${o.rawFeature}' has ${vals.length} values, the input takes ${L.exampleSize}`);
      input = vals;
    } else {
      const key = o.imageFeature ?? 'image/encoded';
      const img = f.get(key);
      if (!img || img.kind !== 'bytes' || !img.values[0]) throw new FileError(ref.file, `record ${ref.index}: no bytes feature '${key}' (features: ${[...f.keys()].join(', ') || 'none'})`);
      input = imageToInput(decodeImage(img.values[0], where), L);
    }
    let label: number | Int32Array | undefined;
    if (o.maskFeature) {
      const m = f.get(o.maskFeature);
      if (!m || m.kind !== 'bytes' || !m.values[0]) throw new FileError(ref.file, `record ${ref.index}: no bytes feature '${o.maskFeature}'`);
      label = maskToLabels(decodeImage(m.values[0], where), L.height, L.width);
    } else {
      const l = f.get(o.labelFeature ?? 'image/class/label');
      if (l && l.kind === 'int64' && l.values.length) label = Number(l.values[0]);
    }
    return { input, label, where };
  }

  private fromNpy(file: string, row: number, rows: number): Example {
    if (this.npyCache?.file !== file) {
      if (!this.opts.decodeNpy) throw new UsageError('.npy data needs a decoder (install @tfpass/runtime)');
      const t = this.opts.decodeNpy(readBytes(file), file);
      const per = this.layout.exampleSize;
      const values = t.toFloat32();
      // One example per file when the file is exactly one example (a rank-matching single
      // example such as [1, …] or [H, W, C]); otherwise the leading dim counts examples.
      const single = values.length === per;
      if (!single && values.length !== rows * per) {
        throw new FileError(file, `.npy of shape [${t.shape}] is neither one example nor a batch of [${this.layout.exampleShape}]`);
      }
      this.npyCache = { file, values, rows: single ? 1 : rows };
    }
    const c = this.npyCache;
    if (c.rows === 1) return { input: c.values, where: file };
    const per = this.layout.exampleSize;
    return { input: c.values.subarray(row * per, (row + 1) * per), where: `${file}[${row}]` };
  }
}

/** Open and bind in one step: what the commands call. */
export function openDataset(paths: string[], layout: InputLayout, opts: DatasetOptions = {}): Dataset {
  const o = openSource(paths, opts);
  let entries = o.entries;
  // A single-example .npy with a leading dim equal to an image height would be mis-counted
  // above; fix it against the layout now that it is known.
  entries = dedupeSingleNpy(entries, layout);
  return new Dataset(entries, layout, opts, o.classNames);
}

function dedupeSingleNpy(entries: Entry[], layout: InputLayout): Entry[] {
  const out: Entry[] = [];
  const seen = new Map<string, boolean>();
  for (const e of entries) {
    if (e.kind !== 'npy') {
      out.push(e);
      continue;
    }
    let single = seen.get(e.file);
    if (single === undefined) {
      const shape = npyShape(e.file);
      const n = shape.reduce((a, b) => a * b, 1);
      single = n === layout.exampleSize;
      seen.set(e.file, single);
    }
    if (single) {
      if (e.row === 0) out.push({ ...e, rows: 1 });
    } else out.push(e);
  }
  return out;
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new FileError(file, `cannot read: ${(e as Error).message}`, { cause: e });
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Seeded Fisher–Yates (core's mulberry32), the same order on every machine. */
export function permutation(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
