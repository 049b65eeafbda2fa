import { describe, expect, it } from 'vitest';
import { Graph } from '../graph.js';
import { Tensor } from '../tensor.js';
import { constantValue, inferShapes, stridedSliceShape } from '../index.js';
import { G, bool, int, ints, str, type } from './__tests__/build.js';

const shapeOf = (b: G, t: string, inputs?: Record<string, number[]>) => inferShapes(b.g, inputs).get(t)?.shape;

describe('convolution and pooling', () => {
  it('Conv2D: SAME/VALID/EXPLICIT, strides, dilations, NCHW', () => {
    const b = new G();
    b.ph('x', [1, 8, 8, 3]);
    b.ph('x9', [1, 9, 9, 3]);
    b.ph('xc', [2, 3, 10, 12]);
    b.c('w', new Array(108).fill(0.1), [3, 3, 3, 4], 'float32');
    b.op('same', 'Conv2D', ['x', 'w'], { T: type('float32'), strides: ints([1, 1, 1, 1]), padding: str('SAME') });
    b.op('valid2', 'Conv2D', ['x9', 'w'], { strides: ints([1, 2, 2, 1]), padding: str('VALID') });
    b.op('same2', 'Conv2D', ['x9', 'w'], { strides: ints([1, 2, 2, 1]), padding: str('SAME') });
    b.op('dil', 'Conv2D', ['x', 'w'], { strides: ints([1, 1, 1, 1]), padding: str('VALID'), dilations: ints([1, 2, 2, 1]) });
    b.op('expl', 'Conv2D', ['x', 'w'], { strides: ints([1, 1, 1, 1]), padding: str('EXPLICIT'), explicit_paddings: ints([0, 0, 2, 2, 0, 1, 0, 0]) });
    b.op('nchw', 'Conv2D', ['xc', 'w'], { strides: ints([1, 1, 2, 2]), padding: str('VALID'), data_format: str('NCHW') });
    const s = inferShapes(b.g);
    expect(s.get('same')).toEqual({ dtype: 'float32', shape: [1, 8, 8, 4] });
    expect(s.get('valid2')!.shape).toEqual([1, 4, 4, 4]);
    expect(s.get('same2')!.shape).toEqual([1, 5, 5, 4]);
    expect(s.get('dil')!.shape).toEqual([1, 4, 4, 4]);
    expect(s.get('expl')!.shape).toEqual([1, 10, 7, 4]);
    expect(s.get('nchw')!.shape).toEqual([2, 4, 4, 5]);
  });

  it('SAME padding needs no filter shape; AddN fills unknown dims from its other inputs', () => {
    const b = new G();
    b.ph('x', [1, 9, 9, 3]);
    b.ph('w', null);
    b.op('conv', 'Conv2D', ['x', 'w'], { strides: ints([1, 2, 2, 1]), padding: str('SAME') });
    b.op('convv', 'Conv2D', ['x', 'w'], { strides: ints([1, 2, 2, 1]), padding: str('VALID') });
    b.ph('p', [-1, 4]);
    b.ph('q', [3, -1]);
    b.op('sum', 'AddN', ['p', 'q'], { N: int(2) });
    const s = inferShapes(b.g);
    expect(s.get('conv')!.shape).toEqual([1, 5, 5, -1]);
    expect(s.get('convv')!.shape).toEqual([1, -1, -1, -1]);
    expect(s.get('sum')!.shape).toEqual([3, 4]);
  });

  it('DepthwiseConv2dNative multiplies channels; pools keep them', () => {
    const b = new G();
    b.ph('x', [1, 8, 8, 3]);
    b.ph('x7', [-1, 7, 7, 3]);
    b.c('dw', new Array(54).fill(1), [3, 3, 3, 2], 'float32');
    b.op('d', 'DepthwiseConv2dNative', ['x', 'dw'], { strides: ints([1, 2, 2, 1]), padding: str('SAME') });
    b.op('mp', 'MaxPool', ['x7'], { ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: str('VALID') });
    b.op('ap', 'AvgPool', ['x7'], { ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]), padding: str('SAME') });
    const s = inferShapes(b.g);
    expect(s.get('d')!.shape).toEqual([1, 4, 4, 6]);
    expect(s.get('mp')!.shape).toEqual([-1, 3, 3, 3]);
    expect(s.get('ap')!.shape).toEqual([-1, 4, 4, 3]);
  });

  it('FusedBatchNorm: 5 outputs (6 for V3), BiasAdd, Conv2DBackpropInput', () => {
    const b = new G();
    b.ph('x', [2, 5, 5, 16]);
    for (const n of ['s', 'o', 'm', 'v']) b.c(n, new Array(16).fill(1), [16], 'float32');
    b.op('bn', 'FusedBatchNorm', ['x', 's', 'o', 'm', 'v'], { T: type('float32'), is_training: bool(false) });
    b.op('bn3', 'FusedBatchNormV3', ['x', 's', 'o', 'm', 'v'], { T: type('float16'), U: type('float32') });
    b.op('ba', 'BiasAdd', ['bn', 's']);
    b.c('sizes', [2, 10, 10, 8]);
    b.c('f', new Array(9 * 8 * 16).fill(0), [3, 3, 8, 16], 'float32');
    b.op('tconv', 'Conv2DBackpropInput', ['sizes', 'f', 'x'], { T: type('float32'), strides: ints([1, 2, 2, 1]), padding: str('SAME') });
    const s = inferShapes(b.g);
    expect(s.get('bn')!.shape).toEqual([2, 5, 5, 16]);
    expect(['bn:1', 'bn:2', 'bn:3', 'bn:4'].map((k) => s.get(k)!.shape)).toEqual([[16], [16], [16], [16]]);
    expect(s.has('bn:5')).toBe(false);
    expect(s.get('bn3')!.dtype).toBe('float16');
    expect(s.get('bn3:1')!.dtype).toBe('float32');
    expect(s.get('bn3:5')).toEqual({ dtype: 'float32', shape: null });
    expect(s.get('ba')!.shape).toEqual([2, 5, 5, 16]);
    expect(s.get('tconv')!.shape).toEqual([2, 10, 10, 8]);
  });
});

