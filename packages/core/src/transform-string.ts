import { TransformSyntaxError } from './errors.js';

export interface TransformCall {
  name: string;
  /** Each parameter keeps every value in order (repetition is how TF spells lists). */
  params: Record<string, string[]>;
  /** Column (0-based) where the transform's name starts. */
  position: number;
}

const NAME = /[A-Za-z0-9_]/;
const VALUE = /[A-Za-z0-9_./\-]/;
const SPACE = /[ \t\r\n\v\f]/;

/**
 * Parse TensorFlow's transform_graph `--transforms` syntax, e.g.
 * `strip_unused_nodes(type=float, shape="1,384,384,3") remove_nodes(op=Identity, op=CheckNumerics)`.
 * Accepts exactly what TF accepts, except that where TF silently drops an unfinished
 * transform (unclosed parenthesis) we report the position. Quoted values keep backslashes,
 * as TF does. A backslash-newline (shell line continuation inside quotes) counts as space.
 */
export function parseTransforms(src: string): TransformCall[] {
  const s = src.replace(/\\\r?\n/g, (m) => ' '.repeat(m.length));
  const out: TransformCall[] = [];
  let i = 0;
  const fail = (pos: number, msg: string): never => {
    throw new TransformSyntaxError(pos, src.replace(/\n/g, ' '), msg);
  };
  const rest = (p: number) => JSON.stringify(s.slice(p, p + 20));
  while (true) {
    while (i < s.length && SPACE.test(s[i]!)) i++;
    if (i >= s.length) break;
    const start = i;
    while (i < s.length && NAME.test(s[i]!)) i++;
    if (i === start) fail(i, `looking for a transform name, found ${rest(i)}`);
    const call: TransformCall = { name: s.slice(start, i), params: {}, position: start };
    if (s[i] !== '(') {
      out.push(call);
      continue;
    }
    const open = i;
    i++;
    // PARAM_NAME / PARAM_VALUE
    while (true) {
      if (i >= s.length) fail(open, `unclosed '(' of transform '${call.name}' (TensorFlow silently drops this transform)`);
      if (s[i] === ')') {
        i++;
        break;
      }
      if (s[i] === ',') i++;
      while (i < s.length && SPACE.test(s[i]!)) i++;
      const ps = i;
      while (i < s.length && NAME.test(s[i]!)) i++;
      if (i === ps) fail(i, i >= s.length ? `unclosed '(' of transform '${call.name}'` : `looking for a parameter name, found ${rest(i)}`);
      const pname = s.slice(ps, i);
      if (s[i] !== '=') fail(i, `expected '=' right after parameter '${pname}', found ${rest(i)}`);
      i++;
      let value: string;
      if (s[i] === '"') {
        const q = i;
        i++;
        const vs = i;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\') i++;
          i++;
        }
        if (i >= s.length) fail(q, `unterminated quoted value of parameter '${pname}'`);
        value = s.slice(vs, i);
        i++;
      } else {
        const vs = i;
        while (i < s.length && VALUE.test(s[i]!)) i++;
        if (i === vs) fail(i, `looking for a value of parameter '${pname}', found ${rest(i)} (quote values containing , : = or spaces)`);
        value = s.slice(vs, i);
      }
      // TF silently eats one stray `"` and then one stray `'` after any value.
      if (s[i] === '"') i++;
      if (s[i] === "'") i++;
      (call.params[pname] ??= []).push(value);
    }
    out.push(call);
  }
  return out;
}

/** Print calls back in TF syntax (values quoted when needed). */
export function formatTransforms(calls: { name: string; params?: Record<string, string[]> }[]): string {
  return calls
    .map((c) => {
      // Quoted values are taken verbatim by the parser (backslashes kept), so print them verbatim.
      const ps = Object.entries(c.params ?? {}).flatMap(([k, vs]) => vs.map((v) => `${k}=${/^[A-Za-z0-9_./\-]+$/.test(v) ? v : `"${v}"`}`));
      return ps.length ? `${c.name}(${ps.join(', ')})` : c.name;
    })
    .join(' ');
}
