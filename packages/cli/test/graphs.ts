import * as core from '@tfpass/core';
import { join } from 'node:path';

const f32 = { type: 'float32' as const };

/** x[1,8,8,3] -> Conv2D(3x3x3x4, SAME) -> BiasAdd -> DepthwiseConv2dNative(3x3x4x2, VALID, stride 2) -> Identity */
export function convGraph(): core.Graph {
  const g = new core.Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 8, 8, 3] } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: f32, value: { tensor: core.Tensor.zeros('float32', [3, 3, 3, 4]) } } });
  g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'w'], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
  g.addNode({ name: 'b', op: 'Const', attrs: { dtype: f32, value: { tensor: core.Tensor.zeros('float32', [4]) } } });
  g.addNode({ name: 'bias', op: 'BiasAdd', inputs: ['conv', 'b'], attrs: { T: f32, data_format: { s: 'NHWC' } } });
  g.addNode({ name: 'dw', op: 'Const', attrs: { dtype: f32, value: { tensor: core.Tensor.zeros('float32', [3, 3, 4, 2]) } } });
  g.addNode({ name: 'depthwise', op: 'DepthwiseConv2dNative', inputs: ['bias', 'dw'], attrs: { T: f32, strides: { list: { i: [1, 2, 2, 1] } }, padding: { s: 'VALID' }, data_format: { s: 'NHWC' } } });
  g.addNode({ name: 'check', op: 'CheckNumerics', inputs: ['depthwise'], attrs: { T: f32, message: { s: 'bad' } } });
  g.addNode({ name: 'out', op: 'Identity', inputs: ['check'], attrs: { T: f32 } });
  return g;
}

export function writeConvGraph(dir: string, file = 'conv.pb'): string {
  const p = join(dir, file);
  core.writeGraph(convGraph(), p);
  return p;
}
