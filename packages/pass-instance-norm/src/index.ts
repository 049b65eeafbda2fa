import type { Graph, Node, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

/**
 * One recognised instance normalization: y = (x - mean) * rsqrt(var + eps) [* gamma] [+ beta],
 * mean/var over the spatial axes of x with keep_dims.
 */
export interface InstanceNormBlock {
  /** Where the block came from: tf.nn.batch_normalization form (contrib/Addons/stylize) or the seed's division form. */
  form: 'batch_normalization' | 'division';
  /** How the moments were computed. */
  moments: 'mean_squared_difference' | 'sufficient_statistics';
  x: string;
  mean: string;
  variance: string;
  eps: number;
  /** Reduction axes when known (a Const). */
  axes?: number[];
  gamma?: string;
  beta?: string;
  /** The node whose output is the normalized tensor. */
  output: string;
  /** Nodes computing the block (between x/gamma/beta and output). */
  nodes: string[];
  /** Name scope used for the fused ops. */
  scope: string;
}

const ADD = new Set(['Add', 'AddV2']);

function strip0(s: string): string {
  return s.startsWith('^') ? s.slice(1) : s.replace(/:0$/, '');
}

/**
 * Finds instance-norm subgraphs (pure; no changes). `through`: ops looked through to a scalar
 * Const; the pass hands in core's `IDENTITY_OPS` (Identity, what TF's folds look through).
 */
export function findInstanceNorms(g: Graph, through: ReadonlySet<string> = new Set(['Identity'])): InstanceNormBlock[] {
  const prod = (s: string | undefined): Node | undefined => (s === undefined ? undefined : g.get(strip0(s).replace(/:\d+$/, '')));
  const port0 = (s: string) => !/:[1-9]\d*$/.test(s);
  const ins = (n: Node) => n.dataInputs;
  const scalarConst = (s: string): number | undefined => {
    let n = prod(s);
    while (n && through.has(n.op)) n = prod(ins(n)[0]);
    if (!n || n.op !== 'Const') return undefined;
    const t = n.attrs.getTensor('value');
    return t.size === 1 ? t.toNumbers()[0] : undefined;
  };
  const constInts = (s: string): number[] | undefined => {
    const n = prod(s);
    if (!n || n.op !== 'Const') return undefined;
    try {
      return n.attrs.getTensor('value').toNumbers();
    } catch {
      return undefined;
    }
  };
  const spatialAxes = (axes: number[] | undefined) => axes === undefined || (axes.length > 0 && !axes.includes(0) && !axes.includes(-0) && axes.every((a) => a > 0 || a < -1));
  const same = (a: string, b: string) => strip0(a) === strip0(b);
  const other = (n: Node, s: string): string | undefined => {
    const [a, b] = ins(n);
    if (a === undefined || b === undefined) return undefined;
    return same(a, s) ? b : same(b, s) ? a : undefined;
  };

  /** mean = Mean(x, axes) or Mul(Sum(x, axes), divisor); returns x. */
  const matchMean = (s: string): { x: string; axes?: number[]; nodes: Node[] } | undefined => {
    const n = prod(s);
    if (!n || !port0(s)) return undefined;
    if (n.op === 'Mean' && n.attrs.optBool('keep_dims', false)) return { x: ins(n)[0]!, axes: constInts(ins(n)[1]!), nodes: [n] };
    if (n.op === 'Mul') {
      for (const [a, b] of [[0, 1], [1, 0]]) {
        const sum = prod(ins(n)[a!]);
        const div = prod(ins(n)[b!]);
        if (sum?.op === 'Sum' && sum.attrs.optBool('keep_dims', false) && div) return { x: ins(sum)[0]!, axes: constInts(ins(sum)[1]!), nodes: [n, sum] };
      }
    }
    return undefined;
  };

  /** variance of x around `mean` (either moments form); returns x and the mean tensor. */
  const matchVariance = (s: string): { x: string; mean: string; axes?: number[]; moments: InstanceNormBlock['moments']; nodes: Node[] } | undefined => {
    const n = prod(s);
    if (!n || !port0(s)) return undefined;
    if (n.op === 'Mean' && n.attrs.optBool('keep_dims', false)) {
      const sd = prod(ins(n)[0]);
      if (!sd || sd.op !== 'SquaredDifference') return undefined;
      for (const [a, b] of [[0, 1], [1, 0]]) {
        let m = prod(ins(sd)[b!]);
        const nodes = [n, sd];
        if (m?.op === 'StopGradient') {
          nodes.push(m);
          m = prod(ins(m)[0]);
        }
        if (!m) continue;
        const mm = matchMean(m.name);
        if (mm && same(mm.x, ins(sd)[a!]!)) return { x: mm.x, mean: m.name, axes: constInts(ins(n)[1]!) ?? mm.axes, moments: 'mean_squared_difference', nodes: [...nodes, ...mm.nodes] };
      }
      return undefined;
    }
    if (n.op === 'Sub') {
      // E[x²] − E[x]²: Sub(Mul(Sum(Square(x)), divisor), Square(mean))
      const ex2 = prod(ins(n)[0]);
      const sqm = prod(ins(n)[1]);
      if (!ex2 || !sqm || ex2.op !== 'Mul' || sqm.op !== 'Square') return undefined;
      const mm = matchMean(ins(sqm)[0]!);
      if (!mm) return undefined;
      for (const [a] of [[0], [1]]) {
        const sum = prod(ins(ex2)[a!]);
        const sq = sum?.op === 'Sum' ? prod(ins(sum)[0]) : undefined;
        if (sq?.op === 'Square' && same(ins(sq)[0]!, mm.x)) {
          return { x: mm.x, mean: ins(sqm)[0]!, axes: mm.axes, moments: 'sufficient_statistics', nodes: [n, ex2, sqm, sum!, sq, ...mm.nodes] };
        }
      }
    }
    return undefined;
  };

  const consumers = (n: Node) => g.tensorConsumers(n.name).map((c) => c.node);
  const blocks: InstanceNormBlock[] = [];
  const used = new Set<string>();
  for (const add of g.nodes()) {
    if (!ADD.has(add.op) || ins(add).length !== 2) continue;
    let eps: number | undefined;
    let v: ReturnType<typeof matchVariance>;
    for (const [a, b] of [[0, 1], [1, 0]]) {
      const e = scalarConst(ins(add)[b!]!);
      if (e === undefined) continue;
      v = matchVariance(ins(add)[a!]!);
      if (v) {
        eps = e;
        break;
      }
    }
    if (!v || eps === undefined || !spatialAxes(v.axes)) continue;
    const mean = v.mean;
    const common = [...v.nodes, add];
    let block: InstanceNormBlock | undefined;
    const cs = consumers(add);
    const rsqrt = cs.find((c) => c.op === 'Rsqrt');
    const sqrt = cs.find((c) => c.op === 'Sqrt' || (c.op === 'Pow' && scalarConst(ins(c)[1]!) === 0.5));
    if (rsqrt) {
      // tf.nn.batch_normalization: inv = rsqrt [* gamma]; out = x*inv + (beta - mean*inv)
      let inv: Node = rsqrt;
      let gamma: string | undefined;
      for (const c of consumers(rsqrt)) {
        const o = c.op === 'Mul' ? other(c, rsqrt.name) : undefined;
        if (o !== undefined && !same(o, v.x) && !same(o, mean)) {
          gamma = o;
          inv = c;
          break;
        }
      }
      const muls = consumers(inv).filter((c) => c.op === 'Mul');
      const mul1 = muls.find((c) => other(c, inv.name) !== undefined && same(other(c, inv.name)!, v!.x));
      const mul2 = muls.find((c) => other(c, inv.name) !== undefined && same(other(c, inv.name)!, mean));
      if (!mul1 || !mul2) continue;
      const sub = consumers(mul2).find((c) => (c.op === 'Sub' && same(ins(c)[1]!, mul2.name)) || c.op === 'Neg');
      if (!sub) continue;
      const out = consumers(mul1).find((c) => ADD.has(c.op) && other(c, mul1.name) !== undefined && same(other(c, mul1.name)!, sub.name));
      if (!out) continue;
      const beta = sub.op === 'Sub' ? ins(sub)[0] : undefined;
      const nodes = [...common, rsqrt, ...(inv !== rsqrt ? [inv] : []), mul1, mul2, sub, out];
      block = { form: 'batch_normalization', moments: v.moments, x: v.x, mean, variance: v.nodes[0]!.name, eps, axes: v.axes, gamma, beta, output: out.name, nodes: nodes.map((n) => n.name), scope: '' };
    } else if (sqrt) {
      // The seed: normalized = (x - mean) / sqrt(var + eps); [scale * normalized] [+ shift]
      const div = consumers(sqrt).find((c) => c.op === 'RealDiv' && same(ins(c)[1]!, sqrt.name));
      const centered = div ? prod(ins(div)[0]) : undefined;
      if (!div || !centered || centered.op !== 'Sub' || !same(ins(centered)[0]!, v.x) || !same(ins(centered)[1]!, mean)) continue;
      let out: Node = div;
      const nodes: Node[] = [...common, sqrt, div, centered];
      let gamma: string | undefined;
      let beta: string | undefined;
      const c1 = consumers(out);
      if (c1.length === 1 && c1[0]!.op === 'Mul' && other(c1[0]!, out.name) !== undefined) {
        gamma = other(c1[0]!, out.name);
        out = c1[0]!;
        nodes.push(out);
      }
      const c2 = consumers(out);
      if (c2.length === 1 && ADD.has(c2[0]!.op) && other(c2[0]!, out.name) !== undefined) {
        beta = other(c2[0]!, out.name);
        out = c2[0]!;
        nodes.push(out);
      }
      block = { form: 'division', moments: v.moments, x: v.x, mean, variance: v.nodes[0]!.name, eps, axes: v.axes, gamma, beta, output: out.name, nodes: nodes.map((n) => n.name), scope: '' };
    }
    if (!block || used.has(block.output)) continue;
    used.add(block.output);
    const names = block.nodes;
    block.scope = commonScope(names);
    blocks.push(block);
  }
  return blocks;
}

function commonScope(names: string[]): string {
  const parts = names.map((n) => n.split('/').slice(0, -1));
  let k = 0;
  while (parts.every((p) => p[k] !== undefined && p[k] === parts[0]![k])) k++;
  return parts[0]!.slice(0, k).join('/');
}

/**
 * Replace each block with one canonical form NPUs and TOCO-style converters handle (no
 * SquaredDifference, no Pow, no division):
 *   mean = Mean(x, axes) ; c = x - mean ; var = Mean(c*c, axes) ; inv = Rsqrt(var + eps) [* gamma]
 *   y = c * inv [+ beta]
 * Fused ops carry `_tfpass_fused` ('instance_norm', 'output' on y) so quantizers put one
 * fake quant at the output instead of at every intermediate.
 */
export function fuseInstanceNorms(g: Graph, lib: Lib, blocks = findInstanceNorms(g, lib.IDENTITY_OPS)): InstanceNormBlock[] {
  const done: InstanceNormBlock[] = [];
  for (const b of blocks) {
    if (!g.has(b.output)) continue;
    const base = b.scope ? `${b.scope}/fused_instance_norm` : `${b.output}/fused_instance_norm`;
    const s = g.uniqueName(base);
    const T = { T: { type: 'float32' as const } };
    const mark = { _tfpass_fused: { s: 'instance_norm' } };
    const add = (name: string, op: string, inputs: string[], attrs: Record<string, unknown> = {}) =>
      g.addNode({ name: `${s}/${name}`, op, inputs, attrs: { ...mark, ...attrs } as never }).name;
    const axes = b.axes ?? [1, 2];
    const ax = add('axes', 'Const', [], { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.fromValues('int32', [axes.length], axes) } });
    const mean = add('mean', 'Mean', [b.x, ax], { ...T, Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const c = add('centered', 'Sub', [b.x, mean], T);
    const sq = add('square', 'Mul', [c, c], T);
    const v = add('variance', 'Mean', [sq, ax], { ...T, Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const eps = add('epsilon', 'Const', [], { dtype: { type: 'float32' }, value: { tensor: lib.Tensor.fromValues('float32', [], [b.eps]) } });
    const ve = add('add', 'AddV2', [v, eps], T);
    let inv = add('rsqrt', 'Rsqrt', [ve], T);
    if (b.gamma) inv = add('scale', 'Mul', [inv, b.gamma], T);
    let y = add('normalized', 'Mul', [c, inv], T);
    if (b.beta) y = add('output', 'AddV2', [y, b.beta], T);
    g.node(y).setAttr('_tfpass_fused', { s: 'output' });
    g.replaceUses(b.output, y);
    // Drop the old block where nothing else reads it.
    const interior = new Set(b.nodes);
    for (let changed = true; changed; ) {
      changed = false;
      for (const name of interior) {
        if (g.has(name) && g.consumerCount(name) === 0) {
          const n = g.node(name);
          const feeders = n.inputs.map((x) => strip0(x).replace(/:\d+$/, ''));
          g.removeNode(name);
          interior.delete(name);
          // Constants and shape helpers only the block used go too.
          for (const f of feeders) {
            const p = g.get(f);
            if (p && g.consumerCount(f) === 0 && !interior.has(f) && (p.op === 'Const' || f.startsWith(`${b.scope}/`)) && f !== strip0(b.x) && f !== strip0(b.gamma ?? '') && f !== strip0(b.beta ?? '')) interior.add(f);
          }
          changed = true;
        }
      }
    }
    done.push({ ...b, output: y });
  }
  return done;
}

export function makePasses(lib: Lib): PassDefinition[] {
  return [
    {
      name: 'fuse_instance_norm',
      summary: 'rewrite instance-norm subgraphs (contrib, Addons, hand-written, sufficient-statistics) into one canonical form without SquaredDifference',
      run(graph, ctx) {
        const blocks = fuseInstanceNorms(graph, lib);
        ctx.count('fused', blocks.length);
        for (const b of blocks) ctx.note(`${b.scope || b.output}: ${b.form}/${b.moments}${b.gamma ? ' +gamma' : ''}${b.beta ? ' +beta' : ''}`);
      },
    },
  ];
}

export function register(api: PluginApi): void {
  for (const p of makePasses(api.lib)) api.registerPass(p);
}
