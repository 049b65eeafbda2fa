// Published transform_graph / TransformGraph invocations, run unchanged on the real graphs
// (issue 17). Each entry names where the invocation was published; only the graph it runs on is
// ours (a real model of the same kind, from TFPASS_MODELS). An invocation is accepted exactly
// when TensorFlow 1.15 accepts it, and where its transforms preserve the math the outputs are
// compared numerically: inputs U(-1, 1), seed 1, |a-b| <= atol + rtol*|b| on the CPU backend.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transformGraph, type Graph, type StepReport } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { lib } from './helpers.js';
import { allPasses } from './pipeline.js';

const M = modelsDir();

interface Model {
  file: string;
  inputs: string[];
  outputs: string[];
  /** Feeds for the numeric check (audio graphs are fed at their Mfcc). */
  feeds: Record<string, number[]>;
}
const MNET: Model = { file: 'keras-mobilenet-0.25-128/mnet.pb', inputs: ['input_1'], outputs: ['output_0'], feeds: { input_1: [1, 128, 128, 3] } };
const KWS: Model = { file: 'arm-kws-ds-cnn-s/DS_CNN_S.pb', inputs: ['wav_data'], outputs: ['labels_softmax'], feeds: { Mfcc: [1, 49, 10] } };
const LSTM: Model = { file: 'arm-kws-lstm-s/LSTM_S.pb', inputs: ['wav_data'], outputs: ['labels_softmax'], feeds: { Mfcc: [1, 25, 10] } };
const MNIST: Model = { file: 'armnn-simple-mnist/simple_mnist_tf.pb', inputs: ['Placeholder'], outputs: ['Softmax'], feeds: { Placeholder: [2, 784] } };
const ADDS: Model = { file: 'litert-converter-testgraphs/multi_add.pb', inputs: ['a', 'b', 'c', 'd'], outputs: ['x', 'y'], feeds: Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, [1, 8, 8, 3]])) };

type Outcome =
  /** accepted; outputs equal within tol */
  | { same: { atol: number; rtol: number } }
  /** accepted; the transforms change the math (weight rounding, eight-bit ops) */
  | { lossy: true; atol?: number }
  /** refused, as TF refuses it */
  | { refused: RegExp };

interface Invocation {
  source: string;
  model: Model;
  /** --inputs/--outputs as the script gives them, when they differ from the model's names only by a port */
  inputs?: string[];
  outputs?: string[];
  transforms: string | string[];
  outcome: Outcome;
  /** warnings the run must print (TF prints nothing for these, but nothing changes silently) */
  warns?: RegExp[];
  check?: (before: Graph, after: Graph) => void;
}

const EXACT = { same: { atol: 0, rtol: 0 } } as const;
/** fold_batch_norms / fold_constants rescale and re-round weights in float32 (folded on wasm, compared on cpu). */
const FOLDED = { same: { atol: 1e-4, rtol: 1e-4 } } as const;
const shapeIgnored = /type\/shape apply only to the Placeholders this pass creates/;

