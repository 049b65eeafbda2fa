import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import type { DType, Graph, Tensor } from '@tfpass/core';
import { createExecutor } from '@tfpass/runtime';
import { fold, lib } from './helpers.js';

// Integer folding against TF's kernels: wrap at the dtype's width, Div/TruncateDiv/Mod/TruncateMod
// truncate toward zero, FloorDiv/FloorMod floor; TF's run-time failures are left unfolded.

const ex = createExecutor();

function konst(g: Graph, name: string, dtype: DType, shape: number[], values: (number | bigint)[]): string {
  const t = lib.Tensor.zeros(dtype, shape);
  values.forEach((v, i) => ((t.data as unknown as (number | bigint)[])[i] = dtype === 'int64' || dtype === 'uint64' ? BigInt(v) : Number(v)));
  g.addNode({ name, op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: t } } });
  return name;
}

/** Fold `op(a, b)` (output `r`) and return the folded value, or the notes when it stayed unfolded. */
async function fold2(op: string, dtype: DType, a: (number | bigint)[], b: (number | bigint)[] | undefined, shapes: [number[], number[]] = [[a.length], [b?.length ?? 0]], attrs: Record<string, lib.AttrJson> = {}) {
  const g = new lib.Graph();
  const ins = [konst(g, 'a', dtype, shapes[0], a)];
  if (b) ins.push(konst(g, 'b', dtype, shapes[1], b));
  g.addNode({ name: 'r', op, inputs: ins, attrs: { T: { type: dtype }, ...attrs } });
  const res = await fold(g, 'fold_constants', ex, { outputs: ['r'] });
  const notes = res.flatMap((s) => s.messages);
  const n = g.node('r');
  return n.op === 'Const' ? { value: n.attrs.getTensor('value'), notes } : { value: undefined, notes };
}

const vals = (t: Tensor | undefined) => (t ? Array.from(t.data as ArrayLike<number | bigint>, (x) => BigInt(x)) : undefined);