describe('matmul and elementwise', () => {
  it('MatMul with transposes, BatchMatMulV2 broadcasting batch dims', () => {
    const b = new G();
    b.ph('a', [3, 4]);
    b.ph('bt', [5, 4]);
    b.ph('x', [2, 1, 3, 4]);
    b.ph('y', [5, 4, 6]);
    b.op('mm', 'MatMul', ['a', 'bt'], { transpose_b: bool(true) });
    b.op('mmt', 'MatMul', ['a', 'a'], { transpose_a: bool(true) });
    b.op('bmm', 'BatchMatMulV2', ['x', 'y']);
    b.op('bmma', 'BatchMatMul', ['y', 'y'], { adj_x: bool(true) });
    const s = inferShapes(b.g);
    expect(s.get('mm')!.shape).toEqual([3, 5]);
    expect(s.get('mmt')!.shape).toEqual([4, 4]);
    expect(s.get('bmm')!.shape).toEqual([2, 5, 3, 6]);
    expect(s.get('bmma')!.shape).toEqual([5, 6, 6]);
  });

  it('broadcasts binary ops, gives bool for comparisons, folds small int values', () => {
    const b = new G();
    b.ph('p', [4, 1, 3]);
    b.ph('q', [5, 1]);
    b.ph('u', [-1, 3]);
    b.ph('r', [1, 3]);
    b.op('add', 'AddV2', ['p', 'q']);
    b.op('mul', 'Mul', ['u', 'r']);
    b.op('lt', 'Less', ['p', 'q']);
    b.c('i', [7, 8, 9]);
    b.c('two', [2], []);
    b.op('fd', 'FloorDiv', ['i', 'two'], { T: type('int32') });
    b.op('sub', 'Sub', ['i', 'two'], { T: type('int32') });
    b.op('sq', 'SquaredDifference', ['p', 'r']);
    const s = inferShapes(b.g);
    expect(s.get('add')!.shape).toEqual([4, 5, 3]);
    expect(s.get('mul')!.shape).toEqual([-1, 3]);
    expect(s.get('lt')).toEqual({ dtype: 'bool', shape: [4, 5, 3] });
    expect(s.get('fd')).toEqual({ dtype: 'int32', shape: [3], value: [3, 4, 4] });
    expect(s.get('sub')!.value).toEqual([5, 6, 7]);
    expect(s.get('sq')!.shape).toEqual([4, 1, 3]);
  });
});

