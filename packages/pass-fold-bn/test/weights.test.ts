import { describe, expect, test } from 'vitest';
import { quantizeToQuint8 } from '../src/index.js';
import { count, konst, lib, op, run } from './helpers.js';

const FLT_MIN = 1.1754943508222875e-38;

describe('quantize_weights / round_weights edge cases (spec 3.18, 3.19)', () => {
  test('quint8 grid: [-1, 0, 0.5, 1] on [-1, 1] -> [0, 128, 192, 255]', () => {
    expect(Array.from(quantizeToQuint8(Float32Array.from([-1, 0, 0.5, 1]), -1, 1))).toEqual([0, 128, 192, 255]);
  });

  test('ranges always include zero; an all-negative tensor gets max = FLT_MIN as in TF', async () => {
    const g = new lib.Graph();
    konst(g, 'neg', [1, 1, 4, 4], Array.from({ length: 16 }, (_, i) => -5 + i * 0.25));
    konst(g, 'pos', [16], Array.from({ length: 16 }, (_, i) => 0.1 + (i * 3.9) / 15));
    op(g, 'out', 'Add', ['neg', 'pos']);
    await run(g, 'quantize_weights(minimum_size=16)');
    const v = (n: string) => g.node(n).attrs.getTensor('value').toNumbers()[0];
    expect(v('neg_quantized_min')).toBe(-5);
    expect(v('neg_quantized_max')).toBeCloseTo(FLT_MIN, 45);
    expect(v('pos_quantized_min')).toBe(0);
    expect(v('pos_quantized_max')).toBeCloseTo(4, 5);
    expect(count(g, 'Dequantize')).toBe(2);
    expect(g.node('neg').attrs.getString('mode')).toBe('MIN_FIRST');
  });

  test('default minimum_size 1024 leaves small tensors alone', async () => {
    const g = new lib.Graph();
    konst(g, 'w', [100], Array.from({ length: 100 }, (_, i) => i));
    op(g, 'out', 'Relu', ['w']);
    await run(g, 'quantize_weights');
    expect(g.node('w').op).toBe('Const');
  });

  test('round_weights: 16+ elements only; all-zero tensors become FLT_MIN/(2*steps) like TF; values land mid-bucket', async () => {
    const g = new lib.Graph();
    konst(g, 'zeros', [16], new Array(16).fill(0));
    konst(g, 'small', [15], Array.from({ length: 15 }, (_, i) => i / 7));
    konst(g, 'ramp', [16], Array.from({ length: 16 }, (_, i) => i));
    op(g, 'a', 'Add', ['zeros', 'ramp']);
    op(g, 'b', 'Relu', ['small']);
    await run(g, 'round_weights(num_steps=4)');
    const t = (n: string) => g.node(n).attrs.getTensor('value').toNumbers();
    expect(t('zeros')[0]).toBe(Math.fround(Math.fround(FLT_MIN / 4) * 0.5));
    expect(t('small')).toEqual(Array.from({ length: 15 }, (_, i) => Math.fround(i / 7)));
    // ramp 0..15, 4 buckets of width 3.75: 0 -> 1.875, 15 -> bucket 4 = 16.875
    expect(t('ramp')[0]).toBeCloseTo(1.875, 5);
    expect(t('ramp')[15]).toBeCloseTo(16.875, 5);
    expect(new Set(t('ramp')).size).toBe(5);
  });
});
