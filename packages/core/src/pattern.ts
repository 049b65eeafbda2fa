import type { Graph, Node } from './graph.js';
import { parseInput } from './graph.js';
import { TfpassError } from './errors.js';

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
}

export interface Match {
  node: Node;
  inputs: Match[];
  /** Matched nodes by label. */
  labels: Record<string, Node>;
}

/** Parse `Mul(Conv2D|DepthwiseConv2dNative(*, Const as w), Const as scale)`. */
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
export function matchAt(graph: Graph, node: Node, pattern: OpPattern | string): Match | undefined {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  const labels: Record<string, Node> = {};
  const rec = (n: Node, q: OpPattern): Match | undefined => {
    if (!opMatches(q.op, n.op)) return undefined;
    const m: Match = { node: n, inputs: [], labels };
    if (q.inputs) {
      const data = n.dataInputs;
      if (data.length < q.inputs.length) return undefined;
      for (let k = 0; k < q.inputs.length; k++) {
        const child = graph.get(parseInput(data[k]!).node);
        if (!child) return undefined;
        const cm = rec(child, q.inputs[k]!);
        if (!cm) return undefined;
        m.inputs.push(cm);
      }
    }
    if (q.label) labels[q.label] = n;
    return m;
  };
  return rec(node, p);
}

/** Every match in graph order (roots may overlap; callers skip nodes they already rewrote). */
export function findMatches(graph: Graph, pattern: OpPattern | string): Match[] {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  const out: Match[] = [];
  for (const n of graph.nodes()) {
    const m = matchAt(graph, n, p);
    if (m) out.push(m);
  }
  return out;
}