describe('integer folding (issue 21 cases)', () => {
  test('int64 adds and multiplies without 32-bit wrap', async () => {
    expect(vals((await fold2('AddV2', 'int64', [3000000000], [1])).value)).toEqual([3000000001n]);
    expect(vals((await fold2('Mul', 'int64', [2 ** 32], [3])).value)).toEqual([12884901888n]);
    // int64 wraps at 64 bits, as TF's kernel does.
    expect(vals((await fold2('AddV2', 'int64', [2n ** 63n - 1n], [1])).value)).toEqual([-(2n ** 63n)]);
  });

  test('Range over int64 keeps values above 2^32', async () => {
    const g = new lib.Graph();
    konst(g, 's', 'int64', [], [2 ** 33]);
    konst(g, 'l', 'int64', [], [2 ** 33 + 3]);
    konst(g, 'd', 'int64', [], [1]);
    g.addNode({ name: 'r', op: 'Range', inputs: ['s', 'l', 'd'], attrs: { Tidx: { type: 'int64' } } });
    await fold(g, 'fold_constants', ex, { outputs: ['r'] });
    expect(g.node('r').op).toBe('Const');
    expect(vals(g.node('r').attrs.getTensor('value'))).toEqual([2n ** 33n, 2n ** 33n + 1n, 2n ** 33n + 2n]);
  });

  test('Div and Mod truncate, FloorDiv and FloorMod floor', async () => {
    expect(vals((await fold2('Div', 'int32', [-7, 7, -7], [2, -2, -2])).value)).toEqual([-3n, -3n, 3n]);
    expect(vals((await fold2('TruncateDiv', 'int32', [-7], [2])).value)).toEqual([-3n]);
    expect(vals((await fold2('FloorDiv', 'int32', [-7, 7], [2, -2])).value)).toEqual([-4n, -4n]);
    expect(vals((await fold2('Mod', 'int32', [-7, 7], [3, -3])).value)).toEqual([-1n, 1n]);
    expect(vals((await fold2('TruncateMod', 'int64', [-7], [3])).value)).toEqual([-1n]);
    expect(vals((await fold2('FloorMod', 'int32', [-7, 7], [3, -3])).value)).toEqual([2n, -2n]);
  });

  test('int32 and int8 wrap where TF wraps; products stay exact beyond 2^53', async () => {
    expect(vals((await fold2('AddV2', 'int32', [2147483647], [1])).value)).toEqual([-2147483648n]);
    expect(vals((await fold2('Mul', 'int32', [123456789], [987654321])).value)).toEqual([BigInt.asIntN(32, 123456789n * 987654321n)]);
    expect(vals((await fold2('AddV2', 'int8', [100], [100])).value)).toEqual([-56n]);
    expect(vals((await fold2('Sub', 'uint8', [1], [2])).value)).toEqual([255n]);
  });

  test('what TF fails on (or leaves undefined) is left unfolded with a note', async () => {
    for (const [op, dtype, a, b, why] of [
      ['Div', 'int32', [1], [0], /division by zero/],
      ['FloorMod', 'int64', [1], [0], /division by zero/],
      ['Div', 'int32', [-(2 ** 31)], [-1], /overflows/],
      ['Pow', 'int32', [2], [-1], /negative integer powers/],
    ] as const) {
      const r = await fold2(op, dtype, [...a], [...b]);
      expect(r.value, `${op}`).toBeUndefined();
      expect(r.notes.join('\n')).toMatch(why);
    }
  });

  test('an int64 op the folder cannot compute exactly stays unfolded, named in a note', async () => {
    const r = await fold2('Cumsum', 'int64', [2 ** 40, 1], undefined, [[2], [0]]);
    expect(r.value).toBeUndefined();
    expect(r.notes.join('\n')).toMatch(/r \(Cumsum\) not folded/);
  });

  test('int64 -> float32 Cast rounds once (no double rounding through float64)', async () => {
    const g = new lib.Graph();
    konst(g, 'a', 'int64', [1], [2n ** 60n + 2n ** 36n + 1n]);
    g.addNode({ name: 'r', op: 'Cast', inputs: ['a'], attrs: { SrcT: { type: 'int64' }, DstT: { type: 'float32' } } });
    await fold(g, 'fold_constants', ex, { outputs: ['r'] });
    // Nearest float32 is 2^60 + 2^37; rounding first to float64 (2^60 + 2^36) would give 2^60.
    expect(Array.from(g.node('r').attrs.getTensor('value').toFloat32())).toEqual([2 ** 60 + 2 ** 37]);
  });

  test('shape math over int32 layout ops still folds end to end (StridedSlice on the runtime, Prod exactly)', async () => {
    const g = new lib.Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    konst(g, 'dims', 'int32', [3], [2, 3, 4]);
    konst(g, 'b', 'int32', [1], [1]);
    konst(g, 'e', 'int32', [1], [3]);
    konst(g, 's', 'int32', [1], [1]);
    g.addNode({ name: 'tail', op: 'StridedSlice', inputs: ['dims', 'b', 'e', 's'], attrs: { T: { type: 'int32' }, Index: { type: 'int32' }, begin_mask: { i: 0 }, end_mask: { i: 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: 0 } } });
    konst(g, 'ax', 'int32', [], [0]);
    g.addNode({ name: 'prod', op: 'Prod', inputs: ['tail', 'ax'], attrs: { T: { type: 'int32' }, Tidx: { type: 'int32' }, keep_dims: { b: false } } });
    g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'prod'], attrs: { T: { type: 'float32' } } });
    await fold(g, 'fold_constants', ex, { inputs: ['x'], outputs: ['y'] });
    expect(g.node('prod').op).toBe('Const');
    expect(vals(g.node('prod').attrs.getTensor('value'))).toEqual([12n]);
  });
});

// ---- property test against an independent reference ------------------------------------------

const INT_TYPES: [DType, number, boolean][] = [
  ['int8', 8, true], ['int16', 16, true], ['int32', 32, true], ['int64', 64, true],
  ['uint8', 8, false], ['uint16', 16, false], ['uint32', 32, false], ['uint64', 64, false],
];

/** Two's-complement reduction written from the definition (not BigInt.asIntN). */
function refWrap(x: bigint, bits: number, signed: boolean): bigint {
  const m = 1n << BigInt(bits);
  let r = ((x % m) + m) % m;
  if (signed && r >= m / 2n) r -= m;
  return r;
}

