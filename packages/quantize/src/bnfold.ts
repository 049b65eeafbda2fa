import { Tensor, type Graph, type Node } from '@tfpass/core';
import type { QuantBuilder } from './rewrite.js';

// Batch-norm folding for quantization (contrib fold_batch_norms, spec §2.1–2.2), fused
// batch norms only: FusedBatchNorm[V3] fed by Conv2D / DepthwiseConv2dNative (directly or
// through Identity). Training graphs get the correction factors and the freeze switch.

const LAYERS = new Set(['Conv2D', 'DepthwiseConv2dNative']);
const BNS = new Set(['FusedBatchNorm', 'FusedBatchNormV3']);

function ctxOf(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

function staticShape(g: Graph, s: string): number[] | undefined {
  let n = g.producer(s);
  for (let i = 0; n && (n.op === 'Identity' || n.op === 'ReadVariableOp') && i < 4; i++) n = g.producer(n.dataInputs[0]!);
  if (!n) return undefined;
  if (n.op === 'Const') return n.attrs.getTensor('value').shape;
  if (n.op === 'VariableV2' || n.op === 'VarHandleOp') return n.attrs.getShape('shape') ?? undefined;
  return undefined;
}

/** Moving statistic and decay of a training BN, from `Mul(Sub(moving, BN:k), decay)`. */
function movingStat(g: Graph, bn: Node, k: number): { moving: string; mul: Node } | undefined {
  for (const c of g.tensorConsumers(`${bn.name}:${k}`)) {
    if (c.node.op !== 'Sub' || c.index !== 1) continue;
    const mul = g.tensorConsumers(c.node.name).find((m) => m.node.op === 'Mul' && m.index === 0);
    if (mul) return { moving: c.node.dataInputs[0]!, mul: mul.node };
  }
  return undefined;
}

export function foldBatchNormsForTraining(g: Graph, b: QuantBuilder, opts: { training: boolean; freezeBnDelay?: number }): string[] {
  const folded: string[] = [];
  const T = { T: 'float32' };
  for (const bn of g.nodes()) {
    if (!BNS.has(bn.op) || bn.dataInputs.length < 5) continue;
    let x = g.producer(bn.dataInputs[0]!);
    if (x && x.op === 'Identity') x = g.producer(x.dataInputs[0]!);
    if (!x || !LAYERS.has(x.op) || g.tensorConsumers(bn.name).length === 0) continue;
    const layer = x;
    const isTraining = bn.attrs.optBool('is_training', true);
    const training = opts.training && isTraining;
    const wShape = staticShape(g, layer.dataInputs[1]!);
    if (layer.op === 'DepthwiseConv2dNative' && (!wShape || wShape.length !== 4)) continue;
    const [, gamma, beta, mIn, vIn] = bn.dataInputs as [string, string, string, string, string];
    let mean = mIn;
    let variance = vIn;
    let movMean: string | undefined;
    let movVar: string | undefined;
    let mm: ReturnType<typeof movingStat>;
    let mv: ReturnType<typeof movingStat>;
    const ctx = ctxOf(layer.name);
    const p = (s: string) => (ctx ? `${ctx}/${s}` : s);
    if (isTraining) {
      mm = movingStat(g, bn, 1);
      mv = movingStat(g, bn, 2);
      if (opts.training && (!mm || !mv)) continue; // cannot find the moving statistics
      mean = `${bn.name}:1`;
      // FusedBatchNorm's output 2 is Bessel-corrected; normalization used the biased one.
      b.node(p('BatchNorm_Fold/Size'), 'Size', [layer.name], { T: 'float32', out_type: 'int32' });
      b.node(p('BatchNorm_Fold/Size_1'), 'Size', [mean], { T: 'float32', out_type: 'int32' });
      b.node(p('BatchNorm_Fold/Cast'), 'Cast', [p('BatchNorm_Fold/Size')], { SrcT: 'int32', DstT: 'float32' });
      b.node(p('BatchNorm_Fold/Cast_1'), 'Cast', [p('BatchNorm_Fold/Size_1')], { SrcT: 'int32', DstT: 'float32' });
      b.node(p('BatchNorm_Fold/n'), 'RealDiv', [p('BatchNorm_Fold/Cast'), p('BatchNorm_Fold/Cast_1')], T);
      b.node(p('BatchNorm_Fold/n_minus_1'), 'Sub', [p('BatchNorm_Fold/n'), b.constF(p('BatchNorm_Fold/one'), 1)], T);
      b.node(p('BatchNorm_Fold/bessel'), 'RealDiv', [p('BatchNorm_Fold/n_minus_1'), p('BatchNorm_Fold/n')], T);
      b.node(p('Undo_Bessel_Correction'), 'Mul', [`${bn.name}:2`, p('BatchNorm_Fold/bessel')], T);
      variance = p('Undo_Bessel_Correction');
      movMean = mm?.moving ?? mIn;
      movVar = mv?.moving ?? vIn;
      if (!opts.training) {
        // Eval graph of a training-mode BN: use the moving statistics.
        mean = movMean;
        variance = movVar;
      }
    }
    const eps = b.constF(p('BatchNorm_Fold/add/y'), bn.attrs.optFloat('epsilon', 1e-3));
    b.node(p('BatchNorm_Fold/add'), 'Add', [variance, eps], T);
    b.node(p('BatchNorm_Fold/Rsqrt'), 'Rsqrt', [p('BatchNorm_Fold/add')], T);
    b.node(p('BatchNorm_Fold/mul'), 'Mul', [gamma, p('BatchNorm_Fold/Rsqrt')], T);
    b.node(p('BatchNorm_Fold/mul_1'), 'Mul', [mean, p('BatchNorm_Fold/mul')], T);
    b.node(p('BatchNorm_Fold/bias'), 'Sub', [beta, p('BatchNorm_Fold/mul_1')], T);
    let multiplier = p('BatchNorm_Fold/mul');
    let weights = layer.dataInputs[1]!;
    let recip: string | undefined;
    let offset: string | undefined;
    const dw = layer.op === 'DepthwiseConv2dNative';
    const dwShape = dw ? Tensor.fromValues('int32', [2], [wShape![2]!, wShape![3]!]) : undefined;
    if (training) {
      const c = p('batch_norm_correction');
      b.node(`${c}/add`, 'Add', [movVar!, b.constF(`${c}/add/y`, bn.attrs.optFloat('epsilon', 1e-3))], T);
      b.node(`${c}/Rsqrt`, 'Rsqrt', [`${c}/add`], T);
      b.node(`${c}/scale_compute`, 'RealDiv', [`${c}/Rsqrt`, p('BatchNorm_Fold/Rsqrt')], T);
      b.node(`${c}/correction_scale`, 'Identity', [`${c}/scale_compute`], T);
      b.node(`${c}/reciprocal_compute`, 'RealDiv', [b.constF(`${c}/reciprocal_compute/x`, 1), `${c}/correction_scale`], T);
      b.node(`${c}/mul`, 'Mul', [mean, p('BatchNorm_Fold/Rsqrt')], T);
      b.node(`${c}/mul_1`, 'Mul', [movMean!, `${c}/Rsqrt`], T);
      b.node(`${c}/sub`, 'Sub', [`${c}/mul`, `${c}/mul_1`], T);
      b.node(`${c}/offset_compute`, 'Mul', [gamma, `${c}/sub`], T);
      b.node(`${c}/ones`, 'OnesLike', [`${c}/reciprocal_compute`], T);
      b.node(`${c}/zeros`, 'ZerosLike', [`${c}/offset_compute`], T);
      if (opts.freezeBnDelay !== undefined) {
        const step = b.quantStep();
        b.constT(`${c}/use_moving_average/y`, Tensor.fromValues('int64', [], [opts.freezeBnDelay]));
        b.node(`${c}/use_moving_average`, 'GreaterEqual', [step, `${c}/use_moving_average/y`], { T: 'int64' });
        const use = `${c}/use_moving_average`;
        recip = b.cond(`${c}/correction_recip`, use, `${c}/ones`, `${c}/reciprocal_compute`);
        offset = b.cond(`${c}/correction_offset`, use, `${c}/offset_compute`, `${c}/zeros`);
        // Freezing stops the moving averages: their decay factor becomes 0.
        for (const [nm, st] of [['freeze_moving_mean', mm], ['freeze_moving_var', mv]] as const) {
          if (!st) continue;
          const decay = st.mul.dataInputs[1]!;
          b.node(`${c}/${nm}/zero`, 'ZerosLike', [decay], T);
          const out = b.cond(`${c}/${nm}`, use, `${c}/${nm}/zero`, decay);
          st.mul.setInput(1, out);
        }
      } else {
        b.node(`${c}/correction_recip`, 'Identity', [`${c}/reciprocal_compute`], T);
        b.node(`${c}/correction_offset`, 'Identity', [`${c}/zeros`], T);
        recip = `${c}/correction_recip`;
        offset = `${c}/correction_offset`;
      }
      let cs = `${c}/correction_scale`;
      if (dw) {
        b.node(p('correction_reshape'), 'Reshape', [cs, b.constT(p('correction_reshape/shape'), dwShape!)], { ...T, Tshape: 'int32' });
        cs = p('correction_reshape');
      }
      b.node(p('correction_mult'), 'Mul', [weights, cs], T);
      weights = p('correction_mult');
    }
    if (dw) {
      b.node(p('scale_reshape'), 'Reshape', [multiplier, b.constT(p('scale_reshape/shape'), dwShape!)], { ...T, Tshape: 'int32' });
      multiplier = p('scale_reshape');
    }
    b.node(p('mul_fold'), 'Mul', [weights, multiplier], T);
    const fold = g.importNode(layer, `${layer.name}_Fold`);
    fold.setInput(1, p('mul_fold'));
    let out = fold.name;
    if (training) {
      b.node(p('post_conv_mul'), 'Mul', [out, recip!], T);
      b.node(p('correction_add'), 'Add', [p('post_conv_mul'), offset!], T);
      out = p('correction_add');
    }
    b.node(p('add_fold'), 'Add', [out, p('BatchNorm_Fold/bias')], T);
    g.replaceUses(bn.name, p('add_fold'), { except: new Set([p('add_fold')]) });
    folded.push(layer.name);
  }
  return folded;
}
