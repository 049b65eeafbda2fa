import { ParamError, TfpassError, type PassContext, type PassDefinition, type PluginApi } from '@tfpass/core';
import type { Pitfall } from './pitfalls.js';
import { planQuantization, type PlanOptions } from './plan.js';
import { readBiasShifts, readRanges } from './ranges.js';
import { applyBiasShifts } from './bias-correction.js';
import { applySites } from './rewrite.js';
import { quantizeEval, quantizeTraining } from './training.js';
import { freezeRequantizationRangesFromFile } from './freeze-ranges.js';
import { quantizeNodes } from './quantize-nodes.js';

const common = {
  weight_bits: { type: 'int', default: 8, description: 'bits of weight quantizers (2–16)' },
  activation_bits: { type: 'int', default: 8, description: 'bits of activation quantizers (2–16)' },
  symmetric: { type: 'bool', default: false, description: 'symmetric ranges (min = -max)' },
  scope: { type: 'string', default: '', description: 'only transform ops under this name scope' },
} as const;

interface Common {
  weight_bits: number;
  activation_bits: number;
  symmetric: boolean;
  scope: string;
  per_channel?: boolean;
}

function planOpts(p: Common): PlanOptions {
  for (const [k, v] of [['weight_bits', p.weight_bits], ['activation_bits', p.activation_bits]] as const) {
    if (v < 2 || v > 16) throw new ParamError('quantize', k, `must be between 2 and 16, got ${v}`);
  }
  return { weightBits: p.weight_bits, activationBits: p.activation_bits, symmetric: p.symmetric, scope: p.scope || undefined, perChannel: p.per_channel };
}

/** The seed's pitfalls, said as the CLI commands say them (a warning each; facts as notes). */
function sayPitfalls(ctx: PassContext, pitfalls: readonly Pitfall[]): void {
  const fixes = { fold: 'fold batch norms first (fold_constants fold_batch_norms fold_old_batch_norms)', unfreeze: 'unfreeze first (tfpass unfreeze), then quantize its .meta' };
  for (const p of pitfalls) {
    const m = p.fix ? `${p.message}; ${fixes[p.fix]}` : p.message;
    if (p.warn) ctx.warn(m);
    else ctx.note(m);
  }
}

