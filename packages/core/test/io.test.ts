import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { fromText } from '@bufbuild/protobuf/txtpb';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { GraphDefSchema, MetaGraphDefSchema, SavedModelSchema, NodeDefSchema } from '@tfpass/core/proto';
import { modelsDir } from '@tfpass/core/testing';
import {
  Graph, GraphFormatError, GraphValidationError, FileError, TfpassError, isTfpassError, readGraph, readModel,
  writeGraph, writeModel, encodeGraph, encodeModel, formatFromPath,
} from '@tfpass/core';

const tmp = () => mkdtempSync(join(tmpdir(), 'tfpass-core-io-'));
const schemaOf = { graph: GraphDefSchema, meta: MetaGraphDefSchema, saved_model: SavedModelSchema } as const;

function modelFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(pb|pbtxt|prototxt|meta)$/.test(e)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function histogram(g: Graph): string {
  const m = new Map<string, number>();
  for (const n of g) m.set(n.op, (m.get(n.op) ?? 0) + 1);
  return [...m].map(([k, v]) => `${k}:${v}`).sort().join(' ');
}

const dir = modelsDir();

describe.skipIf(!dir)('round trip of every real model', () => {
  const files = dir ? modelFiles(dir) : [];
  const hist = new Map<string, string[]>();
  if (dir) {
    for (const line of readFileSync(join(dir, 'OP_HISTOGRAMS.tsv'), 'utf8').trim().split('\n').slice(1)) {
      const [file, kind, nodes, ops] = line.split('\t');
      hist.set(file!, [kind!, nodes!, ops!.split(' ').sort().join(' ')]);
    }
  }

  it('finds the models (and every one is listed in OP_HISTOGRAMS.tsv)', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const f of files) expect(hist.has(relative(dir!, f)), f).toBe(true);
  });

  for (const f of files) {
    const rel = dir ? relative(dir, f) : f;
    it(rel, () => {
      const bytes = readFileSync(f);
      const [kind, nodes, ops] = hist.get(rel)!;
      // SavedModel rows describe meta_graphs[0]: ask for that one by its tags
      const sm = kind!.startsWith('SavedModel') ? fromBinary(SavedModelSchema, bytes) : undefined;
      const m = readModel(f, sm ? { tags: sm.metaGraphs[0]!.metaInfoDef!.tags } : {});
      expect(m.kind).toBe(kind === 'GraphDef' ? 'graph' : kind === 'MetaGraphDef' ? 'meta' : 'saved_model');
      expect(m.graph.size).toBe(Number(nodes));
      expect(histogram(m.graph)).toBe(ops);
      const out = join(tmp(), 'out');
      if (m.format === 'binary') {
        // canonically encoded inputs come back byte for byte
        if (m.kind === 'graph') writeGraph(m.graph, out, { format: 'binary' });
        else writeModel(m, out);
        expect(Buffer.compare(readFileSync(out), bytes)).toBe(0);
        // and the container is detected from content alone
        expect(readModel(new Uint8Array(bytes)).kind).toBe(m.kind);
      } else {
        const schema = schemaOf[m.kind];
        const original = fromText(schema, bytes.toString('utf8'));
        // text -> binary: the message is equal to the original
        const bin = encodeModel(m, 'binary') as Uint8Array;
        expect(equals(schema, fromBinary(schema, bin), original)).toBe(true);
        // binary -> text -> binary -> text is stable
        const t1 = encodeModel(readModel(bin, { kind: m.kind }), 'text') as string;
        writeGraph(readGraph(bin), out + '.pbtxt');
        expect(readFileSync(out + '.pbtxt', 'utf8')).toBe(t1);
        const t2 = encodeModel(readModel(new TextEncoder().encode(t1)), 'text');
        expect(t2).toBe(t1);
        expect(equals(schema, fromText(schema, t1), original)).toBe(true);
      }
    });
  }
});