describe('shape-carrying ops', () => {
  it('Reshape resolves -1 and shapes computed from Shape/StridedSlice/Pack', () => {
    const b = new G();
    b.ph('x', [2, 3, 4]);
    b.ph('y', [5, 2, 6]);
    b.ph('z', [-1, 2, 6]);
    b.c('s', [-1, 4]);
    b.op('r', 'Reshape', ['x', 's']);
    // an output dim that is merely unknown (not -1) is also fixed by a fully known input
    b.op('x_shape', 'Shape', ['x']);
    b.c('x_b', [2]);
    b.c('x_e', [3]);
    b.c('x_st', [1]);
    b.ph('n', [], 'int32');
    b.op('last', 'StridedSlice', ['x_shape', 'x_b', 'x_e', 'x_st'], { Index: type('int32'), shrink_axis_mask: int(1) });
    b.op('pk', 'Pack', ['n', 'last'], { N: int(2) });
    b.op('r2', 'Reshape', ['x', 'pk']);
    for (const v of ['y', 'z']) {
      b.op(`${v}_shape`, 'Shape', [v]);
      b.c(`${v}_b`, [0]);
      b.c(`${v}_e`, [1]);
      b.c(`${v}_st`, [1]);
      b.op(`${v}_batch`, 'StridedSlice', [`${v}_shape`, `${v}_b`, `${v}_e`, `${v}_st`], { Index: type('int32'), shrink_axis_mask: int(1) });
      b.c(`${v}_12`, [12], []);
      b.op(`${v}_pack`, 'Pack', [`${v}_batch`, `${v}_12`], { N: int(2), T: type('int32') });
      b.op(`${v}_flat`, 'Reshape', [v, `${v}_pack`]);
    }
    const s = inferShapes(b.g);
    expect(s.get('r')!.shape).toEqual([6, 4]);
    expect(s.get('pk')!.value).toEqual([NaN, 4]);
    expect(s.get('r2')!.shape).toEqual([6, 4]);
    expect(s.get('y_shape')).toEqual({ dtype: 'int32', shape: [3], value: [5, 2, 6] });
    expect(s.get('y_batch')).toEqual({ dtype: 'int32', shape: [], value: [5] });
    expect(s.get('y_flat')!.shape).toEqual([5, 12]);
    // unknown batch stays unknown, not "inferred"
    expect(s.get('z_flat')!.shape).toEqual([-1, 12]);
  });

  it('Squeeze, ExpandDims, Transpose, Tile, Pad, MirrorPad', () => {
    const b = new G();
    b.ph('x', [1, 3, 1, 5]);
    b.op('sq', 'Squeeze', ['x']);
    b.op('sq2', 'Squeeze', ['x'], { squeeze_dims: ints([-2]) });
    b.c('ax', [-1], []);
    b.op('ed', 'ExpandDims', ['x', 'ax']);
    b.c('perm', [3, 0, 2, 1]);
    b.op('tr', 'Transpose', ['x', 'perm']);
    b.c('mult', [2, 1, 3, 1]);
    b.op('ti', 'Tile', ['x', 'mult']);
    b.c('pads', [0, 0, 1, 1, 2, 2, 0, 3], [4, 2]);
    b.op('pa', 'Pad', ['x', 'pads']);
    b.op('mp', 'MirrorPad', ['x', 'pads'], { mode: str('REFLECT') });
    const s = inferShapes(b.g);
    expect(s.get('sq')!.shape).toEqual([3, 5]);
    expect(s.get('sq2')!.shape).toEqual([1, 3, 5]);
    expect(s.get('ed')!.shape).toEqual([1, 3, 1, 5, 1]);
    expect(s.get('tr')!.shape).toEqual([5, 1, 1, 3]);
    expect(s.get('ti')!.shape).toEqual([2, 3, 3, 5]);
    expect(s.get('pa')!.shape).toEqual([1, 5, 5, 8]);
    expect(s.get('mp')!.shape).toEqual([1, 5, 5, 8]);
  });

  it('ConcatV2, Concat, Pack, Unpack, Split, SplitV, Slice', () => {
    const b = new G();
    b.ph('a', [2, 3]);
    b.ph('b', [2, 5]);
    b.c('axis', [-1], []);
    b.c('zero', [0], []);
    b.op('cat', 'ConcatV2', ['a', 'b', 'axis'], { N: int(2) });
    b.op('cat0', 'Concat', ['zero', 'a', 'a'], { N: int(2) });
    b.op('pk', 'Pack', ['a', 'a', 'a'], { N: int(3), axis: int(1) });
    b.op('up', 'Unpack', ['b'], { num: int(2) });
    b.c('one', [1], []);
    b.op('sp', 'Split', ['one', 'pk'], { num_split: int(3) });
    b.c('sizes', [1, -1, 2], [3], 'int64');
    b.op('spv', 'SplitV', ['b', 'sizes', 'one'], { num_split: int(3) });
    b.c('begin', [1, 1]);
    b.c('size', [-1, 3]);
    b.op('sl', 'Slice', ['b', 'begin', 'size'], { Index: type('int32') });
    const s = inferShapes(b.g);
    expect(s.get('cat')!.shape).toEqual([2, 8]);
    expect(s.get('cat0')!.shape).toEqual([4, 3]);
    expect(s.get('pk')!.shape).toEqual([2, 3, 3]);
    expect([s.get('up')!.shape, s.get('up:1')!.shape]).toEqual([[5], [5]]);
    expect(s.has('up:2')).toBe(false);
    expect(['sp', 'sp:1', 'sp:2'].map((k) => s.get(k)!.shape)).toEqual([[2, 1, 3], [2, 1, 3], [2, 1, 3]]);
    expect(['spv', 'spv:1', 'spv:2'].map((k) => s.get(k)!.shape)).toEqual([[2, 1], [2, 2], [2, 2]]);
    expect(s.get('sl')!.shape).toEqual([1, 3]);
  });

  it('StridedSlice with begin/end/ellipsis/new-axis/shrink masks and negative strides', () => {
    const m = (o: Partial<{ begin: number; end: number; ellipsis: number; newAxis: number; shrink: number }>) => ({ begin: 0, end: 0, ellipsis: 0, newAxis: 0, shrink: 0, ...o });
    const x = [4, 5, 6];
    expect(stridedSliceShape(x, [1, 0], [3, 0], [1, 1], m({ end: 2 }))!.shape).toEqual([2, 5, 6]);
    expect(stridedSliceShape(x, [1], [2], [1], m({ shrink: 1 }))!.shape).toEqual([5, 6]);
    expect(stridedSliceShape(x, [0, 0], [0, 1], [1, 1], m({ ellipsis: 1, shrink: 2 }))!.shape).toEqual([4, 5]);
    expect(stridedSliceShape(x, [0, 0], [0, 0], [1, 1], m({ begin: 1, end: 1, newAxis: 2 }))!.shape).toEqual([4, 1, 5, 6]);
    expect(stridedSliceShape(x, [0], [0], [-1], m({ begin: 1, end: 1 }))!.shape).toEqual([4, 5, 6]);
    expect(stridedSliceShape(x, [-1], [0], [-2], m({}))!.shape).toEqual([2, 5, 6]);
    expect(stridedSliceShape(x, [0, 1], [0, -1], [1, 2], m({ begin: 1, end: 1 }))!.shape).toEqual([4, 2, 6]);
    expect(stridedSliceShape([-1, 5], [0, 1], [0, 4], [1, 1], m({ begin: 1, end: 1 }))!.shape).toEqual([-1, 3]);

    const b = new G();
    b.c('v', [10, 20, 30, 40, 50]);
    b.c('b0', [-1]);
    b.c('e0', [0]);
    b.c('s0', [-2]);
    b.op('rev', 'StridedSlice', ['v', 'b0', 'e0', 's0'], { Index: type('int32'), end_mask: int(1) });
    const s = inferShapes(b.g);
    expect(s.get('rev')).toEqual({ dtype: 'int32', shape: [3], value: [50, 30, 10] });
  });

  it('Gather, GatherV2, Fill, Range, Shape/Size/Rank, Cast, OneHot, Where, ZerosLike', () => {
    const b = new G();
    b.ph('p', [7, 4, 3]);
    b.c('idx', [0, 2, 2, 1, 0, 1], [2, 3]);
    b.c('ax1', [1], []);
    b.op('g0', 'Gather', ['p', 'idx']);
    b.op('g1', 'GatherV2', ['p', 'idx', 'ax1'], { Taxis: type('int32') });
    b.c('dims', [2, 3]);
    b.c('val', [1.5], [], 'float32');
    b.op('fill', 'Fill', ['dims', 'val']);
    b.c('st', [0], []);
    b.c('lim', [10], []);
    b.c('dl', [3], []);
    b.op('rg', 'Range', ['st', 'lim', 'dl']);
    b.op('sh', 'Shape', ['p'], { out_type: type('int64') });
    b.op('sz', 'Size', ['p']);
    b.op('rk', 'Rank', ['p']);
    b.op('cast', 'Cast', ['sh'], { SrcT: type('int64'), DstT: type('float32') });
    b.c('depth', [10], []);
    b.op('oh', 'OneHot', ['idx', 'depth', 'val', 'val']);
    b.op('wh', 'Where', ['p'], { T: type('float32') });
    b.op('zl', 'ZerosLike', ['p']);
    const s = inferShapes(b.g);
    expect(s.get('g0')!.shape).toEqual([2, 3, 4, 3]);
    expect(s.get('g1')!.shape).toEqual([7, 2, 3, 3]);
    expect(s.get('fill')).toEqual({ dtype: 'float32', shape: [2, 3], value: [1.5, 1.5, 1.5, 1.5, 1.5, 1.5] });
    expect(s.get('rg')).toEqual({ dtype: 'int32', shape: [4], value: [0, 3, 6, 9] });
    expect(s.get('sh')).toEqual({ dtype: 'int64', shape: [3], value: [7, 4, 3] });
    expect(s.get('sz')!.value).toEqual([84]);
    expect(s.get('rk')!.value).toEqual([3]);
    expect(s.get('cast')).toEqual({ dtype: 'float32', shape: [3], value: [7, 4, 3] });
    expect(s.get('oh')).toEqual({ dtype: 'float32', shape: [2, 3, 10] });
    expect(s.get('wh')).toEqual({ dtype: 'int64', shape: [-1, 3] });
    expect(s.get('zl')!.shape).toEqual([7, 4, 3]);
  });

  it('reductions with axes and keep_dims, ArgMax', () => {
    const b = new G();
    b.ph('x', [2, 6, 6, 8]);
    b.c('hw', [1, 2]);
    b.op('mean', 'Mean', ['x', 'hw']);
    b.op('meank', 'Mean', ['x', 'hw'], { keep_dims: bool(true) });
    b.c('last', [-1], []);
    b.op('sum', 'Sum', ['x', 'last']);
    b.op('am', 'ArgMax', ['x', 'last']);
    b.c('v', [2, 3, 4]);
    b.c('z', [0], []);
    b.op('prod', 'Prod', ['v', 'z'], { T: type('int32') });
    b.ph('axes', [2], 'int32');
    b.op('unk', 'Max', ['x', 'axes']);
    b.op('unkk', 'Max', ['x', 'axes'], { keep_dims: bool(true) });
    const s = inferShapes(b.g);
    expect(s.get('mean')!.shape).toEqual([2, 8]);
    expect(s.get('meank')!.shape).toEqual([2, 1, 1, 8]);
    expect(s.get('sum')!.shape).toEqual([2, 6, 6]);
    expect(s.get('am')).toEqual({ dtype: 'int64', shape: [2, 6, 6] });
    expect(s.get('prod')).toEqual({ dtype: 'int32', shape: [], value: [24] });
    expect(s.get('unk')!.shape).toBeNull();
    expect(s.get('unkk')!.shape).toEqual([-1, -1, -1, -1]);
  });

  it('ResizeBilinear, SpaceToBatchND, BatchToSpaceND', () => {
    const b = new G();
    b.ph('x', [1, 10, 12, 3]);
    b.c('size', [20, 24]);
    b.op('rs', 'ResizeBilinear', ['x', 'size'], { T: type('float32') });
    b.op('rn', 'ResizeNearestNeighbor', ['x', 'size'], { T: type('float32') });
    b.c('block', [2, 2]);
    b.c('pads', [0, 0, 2, 2], [2, 2]);
    b.op('s2b', 'SpaceToBatchND', ['x', 'block', 'pads']);
    b.op('b2s', 'BatchToSpaceND', ['s2b', 'block', 'pads']);
    const s = inferShapes(b.g);
    expect(s.get('rs')!.shape).toEqual([1, 20, 24, 3]);
    expect(s.get('rn')!.shape).toEqual([1, 20, 24, 3]);
    expect(s.get('s2b')!.shape).toEqual([4, 5, 8, 3]);
    expect(s.get('b2s')!.shape).toEqual([1, 10, 12, 3]);

    const d = new G();
    d.ph('img', [2, 32, 32, 3]);
    d.ph('boxes', [7, 4]);
    d.ph('ind', [7], 'int32');
    d.c('crop', [8, 6]);
    d.op('crops', 'CropAndResize', ['img', 'boxes', 'ind', 'crop'], { T: type('float32') });
    d.op('mpa', 'MaxPoolWithArgmax', ['img'], { ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: str('VALID'), T: type('float32') });
    d.op('uq', 'Unique', ['ind'], { T: type('int32') });
    const t = inferShapes(d.g);
    expect(t.get('crops')).toEqual({ dtype: 'float32', shape: [7, 8, 6, 3] });
    expect(t.get('mpa:1')).toEqual({ dtype: 'int64', shape: [2, 16, 16, 3] });
    expect([t.get('uq')!.shape, t.get('uq:1')!.shape]).toEqual([[-1], [7]]);
  });
});