/** The passes of this package (`lib` is the host's core; the logic uses only the graph API). */
export function makePasses(lib?: PluginApi['lib']): PassDefinition[] {
  void lib;
  const passes: PassDefinition[] = [
    {
      name: 'quantize_training',
      summary: "insert training fake quants as tf.contrib.quantize.create_training_graph (EMA ranges, quant_delay, BN folded for training)",
      description:
        'Graph form of quantizeTraining(): the graph gets every op; use the API (or `tfpass quantize --meta`) for the MetaGraphDef with variable/update collections and a saver. ' +
        'quant_delay follows contrib: ranges are tracked from the first step and only the forwarded tensor switches to the quantized one after quant_delay steps.',
      params: {
        ...common,
        quant_delay: { type: 'int', default: 0, description: 'steps before the quantized tensor is forwarded (ranges update from step 1)' },
        freeze_bn_delay: { type: 'int', default: -1, description: 'step from which folded batch norms use moving statistics (-1: never)' },
        ema_decay: { type: 'float', default: 0.999, description: 'decay of activation range moving averages' },
        per_channel: { type: 'bool', default: false, description: 'per-channel conv weight ranges (not contrib; TOCO wants per-tensor)' },
      },
      idempotent: false,
      run(graph, ctx) {
        const p = ctx.params as Common & { quant_delay: number; freeze_bn_delay: number; ema_decay: number };
        const r = quantizeTraining(graph, { ...planOpts(p), quantDelay: p.quant_delay, freezeBnDelay: p.freeze_bn_delay >= 0 ? p.freeze_bn_delay : undefined, emaDecay: p.ema_decay });
        ctx.count('sites', r.sites.length);
        ctx.count('variables', r.variables.length);
        ctx.count('batch_norms_folded', r.folded.length);
        for (const w of r.warnings) ctx.warn(w);
        sayPitfalls(ctx, r.pitfalls);
      },
    },
    {
      name: 'quantize_eval',
      summary: 'insert eval fake quants as tf.contrib.quantize.create_eval_graph (ranges are variables, read only)',
      params: {
        ...common,
        ranges: { type: 'string', default: '', description: 'JSON ranges file giving the variables their initial values' },
      },
      run(graph, ctx) {
        const p = ctx.params as Common & { ranges: string };
        const r = quantizeEval(graph, { ...planOpts(p), ranges: p.ranges ? readRanges(p.ranges) : undefined });
        ctx.count('sites', r.sites.length);
        sayPitfalls(ctx, r.pitfalls);
      },
    },
    {
      name: 'insert_fake_quant',
      summary: 'put FakeQuantWithMinMaxVars with Const ranges (from calibration) wherever the contrib rewrite would quantize a frozen float graph',
      params: {
        ...common,
        ranges: { type: 'string', default: '', description: 'JSON ranges file (tfpass calibrate); weights default to their own min/max' },
        per_channel: { type: 'bool', default: false, description: 'FakeQuantWithMinMaxVarsPerChannel on conv weights (TOCO accepts only per-tensor)' },
        require_ranges: { type: 'bool', default: true, description: 'fail when an activation has no range in the file' },
        bias_correction: { type: 'bool', default: true, description: "subtract the ranges file's bias shifts (weight-rounding mean error, from calibration) when its weight options match" },
      },
      run(graph, ctx) {
        const p = ctx.params as Common & { ranges: string; require_ranges: boolean; bias_correction: boolean };
        const ranges = p.ranges ? readRanges(p.ranges) : undefined;
        const sites = planQuantization(graph, planOpts(p));
        const missing = sites.filter((s) => s.kind === 'activation' && !(ranges?.[s.tensor] ?? ranges?.[`${s.tensor}:0`]));
        if (missing.length && p.require_ranges) {
          throw new TfpassError('E_USAGE', `insert_fake_quant: no range for ${missing.length} tensor(s): ${missing.slice(0, 5).map((s) => s.tensor).join(', ')}${missing.length > 5 ? ', …' : ''} (run tfpass calibrate, or require_ranges=false for contrib's initial ranges)`);
        }
        const bias = p.ranges && p.bias_correction ? readBiasShifts(p.ranges) : undefined;
        if (bias) {
          // Shifts are only right for the weight grid they were measured with.
          if (bias.perChannel === !!p.per_channel && bias.weightBits === p.weight_bits) ctx.count('bias_corrected', applyBiasShifts(graph, bias.shifts).length);
          else ctx.warn(`insert_fake_quant: bias shifts in ${p.ranges} were measured for ${bias.weightBits}-bit ${bias.perChannel ? 'per-channel' : 'per-tensor'} weights; not applied`);
        }
        const r = applySites(graph, sites, { kind: 'const', ranges });
        for (const w of r.warnings) ctx.warn(w);
        ctx.count('sites', sites.length);
      },
    },
  ] as PassDefinition[];
  passes.push({
    name: 'freeze_requantization_ranges',
    summary: 'replace RequantizationRange ops with Const ranges taken from an insert_logging log (percentiles over runs)',
    params: {
      min_max_log_file: { type: 'string', default: '', description: 'log with `…__print__;__requant_min_max:[min][max]` lines' },
      min_percentile: { type: 'float', default: 5, description: 'percentile of the logged minima to keep' },
      max_percentile: { type: 'float', default: 5, description: 'percentile (from the top) of the logged maxima to keep' },
    },
    run(graph, ctx) {
      const p = ctx.params as { min_max_log_file: string; min_percentile: number; max_percentile: number };
      ctx.count('frozen', freezeRequantizationRangesFromFile(graph, p.min_max_log_file, p.min_percentile, p.max_percentile));
    },
  });
  passes.push({
    name: 'quantize_nodes',
    summary: 'legacy eight-bit rewrite: float ops become Quantized* ops with QuantizeV2/Requantize/Dequantize (GTT quantize_nodes)',
    params: {
      input_min: { type: 'float', description: 'range of quint8 placeholders (with input_max)' },
      input_max: { type: 'float', description: 'range of quint8 placeholders (with input_min)' },
      fallback_min: { type: 'float', description: 'fixed requantization range instead of RequantizationRange (with fallback_max)' },
      fallback_max: { type: 'float', description: 'fixed requantization range (with fallback_min)' },
      ignore_op: { type: 'string', repeated: true, description: 'float op types to leave alone' },
    },
    run(graph, ctx) {
      const p = ctx.params as { input_min?: number; input_max?: number; fallback_min?: number; fallback_max?: number; ignore_op: string[] };
      const r = quantizeNodes(graph, { inputMin: p.input_min, inputMax: p.input_max, fallbackMin: p.fallback_min, fallbackMax: p.fallback_max, ignoreOps: p.ignore_op, outputs: ctx.outputs });
      for (const [k, v] of Object.entries(r)) ctx.count(k, v);
    },
  });
  const byName = new Map(passes.map((p) => [p.name, p]));
  // contrib's own entry points, with their fixed defaults (spec §1.1).
  const training = byName.get('quantize_training')!;
  const evalPass = byName.get('quantize_eval')!;
  passes.push(
    {
      name: 'create_training_graph',
      summary: 'alias of quantize_training with contrib create_training_graph defaults (8/8 bits, asymmetric, no BN freeze)',
      params: { quant_delay: { type: 'int', default: 0, description: 'steps before the quantized tensor is forwarded' } },
      idempotent: false,
      run: (g, ctx) => training.run(g, { ...ctx, params: { weight_bits: 8, activation_bits: 8, symmetric: false, scope: '', per_channel: false, freeze_bn_delay: -1, ema_decay: 0.999, quant_delay: (ctx.params as { quant_delay: number }).quant_delay } }),
    },
    {
      name: 'create_eval_graph',
      summary: 'alias of quantize_eval with contrib create_eval_graph defaults',
      run: (g, ctx) => evalPass.run(g, { ...ctx, params: { weight_bits: 8, activation_bits: 8, symmetric: false, scope: '', ranges: '' } }),
    },
  );
  return passes;
}

export function register(api: PluginApi): void {
  for (const p of makePasses(api.lib)) api.registerPass(p);
}