describe('unknown fields survive', () => {
  it('at graph, node and attr level, through edits elsewhere', () => {
    const node = create(NodeDefSchema, { name: 'a', op: 'Const', attr: { dtype: { value: { case: 'type', value: 1 } } } });
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).bytes(toBinary(NodeDefSchema, node));
    // NodeDef with an unknown field 77 (string) appended
    const nodeB = new BinaryWriter();
    nodeB.raw(toBinary(NodeDefSchema, create(NodeDefSchema, { name: 'b', op: 'Relu', input: ['a'] })));
    // attr { key: "T" value { type: DT_FLOAT, <field 42: 5> } }: an AttrValue with an unknown field
    const attrValue = new BinaryWriter().tag(6, WireType.Varint).int32(1).tag(42, WireType.Varint).int32(5).finish();
    const entry = new BinaryWriter().tag(1, WireType.LengthDelimited).string('T').tag(2, WireType.LengthDelimited).bytes(attrValue).finish();
    nodeB.tag(5, WireType.LengthDelimited).bytes(entry);
    nodeB.tag(77, WireType.LengthDelimited).string('future NodeDef field');
    w.tag(1, WireType.LengthDelimited).bytes(nodeB.finish());
    w.tag(99, WireType.Varint).uint64(123456789n); // unknown GraphDef field
    w.tag(100, WireType.Bit32).fixed32(7);
    const bytes = w.finish();
    const g = readGraph(bytes);
    expect(g.size).toBe(2);
    expect(Buffer.compare(encodeGraph(g) as Uint8Array, bytes)).toBe(0);
    // edits to other nodes keep b's unknown field and the graph's
    g.addNode({ name: 'c', op: 'Neg', inputs: ['b'] });
    g.node('a').attrs.setInt('k', 1);
    const again = encodeGraph(g.clone()) as Uint8Array;
    const def = fromBinary(GraphDefSchema, again);
    expect(def.$unknown?.map((u) => u.no)).toEqual([99, 100]);
    expect(def.node[1]!.$unknown?.map((u) => u.no)).toEqual([77]);
    expect(def.node[1]!.attr['T']!.$unknown?.map((u) => u.no)).toEqual([42]);
    expect(readGraph(again).node('b').attrs.getType('T')).toBe('float32');
    expect(readGraph(again).size).toBe(3);
  });
});

describe('container detection from content', () => {
  it('a GraphDef with one node, a library and versions is a GraphDef, not a MetaGraphDef', () => {
    const def = create(GraphDefSchema, {
      node: [{ name: 'call', op: 'f' }],
      library: { function: [{ signature: { name: 'f' }, nodeDef: [{ name: 'n', op: 'NoOp' }, { name: 'm', op: 'NoOp' }] }] },
      versions: { producer: 27 },
    });
    const m = readModel(toBinary(GraphDefSchema, def));
    expect(m.kind).toBe('graph');
    expect(m.graph.functionNames()).toEqual(['f']);
  });
  it('MetaGraphDef and SavedModel are recognised without a file name', () => {
    const meta = create(MetaGraphDefSchema, { metaInfoDef: { tags: ['serve'] }, graphDef: { node: [{ name: 'a', op: 'NoOp' }] }, saverDef: { filenameTensorName: 'x' } });
    expect(readModel(toBinary(MetaGraphDefSchema, meta)).kind).toBe('meta');
    const onlyGraph = create(MetaGraphDefSchema, { metaInfoDef: { tags: ['serve'] }, graphDef: { node: [{ name: 'a', op: 'NoOp' }, { name: 'b', op: 'NoOp' }] } });
    expect(readModel(toBinary(MetaGraphDefSchema, onlyGraph)).graph.size).toBe(2);
    const sm = create(SavedModelSchema, { savedModelSchemaVersion: 1n, metaGraphs: [meta] });
    expect(readModel(toBinary(SavedModelSchema, sm)).kind).toBe('saved_model');
    expect(readModel(new TextEncoder().encode('meta_graphs { graph_def { node { name: "a" op: "NoOp" } } }')).kind).toBe('saved_model');
    expect(readModel(new TextEncoder().encode('# c\nmeta_info_def { tags: "serve" }\ngraph_def { }')).kind).toBe('meta');
  });
});

