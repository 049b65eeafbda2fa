import type { Graph, Node, PassContext, PassDefinition, PluginApi, Rule, Tensor } from '@tfpass/core';
type Lib = PluginApi['lib'];

/** TF's fused kernels assume NHWC and no dilation; anything else is left alone. */
function plainConv(n: Node): boolean {
  return n.attrs.optString('data_format', 'NHWC') === 'NHWC' && n.attrs.optInts('dilations', [1, 1, 1, 1]).every((d) => d === 1);
}

function fusedFrom(conv: Node, op: string, inputs: string[], extra: (n: Node) => void): void {
  const controls = conv.controlInputs.map((c) => '^' + c);
  const keepAttrs = { T: conv.attrs.getJson('T'), padding: conv.attrs.getJson('padding'), strides: conv.attrs.getJson('strides') };
  for (const k of conv.attrs.keys()) conv.attrs.delete(k);
  for (const [k, v] of Object.entries(keepAttrs)) if (v) conv.attrs.setJson(k, v);
  conv.op = op;
  extra(conv);
  conv.setInputs([...inputs, ...controls]);
}

function resizeOk(r: Node): boolean {
  return !r.attrs.optBool('half_pixel_centers', false);
}

type FuseKind = 'pad' | 'resize' | 'resize_pad';

export function fuseConvs(lib: Lib, g: Graph, ctx: PassContext, kind: FuseKind): void {
  const pattern = { pad: 'Conv2D(MirrorPad! as pad, *)', resize: 'Conv2D(ResizeBilinear! as resize, *)', resize_pad: 'Conv2D(MirrorPad!(ResizeBilinear! as resize, *) as pad, *)' }[kind];
  const rule: Rule = {
    name: 'fused',
    pattern,
    match: (conv, _cx, m) => (plainConv(conv) && (!m!.labels.resize || resizeOk(m!.labels.resize)) ? m : undefined),
    rewrite(m, b) {
      const conv = m.node;
      const { pad, resize } = m.labels;
      const w = conv.dataInputs[1]!;
      if (kind === 'pad') {
        const [x, paddings] = pad!.dataInputs as [string, string];
        fusedFrom(conv, 'FusedPadConv2D', [x, paddings, w], (n) => n.attrs.copyFrom(pad!.attrs, 'mode'));
        g.removeNode(pad!.name);
        return;
      }
      const [x, size] = resize!.dataInputs as [string, string];
      const paddings = pad ? pad.dataInputs[1]! : b.const(lib.Tensor.zeros('int32', [4, 2]), { name: `${conv.name}_dummy_paddings` }).name;
      fusedFrom(conv, 'FusedResizeAndPadConv2D', [x, size, paddings, w], (n) => {
        n.attrs.setBool('resize_align_corners', resize!.attrs.optBool('align_corners', false));
        if (pad) n.attrs.copyFrom(pad.attrs, 'mode');
        else n.attrs.setString('mode', 'REFLECT');
      });
      if (pad) g.removeNode(pad.name);
      g.removeNode(resize!.name);
    },
  };
  lib.applyRules(g, [rule], { keep: lib.protectedNames(ctx), report: ctx });
}

/** Insert zeros between filter taps: [fh,fw,ci,co] -> [(fh-1)bh+1, (fw-1)bw+1, ci, co]. */
function upsampleFilter(lib: Lib, f: Tensor, bh: number, bw: number): Tensor {
  const [fh, fw, ci, co] = f.shape as [number, number, number, number];
  const nh = (fh - 1) * bh + 1;
  const nw = (fw - 1) * bw + 1;
  const src = f.toFloat32();
  const out = new Float32Array(nh * nw * ci * co);
  const inner = ci * co;
  for (let h = 0; h < fh; h++)
    for (let w = 0; w < fw; w++) {
      const s = (h * fw + w) * inner;
      const d = (h * bh * nw + w * bw) * inner;
      out.set(src.subarray(s, s + inner), d);
    }
  return new lib.Tensor('float32', [nh, nw, ci, co], out);
}