describe('control flow, quantization, audio', () => {
  it('a TF1 while loop: Merge takes the Enter shape, back edges do not break the order', () => {
    const b = new G();
    b.ph('x', [3, 4]);
    b.op('enter', 'Enter', ['x'], { frame_name: str('loop') });
    b.op('merge', 'Merge', ['enter', 'next'], { N: int(2) });
    b.c('lim', [1], [], 'float32');
    b.op('less', 'Less', ['merge', 'lim']);
    b.op('any', 'All', ['less', 'ax']);
    b.c('ax', [0, 1]);
    b.op('cond', 'LoopCond', ['any']);
    b.op('sw', 'Switch', ['merge', 'cond']);
    b.op('body', 'Tanh', ['sw:1']);
    b.op('next', 'NextIteration', ['body']);
    b.op('exit', 'Exit', ['sw']);
    const s = inferShapes(b.g);
    expect(s.get('merge')!.shape).toEqual([3, 4]);
    expect(s.get('merge:1')).toEqual({ dtype: 'int32', shape: [] });
    expect(s.get('cond')).toEqual({ dtype: 'bool', shape: [] });
    expect(s.get('sw:1')!.shape).toEqual([3, 4]);
    expect(s.get('exit')).toEqual({ dtype: 'float32', shape: [3, 4] });
    expect(s.get('next')!.shape).toEqual([3, 4]);
  });

  it('fake quant keeps shapes; QuantizeV2/Dequantize/QuantizedConv2D give min/max scalars', () => {
    const b = new G();
    b.ph('x', [1, 6, 6, 2]);
    b.c('mn', [-1], [], 'float32');
    b.c('mx', [1], [], 'float32');
    b.op('fq', 'FakeQuantWithMinMaxVars', ['x', 'mn', 'mx']);
    b.op('fqa', 'FakeQuantWithMinMaxArgs', ['x']);
    b.op('q', 'QuantizeV2', ['x', 'mn', 'mx'], { T: type('quint8') });
    b.c('w', new Array(36).fill(1), [3, 3, 2, 2], 'uint8');
    b.op('qc', 'QuantizedConv2D', ['q', 'w', 'q:1', 'q:2', 'mn', 'mx'], { Tinput: type('quint8'), Tfilter: type('quint8'), strides: ints([1, 1, 1, 1]), padding: str('VALID') });
    b.op('dq', 'Dequantize', ['qc', 'qc:1', 'qc:2'], { T: type('qint32') });
    const s = inferShapes(b.g);
    expect(s.get('fq')).toEqual({ dtype: 'float32', shape: [1, 6, 6, 2] });
    expect(s.get('fqa')!.shape).toEqual([1, 6, 6, 2]);
    expect(s.get('q')).toEqual({ dtype: 'quint8', shape: [1, 6, 6, 2] });
    expect(s.get('q:2')).toEqual({ dtype: 'float32', shape: [] });
    expect(s.get('qc')).toEqual({ dtype: 'qint32', shape: [1, 4, 4, 2] });
    expect(s.get('dq')).toEqual({ dtype: 'float32', shape: [1, 4, 4, 2] });
  });

  it('fused ops written by graph transforms: FusedPadConv2D, FusedResizeAndPadConv2D, QuantizedConcat', () => {
    const b = new G();
    b.ph('x', [1, 6, 6, 3]);
    b.c('pads', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2]);
    b.c('size', [12, 12]);
    b.c('w', new Array(3 * 3 * 3 * 5).fill(1), [3, 3, 3, 5], 'float32');
    b.op('fpc', 'FusedPadConv2D', ['x', 'pads', 'w'], { mode: str('REFLECT'), strides: ints([1, 1, 1, 1]), padding: str('VALID') });
    b.op('frc', 'FusedResizeAndPadConv2D', ['x', 'size', 'pads', 'w'], { mode: str('REFLECT'), strides: ints([1, 2, 2, 1]), padding: str('VALID') });
    b.c('mn', [0], [], 'float32');
    b.c('ax', [3], []);
    b.op('qcat', 'QuantizedConcat', ['ax', 'x', 'x', 'mn', 'mn', 'mn', 'mn'], { N: int(2), T: type('quint8') });
    const s = inferShapes(b.g);
    expect(s.get('fpc')!.shape).toEqual([1, 6, 6, 5]);
    expect(s.get('frc')!.shape).toEqual([1, 6, 6, 5]);
    expect(s.get('qcat')).toEqual({ dtype: 'quint8', shape: [1, 6, 6, 6] });
    expect(s.get('qcat:2')).toEqual({ dtype: 'float32', shape: [] });
  });

  it('DecodeWav -> AudioSpectrogram -> Mfcc', () => {
    const b = new G();
    b.ph('wav', [], 'string');
    b.op('dec', 'DecodeWav', ['wav'], { desired_channels: int(1), desired_samples: int(16000) });
    b.op('spec', 'AudioSpectrogram', ['dec'], { window_size: int(640), stride: int(320), magnitude_squared: bool(true) });
    b.op('mfcc', 'Mfcc', ['spec', 'dec:1'], { dct_coefficient_count: int(10) });
    const s = inferShapes(b.g);
    expect(s.get('dec')!.shape).toEqual([16000, 1]);
    expect(s.get('dec:1')).toEqual({ dtype: 'int32', shape: [] });
    expect(s.get('spec')!.shape).toEqual([1, 49, 513]);
    expect(s.get('mfcc')!.shape).toEqual([1, 49, 10]);
  });
});