describe('reading and writing', () => {
  const g = () => {
    const x = new Graph();
    x.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    x.addNode({ name: 'y', op: 'Relu', inputs: ['x'] });
    return x;
  };
  it('format from extension, or forced; writes are atomic (no temp file left behind)', () => {
    const d = tmp();
    writeGraph(g(), join(d, 'a.pbtxt'));
    writeGraph(g(), join(d, 'a.pb'));
    writeGraph(g(), join(d, 'b.bin'), { format: 'text' });
    expect(readFileSync(join(d, 'a.pbtxt'), 'utf8')).toMatch(/^node:? \{/);
    expect(readFileSync(join(d, 'b.bin'), 'utf8')).toMatch(/^node:? \{/);
    expect(readFileSync(join(d, 'a.pb'))[0]).toBe(0x0a);
    expect(readdirSync(d).sort()).toEqual(['a.pb', 'a.pbtxt', 'b.bin']);
    expect(formatFromPath('m.prototxt')).toBe('text');
    // content decides, not the extension: text in a .pb file
    writeFileSync(join(d, 'text.pb'), readFileSync(join(d, 'a.pbtxt')));
    expect(readModel(join(d, 'text.pb')).format).toBe('text');
    expect(readGraph(join(d, 'text.pb')).node('y').inputs).toEqual(['x']);
  });
  it('reads text with # comments and a MetaGraphDef / SavedModel directory', () => {
    const t = '# a comment\nnode {\n  name: "x"  # trailing\n  op: "Placeholder"\n}\nversions { producer: 27 }\n';
    const gx = readGraph(new TextEncoder().encode(t));
    expect(gx.size).toBe(1);
    expect(gx.producerVersion).toBe(27);
    const d = tmp();
    const meta = create(MetaGraphDefSchema, { metaInfoDef: { tags: ['serve'] }, graphDef: { node: [{ name: 'n', op: 'NoOp' }] }, saverDef: { filenameTensorName: 'save/Const:0' } });
    writeFileSync(join(d, 'm.meta'), toBinary(MetaGraphDefSchema, meta));
    const mm = readModel(join(d, 'm.meta'));
    expect(mm.kind).toBe('meta');
    expect(mm.graph.has('n')).toBe(true);
    mm.graph.addNode({ name: 'extra', op: 'NoOp' });
    writeModel(mm, join(d, 'm2.meta'));
    const back = fromBinary(MetaGraphDefSchema, readFileSync(join(d, 'm2.meta')));
    expect(back.saverDef?.filenameTensorName).toBe('save/Const:0');
    expect(back.graphDef?.node.map((n) => n.name)).toEqual(['n', 'extra']);
    const sm = create(SavedModelSchema, { savedModelSchemaVersion: 1n, metaGraphs: [
      { metaInfoDef: { tags: ['train'] }, graphDef: { node: [{ name: 't', op: 'NoOp' }] } },
      { metaInfoDef: { tags: ['serve'] }, graphDef: { node: [{ name: 's', op: 'NoOp' }] } },
    ] });
    writeFileSync(join(d, 'saved_model.pb'), toBinary(SavedModelSchema, sm));
    expect(readGraph(d).has('s')).toBe(true); // 'serve' by default
    expect(readGraph(d, { tags: ['train'] }).has('t')).toBe(true);
    expect(() => readGraph(d, { tags: ['gpu'] })).toThrow(/no meta graph with tags gpu; available: \[train\] \[serve\]/);
  });
  it('refuses to overwrite a protected input unless forced', () => {
    const d = tmp();
    const p = join(d, 'in.pb');
    writeGraph(g(), p);
    expect(() => writeGraph(g(), p, { protect: [p] })).toThrow(FileError);
    writeGraph(g(), p, { protect: [p], force: true });
  });
});

/** Run `fn`, expect a typed error, return it. */
function typedError(fn: () => unknown): TfpassError {
  try {
    fn();
  } catch (e) {
    expect(isTfpassError(e)).toBe(true);
    return e as TfpassError;
  }
  throw new Error('expected an error');
}

describe('bad input gives a typed error with file and position or node', () => {
  const good = () => {
    const x = new Graph();
    for (let i = 0; i < 50; i++) x.addNode({ name: `n${i}`, op: 'Const', inputs: i ? [`n${i - 1}`] : [], attrs: { note: { s: 'x'.repeat(40) } } });
    return encodeGraph(x) as Uint8Array;
  };

  it('a truncated .pb names the byte offset of the cut node', () => {
    const d = tmp();
    const bytes = good();
    const file = join(d, 'cut.pb');
    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    const e = typedError(() => readGraph(file)) as GraphFormatError;
    expect(e).toBeInstanceOf(GraphFormatError);
    expect(e.code).toBe('E_GRAPH_FORMAT');
    expect(e.position.file).toBe(file);
    // the cut node starts where the 49 nodes before it end
    const def = fromBinary(GraphDefSchema, bytes);
    const prefix = toBinary(GraphDefSchema, create(GraphDefSchema, { node: def.node.slice(0, 49) })).length;
    expect(e.position.offset).toBe(prefix);
    expect(e.message).toBe(`${file}:byte ${prefix}: field 1 claims ${bytes.length - prefix - 2} bytes but only ${bytes.length - 10 - prefix - 2} remain (file truncated or corrupt)`);
  });

  it('a corrupt nested message names the node it is in', () => {
    const bytes = good().slice();
    const def = fromBinary(GraphDefSchema, bytes);
    const at = toBinary(GraphDefSchema, create(GraphDefSchema, { node: def.node.slice(0, 7) })).length;
    // node #8: keep its length, break the first byte inside it (a tag with wire type 7)
    bytes[at + 2] = 0x0f;
    const e = typedError(() => readGraph(bytes, { name: 'corrupt.pb' })) as GraphFormatError;
    expect(e).toBeInstanceOf(GraphFormatError);
    expect(e.position.offset).toBe(at);
    expect(e.message).toMatch(/^corrupt\.pb:byte \d+: binary protobuf: node #8 /);
  });

  it('a PNG given as a graph', () => {
    const d = tmp();
    const file = join(d, 'model.pb');
    writeFileSync(file, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    const e = typedError(() => readGraph(file));
    expect(e).toBeInstanceOf(GraphFormatError);
    expect(e.message).toBe(`${file}:byte 0: this is a PNG image, not a TensorFlow graph`);
  });

  it('random binary noise, an empty file, a missing file, a directory without a model', () => {
    const d = tmp();
    writeFileSync(join(d, 'noise.pb'), Buffer.from([0x0f, 0x01, 0x02, 0x03]));
    expect(typedError(() => readGraph(join(d, 'noise.pb'))).message).toMatch(/noise\.pb:byte 0: invalid wire type 7/);
    writeFileSync(join(d, 'empty.pb'), '');
    expect(typedError(() => readGraph(join(d, 'empty.pb'))).message).toMatch(/empty\.pb:byte 0: file is empty/);
    expect(typedError(() => readGraph(join(d, 'nope.pb')))).toBeInstanceOf(FileError);
    expect(typedError(() => readGraph(d))).toBeInstanceOf(FileError);
  });

  const pbtxtCases: [string, string, string][] = [
    ['missing colon', 'node {\n  name: "a"\n  op: "Const"\n}\nnode {\n  name "b"\n  op: "Relu"\n}\n', '6:8'],
    ['unknown field', 'node {\n  name: "a"\n  opp: "Const"\n}\n', '3:3'],
    ['unterminated string', 'node {\n  name: "a\n  op: "Const"\n}\n', '2:9'],
    ['bad enum', 'node {\n  name: "a"\n  attr { key: "T" value { type: DT_FLOTA } }\n}\n', '3:33'],
    ['extra brace', 'node {\n  name: "a"\n}\n}\n', '4:1'],
    ['unclosed brace', '# header\nnode {\n  name: "a"\n  op: "Const"\n', '2:6'],
    ['bad number', 'versions {\n  producer: 2x7\n}\n', '2:13'],
  ];
  for (const [what, text, pos] of pbtxtCases) {
    it(`pbtxt syntax error (${what}) -> file:line:col`, () => {
      const d = tmp();
      const file = join(d, 'g.pbtxt');
      writeFileSync(file, text);
      const e = typedError(() => readGraph(file)) as GraphFormatError;
      expect(e).toBeInstanceOf(GraphFormatError);
      expect(`${e.position.line}:${e.position.column}`).toBe(pos);
      expect(e.message.startsWith(`${file}:${pos}: text format: `)).toBe(true);
    });
  }

  it('duplicate node names -> GraphValidationError naming node and file', () => {
    const d = tmp();
    const file = join(d, 'dup.pbtxt');
    writeFileSync(file, 'node { name: "a" op: "Const" }\nnode { name: "b" op: "Relu" input: "a" }\nnode { name: "a" op: "Relu" }\n');
    const e = typedError(() => readGraph(file)) as GraphValidationError;
    expect(e).toBeInstanceOf(GraphValidationError);
    expect(e.node).toBe('a');
    expect(e.message).toBe(`node 'a': duplicate node name in ${file}`);
  });

  it('a dangling input -> GraphValidationError naming the node and the input', () => {
    const g = readGraph(new TextEncoder().encode('node { name: "a" op: "Relu" input: "missing:1" }'));
    const e = typedError(() => g.validate()) as GraphValidationError;
    expect(e.node).toBe('a');
    expect(e.message).toBe("node 'a': input 'missing:1' refers to a node that does not exist");
  });

  it('a CLI-like wrapper prints one line (the message), never a stack', () => {
    // The shape every host uses: typed errors -> message + exit code; anything else is a bug.
    const run = (fn: () => void): { out: string; code: number } => {
      try {
        fn();
        return { out: '', code: 0 };
      } catch (e) {
        if (isTfpassError(e)) return { out: `tfpass: ${e.message.split('\n')[0]}`, code: (e as TfpassError).exitCode };
        return { out: `tfpass: internal error: ${(e as Error).stack}`, code: 70 };
      }
    };
    const d = tmp();
    writeFileSync(join(d, 'x.pb'), Buffer.from('89504e470d0a1a0a', 'hex'));
    writeFileSync(join(d, 'y.pbtxt'), 'node { name: "a" opp: "x" }');
    for (const [file, code] of [['x.pb', 4], ['y.pbtxt', 4], ['missing.pb', 3]] as const) {
      const r = run(() => readGraph(join(d, file)));
      expect(r.code).toBe(code);
      expect(r.out.split('\n')).toHaveLength(1);
      expect(r.out).not.toMatch(/\bat .*:\d+:\d+\)?$/m);
      expect(r.out).toContain(join(d, file));
    }
    expect(existsSync(join(d, 'missing.pb'))).toBe(false);
  });
});

describe('binary encoding with a pre-sized writer', () => {
  // A weight-heavy graph (the estimate is close: the view path), one of many tiny nodes with
  // long names (the estimate is low: the writer grows), and one tiny node (the estimate is far
  // too high: the result is copied out). Each must equal protobuf-es's own encoding byte for byte.
  const weights = (seed: number, n: number) => {
    const f = new Float32Array(n);
    let x = seed;
    for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; f[i] = x / 2 ** 32 - 0.5; }
    return new Uint8Array(f.buffer);
  };
  const cases: [string, () => ReturnType<typeof create<typeof GraphDefSchema>>][] = [
    ['weight-heavy', () => create(GraphDefSchema, {
      node: [0, 1, 2].map((i) => ({
        name: `w${i}`, op: 'Const',
        attr: { value: { value: { case: 'tensor', value: { dtype: 1, tensorShape: { dim: [{ size: 300_000n }] }, tensorContent: weights(i + 1, 300_000) } } } },
      })),
      versions: { producer: 27 },
    })],
    ['many small nodes, long names', () => create(GraphDefSchema, {
      node: Array.from({ length: 3000 }, (_, i) => ({ name: `scope/${'x'.repeat(200)}/n${i}`, op: 'Identity', input: i ? [`scope/${'x'.repeat(200)}/n${i - 1}`, '^c', '^d'] : [], device: '/device:CPU:0' })),
    })],
    ['one tiny node', () => create(GraphDefSchema, { node: [{ name: 'n', op: 'NoOp' }] })],
  ];
  for (const [name, make] of cases) {
    it(name, () => {
      const def = make();
      const expected = toBinary(GraphDefSchema, def);
      const g = readGraph(expected);
      const got = encodeGraph(g) as Uint8Array;
      expect(got.length).toBe(expected.length);
      expect(Buffer.compare(got, expected)).toBe(0);
      // protobuf-es's writer is left as it was: a plain toBinary still gives the same bytes.
      expect(Buffer.compare(toBinary(GraphDefSchema, g.toGraphDef()), expected)).toBe(0);
    });
  }
  it('a tensor no pass touched stays a view of the bytes it was read from', () => {
    const bytes = toBinary(GraphDefSchema, cases[0]![1]());
    const g = readGraph(bytes);
    g.node('w1').attrs.setTensor('value', g.node('w1').attrs.getTensor('value'));
    const content = (i: number) => (g.toGraphDef().node[i]!.attr['value']!.value.value as { tensorContent: Uint8Array }).tensorContent;
    expect(content(0).buffer).toBe(bytes.buffer);
    expect(content(2).buffer).toBe(bytes.buffer);
    expect(content(1).buffer).not.toBe(bytes.buffer); // re-set: its own copy
    expect(Buffer.compare(encodeGraph(g) as Uint8Array, bytes)).toBe(0);
  });
  it('a view never carries more than a quarter of slack, and writeModel round-trips it', () => {
    const def = cases[0]![1]();
    const got = encodeGraph(readGraph(toBinary(GraphDefSchema, def))) as Uint8Array;
    expect(got.byteLength).toBeGreaterThanOrEqual(0.75 * got.buffer.byteLength);
    const d = tmp();
    writeGraph(readGraph(got), join(d, 'g.pb'));
    expect(Buffer.compare(readFileSync(join(d, 'g.pb')), got)).toBe(0);
  });
});
