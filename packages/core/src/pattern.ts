import type { Graph, Node } from './graph.js';
import { parseInput } from './graph.js';
import { TfpassError } from './errors.js';
import { COMMUTATIVE_OPS, IDENTITY_OPS, usedOnlyOnce } from './rewrite/query.js';

/**
 * An op pattern in the spirit of TF's OpTypePattern: `Mul(Conv2D(*, Const), Const)`.
 * `A|B` matches either op, `*` any node, and a pattern without parentheses ignores inputs.
 * Inputs are matched against data inputs in order; a pattern listing inputs requires the
 * node to have at least that many data inputs.
 */
export interface OpPattern {
  op: string;
  inputs?: OpPattern[];
  /** Optional label to fetch the matched node by name from the result. */
  label?: string;
  /** `Op:k`: the consumer must read output k of this node. */
  port?: number;
  /** `Op!`: this node has exactly one reader (one data edge from output 0) and is not protected. */
  once?: boolean;
}

export interface Match {
  node: Node;
  inputs: Match[];
  /** Data-input index of the consumer each entry of `inputs` was matched at (differs from the position when a commutative op matched swapped). */
  operands: number[];
  /** Matched nodes by label. */
  labels: Record<string, Node>;
}

export interface MatchOptions {
  /** Try both orders of the two inputs of commutative ops (Add, AddV2, Mul, …). */
  commutative?: boolean;
  /** A `Const` pattern also matches a Const behind these identity-like ops (default: none; `true` = Identity). */
  through?: ReadonlySet<string> | boolean;
  /** Protected names (`!` refuses them). */
  keep?: ReadonlySet<string>;
}

/**
 * Parse `Mul(Conv2D|DepthwiseConv2dNative(*, Const as w), Const as scale)`.
 * `Op:k` requires the reader to read output k; `Op!` requires the node to be read only there.
 */
export function parsePattern(src: string): OpPattern {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const parse = (): OpPattern => {
    ws();
    const st = i;
    while (i < src.length && /[A-Za-z0-9_|*]/.test(src[i]!)) i++;
    if (st === i) throw new TfpassError('E_USAGE', `pattern: expected an op name at column ${i + 1} of '${src}'`);
    const p: OpPattern = { op: src.slice(st, i) };
    const port = /^:(\d+)/.exec(src.slice(i));
    if (port) {
      p.port = Number(port[1]);
      i += port[0].length;
    }
    if (src[i] === '!') {
      p.once = true;
      i++;
    }
    ws();
    if (src[i] === '(') {
      i++;
      p.inputs = [];
      ws();
      if (src[i] !== ')') {
        while (true) {
          p.inputs.push(parse());
          ws();
          if (src[i] === ',') {
            i++;
            continue;
          }
          if (src[i] === ')') break;
          throw new TfpassError('E_USAGE', `pattern: expected ',' or ')' at column ${i + 1} of '${src}'`);
        }
      }
      i++;
      ws();
    }
    const m = /^as\s+([A-Za-z0-9_]+)/.exec(src.slice(i));
    if (m) {
      p.label = m[1];
      i += m[0].length;
    }
    return p;
  };
  const p = parse();
  ws();
  if (i !== src.length) throw new TfpassError('E_USAGE', `pattern: unexpected '${src.slice(i)}' in '${src}'`);
  return p;
}

function opMatches(p: string, op: string): boolean {
  return p === '*' || p === op || p.split('|').includes(op);
}

/** Match a pattern rooted at `node`; undefined when it does not match. */
export function matchAt(graph: Graph, node: Node, pattern: OpPattern | string, opts: MatchOptions = {}): Match | undefined {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  const through = opts.through === true ? IDENTITY_OPS : opts.through || undefined;
  const rec = (n: Node, q: OpPattern, labels: Record<string, Node>): Match | undefined => {
    if (!opMatches(q.op, n.op)) return undefined;
    if (q.once && !usedOnlyOnce(graph, n, opts.keep)) return undefined;
    if (!q.inputs) {
      if (q.label) labels[q.label] = n;
      return { node: n, inputs: [], operands: [], labels };
    }
    const data = n.dataInputs;
    if (data.length < q.inputs.length) return undefined;
    const orders = opts.commutative && q.inputs.length === 2 && data.length === 2 && COMMUTATIVE_OPS.has(n.op) ? [[0, 1], [1, 0]] : [q.inputs.map((_, k) => k)];
    for (const order of orders) {
      // Each order gets its own label scratch: a failed try must not leave labels behind.
      const scratch = { ...labels };
      const m: Match = { node: n, inputs: [], operands: [], labels: scratch };
      let ok = true;
      for (let k = 0; k < q.inputs.length && ok; k++) {
        const qi = q.inputs[k]!;
        const ref = parseInput(data[order[k]!]!);
        let child = graph.get(ref.node);
        if (qi.port !== undefined && ref.port !== qi.port) ok = false;
        if (child && through && qi.op === 'Const') {
          for (let hops = 0; child && through.has(child.op) && hops < 64; hops++) child = graph.producer(child.dataInputs[0] ?? '');
        }
        const cm = ok && child ? rec(child, qi, scratch) : undefined;
        if (!cm) ok = false;
        else {
          m.inputs.push(cm);
          m.operands.push(order[k]!);
        }
      }
      if (!ok) continue;
      if (q.label) scratch[q.label] = n;
      Object.assign(labels, scratch);
      m.labels = labels;
      return m;
    }
    return undefined;
  };
  return rec(node, p, {});
}

/** Every match in graph order (roots may overlap; callers skip nodes they already rewrote). */
export function findMatches(graph: Graph, pattern: OpPattern | string, opts: MatchOptions = {}): Match[] {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  const out: Match[] = [];
  for (const n of graph.nodes()) {
    const m = matchAt(graph, n, p, opts);
    if (m) out.push(m);
  }
  return out;
}