describe('tolerance and inputs', () => {
  it('unknown ops get unknown shapes (or _output_shapes) and as many outputs as are read', () => {
    const b = new G();
    b.ph('x', [2, 2]);
    b.op('custom', 'ProdEnvMatA', ['x'], { T: type('float64') });
    b.op('use', 'Identity', ['custom:2']);
    b.op('hinted', 'MyOp', ['x'], { _output_shapes: { list: { shape: [[5, 6], null] } } });
    b.op('relu', 'Relu', ['custom']);
    // a known op with broken attrs must not throw either
    b.op('badconv', 'Conv2D', ['x', 'x'], { strides: { s: 'oops' }, padding: int(3) });
    b.op('dangling', 'Relu', ['nowhere:1']);
    const s = inferShapes(b.g);
    expect(['custom', 'custom:1', 'custom:2'].map((k) => s.get(k))).toEqual([
      { dtype: 'float64', shape: null }, { dtype: 'float64', shape: null }, { dtype: 'float64', shape: null },
    ]);
    expect(s.get('use')!.shape).toBeNull();
    expect(s.get('hinted')!.shape).toEqual([5, 6]);
    expect(s.get('hinted:1')!.shape).toBeNull();
    expect(s.get('relu')).toEqual({ dtype: 'float64', shape: null });
    expect(s.get('badconv')!.shape).toBeNull();
    expect(s.get('dangling')).toEqual({ dtype: 'invalid', shape: null });
  });

  it('inputShapes override Placeholder shape attrs; keys come in topological order', () => {
    const b = new G();
    b.op('relu', 'Relu', ['x']);
    b.ph('x', [-1, 4]);
    expect(shapeOf(b, 'relu')).toEqual([-1, 4]);
    const s = inferShapes(b.g, { x: [8, 4] });
    expect([...s.keys()]).toEqual(['x', 'relu']);
    expect(s.get('relu')).toEqual({ dtype: 'float32', shape: [8, 4] });
    expect(() => inferShapes(b.g, { xx: [1] })).toThrow(/node 'xx': is given an input shape but is not in the graph; did you mean 'x'\?/);
  });

  it('an empty Placeholder shape means unknown before GraphDef version 22', () => {
    const b = new G();
    b.ph('x', []);
    expect(shapeOf(b, 'x')).toBeNull();
    const g2 = Graph.fromGraphDef(b.g.toGraphDef());
    g2.base.versions = { producer: 27, minConsumer: 0, badConsumers: [] } as never;
    expect(inferShapes(g2).get('x')!.shape).toEqual([]);
  });

  it('constantValue looks through read Identities', () => {
    const b = new G();
    b.c('w', [1, 2, 3, 4], [2, 2], 'float32');
    b.op('w/read', 'Identity', ['w']);
    b.op('r2', 'Identity', ['w/read']);
    b.ph('x', [2]);
    const t = constantValue(b.g, 'r2');
    expect(t).toBeInstanceOf(Tensor);
    expect(t!.shape).toEqual([2, 2]);
    expect(Array.from(t!.toFloat32())).toEqual([1, 2, 3, 4]);
    expect(constantValue(b.g, 'x')).toBeUndefined();
    expect(constantValue(b.g, 'w:1')).toBeUndefined();
  });
});