const INVOCATIONS: Invocation[] = [
  {
    // tensorflow/tensorflow tensorflow/tools/graph_transforms/README.md, "Using the Graph Transform Tool".
    // The README's `\`-newline inside single quotes: TF 1.15's parser stops at the backslash; tfpass
    // reads it as a space (documented in docs/architecture.md), so the README's own example runs.
    source: 'TF README: Using the Graph Transform Tool',
    model: MNET,
    inputs: ['input_1:0'],
    outputs: ['output_0:0'],
    transforms: '\\\nstrip_unused_nodes(type=float, shape="1,299,299,3") \\\nremove_nodes(op=Identity, op=CheckNumerics) \\\nfold_old_batch_norms \\\n',
    outcome: EXACT,
    warns: [shapeIgnored],
  },
  {
    // tensorflow/tensorflow README.md, "Optimizing for Deployment"
    source: 'TF README: Optimizing for Deployment',
    model: MNET,
    inputs: ['input_1:0'],
    outputs: ['output_0:0'],
    transforms: 'strip_unused_nodes(type=float, shape="1,299,299,3") remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms',
    outcome: FOLDED,
    warns: [shapeIgnored],
    check: (_, after) => expect(after.nodes().filter((n) => n.op === 'Rsqrt')).toEqual([]),
  },
  {
    // tensorflow/tensorflow README.md, "Fixing Missing Kernel Errors on Mobile"
    source: 'TF README: Fixing Missing Kernel Errors on Mobile',
    model: KWS,
    transforms: 'strip_unused_nodes(type=float, shape="1,299,299,3") fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms',
    outcome: FOLDED,
    warns: [shapeIgnored],
    check: (_, after) => expect(after.nodes().filter((n) => n.op.startsWith('FusedBatchNorm'))).toEqual([]),
  },
  {
    // tensorflow/tensorflow README.md, "Shrinking File Size" (round_weights)
    source: 'TF README: Shrinking File Size, round_weights',
    model: MNIST,
    transforms: 'round_weights(num_steps=256)',
    outcome: { lossy: true, atol: 0.05 },
    check: (before, after) => expect(after.size).toBe(before.size),
  },
  {
    // tensorflow/tensorflow README.md, "Shrinking File Size" (quantize_weights)
    source: 'TF README: Shrinking File Size, quantize_weights',
    model: MNIST,
    transforms: 'quantize_weights',
    outcome: { lossy: true, atol: 0.05 },
    check: (_, after) => expect(after.nodes().some((n) => n.op === 'Dequantize')).toBe(true),
  },
  {
    // tensorflow/tensorflow README.md before TF 1.5 spelled it obsfucate_names; TF 1.15 registers only
    // obfuscate_names and refuses the old spelling ("Transform 'obsfucate_names' not recognized").
    source: 'TF README (r1.3): Shrinking File Size, obsfucate_names',
    model: MNIST,
    transforms: 'obsfucate_names',
    outcome: { refused: /unknown transform 'obsfucate_names'; did you mean 'obfuscate_names'/ },
  },
  {
    // tensorflow/tensorflow README.md, "Eight-bit Calculations"
    source: 'TF README: Eight-bit Calculations',
    model: MNIST,
    transforms: "\n add_default_attributes\n strip_unused_nodes(type=float, shape=\"1,299,299,3\")\n remove_nodes(op=Identity, op=CheckNumerics)\n fold_old_batch_norms\n quantize_weights\n quantize_nodes\n strip_unused_nodes",
    outcome: { lossy: true },
    warns: [shapeIgnored],
    check: (_, after) => expect(after.nodes().some((n) => n.op === 'QuantizedMatMul')).toBe(true),
  },
  {
    // tensorflow/tensorflow README.md, freeze_requantization_ranges: the logging step
    source: 'TF README: freeze_requantization_ranges, insert_logging',
    model: MNIST,
    inputs: ['Mul'],
    outputs: ['softmax'],
    transforms: 'insert_logging(op=RequantizationRange, show_name=true, message="__requant_min_max:")',
    // no RequantizationRange in a float graph: nothing to log, nothing changes
    outcome: EXACT,
    check: (before, after) => expect(after.size).toBe(before.size),
  },
  {
    // tensorflow/tensorflow README.md, strip_unused_nodes reference (per-input types and shapes)
    source: 'TF README: strip_unused_nodes, name/type_for_name/shape_for_name',
    model: ADDS,
    inputs: ['in1', 'in2'],
    transforms: 'strip_unused_nodes(name=in1, type_for_name=int32, shape_for_name="2,3", name=in2, type_for_name=float, shape_for_name="1,10,10,3")',
    // inputs that are not in the graph are no error in TF; the graph keeps what x, y need
    outcome: EXACT,
    warns: [/input 'in1' is not in the graph/],
  },
  {
    // gaumarjos/RoadPerceptionSemanticSegmentation optimise.sh (TF r1.3)
    source: 'gaumarjos/RoadPerceptionSemanticSegmentation optimise.sh',
    model: MNIST,
    transforms: '\nadd_default_attributes\nremove_nodes(op=Identity, op=CheckNumerics)\nfold_constants(ignore_errors=true)\nfold_batch_norms\nfold_old_batch_norms\nfuse_resize_and_conv\nquantize_weights\nquantize_nodes\nstrip_unused_nodes\nsort_by_execution_order',
    outcome: { lossy: true },
    check: (_, after) => expect(after.nodes().some((n) => n.op === 'QuantizedMatMul')).toBe(true),
  },
  {
    // alpesis-ai/mxnet-models quantize.sh
    source: 'alpesis-ai/mxnet-models quantize.sh',
    model: MNIST,
    transforms: 'add_default_attributes strip_unused_nodes(type=float, shape="1,299,299,3")\n    remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true)\n    fold_batch_norms fold_old_batch_norms quantize_weights quantize_nodes\n    strip_unused_nodes sort_by_execution_order',
    outcome: { lossy: true },
    check: (_, after) => expect(after.nodes().some((n) => n.op === 'QuantizedMatMul')).toBe(true),
    warns: [shapeIgnored],
  },
  {
    // PacktPublishing/Mastering-OpenCV-4-Third-Edition Chapter_04/data/TE_Model/freeze_and_optimize.sh:
    // type=half only applies to a Placeholder the pass creates; an existing float input stays float.
    source: 'PacktPublishing/Mastering-OpenCV-4-Third-Edition freeze_and_optimize.sh',
    model: MNET,
    transforms: 'strip_unused_nodes(type=half, shape="1,20,20,1") fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms sort_by_execution_order',
    outcome: FOLDED,
    warns: [shapeIgnored],
  },
  {
    // rtolps/TensorflowCats2DogsUGATIT cleanup.py (Python TransformGraph, list of strings)
    source: 'rtolps/TensorflowCats2DogsUGATIT cleanup.py',
    model: MNET,
    transforms: ['remove_nodes(op=Identity)', 'fold_constants(ignore_errors=true)', 'strip_unused_nodes'],
    outcome: FOLDED,
  },
  {
    // uTensor/utensor_cgen utensor_cgen/transformer/quantize.py: TransformGraph(inputs=[], …)
    source: 'uTensor/utensor_cgen transformer/quantize.py',
    model: MNIST,
    inputs: [],
    transforms: ['quantize_weights', 'quantize_nodes'],
    outcome: { lossy: true },
    check: (_, after) => expect(after.nodes().some((n) => n.op === 'QuantizedMatMul')).toBe(true),
  },
  {
    // An XLNet export script (src/export.py, found through the code search): TF ignores the
    // fallback_* parameters quantize_weights does not read; tfpass runs it and names them.
    source: 'XLNet export script src/export.py',
    model: MNIST,
    transforms: [
      'add_default_attributes',
      'remove_nodes(op=Identity, op=CheckNumerics, op=Dropout)',
      'fold_constants(ignore_errors=true)',
      'fold_batch_norms',
      'fold_old_batch_norms',
      'quantize_weights(fallback_min=-10, fallback_max=10)',
      'strip_unused_nodes',
      'sort_by_execution_order',
    ],
    outcome: { lossy: true, atol: 0.05 },
    warns: [/quantize_weights: parameter 'fallback_min' is not one this pass reads; ignored/, /parameter 'fallback_max'/],
  },
  {
    // tensorflow/tensorflow README.md, merge_duplicate_nodes + sort_by_execution_order on a while loop
    source: 'TF README: merge_duplicate_nodes, sort_by_execution_order',
    model: LSTM,
    transforms: 'merge_duplicate_nodes sort_by_execution_order',
    outcome: EXACT,
  },
  {
    // tensorflow/tensorflow README.md, remove_device / set_device / remove_attribute reference
    source: 'TF README: remove_device, set_device(if_default), remove_attribute(_class)',
    model: KWS,
    transforms: 'remove_device set_device(device="/cpu:0", if_default=true) remove_attribute(attribute_name=_class)',
    outcome: EXACT,
    check: (_, after) => expect(after.nodes().every((n) => n.device === '/cpu:0')).toBe(true),
  },
  {
    // tensorflow/tensorflow README.md, "Optimizing for Deployment", misspelt by a user: TF refuses an unknown transform
    source: 'TF README transform list with a typo (fold_constant)',
    model: MNIST,
    transforms: 'strip_unused_nodes fold_constant(ignore_errors=true)',
    outcome: { refused: /unknown transform 'fold_constant'; did you mean 'fold_constants'/ },
  },
];

