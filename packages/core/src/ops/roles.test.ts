import { describe, expect, it } from 'vitest';
import { IDENTITY_OPS } from '../rewrite/query.js';
import {
  constantValue, countFlops, defineOp, getOpDef, isIdentityLike, isVariableOp, opRole, opsWith, registerOpDefs, weightSource,
  type OpDef, type OpRole,
} from '../index.js';
import { G } from './__tests__/build.js';

const def = (op: string): OpDef => getOpDef(op)!;
const sorted = (s: ReadonlySet<string>) => [...s].sort();

describe('op roles in the table', () => {
  it('pins the members of every role', () => {
    const members: Record<OpRole, string[]> = {
      identity: ['CheckNumerics', 'Identity', 'PreventGradient', 'Snapshot', 'StopGradient'],
      identityN: ['IdentityN'],
      enter: ['Enter'],
      default: ['PlaceholderWithDefault'],
      reshape: ['ExpandDims', 'Reshape', 'Squeeze'],
      fakeQuant: ['FakeQuantWithMinMaxArgs', 'FakeQuantWithMinMaxVars', 'FakeQuantWithMinMaxVarsPerChannel'],
      variable: ['VarHandleOp', 'Variable', 'VariableV2'],
      readVariable: ['ReadVariableOp'],
    };
    for (const [role, ops] of Object.entries(members)) expect(sorted(opsWith(role as OpRole)), role).toEqual(ops);
  });

  it('gives the sets the call sites used to spell out', () => {
    // core/ops/infer.ts IDENTITY_LIKE (constantValue, constantSource, weightSource)
    expect(sorted(opsWith('identity'))).toEqual(['CheckNumerics', 'Identity', 'PreventGradient', 'Snapshot', 'StopGradient']);
    // core/ops/flops.ts PASS_THROUGH
    expect(sorted(opsWith('identity', 'identityN', 'enter'))).toEqual(['CheckNumerics', 'Enter', 'Identity', 'IdentityN', 'PreventGradient', 'Snapshot', 'StopGradient']);
    // toco/src/lower.ts IDENTITY
    expect(sorted(opsWith('identity', 'identityN', 'default'))).toEqual(['CheckNumerics', 'Identity', 'IdentityN', 'PlaceholderWithDefault', 'PreventGradient', 'Snapshot', 'StopGradient']);
    // core/ops/infer.ts VARIABLE_OPS
    expect(sorted(opsWith('variable'))).toEqual(['VarHandleOp', 'Variable', 'VariableV2']);
    // rewrite/query.ts IDENTITY_OPS stays Identity only (what TF's folds look through), inside the role
    expect(sorted(IDENTITY_OPS)).toEqual(['Identity']);
    for (const op of IDENTITY_OPS) expect(isIdentityLike(op)).toBe(true);
  });

  it('identity ops take one input of type T and give T', () => {
    for (const op of opsWith('identity')) {
      const d = def(op);
      expect(d.inputs.length, op).toBe(1);
      expect(d.outputs.length, op).toBe(1);
      expect(d.inputs[0]!.typeAttr, op).toBe('T');
      expect(d.outputs[0]!.typeAttr, op).toBe('T');
      expect(d.inputs[0]!.isRef ?? false, op).toBe(false);
      expect(d.isStateful, op).toBe(false);
    }
    const n = def('IdentityN');
    expect([n.inputs[0]!.typeListAttr, n.outputs[0]!.typeListAttr]).toEqual(['T', 'T']);
    expect(def('Enter').inputs.map((a) => a.typeAttr)).toEqual(['T']);
    expect(def('PlaceholderWithDefault').outputs[0]!.typeAttr).toBe(def('PlaceholderWithDefault').inputs[0]!.typeAttr);
  });

  it('reshapes keep the element type; fake quants are float to float; variables are stateful sources', () => {
    for (const op of opsWith('reshape')) {
      expect(def(op).inputs[0]!.typeAttr, op).toBe('T');
      expect(def(op).outputs).toEqual([expect.objectContaining({ typeAttr: 'T' })]);
    }
    for (const op of opsWith('fakeQuant')) {
      expect(def(op).inputs[0]!.type, op).toBe('float32');
      expect(def(op).outputs.map((a) => a.type), op).toEqual(['float32']);
    }
    for (const op of opsWith('variable')) {
      expect(def(op).inputs, op).toEqual([]);
      expect(def(op).isStateful, op).toBe(true);
    }
    expect(def('ReadVariableOp').inputs[0]!.type).toBe('resource');
  });

  it('answers per op, with no role for ordinary and unknown ops', () => {
    expect(isIdentityLike('Snapshot')).toBe(true);
    expect(isIdentityLike('IdentityN')).toBe(false);
    expect(isVariableOp('VariableV2')).toBe(true);
    expect(isVariableOp('ReadVariableOp')).toBe(false);
    expect(opRole('Conv2D')).toBeUndefined();
    expect(opRole('NoSuchOp')).toBeUndefined();
    expect(opRole('FakeQuantWithMinMaxVarsGradient')).toBeUndefined();
  });

  it('sees a plugin op registered with a role', () => {
    registerOpDefs([defineOp('TestOnlyForward', { sig: 'input:T -> output:T', attrs: 'T:type', shape: (c) => [{ shape: c.inputs[0]?.shape ?? null }], role: 'identity' })]);
    const b = new G();
    b.c('w', [1, 2, 3, 4], [2, 2], 'float32');
    b.op('fwd', 'TestOnlyForward', ['w']);
    b.op('plain', 'Relu', ['w']);
    expect(opsWith('identity').has('TestOnlyForward')).toBe(true);
    expect(Array.from(constantValue(b.g, 'fwd')!.toFloat32())).toEqual([1, 2, 3, 4]);
    expect(weightSource(b.g, 'fwd')?.name).toBe('w');
    expect(constantValue(b.g, 'plain')).toBeUndefined();
  });

  it('flops: forwarding ops cost nothing and weights are found through them', () => {
    const b = new G();
    b.ph('x', [1, 4]);
    b.c('w', new Array(12).fill(0.5), [4, 3], 'float32');
    b.op('w/snap', 'Snapshot', ['w']);
    b.op('mm', 'MatMul', ['x', 'w/snap']);
    b.op('out', 'CheckNumerics', ['mm']);
    const r = countFlops(b.g);
    expect(r.nodes.map((n) => n.name)).toEqual(['mm']);
    expect(r.params).toBe(12);
    expect(r.macs).toBe(12);
  });
});
