// Generated benchmark graphs (built with protobuf-es directly, so a bench does not depend on what it measures).
// `core` is @tfpass/core's dist (index + proto exports).

let seed = 12345;
function fillRandom(buf) {
  // xorshift32 over 32-bit words: cheap, deterministic, incompressible enough.
  const u = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2);
  let x = seed;
  for (let i = 0; i < u.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    u[i] = x >>> 0;
  }
  seed = x;
}

function makeGen(core) {
  const { create, DataType } = core;
  const F = DataType.DT_FLOAT;
  const nodes = [];
  const attrT = () => ({ value: { case: 'type', value: F } });
  const shape = (dims) => ({ dim: dims.map((d) => ({ size: BigInt(d) })) });
  const konst = (name, dims) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const content = new Uint8Array(n * 4);
    fillRandom(content);
    nodes.push(create(core.NodeDefSchema, {
      name, op: 'Const',
      attr: { dtype: attrT(), value: { value: { case: 'tensor', value: { dtype: F, tensorShape: shape(dims), tensorContent: content } } } },
    }));
    return name;
  };
  const scalar = (name, v) => {
    nodes.push(create(core.NodeDefSchema, {
      name, op: 'Const',
      attr: { dtype: attrT(), value: { value: { case: 'tensor', value: { dtype: F, tensorShape: shape([]), floatVal: [v] } } } },
    }));
    return name;
  };
  const op = (name, type, input, extra = {}) => {
    nodes.push(create(core.NodeDefSchema, { name, op: type, input, attr: { T: attrT(), ...extra } }));
    return name;
  };
  const done = () => core.toBinary(core.GraphDefSchema, create(core.GraphDefSchema, { node: nodes, versions: { producer: 27 } }));
  return { nodes, konst, scalar, op, shape, attrT, done, create };
}

export function resnet50(core) {
  const g = makeGen(core);
  const ints = (v) => ({ value: { case: 'list', value: { i: v.map(BigInt) } } });
  const str = (s) => ({ value: { case: 's', value: new TextEncoder().encode(s) } });
  g.nodes.push(g.create(core.NodeDefSchema, { name: 'input', op: 'Placeholder', attr: { dtype: g.attrT(), shape: { value: { case: 'shape', value: g.shape([1, 224, 224, 3]) } } } }));
  let k = 0;
  const conv = (x, kh, cin, cout, stride) => {
    const p = `conv${k++}`;
    const w = g.konst(`${p}/weights`, [kh, kh, cin, cout]);
    const c = g.op(`${p}/Conv2D`, 'Conv2D', [x, w], { strides: ints([1, stride, stride, 1]), padding: str('SAME'), data_format: str('NHWC') });
    const bn = ['gamma', 'beta', 'mean', 'variance'].map((s) => g.konst(`${p}/bn/${s}`, [cout]));
    return g.op(`${p}/bn/FusedBatchNorm`, 'FusedBatchNorm', [c, ...bn], { epsilon: { value: { case: 'f', value: 0.001 } }, is_training: { value: { case: 'b', value: false } } });
  };
  let x = g.op('relu_stem', 'Relu', [conv('input', 7, 3, 64, 2)]);
  let cin = 64;
  [[3, 64], [4, 128], [6, 256], [3, 512]].forEach(([blocks, mid], s) => {
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const out = mid * 4;
      const short = b === 0 ? conv(x, 1, cin, out, stride) : x;
      let y = g.op(`s${s}b${b}/r1`, 'Relu', [conv(x, 1, cin, mid, stride)]);
      y = g.op(`s${s}b${b}/r2`, 'Relu', [conv(y, 3, mid, mid, 1)]);
      y = conv(y, 1, mid, out, 1);
      x = g.op(`s${s}b${b}/out`, 'Relu', [g.op(`s${s}b${b}/add`, 'AddV2', [y, short])]);
      cin = out;
    }
  });
  const pool = g.op('pool', 'Mean', [x, g.konst('pool/axes', [2])]);
  const fc = g.op('fc', 'MatMul', [pool, g.konst('fc/w', [2048, 1000])]);
  g.op('probs', 'Softmax', [g.op('logits', 'BiasAdd', [fc, g.konst('fc/b', [1000])])]);
  return g.done();
}

export function manyNodes(core, target) {
  const g = makeGen(core);
  g.nodes.push(g.create(core.NodeDefSchema, { name: 'x', op: 'Placeholder', attr: { dtype: g.attrT() } }));
  let x = 'x';
  let i = 0;
  // Blocks of 5 nodes: scalar const, Mul, Add (with a control edge), Relu, Identity.
  while (g.nodes.length < target) {
    const p = `block_${i++}`;
    const c = g.scalar(`${p}/scale`, 0.5 + (i % 7));
    const m = g.op(`${p}/mul`, 'Mul', [x, c]);
    const a = g.op(`${p}/add`, 'AddV2', [m, `${c}:0`, ...(i > 1 ? [`^block_${i - 2}/relu`] : [])]);
    const r = g.op(`${p}/relu`, 'Relu', [a]);
    x = g.op(`${p}/out`, 'Identity', [r]);
  }
  return g.done();
}

