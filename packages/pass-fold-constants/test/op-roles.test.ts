import { describe, expect, test } from 'vitest';
import { opsWith } from '@tfpass/core';
import { IDENTITY_LIKE, LAYOUT_OPS, RESHAPES } from '../src/exact.js';

// exact.ts cannot read the op table at load time (no api yet): its copies must equal the table.
describe('exact folding follows the op table roles', () => {
  test('identity ops are the identity role without the float-only CheckNumerics', () => {
    const role = [...opsWith('identity')].filter((op) => op !== 'CheckNumerics').sort();
    expect([...IDENTITY_LIKE].sort()).toEqual(role);
    expect(role).toEqual(['Identity', 'PreventGradient', 'Snapshot', 'StopGradient']);
  });

  test('reshapes are the reshape role, and both are layout ops', () => {
    expect([...RESHAPES].sort()).toEqual([...opsWith('reshape')].sort());
    for (const op of [...IDENTITY_LIKE, ...RESHAPES]) expect(LAYOUT_OPS.has(op), op).toBe(true);
    expect(LAYOUT_OPS.has('CheckNumerics')).toBe(false);
  });
});
