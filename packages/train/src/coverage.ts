/**
 * Complete the fake-quant placement. contrib's rules leave some tensors without a range (an
 * Add of two activations followed by a Relu, ops outside its patterns) and TOCO then fails with
 * "lacking min/max data" — the seed's "fake-quant nodes inserted incompletely". This finds those
 * tensors with @tfpass/quantize's quant-check and adds an EMA-tracked activation site for each.
 */
import { createMetaModel, type Graph, type Model, type Node } from '@tfpass/core';
import { QuantBuilder, applySites, buildSaver, loadTarget, planQuantization, quantCheck, type PlanOptions, type Site } from '@tfpass/quantize';

export interface CoverageOptions extends PlanOptions {
  /** Converter profile whose needs are completed (default tflite). */
  target?: string;
}

/**
 * Ops that blow up when their input is rounded to 0 (a contrib range always contains 0, so a
 * small positive value such as var + eps can land on it): fake-quantizing their input during
 * training turns into Inf/NaN. Those tensors are left to the converter and reported.
 */
const ZERO_UNSAFE = new Set(['Rsqrt', 'Sqrt', 'Reciprocal', 'Inv', 'Log', 'RealDiv', 'Div', 'FloorDiv', 'Pow']);

const CLIP_OPS = new Set(['Relu', 'Minimum', 'Maximum']);

/** Whether `n` is Relu, or Minimum/Maximum with a constant operand (a clip bound). */
function clipStep(g: Graph, n: Node | undefined): n is Node {
  if (!n || !CLIP_OPS.has(n.op)) return false;
  if (n.op === 'Relu') return true;
  return n.dataInputs.some((i) => g.producer(i)?.op === 'Const');
}

/**
 * Tensors inside an activation clip: Keras's ReLU6 is Relu -> Minimum(6) -> Maximum(0), and
 * TOCO fuses the chain into one RELU6 (or RELU_N1_TO_1), so only its last output exists in the
 * converted model and needs a range. A fake quant inside the chain would quantize the unclipped
 * values with a wide, coarse range (on Keras MobileNet: three fake quants per activation and a
 * large accuracy loss). The clip is one activation: these tensors get no site.
 */
export function clipInterior(g: Graph): Set<string> {
  const out = new Set<string>();
  for (const last of g.nodes()) {
    if (!clipStep(g, last) || last.op === 'Relu') continue;
    let n: Node = last;
    for (let depth = 0; depth < 2; depth++) {
      const x = n.dataInputs.find((i) => g.producer(i)?.op !== 'Const');
      const p = x === undefined ? undefined : g.producer(x);
      if (!clipStep(g, p) || g.tensorConsumers(p.name).length !== 1) break;
      out.add(p.name);
      n = p;
    }
  }
  return out;
}

/** contrib's sites plus one `coverage_quant` site per tensor the target would still lack a range for. */
export function completeSites(graph: Graph, opts: CoverageOptions = {}): { sites: Site[]; added: Site[]; skipped: string[] } {
  const sites = planQuantization(graph, opts);
  const added: Site[] = [];
  const skipped: string[] = [];
  const target = loadTarget(opts.target ?? 'tflite');
  const interior = clipInterior(graph);
  for (let round = 0; round < 4; round++) {
    const probe = graph.clone();
    applySites(probe, [...sites, ...added], { kind: 'const' });
    const missing = quantCheck(probe, target).filter((f) => f.rule === 'missing-range' && f.tensor);
    let grew = false;
    for (const f of missing) {
      const tensor = f.tensor!;
      const producer = graph.producer(tensor);
      if (!producer || interior.has(producer.name) || skipped.includes(tensor) || [...sites, ...added].some((s) => s.tensor === tensor)) continue;
      const reads = graph.tensorConsumers(tensor);
      const consumers = [...new Set(reads.map((c) => c.node.name))];
      if (!consumers.length) continue;
      // RealDiv/Div/Pow are only unsafe through their second input.
      if (reads.some((c) => ZERO_UNSAFE.has(c.node.op) && (!/Div|Pow/.test(c.node.op) || c.index === 1))) {
        skipped.push(tensor);
        continue;
      }
      added.push({
        name: 'act_quant',
        prefix: `${producer.name}/coverage_quant`,
        tensor,
        producer: producer.name,
        producerOp: producer.op,
        consumers,
        kind: 'activation',
        tracking: 'moving_average',
        numBits: opts.activationBits ?? 8,
        narrowRange: false,
        symmetric: false,
        perChannel: false,
        init: [-6, 6],
      });
      grew = true;
    }
    if (!grew) break;
  }
  return { sites: [...sites, ...added], added, skipped };
}

/**
 * contrib's create_eval_graph for the given sites (range variables read, never updated) as a
 * MetaGraphDef: `variables` collection plus a saver over them, so TF and `tfpass freeze` restore
 * every range from a checkpoint. The `weights` Consts become variables too (as in the graph
 * contrib's user evaluates), so freezing with a newer checkpoint takes its weights with its
 * ranges instead of mixing baked-in old weights with new ranges.
 */
export function evalMetaGraph(graph: Graph, sites: Site[], weights: string[] = [], stats: string[] = []): { model: Model; variables: number } {
  const g = graph.clone();
  const b = new QuantBuilder(g);
  // Sites first: they name the weight tensors as the Consts are named now.
  applySites(g, sites, { kind: 'eval' }, b);
  const statSet = new Set(stats);
  for (const name of [...weights, ...stats]) {
    const c = g.get(name);
    if (!c || c.op !== 'Const') continue;
    const value = c.attrs.getTensor('value');
    // Consumers keep reading `name` (inputs are kept by name); they are moved to its snapshot.
    g.removeNode(name);
    // Moving statistics are variables too (restored from each bundle), not trainable ones.
    const v = b.variable(name, value, { trainable: !statSet.has(name) });
    g.replaceUses(name, v.read, { except: new Set([v.read, `${name}/Assign`]) });
  }
  const saver = buildSaver(g, b.variables);
  const trainable = b.variables.filter((v) => v.trainable);
  const model = createMetaModel(g, { collections: { variables: { variables: b.variables }, ...(trainable.length ? { trainable_variables: { variables: trainable } } : {}) }, saverDef: saver });
  return { model, variables: b.variables.length };
}
