import { opsWith, parseInput, type Graph, type Node } from '@tfpass/core';
import { Analysis, loadTarget, quantCheck, type CheckOptions, type Finding, type Target } from './check.js';

export interface LintOptions extends CheckOptions {
  target?: Target | string;
  /** Rules to skip, by name. */
  disable?: string[];
}

export const LINT_RULES: Record<string, string> = {
  'softmax-twice': 'Softmax applied twice on one path (e.g. a Keras softmax activation plus a softmax loss/output)',
  'bn-training': 'batch norm with is_training=true in an inference graph',
  'bn-unfolded': 'batch norm left unfolded (run fold_batch_norms / fold_old_batch_norms first)',
  'identity-left': 'Identity or CheckNumerics left in the graph (run remove_nodes(op=Identity, op=CheckNumerics))',
  'dynamic-input': 'input with a dynamic or unknown shape (NPUs want static shapes)',
  'op-outside-target': 'op the target converter cannot quantize',
  'missing-range': 'tensor without a quantization range (see quant-check)',
};

const BN_FUSED = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'BatchNormWithGlobalNormalization']);
const UNFUSED_BN = /(^|\/)batchnorm(_\d+)?\/(mul_1|add_1)$/;

/** The seed's debugging checklist as rules. */
export function lint(g: Graph, opts: LintOptions = {}): Finding[] {
  const target = typeof opts.target === 'object' ? opts.target : loadTarget(opts.target ?? 'tflite');
  const off = new Set(opts.disable ?? []);
  const A = new Analysis(g);
  const out: Finding[] = [];
  const push = (f: Finding) => {
    if (!off.has(f.rule)) out.push(f);
  };

  // Softmax on a path that already went through a Softmax (through any ops).
  const softmaxes = g.nodes().filter((n) => n.op === 'Softmax');
  if (softmaxes.length > 1 && !off.has('softmax-twice')) {
    for (const s of softmaxes) {
      const seen = new Set<Node>();
      const stack = s.dataInputs.map((x) => g.producer(x)).filter((x): x is Node => !!x);
      while (stack.length) {
        const n = stack.pop()!;
        if (seen.has(n)) continue;
        seen.add(n);
        if (n.op === 'Softmax') {
          push({ rule: 'softmax-twice', severity: 'error', node: s.name, op: s.op, tensor: n.name, message: `${s.name} applies Softmax to the output of Softmax ${n.name}` });
          break;
        }
        for (const x of n.dataInputs) {
          const p = g.producer(x);
          if (p) stack.push(p);
        }
      }
    }
  }

  for (const n of g.nodes()) {
    if (BN_FUSED.has(n.op)) {
      if (n.attrs.optBool('is_training', n.op !== 'BatchNormWithGlobalNormalization')) {
        push({ rule: 'bn-training', severity: 'error', node: n.name, op: n.op, message: `${n.name}: ${n.op} with is_training=true normalizes with batch statistics; export the inference graph (is_training=false)` });
      }
      push({ rule: 'bn-unfolded', severity: 'warning', node: n.name, op: n.op, message: `${n.name}: ${n.op} is not folded into the preceding layer` });
    } else if (UNFUSED_BN.test(n.name) && (n.op === 'Mul' || n.op === 'Add' || n.op === 'AddV2') && n.dataInputs.some((s) => !A.isConstant(s))) {
      const x = n.dataInputs.find((s) => !A.isConstant(s))!;
      const p = g.producer(x);
      if (n.name.endsWith('mul_1') && p && ['Conv2D', 'DepthwiseConv2dNative', 'MatMul'].includes(p.op)) {
        push({ rule: 'bn-unfolded', severity: 'warning', node: n.name, op: n.op, message: `${n.name}: unfused batch norm after ${p.op} ${p.name} is not folded` });
      }
    }
    if (n.op === 'CheckNumerics' || (n.op === 'Identity' && !A.isConstant(n.name))) {
      push({ rule: 'identity-left', severity: 'warning', node: n.name, op: n.op, message: `${n.name}: ${n.op} left in the graph` });
    }
    if (n.op === 'Placeholder') {
      const shape = n.attrs.has('shape') ? n.attrs.getShape('shape') : null;
      if (shape === null || shape.some((d) => d < 0)) {
        push({ rule: 'dynamic-input', severity: 'warning', node: n.name, op: n.op, message: `input ${n.name} has ${shape === null ? 'an unknown rank' : `a dynamic shape [${shape.join(',')}]`}` });
      }
    }
  }

  if (!off.has('op-outside-target')) {
    const allowed = new Set([...target.ops, 'Const', 'Placeholder', 'Identity', 'NoOp', ...opsWith('fakeQuant')]);
    const live = A.reachable(opts.outputs, new Set((opts.inputs ?? []).map((s) => parseInput(s).node)));
    const byOp = new Map<string, Node[]>();
    for (const n of live) {
      if (allowed.has(n.op) || A.isConstant(n.name)) continue;
      byOp.set(n.op, [...(byOp.get(n.op) ?? []), n]);
    }
    for (const [op, ns] of [...byOp].sort()) {
      push({ rule: 'op-outside-target', severity: 'error', node: ns[0]!.name, op, message: `${ns.length} × ${op} (e.g. ${ns[0]!.name}) cannot be quantized by ${target.name}` });
    }
  }

  if (!off.has('missing-range')) {
    for (const f of quantCheck(g, target, opts)) if (f.rule === 'missing-range') push(f);
  }
  return out;
}
