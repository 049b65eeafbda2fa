import { describe, expect, it } from 'vitest';
import {
  EXIT_CODES, GraphFormatError, GraphValidationError, PassError, UnknownPassError, TransformSyntaxError,
  TfpassError, editDistance, isTfpassError, nearest,
} from '@tfpass/core';

describe('error hierarchy', () => {
  it('stable codes with distinct exit codes', () => {
    const exits = Object.values(EXIT_CODES);
    expect(new Set(exits).size).toBe(exits.length);
    expect(EXIT_CODES.E_GRAPH_FORMAT).toBe(4);
  });
  it('messages name file and position, node, pass', () => {
    expect(new GraphFormatError({ file: 'm.pb', offset: 12 }, 'bad').message).toBe('m.pb:byte 12: bad');
    expect(new GraphFormatError({ file: 'm.pbtxt', line: 3, column: 7 }, 'bad').message).toBe('m.pbtxt:3:7: bad');
    expect(new GraphFormatError({}, 'bad').message).toBe('bad');
    const v = new GraphValidationError('conv', 'broken');
    expect([v.message, v.code, v.exitCode, v.name]).toEqual(["node 'conv': broken", 'E_GRAPH_VALIDATION', 5, 'GraphValidationError']);
    expect(new PassError('fold', 'x').message).toBe("pass 'fold': x");
    expect(new UnknownPassError('fold_constans', ['fold_constants']).message).toBe("unknown transform 'fold_constans'; did you mean 'fold_constants'?");
    expect(new TransformSyntaxError(2, 'a b(', 'oops').message).toBe('transform string, column 3: oops\n  a b(\n    ^');
    expect(v).toBeInstanceOf(TfpassError);
    expect(v).toBeInstanceOf(Error);
  });
  it('isTfpassError recognises errors from another copy of core by shape', () => {
    const foreign = Object.assign(new Error('x'), { code: 'E_PASS' });
    expect(isTfpassError(foreign)).toBe(true);
    expect(isTfpassError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isTfpassError('E_PASS')).toBe(false);
  });
  it('nearest names for "did you mean"', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(nearest('fold_batch_norm', ['fold_batch_norms', 'fold_old_batch_norms', 'strip_unused_nodes'])).toEqual(['fold_batch_norms', 'fold_old_batch_norms']);
    expect(nearest('zzz', ['fold_constants'])).toEqual([]);
  });
});