describe.runIf(M)('published transform_graph invocations, unchanged', () => {
  const loaded = new Map<string, Graph>();
  const load = (f: string) => {
    let g = loaded.get(f);
    if (!g) loaded.set(f, (g = lib.readGraph(join(M!, f))));
    return g;
  };

  it.each(INVOCATIONS.map((v) => [v.source, v] as const))('%s', async (_, v) => {
    const before = load(v.model.file);
    const reports: StepReport[] = [];
    const warned: string[] = [];
    const logger = { info() {}, debug() {}, warn: (m: string) => warned.push(m) };
    const run = transformGraph(before, v.inputs ?? v.model.inputs, v.outputs ?? v.model.outputs, v.transforms, {
      registry: await allPasses(),
      discover: false,
      logger,
      onReport: (r) => reports.push(...r),
    });
    if ('refused' in v.outcome) {
      await expect(run).rejects.toThrow(v.outcome.refused);
      return;
    }
    const after = await run;
    after.validate();
    for (const w of v.warns ?? []) expect(warned.join('\n'), v.source).toMatch(w);
    // Inputs that were Placeholders keep their dtype and shape.
    for (const i of v.model.inputs) {
      const a = before.node(i);
      const b = after.get(i);
      if (!b) continue;
      expect([b.op, b.attrs.optType('dtype'), b.attrs.kind('shape') === 'shape' ? b.attrs.getShape('shape') : null], `${v.source}: ${i}`).toEqual([
        a.op,
        a.attrs.optType('dtype'),
        a.attrs.kind('shape') === 'shape' ? a.attrs.getShape('shape') : null,
      ]);
    }
    v.check?.(before, after);
    const outputs = v.model.outputs;
    if ('same' in v.outcome) {
      await expectSameOutputs(before, after, { inputs: v.model.feeds, outputs, seed: 1, ...v.outcome.same, backend: 'cpu' });
    } else if (v.outcome.atol !== undefined) {
      // Weight rounding: softmax outputs move by a few hundredths at most.
      await expectSameOutputs(before, after, { inputs: v.model.feeds, outputs, seed: 1, atol: v.outcome.atol, rtol: 0, backend: 'cpu' });
    }
  });
});