describe('Conv3D', () => {
  it('NDHWC and NCDHW, strides, dilations; TF defaults', () => {
    const b = new G();
    b.ph('x', [1, 8, 9, 10, 2]);
    b.ph('xc', [1, 2, 8, 9, 10]);
    b.c('w', new Array(3 * 3 * 3 * 2 * 4).fill(0.1), [3, 3, 3, 2, 4], 'float32');
    b.op('same', 'Conv3D', ['x', 'w'], { T: type('float32'), strides: ints([1, 2, 2, 2, 1]), padding: str('SAME') });
    b.op('valid', 'Conv3D', ['x', 'w'], { strides: ints([1, 1, 1, 1, 1]), padding: str('VALID'), dilations: ints([1, 2, 1, 1, 1]) });
    b.op('cf', 'Conv3D', ['xc', 'w'], { strides: ints([1, 1, 1, 1, 1]), padding: str('VALID'), data_format: str('NCDHW') });
    const s = inferShapes(b.g);
    expect(s.get('same')).toEqual({ dtype: 'float32', shape: [1, 4, 5, 5, 4] });
    expect(s.get('valid')!.shape).toEqual([1, 4, 7, 8, 4]);
    expect(s.get('cf')!.shape).toEqual([1, 4, 6, 7, 8]);
  });
});