/** Quotients from their defining properties: a = q*b + r with |r| < |b| and r's sign rule. */
function refDivMod(a: bigint, b: bigint, floor: boolean): [bigint, bigint] {
  const abs = (x: bigint) => (x < 0n ? -x : x);
  const sign = (x: bigint) => (x < 0n ? -1n : x > 0n ? 1n : 0n);
  const q0 = sign(a) * sign(b) * (abs(a) / abs(b));
  for (const q of [q0 - 1n, q0, q0 + 1n]) {
    const r = a - q * b;
    if (abs(r) >= abs(b)) continue;
    if (floor ? r === 0n || sign(r) === sign(b) : r === 0n || sign(r) === sign(a)) return [q, r];
  }
  throw new Error('no quotient');
}

type Ref = bigint | 'fails';
const OPS: Record<string, (a: bigint, b: bigint, bits: number, signed: boolean) => Ref> = {
  AddV2: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Maximum: (a, b) => (a > b ? a : b),
  Minimum: (a, b) => (a < b ? a : b),
  Div: (a, b, bits, s) => (b === 0n || (s && b === -1n && a === -(1n << BigInt(bits - 1))) ? 'fails' : refDivMod(a, b, false)[0]),
  TruncateDiv: (a, b, bits, s) => (b === 0n || (s && b === -1n && a === -(1n << BigInt(bits - 1))) ? 'fails' : refDivMod(a, b, false)[0]),
  FloorDiv: (a, b, bits, s) => (b === 0n || (s && b === -1n && a === -(1n << BigInt(bits - 1))) ? 'fails' : refDivMod(a, b, true)[0]),
  Mod: (a, b, bits, s) => (b === 0n || (s && b === -1n && a === -(1n << BigInt(bits - 1))) ? 'fails' : refDivMod(a, b, false)[1]),
  TruncateMod: (a, b, bits, s) => (b === 0n || (s && b === -1n && a === -(1n << BigInt(bits - 1))) ? 'fails' : refDivMod(a, b, false)[1]),
  FloorMod: (a, b, bits, s) => (b === 0n || (s && b === -1n && a === -(1n << BigInt(bits - 1))) ? 'fails' : refDivMod(a, b, true)[1]),
  Pow: (a, b) => {
    if (b < 0n) return 'fails';
    let r = 1n;
    for (let i = 0n; i < b; i++) r *= a;
    return r;
  },
};
const COMPARES: Record<string, (a: bigint, b: bigint) => boolean> = {
  Equal: (a, b) => a === b, NotEqual: (a, b) => a !== b, Less: (a, b) => a < b,
  LessEqual: (a, b) => a <= b, Greater: (a, b) => a > b, GreaterEqual: (a, b) => a >= b,
};

