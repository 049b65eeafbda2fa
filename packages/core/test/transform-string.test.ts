import { describe, expect, it } from 'vitest';
import { parseTransforms, formatTransforms, TransformSyntaxError } from '@tfpass/core';

const calls = (s: string) => parseTransforms(s).map((c) => [c.name, c.params]);

function syntaxError(src: string): TransformSyntaxError {
  try {
    parseTransforms(src);
  } catch (e) {
    expect(e).toBeInstanceOf(TransformSyntaxError);
    return e as TransformSyntaxError;
  }
  throw new Error(`no error for ${JSON.stringify(src)}`);
}

describe('transform string: the forms of spec §1.2', () => {
  it('TF test-pinned examples', () => {
    expect(calls('foo')).toEqual([['foo', {}]]);
    expect(calls('foo bar')).toEqual([['foo', {}], ['bar', {}]]);
    expect(calls('foo() bar()')).toEqual([['foo', {}], ['bar', {}]]);
    expect(calls('foo(bob_something=sue)')).toEqual([['foo', { bob_something: ['sue'] }]]);
    expect(calls('bar(a=1, b=2, a=3)')).toEqual([['bar', { a: ['1', '3'], b: ['2'] }]]);
    expect(calls('bar(a="1", b="1,2,3", a=3)')).toEqual([['bar', { a: ['1', '3'], b: ['1,2,3'] }]]);
    // backslash + newline: an empty list (TF's #7150 regression; here it is whitespace)
    expect(calls('\\\n')).toEqual([]);
  });

  it('whitespace of every isspace kind separates transforms; empty input is no transforms', () => {
    expect(calls(' \t\r\n\v\fa\tb\nc ')).toEqual([['a', {}], ['b', {}], ['c', {}]]);
    expect(calls('')).toEqual([]);
    expect(calls('   ')).toEqual([]);
  });

  it('after ")" a transform may follow with no space', () => {
    expect(calls('a(x=1)b(y=2)c')).toEqual([['a', { x: ['1'] }], ['b', { y: ['2'] }], ['c', {}]]);
  });

  it('commas between params are optional; a leading comma is accepted', () => {
    expect(calls('f(a=1 b=2)')).toEqual([['f', { a: ['1'], b: ['2'] }]]);
    expect(calls('f(a=1,b=2)')).toEqual([['f', { a: ['1'], b: ['2'] }]]);
    expect(calls('f(,a=1)')).toEqual([['f', { a: ['1'] }]]);
    expect(calls('f(a=1,\n  b=2)')).toEqual([['f', { a: ['1'], b: ['2'] }]]);
  });

  it('unquoted values: letters, digits, _ . / -', () => {
    expect(calls('f(x=-1.5e-3, p=/tmp/a_b.pb, t=float)')).toEqual([['f', { x: ['-1.5e-3'], p: ['/tmp/a_b.pb'], t: ['float'] }]]);
  });

  it('quoted values keep backslashes, may be empty or hold any character', () => {
    expect(calls('f(d="/device:CPU:0")')).toEqual([['f', { d: ['/device:CPU:0'] }]]);
    expect(calls('f(s="")')).toEqual([['f', { s: [''] }]]);
    expect(calls('f(s="a\\"b")')).toEqual([['f', { s: ['a\\"b'] }]]);
    expect(calls('f(s="x y(z)=1")')).toEqual([['f', { s: ['x y(z)=1'] }]]);
  });

  it("a stray \" and then ' after a value are eaten silently, as TF does", () => {
    expect(calls(`f(a=1", b=2')`)).toEqual([['f', { a: ['1'], b: ['2'] }]]);
    expect(calls(`f(a=1"', b="2"')`)).toEqual([['f', { a: ['1'], b: ['2'] }]]);
  });

  it('the seed pipeline, verbatim', () => {
    const seed = ['strip_unused_nodes', 'strip_unused_nodes(type=float,shape="1,384,384,3")', 'remove_nodes(op=Identity,op=CheckNumerics)', 'fold_constants', 'fold_batch_norms', 'fold_old_batch_norms'];
    expect(calls(seed.join(' '))).toEqual([
      ['strip_unused_nodes', {}],
      ['strip_unused_nodes', { type: ['float'], shape: ['1,384,384,3'] }],
      ['remove_nodes', { op: ['Identity', 'CheckNumerics'] }],
      ['fold_constants', {}],
      ['fold_batch_norms', {}],
      ['fold_old_batch_norms', {}],
    ]);
  });

  it('records where each transform starts', () => {
    expect(parseTransforms('a  b(x=1) c').map((c) => c.position)).toEqual([0, 3, 10]);
  });

  it('README style: backslash-newline continuation lines', () => {
    const src = "strip_unused_nodes(type=float, shape=\"1,299,299,3\") \\\n  fold_constants(ignore_errors=true) \\\n  fold_batch_norms";
    expect(calls(src).map((c) => c[0])).toEqual(['strip_unused_nodes', 'fold_constants', 'fold_batch_norms']);
  });

  it('formatTransforms prints back what parses to the same calls', () => {
    const src = 'a(x=1, s="1,2", s=y) b c(d="/device:CPU:0", e="")';
    expect(calls(formatTransforms(parseTransforms(src)))).toEqual(calls(src));
  });
});

describe('transform string: malformed input names the position', () => {
  const cases: [string, number, RegExp][] = [
    ['a,b', 1, /transform name/],
    ['a b(x=1', 3, /unclosed '\(' of transform 'b'.*silently drops/],
    ['a(', 1, /unclosed '\('/],
    ['f(a = 1)', 3, /expected '=' right after parameter 'a'/],
    ['f(a=1 , b=2)', 6, /parameter name/],
    ['f(a=1 )', 6, /parameter name/],
    ['f(a=1, )', 7, /parameter name/],
    ['f(a=)', 4, /value of parameter 'a'/],
    ['f(a=1:2)', 5, /parameter name/],
    ['f(a="1,2)', 4, /unterminated quoted value of parameter 'a'/],
    ['f(=1)', 2, /parameter name/],
    ['(x=1)', 0, /transform name/],
    ['f(a=1) , g', 7, /transform name/],
    ['f(a=x+y)', 5, /parameter name/],
  ];
  for (const [src, col, re] of cases) {
    it(JSON.stringify(src), () => {
      const e = syntaxError(src);
      expect(e.position).toBe(col);
      expect(e.code).toBe('E_TRANSFORM_SYNTAX');
      expect(e.message).toMatch(re);
      expect(e.message).toContain(`column ${col + 1}`);
      // the caret sits under the offending column
      const lines = e.message.split('\n');
      expect(lines[2]!.indexOf('^') - 2).toBe(col);
    });
  }
});

describe('formatTransforms', () => {
  it('prints quoted values verbatim, so escapes kept by the parser survive', () => {
    const src = 'f(s="a\\"b", t="x\\\\y", d="/device:CPU:0")';
    const once = parseTransforms(src);
    expect(once[0]!.params.s).toEqual(['a\\"b']);
    expect(formatTransforms(once)).toBe(src);
    expect(parseTransforms(formatTransforms(once))).toEqual(once);
  });
});