export function flattenAtrous(lib: Lib, g: Graph, ctx: PassContext): void {
  const rule: Rule<{ b2s: Node; conv: Node; s2b: Node; filter: Tensor; block: [number, number] }> = {
    name: 'flattened',
    pattern: 'BatchToSpaceND(Conv2D|DepthwiseConv2dNative!(SpaceToBatchND!(*, *, *) as s2b, *) as conv, *, *)',
    match(b2s, _cx, m) {
      const { conv, s2b } = m!.labels as { conv: Node; s2b: Node };
      if (conv.attrs.optString('data_format', 'NHWC') !== 'NHWC') return undefined;
      const block = lib.constTensor(g, s2b.dataInputs[1]!);
      const filter = lib.constTensor(g, conv.dataInputs[1]!);
      if (!block || block.size !== 2 || !filter || filter.dtype !== 'float32' || filter.rank !== 4) return undefined;
      return { b2s, conv, s2b, filter, block: block.toNumbers() as [number, number] };
    },
    rewrite({ b2s, conv, s2b, filter, block }, b) {
      const nf = upsampleFilter(lib, filter, block[0], block[1]);
      const fNode = lib.constProducer(g, conv.dataInputs[1]!)!;
      const fIn = conv.dataInputs[1]!;
      let fName: string;
      if (g.producer(fIn) === fNode && g.consumerCount(fNode.name) === 1) {
        fNode.attrs.setTensor('value', nf);
        fName = fIn;
      } else fName = b.const(nf, { name: `${fNode.name}_flattened`, device: conv.device }).name;
      const x = s2b.dataInputs[0]!;
      const old = [...b2s.dataInputs.slice(1), ...s2b.dataInputs.slice(1), fIn];
      const controls = lib.controlEdges(b2s, conv, s2b);
      g.removeNode(s2b.name);
      b.absorb(b2s, conv, [x, fName, ...controls], { device: true });
      // The dilated conv keeps only what a plain conv has; its padding becomes SAME.
      for (const k of b2s.attrs.keys()) if (!['T', 'strides', 'data_format', 'use_cudnn_on_gpu'].includes(k)) b2s.attrs.delete(k);
      b2s.attrs.setString('padding', 'SAME');
      for (const s of old) if (s !== fName) lib.removeIfDead(g, s);
    },
  };
  lib.applyRules(g, [rule], { keep: lib.protectedNames(ctx), report: ctx });
}

const FLT_MIN = 1.1754943508222875e-38;
const FLT_MAX = 3.4028234663852886e38;

/** TF's min/max scan: max starts at FLT_MIN (the smallest positive normal), not -FLT_MAX. */
function minMax(v: Float32Array): [number, number] {
  let mn = FLT_MAX;
  let mx = FLT_MIN;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x < mn) mn = x;
    if (x > mx) mx = x;
  }
  return [Math.fround(mn), Math.fround(mx)];
}

/** C's round(): halves away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** TF's FloatToQuantized<quint8> (range scaled by 256/255, computed in double). */
export function quantizeToQuint8(v: Float32Array, min: number, max: number): Uint8Array {
  const out = new Uint8Array(v.length);
  if (min === max) return out;
  const range = (max - min) * (256 / 255);
  const scale = 256 / range;
  const zero = roundAway(min * scale);
  for (let i = 0; i < v.length; i++) {
    const q = roundAway(v[i]! * scale) - zero;
    out[i] = q < 0 ? 0 : q > 255 ? 255 : q;
  }
  return out;
}

function floatConsts(g: Graph): Node[] {
  return g.nodes().filter((n) => n.op === 'Const' && n.attrs.optType('dtype') === 'float32' && n.attrs.has('value'));
}