describe('integer folding: property test, every dtype x op against a reference', () => {
  // Inputs: per dtype, values uniformly over its range mixed with edge values (0, ±1, min, max);
  // Pow exponents in [-2, 40]; shapes [n] with n in 1..4 and a broadcast scalar second operand.
  const edge = (bits: number, signed: boolean) => {
    const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
    const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
    return { min, max, arb: fc.oneof(fc.bigInt({ min, max }), fc.constantFrom(min, max, 0n, 1n, ...(signed ? [-1n] : []), min + 1n, max - 1n), fc.bigInt({ min: signed ? -9n : 0n, max: 9n })) };
  };
  for (const [dtype, bits, signed] of INT_TYPES) {
    test(`${dtype}: ${Object.keys(OPS).length} arithmetic ops and ${Object.keys(COMPARES).length} comparisons`, async () => {
      const { arb } = edge(bits, signed);
      const ops = [...Object.keys(OPS), ...Object.keys(COMPARES)];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ops), fc.array(arb, { minLength: 1, maxLength: 4 }), arb, fc.boolean(), fc.bigInt({ min: -2n, max: 40n }), async (op, a, b0, scalar, e) => {
          const b = op === 'Pow' ? [signed ? e : e < 0n ? -e : e] : [b0];
          const bs = scalar ? b : a.map(() => b[0]!);
          const r = await fold2(op, dtype, a, bs, [[a.length], scalar ? [] : [a.length]]);
          const cmp = COMPARES[op];
          const want: Ref[] = a.map((x) => (cmp ? (cmp(x, bs[0]!) ? 1n : 0n) : OPS[op]!(x, bs[0]!, bits, signed)));
          if (want.includes('fails')) {
            expect(r.value, `${op}(${a}, ${bs}) must stay unfolded`).toBeUndefined();
            expect(r.notes.join('\n')).toMatch(/r \(\w+\) not folded/);
          } else {
            const w = want.map((x) => (cmp ? (x as bigint) : refWrap(x as bigint, bits, signed)));
            expect(r.value?.dtype).toBe(cmp ? 'bool' : dtype);
            expect(vals(r.value), `${op}(${a}, ${bs}) as ${dtype}`).toEqual(w);
          }
        }),
        { numRuns: Number(process.env.TFPASS_PROPERTY_RUNS ?? 60), seed: 21 },
      );
    });
  }

  test('Cast between every integer dtype and to float32 (|x| < 2^53)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...INT_TYPES), fc.constantFrom(...INT_TYPES.map((t) => t[0]), 'float32' as DType, 'bool' as DType), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), async ([from, bits, signed], to, x0) => {
        const x = refWrap(x0, bits, signed);
        const g = new lib.Graph();
        konst(g, 'a', from, [1], [x]);
        g.addNode({ name: 'r', op: 'Cast', inputs: ['a'], attrs: { SrcT: { type: from }, DstT: { type: to } } });
        await fold(g, 'fold_constants', ex, { outputs: ['r'] });
        const t = g.node('r').attrs.getTensor('value');
        if (to === 'float32') {
          if (x > -(2n ** 53n) && x < 2n ** 53n) expect(t.toFloat32()[0]).toBe(Math.fround(Number(x)));
        } else if (to === 'bool') expect(vals(t)).toEqual([x !== 0n ? 1n : 0n]);
        else {
          const [, tb, ts] = INT_TYPES.find((k) => k[0] === to)!;
          expect(vals(t)).toEqual([refWrap(x, tb, ts)]);
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});

describe('half-precision chains round after every op, as TF does', () => {
  test('float16: (1 + 2^-11) + 2^-11 is 1 in half arithmetic (ties to even each time), not 1 + 2^-10', async () => {
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const tiny = dtype === 'float16' ? 2 ** -11 : 2 ** -8; // half an ulp of 1
      const g = new lib.Graph();
      g.addNode({ name: 'one', op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: lib.Tensor.fromValues(dtype, [1], [1]) } } });
      g.addNode({ name: 't', op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: lib.Tensor.fromValues(dtype, [1], [tiny]) } } });
      g.addNode({ name: 'a', op: 'AddV2', inputs: ['one', 't'], attrs: { T: { type: dtype } } });
      g.addNode({ name: 'r', op: 'AddV2', inputs: ['a', 't'], attrs: { T: { type: dtype } } });
      await fold(g, 'fold_constants', ex, { outputs: ['r'] });
      expect(g.node('r').op).toBe('Const');
      expect(Array.from(g.node('r').attrs.getTensor('value').toFloat32()), dtype).toEqual([1]);
    }
  });
});

describe('int64 indices of layout ops the folder lacks', () => {
  test('GatherV2 with int64 indices that fit in int32 still folds (on the runtime); a wide index stays unfolded', async () => {
    for (const [idx, folded] of [[[2, 0], true], [[2n ** 40n, 0], false]] as const) {
      const g = new lib.Graph();
      g.addNode({ name: 'p', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: lib.Tensor.fromValues('float32', [3], [10, 20, 30]) } } });
      konst(g, 'i', 'int64', [2], [...idx]);
      konst(g, 'ax', 'int32', [], [0]);
      g.addNode({ name: 'r', op: 'GatherV2', inputs: ['p', 'i', 'ax'], attrs: { Tparams: { type: 'float32' }, Tindices: { type: 'int64' }, Taxis: { type: 'int32' }, batch_dims: { i: 0 } } });
      const res = await fold(g, 'fold_constants', ex, { outputs: ['r'] });
      expect(g.node('r').op === 'Const', String(idx)).toBe(folded);
      if (folded) expect(Array.from(g.node('r').attrs.getTensor('value').toFloat32())).toEqual([30, 10]);
      else expect(res.flatMap((s) => s.messages).join('\n')).toMatch(/r \(GatherV2\) not folded/);
    }
  });
});