export function quantizeWeights(lib: Lib, g: Graph, ctx: PassContext<{ minimum_size: number }>): void {
  const minSize = ctx.params.minimum_size;
  for (const n of floatConsts(g)) {
    const t = n.attrs.getTensor('value');
    if (t.dtype !== 'float32' || t.size < minSize) continue;
    const v = t.toFloat32();
    let [mn, mx] = minMax(v);
    mn = Math.min(mn, 0);
    mx = Math.max(mx, 0);
    const q = quantizeToQuint8(v, mn, mx);
    const mk = (suffix: string, tt: Tensor) => g.addNode({ name: g.uniqueName(`${n.name}_quantized_${suffix}`), op: 'Const', device: n.device, attrs: { dtype: { type: tt.dtype }, value: { tensor: tt } } }).name;
    const qc = mk('const', new lib.Tensor('quint8', [...t.shape], q));
    const qmin = mk('min', lib.Tensor.scalar('float32', mn));
    const qmax = mk('max', lib.Tensor.scalar('float32', mx));
    const controls = n.controlInputs.map((c) => '^' + c);
    for (const k of n.attrs.keys()) n.attrs.delete(k);
    n.op = 'Dequantize';
    n.attrs.setType('T', 'quint8');
    n.attrs.setString('mode', 'MIN_FIRST');
    n.setInputs([qc, qmin, qmax, ...controls]);
    ctx.count('quantized');
  }
}

export function roundWeights(lib: Lib, g: Graph, ctx: PassContext<{ num_steps: number }>): void {
  const steps = ctx.params.num_steps;
  if (!(steps > 0)) throw new lib.ParamError('round_weights', 'num_steps', `must be positive, got ${steps}`);
  const f = Math.fround;
  for (const n of floatConsts(g)) {
    const t = n.attrs.getTensor('value');
    if (t.dtype !== 'float32' || t.size < 16) continue;
    const v = t.toFloat32();
    let [mn, mx] = minMax(v);
    if (mn === mx) {
      if (Math.abs(mn) < 1e-6) mx = f(mn + 1);
      else if (mn > 0) mx = f(2 * mn);
      else mn = f(2 * mx);
    }
    const bw = f(f(mx - mn) / steps);
    const out = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = f(mn + f(bw * (Math.floor(f(f(v[i]! - mn) / bw)) + 0.5)));
    n.attrs.setTensor('value', new lib.Tensor('float32', [...t.shape], out));
    ctx.count('rounded');
  }
}

export function convPasses(lib: Lib): PassDefinition[] {
  const fuse = (name: string, kind: FuseKind, summary: string): PassDefinition => ({ name, summary, run: (g, ctx) => fuseConvs(lib, g, ctx, kind) });
  return [
    fuse('fuse_pad_and_conv', 'pad', 'Conv2D(MirrorPad(x)) -> FusedPadConv2D'),
    fuse('fuse_resize_and_conv', 'resize', 'Conv2D(ResizeBilinear(x)) -> FusedResizeAndPadConv2D'),
    fuse('fuse_resize_pad_and_conv', 'resize_pad', 'Conv2D(MirrorPad(ResizeBilinear(x))) -> FusedResizeAndPadConv2D'),
    {
      name: 'flatten_atrous_conv',
      summary: 'SpaceToBatchND -> conv -> BatchToSpaceND becomes one conv with a dilated (zero-inserted) filter',
      run: (g, ctx) => flattenAtrous(lib, g, ctx),
    },
    {
      name: 'quantize_weights',
      summary: 'Store large float Consts as quint8 + Dequantize (MIN_FIRST)',
      params: { minimum_size: { type: 'int', default: 1024, description: 'smallest element count to quantize' } },
      example: 'quantize_weights(minimum_size=1024)',
      run: (g, ctx) => quantizeWeights(lib, g, ctx as PassContext<{ minimum_size: number }>),
    },
    {
      name: 'round_weights',
      summary: 'Round float Consts (>= 16 elements) to num_steps levels, keeping float storage',
      params: { num_steps: { type: 'int', default: 256, description: 'number of levels' } },
      // Re-rounding shifts the grid (min/max of rounded values differ).
      idempotent: false,
      example: 'round_weights(num_steps=256)',
      run: (g, ctx) => roundWeights(lib, g, ctx as PassContext<{ num_steps: number }>),
    },
  ];
}
